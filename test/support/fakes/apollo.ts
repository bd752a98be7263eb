import {
  MAX_BULK_MATCH_PEOPLE,
  type Apollo,
  type ApolloContact,
  type ApolloPhoneNumber,
  type CallOptions,
  type Enrichment,
  type EnrichmentQuery,
  type MatchedPerson,
  type PhoneRevealPayload,
  type WebhookResult,
} from '../../../lib/apollo/apollo';
import { ConfigurationError } from '../../../lib/errors';
import { identitiesOf, identityKey, type Identity } from '../../../lib/identity';
import { PHONE_FIELDS, type ContactFields, type MatchIdentity, type PhoneField } from '../../../lib/person';

export type ApolloMethod = keyof Apollo;

/** A saved contact of the team, as the fake keeps it: the fields last sent, and who it is. */
export interface FakeContact {
  id: string;
  /** Apollo's person behind the contact, when its directory knows one with this email. */
  person_id: string | null;
  fields: ContactFields;
}

/** Someone in Apollo's database of people, who need not be a contact of the team. */
export interface DirectoryPerson extends Omit<MatchedPerson, 'contact' | 'contact_id'> {
  id: string;
  /** What a phone reveal brings back for this person: the callback's `phone_numbers`. */
  revealedPhones?: NonNullable<PhoneRevealPayload['people'][number]['phone_numbers']>;
}

/** What the fake received, call by call, per method. */
export interface ApolloReceived {
  createContact: Array<{ fields: ContactFields; runDedupe: boolean }>;
  findContactsByEmail: string[];
  findContactsByName: Array<{ first_name: string; last_name: string; identities: readonly Identity[] }>;
  matchPerson: MatchIdentity[];
  /** Each people/bulk_match call's identities. */
  matchPeople: MatchIdentity[][];
  enrichPerson: Array<{ query: EnrichmentQuery; webhookUrl: string | undefined }>;
  updateContact: Array<{ contactId: string; fields: ContactFields }>;
  getWebhookResult: string[];
}

interface ScriptedCall {
  /** Runs before the call does anything (to move a clock, or let a rival claim meanwhile). */
  before?: () => unknown;
  error?: Error;
  /** The call takes effect (a create creates) before `error` is thrown: an unknown outcome. */
  afterEffect?: boolean;
}

/** How Apollo shows each phone field of a contact (`type` on the contact's phone_numbers). */
const PHONE_TYPE_BY_FIELD: Record<PhoneField, string> = {
  direct_phone: 'work_direct',
  corporate_phone: 'work_hq',
  mobile_phone: 'mobile',
  home_phone: 'home',
  other_phone: 'other',
};

function sameText(a: string | null | undefined, b: string | null | undefined): boolean {
  return a != null && b != null && a.trim().toLowerCase() === b.trim().toLowerCase();
}

/** Host of a URL or bare domain, lower case, without "www.". */
function domainOf(url: string | null | undefined): string | null {
  if (!url) return null;
  const host = url
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '')
    .split(/[/?#:]/)[0];
  return host?.replace(/^www\./, '') || null;
}

function linkedinKey(url: string | null | undefined): string | null {
  return (
    url
      ?.trim()
      .toLowerCase()
      .replace(/^[a-z]+:\/\//, '')
      .replace(/^www\./, '')
      .replace(/\/+$/, '') || null
  );
}

type NameIdentity = { first_name: string; last_name: string; organization_name?: string; domain?: string };

/**
 * Apollo in memory, behind the port the use cases see. Like Apollo, a create without `runDedupe`
 * always makes a new contact (so a blind retry makes a duplicate); with it, the create updates the
 * contact with the same email, or the same name and company. Failures are scripted per method:
 * `failNext('createContact', error, { afterEffect: true })` creates the contact and then throws,
 * which is how an unknown outcome looks from here.
 */
export class FakeApollo implements Apollo {
  readonly contacts: FakeContact[] = [];
  readonly directory: DirectoryPerson[] = [];
  readonly received: ApolloReceived = {
    createContact: [],
    findContactsByEmail: [],
    findContactsByName: [],
    matchPerson: [],
    matchPeople: [],
    enrichPerson: [],
    updateContact: [],
    getWebhookResult: [],
  };
  /**
   * What a phone reveal's payload reports as `credits_consumed`: the whole request's cost, the
   * people/match included (`lib/apollo/pricing.ts`); null leaves it out of the payload.
   */
  creditsPerPhoneReveal: number | null = 9;
  /** Whether people/match answers with a request id (Apollo may leave it out). */
  issueRequestIds = true;
  /** What webhook_result answers for a phone reveal that is not ready yet. */
  pendingRetryAfterSeconds = 60;

  private readonly scripts = new Map<ApolloMethod, ScriptedCall[]>();
  private readonly webhookResults = new Map<string, WebhookResult>();
  /** Phone reveals asked for: request id → Apollo person id. */
  private readonly phoneRequests = new Map<string, string>();
  private contactCount = 0;
  private requestCount = 0;

  /** How many times each method was called. */
  get calls(): Record<ApolloMethod, number> {
    return {
      createContact: this.received.createContact.length,
      findContactsByEmail: this.received.findContactsByEmail.length,
      findContactsByName: this.received.findContactsByName.length,
      matchPerson: this.received.matchPerson.length,
      matchPeople: this.received.matchPeople.length,
      enrichPerson: this.received.enrichPerson.length,
      updateContact: this.received.updateContact.length,
      getWebhookResult: this.received.getWebhookResult.length,
    };
  }

  /** Calls to every method together. */
  get totalCalls(): number {
    return Object.values(this.calls).reduce((sum, count) => sum + count, 0);
  }

  /** Makes the next call to `method` throw `error` (after taking effect, with `afterEffect`). */
  failNext(method: ApolloMethod, error: Error, options: Omit<ScriptedCall, 'error'> = {}): void {
    this.script(method).push({ ...options, error });
  }

  /** Runs `hook` at the start of the next call to `method`, which then goes on as usual. */
  beforeNext(method: ApolloMethod, hook: () => unknown): void {
    this.script(method).push({ before: hook });
  }

  /** A contact the team already has (created by hand, or by someone else). */
  addContact(fields: ContactFields, options: { person_id?: string | null } = {}): FakeContact {
    const contact = this.addContactInPlace(fields);
    if (options.person_id !== undefined) contact.person_id = options.person_id;
    return structuredClone(contact);
  }

  /** Someone Apollo can enrich and match. */
  addPerson(person: DirectoryPerson): void {
    this.directory.push(structuredClone(person));
  }

  contact(id: string): FakeContact | undefined {
    const contact = this.contacts.find((candidate) => candidate.id === id);
    return contact === undefined ? undefined : structuredClone(contact);
  }

  /** What Apollo would post to the callback of this phone reveal. */
  phoneRevealPayload(requestId: string): PhoneRevealPayload {
    const personId = this.phoneRequests.get(requestId);
    const person = this.directory.find((candidate) => candidate.id === personId);
    if (person === undefined) throw new Error(`no phone reveal was asked for with request id ${requestId}`);
    return {
      status: 'success',
      ...(this.creditsPerPhoneReveal !== null && { credits_consumed: this.creditsPerPhoneReveal }),
      people: [
        { id: person.id, status: 'success', phone_numbers: structuredClone(person.revealedPhones ?? []) },
      ],
    };
  }

  /** What webhook_result answers for `requestId` from now on. */
  setWebhookResult(requestId: string, result: WebhookResult): void {
    this.webhookResults.set(requestId, structuredClone(result));
  }

  async createContact(
    fields: ContactFields,
    options: CallOptions & { runDedupe?: boolean },
  ): Promise<ApolloContact> {
    const runDedupe = options.runDedupe ?? false;
    this.received.createContact.push({ fields: structuredClone(fields), runDedupe });
    return this.run('createContact', () => {
      const existing = runDedupe ? this.dedupeMatch(fields) : undefined;
      if (existing === undefined) return this.toApolloContact(this.addContactInPlace(fields));
      Object.assign(existing.fields, structuredClone(fields));
      return this.toApolloContact(existing);
    });
  }

  async findContactsByEmail(email: string, _options: CallOptions): Promise<ApolloContact[]> {
    this.received.findContactsByEmail.push(email);
    return this.run('findContactsByEmail', () =>
      this.contacts
        .filter((contact) => sameText(contact.fields.email, email))
        .map((contact) => this.toApolloContact(contact)),
    );
  }

  /** Like the HTTP adapter: the contacts whose names with organisation or website fold to one of `identities`. */
  async findContactsByName(
    search: { first_name: string; last_name: string; identities: readonly Identity[] },
    _options: CallOptions,
  ): Promise<ApolloContact[]> {
    this.received.findContactsByName.push(structuredClone(search));
    const wanted = new Set(search.identities.map(identityKey));
    return this.run('findContactsByName', () =>
      this.contacts
        .filter((contact) =>
          identitiesOf(contact.fields).some((identity) => wanted.has(identityKey(identity))),
        )
        .map((contact) => this.toApolloContact(contact)),
    );
  }

  async matchPerson(identity: MatchIdentity, _options: CallOptions): Promise<MatchedPerson | null> {
    this.received.matchPerson.push(structuredClone(identity));
    return this.run('matchPerson', () => this.match(identity));
  }

  /** Like Apollo's bulk_match: one entry per identity, in order, null when not found; 10 at most. */
  async matchPeople(
    identities: MatchIdentity[],
    _options: CallOptions,
  ): Promise<Array<MatchedPerson | null>> {
    if (identities.length > MAX_BULK_MATCH_PEOPLE) {
      // What Apollo answers 400 RECORD_LIMIT_EXCEEDED to; the HTTP adapter refuses it before sending.
      throw new RangeError(`people/bulk_match takes ${MAX_BULK_MATCH_PEOPLE} people at most`);
    }
    this.received.matchPeople.push(structuredClone(identities));
    return this.run('matchPeople', () => identities.map((identity) => this.match(identity)));
  }

  /** What people/match finds: the saved contact first, then the directory. */
  private match(identity: MatchIdentity): MatchedPerson | null {
    const contact = this.contacts.find((candidate) => this.contactMatches(candidate, identity));
    if (contact !== undefined) return this.matched(this.personOf(contact), contact);
    const person = this.directory.find((candidate) => this.personMatches(candidate, identity));
    if (person === undefined) return null;
    return this.matched(person, this.savedContactOf(person));
  }

  /** The team's contact for a directory person: by Apollo's person id, else by email. */
  private savedContactOf(person: DirectoryPerson): FakeContact | undefined {
    return (
      this.contacts.find((candidate) => candidate.person_id === person.id) ??
      this.contacts.find((candidate) => sameText(candidate.fields.email, person.email))
    );
  }

  async enrichPerson(
    query: EnrichmentQuery,
    options: CallOptions & { webhookUrl?: string },
  ): Promise<Enrichment> {
    this.received.enrichPerson.push({ query: structuredClone(query), webhookUrl: options.webhookUrl });
    return this.run('enrichPerson', () => {
      const person = this.directory.find((candidate) => this.enrichmentFinds(candidate, query));
      const requestId = this.issueRequestIds
        ? String(-7_301_000_000_000_000_000n - BigInt(++this.requestCount))
        : null;
      if (person !== undefined && requestId !== null && options.webhookUrl !== undefined) {
        this.phoneRequests.set(requestId, person.id);
      }
      if (person === undefined) return { person: null, requestId };
      // Like matchPerson, a person the team saved as a contact comes with it (and costs nothing).
      return { person: this.matched(person, this.savedContactOf(person)), requestId };
    });
  }

  async updateContact(
    contactId: string,
    fields: ContactFields,
    _options: CallOptions,
  ): Promise<ApolloContact> {
    this.received.updateContact.push({ contactId, fields: structuredClone(fields) });
    return this.run('updateContact', () => {
      const contact = this.contacts.find((candidate) => candidate.id === contactId);
      // What the HTTP adapter makes of Apollo's 404.
      if (contact === undefined)
        throw new ConfigurationError('PATCH /contacts/{id}: not found at Apollo (404)');
      Object.assign(contact.fields, structuredClone(fields));
      return this.toApolloContact(contact);
    });
  }

  async getWebhookResult(requestId: string, _options: CallOptions): Promise<WebhookResult> {
    this.received.getWebhookResult.push(requestId);
    return this.run('getWebhookResult', () => {
      const scripted = this.webhookResults.get(requestId);
      if (scripted !== undefined) return structuredClone(scripted);
      if (this.phoneRequests.has(requestId)) {
        return { state: 'pending', retryAfterSeconds: this.pendingRetryAfterSeconds };
      }
      return { state: 'gone', reason: 'request_id_unknown' };
    });
  }

  private script(method: ApolloMethod): ScriptedCall[] {
    let script = this.scripts.get(method);
    if (script === undefined) {
      script = [];
      this.scripts.set(method, script);
    }
    return script;
  }

  /** Plays the call's script, if any, around `effect`. */
  private async run<T>(method: ApolloMethod, effect: () => T): Promise<T> {
    const step = this.script(method).shift();
    await step?.before?.();
    if (step?.error !== undefined) {
      if (step.afterEffect) effect();
      throw step.error;
    }
    return effect();
  }

  private addContactInPlace(fields: ContactFields): FakeContact {
    const contact: FakeContact = {
      id: `contact-${++this.contactCount}`,
      person_id: this.directory.find((person) => sameText(person.email, fields.email))?.id ?? null,
      fields: structuredClone(fields),
    };
    this.contacts.push(contact);
    return contact;
  }

  /** The contact `run_dedupe` updates: the same email, else the same name and company. */
  private dedupeMatch(fields: ContactFields): FakeContact | undefined {
    if (fields.email !== undefined) {
      const byEmail = this.contacts.find((contact) => sameText(contact.fields.email, fields.email));
      if (byEmail !== undefined) return byEmail;
    }
    return this.contacts.find(
      (contact) =>
        sameText(contact.fields.first_name, fields.first_name) &&
        sameText(contact.fields.last_name, fields.last_name) &&
        sameText(contact.fields.organization_name, fields.organization_name),
    );
  }

  private contactMatches(contact: FakeContact, identity: MatchIdentity): boolean {
    if ('email' in identity) return sameText(contact.fields.email, identity.email);
    return this.nameMatches(
      {
        first_name: contact.fields.first_name,
        last_name: contact.fields.last_name,
        organization: contact.fields.organization_name,
        domain: domainOf(contact.fields.website_url),
      },
      identity,
    );
  }

  private personMatches(person: DirectoryPerson, identity: MatchIdentity): boolean {
    if ('email' in identity) return sameText(person.email, identity.email);
    return this.nameMatches(
      {
        first_name: person.first_name,
        last_name: person.last_name,
        organization: person.organization?.name,
        domain: person.organization?.primary_domain ?? domainOf(person.organization?.website_url),
      },
      identity,
    );
  }

  private enrichmentFinds(person: DirectoryPerson, query: EnrichmentQuery): boolean {
    if ('id' in query) return person.id === query.id;
    if ('linkedin_url' in query) return linkedinKey(person.linkedin_url) === linkedinKey(query.linkedin_url);
    return this.personMatches(person, query);
  }

  private nameMatches(
    candidate: {
      first_name?: string | null;
      last_name?: string | null;
      organization?: string | null;
      domain?: string | null;
    },
    identity: NameIdentity,
  ): boolean {
    return (
      sameText(candidate.first_name, identity.first_name) &&
      sameText(candidate.last_name, identity.last_name) &&
      (sameText(candidate.organization, identity.organization_name) ||
        (identity.domain !== undefined && candidate.domain === domainOf(identity.domain)))
    );
  }

  /** The directory person behind a contact, if the directory knows one. */
  private personOf(contact: FakeContact): DirectoryPerson | undefined {
    return (
      this.directory.find((person) => person.id === contact.person_id) ??
      this.directory.find((person) => sameText(person.email, contact.fields.email))
    );
  }

  /** What people/match answers: the person, with the saved contact when there is one. */
  private matched(person: DirectoryPerson | undefined, contact: FakeContact | undefined): MatchedPerson {
    const { revealedPhones: _revealedPhones, ...shown } = structuredClone(
      person ?? {
        id: contact?.person_id ?? `person-of-${contact?.id}`,
        first_name: contact?.fields.first_name ?? null,
        last_name: contact?.fields.last_name ?? null,
        email: contact?.fields.email ?? null,
        title: contact?.fields.title ?? null,
        organization: { name: contact?.fields.organization_name ?? null },
      },
    );
    return {
      ...shown,
      contact_id: contact?.id ?? null,
      contact: contact === undefined ? null : this.toApolloContact(contact),
    };
  }

  private toApolloContact(contact: FakeContact): ApolloContact {
    const phoneNumbers: ApolloPhoneNumber[] = [];
    for (const field of PHONE_FIELDS) {
      const number = contact.fields[field];
      if (number !== undefined) {
        phoneNumbers.push({ raw_number: number, sanitized_number: number, type: PHONE_TYPE_BY_FIELD[field] });
      }
    }
    return {
      id: contact.id,
      first_name: contact.fields.first_name ?? null,
      last_name: contact.fields.last_name ?? null,
      organization_name: contact.fields.organization_name ?? null,
      website_url: contact.fields.website_url ?? null,
      email: contact.fields.email ?? null,
      person_id: contact.person_id,
      phone_numbers: phoneNumbers,
    };
  }
}
