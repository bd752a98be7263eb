import { domainToASCII } from 'node:url';
import { foldCompany, foldEmail, foldName } from '../identity';
import type { ApolloContact, BulkContact } from './apollo';

/**
 * Maps a `POST /contacts/bulk_create` reply back to the people sent. Apollo's reply has no index:
 * `created_contacts` and `existing_contacts` come back without saying which input each is for.
 * What is known: each input gets one entry; a created contact carries what its input sent; with
 * `run_dedupe`, an existing one is the contact Apollo matched, in its order: CRM ids, then the
 * email, then first + last name with the company (organisation or email domain). So:
 *
 * 1. **Created entries** go to the one person whose data they carry: the same email (trimmed,
 *    lower case, the domain in punycode, so `ana@bücher.example` is `ana@xn--bcher-kva.example`)
 *    or the same lack of one, and the same CRM ids, names and company where the entry shows them.
 * 2. **Existing entries**, grouped by contact, go to the people who could have been matched to that
 *    contact, by the strongest key they share with it that Apollo would have used: a CRM id; else
 *    the email (unless a CRM id of theirs names a contact in the reply); else the name with the
 *    company (unless their email, or a CRM id, names a contact in the reply). A person who could
 *    have been matched to two contacts, or a contact with fewer entries than people who could
 *    claim them, decides nothing: all those people are `unknown`.
 * 3. What each pairing means: the same email is that person's contact (`existing`); a CRM match
 *    with another email is doubtful; a name match of a person without email is that contact (as
 *    people/match by name + company would say), unless someone else holds it; a name match of a
 *    person with an email onto a contact with another email is **Apollo's false merge** (a
 *    namesake at the same company): `falseMerges`, to be created on its own without dedupe.
 * 4. Doubt spreads: a contact two people would hold, or an entry nobody accounts for that shares a
 *    key with a mapped person, turns those people `unknown`.
 *
 * `unknown` is always safe: the caller resolves those people one by one (search by email, or
 * people/match). Every ref ends in exactly one of `matched`, `falseMerges` and `unknown`; no two
 * refs share a matched contact; a matched person with an email has that email on its contact; and
 * the order of the reply changes nothing.
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
    sent.map(({ ref, contact }) => ({
      ref,
      ...keysOf({
        email: contact.email,
        hubspot: contact.hubspot_id,
        salesforce_contact: contact.salesforce_contact_id,
        salesforce_lead: contact.salesforce_lead_id,
        first_name: contact.first_name,
        last_name: contact.last_name,
        organization_name: contact.organization_name,
      }),
    })),
    [
      ...reply.created.map((contact) => entryOf(contact, 'created')),
      ...reply.existing.map((contact) => entryOf(contact, 'existing')),
    ],
  );
  mapping.assignCreated();
  mapping.assignExisting();
  mapping.spreadDoubt();
  return mapping.result(sent.map(({ ref }) => ref));
}

type Outcome = 'created' | 'existing';
const CRM_KINDS = ['hubspot', 'salesforce_contact', 'salesforce_lead'] as const;
type CrmKind = (typeof CRM_KINDS)[number];
/** How a person could have been matched to an existing contact, strongest first. */
type Via = 'crm' | 'email' | 'name';

/** What a person or a contact is recognised by, folded as the identities are. */
interface Keys {
  email: string | undefined;
  crm: Partial<Record<CrmKind, string>>;
  first: string;
  last: string;
  company: string;
  /** Name + organisation, and name + email domain: the ways Apollo's dedupe matches a name. */
  nameKeys: string[];
}

interface Person extends Keys {
  ref: string;
}

/** One contact of the reply, as the entry it is (one contact may come back more than once). */
interface Entry extends Keys {
  contact: ApolloContact;
  outcome: Outcome;
}

type Verdict =
  | { kind: 'matched'; contact: ApolloContact; outcome: Outcome; via: Via | 'created' }
  | { kind: 'falseMerge'; contactId: string }
  | { kind: 'unknown' };

/** `Ana@Bücher.example ` → `ana@xn--bcher-kva.example`; undefined for no email. */
export function normaliseEmail(email: string | null | undefined): string | undefined {
  if (email == null) return undefined;
  const folded = foldEmail(email);
  if (folded === '') return undefined;
  const at = folded.lastIndexOf('@');
  if (at < 0) return folded;
  const domain = folded.slice(at + 1);
  return `${folded.slice(0, at)}@${domainToASCII(domain) || domain}`;
}

function text(value: string | number | null | undefined): string | undefined {
  if (value == null) return undefined;
  const trimmed = String(value).trim();
  return trimmed === '' ? undefined : trimmed;
}

function keysOf(fields: {
  email: string | null | undefined;
  hubspot: string | number | null | undefined;
  salesforce_contact: string | null | undefined;
  salesforce_lead: string | null | undefined;
  first_name: string | null | undefined;
  last_name: string | null | undefined;
  organization_name: string | null | undefined;
}): Keys {
  const email = normaliseEmail(fields.email);
  const first = foldName(fields.first_name ?? '');
  const last = foldName(fields.last_name ?? '');
  const company = foldCompany(fields.organization_name ?? '');
  const nameKeys: string[] = [];
  if (first !== '' && last !== '') {
    if (company !== '') nameKeys.push(JSON.stringify(['org', first, last, company]));
    const domain = email?.slice(email.lastIndexOf('@') + 1);
    if (domain) nameKeys.push(JSON.stringify(['domain', first, last, domain]));
  }
  return {
    email,
    crm: {
      hubspot: text(fields.hubspot),
      salesforce_contact: text(fields.salesforce_contact),
      salesforce_lead: text(fields.salesforce_lead),
    },
    first,
    last,
    company,
    nameKeys,
  };
}

function entryOf(contact: ApolloContact, outcome: Outcome): Entry {
  return {
    contact,
    outcome,
    ...keysOf({
      email: contact.email,
      // Apollo's contact objects call it `hubspot_vid`; bulk_create takes `hubspot_id`.
      hubspot: contact.hubspot_id ?? contact.hubspot_vid,
      salesforce_contact: contact.salesforce_contact_id,
      salesforce_lead: contact.salesforce_lead_id,
      first_name: contact.first_name,
      last_name: contact.last_name,
      organization_name: contact.organization_name,
    }),
  };
}

function sharesCrmId(a: Keys, b: Keys): boolean {
  return CRM_KINDS.some((kind) => a.crm[kind] !== undefined && a.crm[kind] === b.crm[kind]);
}

function sharesNameKey(a: Keys, b: Keys): boolean {
  return a.nameKeys.some((key) => b.nameKeys.includes(key));
}

/** Whether `a` and `b` have any key in common: what Apollo could have matched them by. */
function sharesAnyKey(a: Keys, b: Keys): boolean {
  return (a.email !== undefined && a.email === b.email) || sharesCrmId(a, b) || sharesNameKey(a, b);
}

/**
 * Whether a created entry carries what `person` sent: its email (or none, as sent), and the CRM
 * ids, names and company where the entry shows them; and at least one key to recognise it by.
 */
function carriesDataOf(entry: Entry, person: Person): boolean {
  if (entry.email !== person.email) return false;
  if (CRM_KINDS.some((kind) => entry.crm[kind] !== undefined && entry.crm[kind] !== person.crm[kind]))
    return false;
  for (const part of ['first', 'last', 'company'] as const) {
    if (entry[part] !== '' && entry[part] !== person[part]) return false;
  }
  return entry.email !== undefined || sharesCrmId(entry, person) || sharesNameKey(entry, person);
}

/** The verdicts of one mapping, reached in the phases `mapBulkCreateReply` describes. */
class ReplyMapping {
  private readonly verdicts = new Map<string, Verdict>();
  /** Entries some person accounts for; the others may cast doubt (`spreadDoubt`). */
  private readonly explained = new Set<Entry>();

  constructor(
    private readonly people: readonly Person[],
    private readonly entries: readonly Entry[],
  ) {}

  /** Each created entry to the one person whose data it carries; several candidates decide nothing. */
  assignCreated(): void {
    const created = this.entries.filter((entry) => entry.outcome === 'created');
    const candidatesOf = new Map(
      created.map((entry) => [entry, this.people.filter((person) => carriesDataOf(entry, person))]),
    );
    const entriesOf = new Map<Person, Entry[]>();
    for (const [entry, candidates] of candidatesOf) {
      for (const person of candidates) entriesOf.set(person, [...(entriesOf.get(person) ?? []), entry]);
    }
    for (const [entry, candidates] of candidatesOf) {
      const [person] = candidates;
      if (candidates.length === 1 && person !== undefined && entriesOf.get(person)?.length === 1) {
        this.explained.add(entry);
        this.verdicts.set(person.ref, {
          kind: 'matched',
          contact: entry.contact,
          outcome: 'created',
          via: 'created',
        });
      } else {
        for (const candidate of candidates) this.verdicts.set(candidate.ref, { kind: 'unknown' });
      }
    }
  }

  /** Each existing contact to the people who could have been matched to it, when they add up. */
  assignExisting(): void {
    const byContact = new Map<string, Entry[]>();
    for (const entry of this.entries.filter((candidate) => candidate.outcome === 'existing')) {
      byContact.set(entry.contact.id, [...(byContact.get(entry.contact.id) ?? []), entry]);
    }
    const replyEmails = new Set(this.entries.flatMap((entry) => (entry.email ? [entry.email] : [])));
    // People a created entry went to are accounted for; those left unknown still compete.
    const claimable = this.people.filter((person) => this.verdicts.get(person.ref)?.kind !== 'matched');
    const claims = new Map<Person, Array<{ contactId: string; via: Via }>>();
    for (const person of claimable) {
      const crmInReply = this.entries.some((entry) => sharesCrmId(entry, person));
      for (const [contactId, [first]] of byContact) {
        if (first === undefined) continue;
        const via: Via | undefined = sharesCrmId(person, first)
          ? 'crm'
          : crmInReply
            ? undefined
            : person.email !== undefined && person.email === first.email
              ? 'email'
              : sharesNameKey(person, first) && (person.email === undefined || !replyEmails.has(person.email))
                ? 'name'
                : undefined;
        if (via !== undefined) claims.set(person, [...(claims.get(person) ?? []), { contactId, via }]);
      }
    }
    for (const [contactId, entries] of byContact) {
      const claimants = [...claims].filter(([, claimed]) =>
        claimed.some((claim) => claim.contactId === contactId),
      );
      if (claimants.length === 0) continue;
      for (const entry of entries) this.explained.add(entry);
      const doubtful =
        claimants.length > entries.length || claimants.some(([, claimed]) => claimed.length > 1);
      for (const [person, [claim]] of claimants) {
        if (this.verdicts.has(person.ref) || claim === undefined) continue;
        const entry = entries[0] as Entry;
        this.verdicts.set(person.ref, doubtful ? { kind: 'unknown' } : this.judge(person, entry, claim.via));
      }
    }
  }

  /**
   * A contact two people would hold keeps only a sole holder by created entry, CRM id or email
   * (a name match without email gives way); an entry nobody accounts for that shares a key with a
   * mapped person makes that person unknown (Apollo answered something this mapping cannot explain).
   */
  spreadDoubt(): void {
    const holders = new Map<string, Array<[string, Extract<Verdict, { kind: 'matched' }>]>>();
    for (const [ref, verdict] of this.verdicts) {
      if (verdict.kind === 'matched') {
        holders.set(verdict.contact.id, [...(holders.get(verdict.contact.id) ?? []), [ref, verdict]]);
      }
    }
    for (const held of holders.values()) {
      if (held.length < 2) continue;
      const strong = held.filter(([, verdict]) => verdict.via !== 'name');
      for (const [ref] of held) {
        if (strong.length !== 1 || strong[0]?.[0] !== ref) this.verdicts.set(ref, { kind: 'unknown' });
      }
    }
    const unexplained = this.entries.filter((entry) => !this.explained.has(entry));
    for (const person of this.people) {
      if (this.verdicts.get(person.ref)?.kind === 'unknown') continue;
      if (unexplained.some((entry) => sharesAnyKey(entry, person))) {
        this.verdicts.set(person.ref, { kind: 'unknown' });
      }
    }
  }

  /** Every ref's verdict, in the order sent. */
  result(refs: readonly string[]) {
    const matched = new Map<string, { contact: ApolloContact; outcome: Outcome }>();
    const falseMerges: string[] = [];
    const unknown: string[] = [];
    for (const ref of refs) {
      const verdict = this.verdicts.get(ref) ?? { kind: 'unknown' };
      if (verdict.kind === 'matched')
        matched.set(ref, { contact: verdict.contact, outcome: verdict.outcome });
      else if (verdict.kind === 'falseMerge') falseMerges.push(ref);
      else unknown.push(ref);
    }
    return { matched, falseMerges, unknown };
  }

  /** What it means that `person` could have been matched to the existing contact of `entry` by `via`. */
  private judge(person: Person, entry: Entry, via: Via): Verdict {
    const matched: Verdict = { kind: 'matched', contact: entry.contact, outcome: 'existing', via };
    if (via === 'email') return matched;
    if (person.email === undefined) return matched;
    if (entry.email === person.email) return matched;
    // A CRM id naming a contact of another email (or none): the CRM and the email disagree.
    if (via === 'crm' || entry.email === undefined) return { kind: 'unknown' };
    // Matched by name + company although the person's own email is not on the contact: a namesake's.
    return { kind: 'falseMerge', contactId: entry.contact.id };
  }
}
