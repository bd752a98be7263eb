import { domainToASCII } from 'node:url';
import { foldCompany, foldEmail, foldName } from '../identity';
import type { ApolloContact, BulkContact } from './apollo';

/**
 * Maps a `POST /contacts/bulk_create` reply back to the people sent. Apollo's reply has no index:
 * `created_contacts` and `existing_contacts` come back without saying which input each is for,
 * so each person is recognised in them by what it was sent with, strongest first:
 *
 * 1. its email (trimmed, lower case, the domain in punycode, so `ana@bücher.example` is
 *    `ana@xn--bcher-kva.example`);
 * 2. a CRM id (`hubspot_id`, `salesforce_contact_id`, `salesforce_lead_id`);
 * 3. its first + last name with its organisation (or, failing that, its email's domain), only
 *    when exactly one unresolved person and exactly one unclaimed reply entry share them.
 *
 * A key that several people sent share, or that names several contacts, decides nothing: those
 * people are `unknown`, and so is anyone left over. `unknown` is always safe: the caller resolves
 * those people one by one (search by email, or people/match).
 *
 * The trap: with `run_dedupe`, Apollo falls back to name + company when the email does not match,
 * so a different person with the same name at the same company (another email) comes back as
 * "existing" with the other person's contact. A person with an email whose name-matched entry is
 * an existing contact with another email is not that contact: it is reported in `falseMerges`,
 * to be created on its own without dedupe. An entry matched by name whose email is empty, or a
 * created one whose email is not the person's, is doubtful: `unknown`.
 *
 * Every ref ends in exactly one of `matched`, `falseMerges` and `unknown`; no two refs share a
 * matched contact; and a matched person with an email always has that email on its contact.
 *
 * @example
 * const { matched, falseMerges, unknown } = mapBulkCreateReply(
 *   [{ ref: 'c_1', contact: { email: 'ada@example.com', first_name: 'Ada' } }],
 *   { created: [{ id: '66aa', email: 'ada@example.com' }], existing: [] },
 * );
 * matched.get('c_1'); // { contact: { id: '66aa', ... }, outcome: 'created' }
 */
export function mapBulkCreateReply(
  sent: ReadonlyArray<{ ref: string; contact: BulkContact }>,
  reply: { created: ApolloContact[]; existing: ApolloContact[] },
): {
  matched: Map<string, { contact: ApolloContact; outcome: 'created' | 'existing' }>;
  /** existing contacts whose email differs from the sent person's: Apollo's name+company false merge. */
  falseMerges: string[];
  /** refs that could not be mapped without doubt: resolve person by person. */
  unknown: string[];
} {
  const refs = new Set<string>();
  for (const { ref } of sent) {
    if (refs.has(ref)) throw new RangeError(`mapBulkCreateReply: ref ${ref} is sent twice`);
    refs.add(ref);
  }
  const mapping = new ReplyMapping(
    sent.map(({ ref, contact }) => ({ ref, ...keysOfSent(contact) })),
    [
      ...reply.created.map((contact) => entryOf(contact, 'created')),
      ...reply.existing.map((contact) => entryOf(contact, 'existing')),
    ],
  );
  mapping.byEmail();
  mapping.byCrmIds();
  mapping.byNameAndCompany();
  return mapping.result(sent.map(({ ref }) => ref));
}

type Outcome = 'created' | 'existing';
const CRM_KINDS = ['hubspot', 'salesforce_contact', 'salesforce_lead'] as const;
type CrmKind = (typeof CRM_KINDS)[number];

/** A person sent, by the keys it can be recognised by. */
interface SentKeys {
  ref: string;
  email: string | undefined;
  crm: Partial<Record<CrmKind, string>>;
  /** Name + organisation, then name + email domain: the ways Apollo's dedupe matches a name. */
  nameKeys: string[];
}

/** One contact of the reply, as the entry it is (the same contact may be in both lists). */
interface Entry extends Omit<SentKeys, 'ref'> {
  contact: ApolloContact;
  outcome: Outcome;
  claimed: boolean;
}

type Verdict =
  | { kind: 'matched'; contact: ApolloContact; outcome: Outcome }
  | { kind: 'falseMerge' }
  | { kind: 'unknown' };

/** `Ana@Bücher.example ` → `ana@xn--bcher-kva.example`; undefined for no email. */
export function normaliseEmail(email: string | null | undefined): string | undefined {
  if (email == null) return undefined;
  const folded = foldEmail(email);
  const at = folded.lastIndexOf('@');
  if (folded === '' || at < 0) return folded === '' ? undefined : folded;
  const domain = folded.slice(at + 1);
  return `${folded.slice(0, at)}@${domainToASCII(domain) || domain}`;
}

function text(value: string | number | null | undefined): string | undefined {
  if (value == null) return undefined;
  const trimmed = String(value).trim();
  return trimmed === '' ? undefined : trimmed;
}

function nameKeys(
  firstName: string | null | undefined,
  lastName: string | null | undefined,
  organization: string | null | undefined,
  email: string | undefined,
): string[] {
  const first = foldName(firstName ?? '');
  const last = foldName(lastName ?? '');
  if (first === '' || last === '') return [];
  const keys: string[] = [];
  const company = foldCompany(organization ?? '');
  if (company !== '') keys.push(JSON.stringify(['org', first, last, company]));
  const domain = email?.slice(email.lastIndexOf('@') + 1);
  if (domain) keys.push(JSON.stringify(['domain', first, last, domain]));
  return keys;
}

function keysOfSent(contact: BulkContact): Omit<SentKeys, 'ref'> {
  const email = normaliseEmail(contact.email);
  return {
    email,
    crm: {
      hubspot: text(contact.hubspot_id),
      salesforce_contact: text(contact.salesforce_contact_id),
      salesforce_lead: text(contact.salesforce_lead_id),
    },
    nameKeys: nameKeys(contact.first_name, contact.last_name, contact.organization_name, email),
  };
}

function entryOf(contact: ApolloContact, outcome: Outcome): Entry {
  const email = normaliseEmail(contact.email);
  return {
    contact,
    outcome,
    claimed: false,
    email,
    crm: {
      hubspot: text(contact.hubspot_id) ?? text(contact.hubspot_vid),
      salesforce_contact: text(contact.salesforce_contact_id),
      salesforce_lead: text(contact.salesforce_lead_id),
    },
    nameKeys: nameKeys(contact.first_name, contact.last_name, contact.organization_name, email),
  };
}

function groupBy<T>(items: readonly T[], keysOf: (item: T) => Array<string | undefined>): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    for (const key of new Set(keysOf(item))) {
      if (key === undefined) continue;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [item]);
      else group.push(item);
    }
  }
  return groups;
}

/** Of several entries of one contact, the created one: this call made the contact. */
function preferCreated(entries: readonly Entry[]): Entry | undefined {
  return entries.find((entry) => entry.outcome === 'created') ?? entries[0];
}

/** The contact ids among `entries`, each once. */
function contactIds(entries: readonly Entry[]): string[] {
  return [...new Set(entries.map((entry) => entry.contact.id))];
}

/** The step-by-step state of one mapping: people still open, entries still unclaimed, verdicts so far. */
class ReplyMapping {
  private readonly verdicts = new Map<string, Verdict>();

  constructor(
    private readonly sent: readonly SentKeys[],
    private readonly entries: readonly Entry[],
  ) {}

  /**
   * An email names one person, so the entries carrying a person's email are its contact: matched
   * when they are all one contact and nobody else sent that email. The same contact may come back
   * twice (created for this person, and "existing" for another one Apollo merged onto it): the
   * created entry is the one claimed, and `created` wins.
   */
  byEmail(): void {
    const sentByEmail = groupBy(this.open(), (person) => [person.email]);
    const entriesByEmail = groupBy(this.entries, (entry) => [entry.email]);
    for (const [email, people] of sentByEmail) {
      const entries = entriesByEmail.get(email) ?? [];
      if (entries.length === 0) continue;
      if (people.length > 1 || contactIds(entries).length > 1) {
        for (const person of people) this.decide(person, { kind: 'unknown' });
        continue;
      }
      const claimed = preferCreated(entries);
      if (claimed === undefined) continue;
      claimed.claimed = true;
      this.decide(people[0] as SentKeys, {
        kind: 'matched',
        contact: claimed.contact,
        outcome: claimed.outcome,
      });
    }
  }

  /**
   * CRM ids come before the email in Apollo's match order. A CRM match whose contact has another
   * email than the person's is doubtful (the CRM says one thing, the email another): unknown.
   */
  byCrmIds(): void {
    for (const kind of CRM_KINDS) {
      const sentById = groupBy(this.open(), (person) => [person.crm[kind]]);
      const entriesById = groupBy(this.entries, (entry) => [entry.crm[kind]]);
      for (const [id, people] of sentById) {
        const entries = entriesById.get(id) ?? [];
        if (entries.length === 0) continue;
        const person = people[0] as SentKeys;
        const entry = entries[0] as Entry;
        const unique = people.length === 1 && contactIds(entries).length === 1;
        const sameEmail = person.email === undefined || entry.email === person.email;
        if (!unique || !sameEmail || this.isTaken(entry.contact.id)) {
          for (const other of people) this.decide(other, { kind: 'unknown' });
          continue;
        }
        const claimed = preferCreated(entries) ?? entry;
        claimed.claimed = true;
        this.decide(person, { kind: 'matched', contact: claimed.contact, outcome: claimed.outcome });
      }
    }
  }

  /**
   * The weakest key, and the one Apollo's false merges come through: a name with a company pairs
   * one open person with one unclaimed entry, never more. Then the email decides what the pair is.
   */
  byNameAndCompany(): void {
    const entries = this.entries.filter((entry) => !entry.claimed);
    const entriesByName = groupBy(entries, (entry) => entry.nameKeys);
    const open = this.open();
    const openByName = groupBy(open, (person) => person.nameKeys);
    for (const person of open) {
      for (const key of person.nameKeys) {
        // An entry this step already paired stays paired: a second person cannot take it through another key.
        const candidates = (entriesByName.get(key) ?? []).filter((entry) => !entry.claimed);
        if (candidates.length === 0) continue;
        const rivals = openByName.get(key) ?? [];
        if (rivals.length > 1 || contactIds(candidates).length > 1) {
          this.decide(person, { kind: 'unknown' });
        } else {
          const entry = preferCreated(candidates);
          if (entry === undefined) continue;
          entry.claimed = true;
          this.decide(person, this.judgeNameMatch(person, entry));
        }
        break;
      }
    }
  }

  /** Every ref's verdict, in the order sent; matched contacts that two refs share are undone to unknown. */
  result(refs: readonly string[]) {
    const holders = new Map<string, number>();
    for (const verdict of this.verdicts.values()) {
      if (verdict.kind === 'matched')
        holders.set(verdict.contact.id, (holders.get(verdict.contact.id) ?? 0) + 1);
    }
    const matched = new Map<string, { contact: ApolloContact; outcome: Outcome }>();
    const falseMerges: string[] = [];
    const unknown: string[] = [];
    for (const ref of refs) {
      const verdict = this.verdicts.get(ref) ?? { kind: 'unknown' };
      if (verdict.kind === 'matched' && holders.get(verdict.contact.id) === 1) {
        matched.set(ref, { contact: verdict.contact, outcome: verdict.outcome });
      } else if (verdict.kind === 'falseMerge') {
        falseMerges.push(ref);
      } else {
        unknown.push(ref);
      }
    }
    return { matched, falseMerges, unknown };
  }

  /** What a name + company pair means, by the emails on both sides. */
  private judgeNameMatch(person: SentKeys, entry: Entry): Verdict {
    if (person.email === undefined) {
      // Nothing to contradict Apollo's name match, as people/match by name + company would find it
      // too; but a contact created in this call with an email was created for someone else.
      if (entry.outcome === 'created' && entry.email !== undefined) return { kind: 'unknown' };
      return this.isTaken(entry.contact.id)
        ? { kind: 'unknown' }
        : { kind: 'matched', contact: entry.contact, outcome: entry.outcome };
    }
    // The person's own email would have matched it by email: this contact is someone else's.
    if (entry.outcome === 'existing' && entry.email !== undefined) return { kind: 'falseMerge' };
    return { kind: 'unknown' };
  }

  private open(): SentKeys[] {
    return this.sent.filter((person) => !this.verdicts.has(person.ref));
  }

  private isTaken(contactId: string): boolean {
    for (const verdict of this.verdicts.values()) {
      if (verdict.kind === 'matched' && verdict.contact.id === contactId) return true;
    }
    return false;
  }

  private decide(person: SentKeys, verdict: Verdict): void {
    if (!this.verdicts.has(person.ref)) this.verdicts.set(person.ref, verdict);
  }
}
