import type {
  Apollo,
  ApolloContact,
  ApolloPhoneNumber,
  BulkContact,
  CallOptions,
  Enrichment,
  EnrichmentQuery,
  MatchedPerson,
  PhoneRevealPayload,
  WebhookResult,
} from '../../../lib/apollo/apollo';
import { ConfigurationError } from '../../../lib/errors';
import { PHONE_FIELDS, type ContactFields, type MatchIdentity, type PhoneField } from '../../../lib/person';

export type ApolloMethod = keyof Apollo;

/** What bulk_create takes besides the contact fields: the fake keeps them on the contact. */
type BulkExtras = Pick<
  BulkContact,
  'linkedin_url' | 'hubspot_id' | 'salesforce_contact_id' | 'salesforce_lead_id'
>;
const CRM_IDS = ['hubspot_id', 'salesforce_contact_id', 'salesforce_lead_id'] as const;

/** A saved contact of the team, as the fake keeps it: the fields last sent, and who it is. */
export interface FakeContact {
  id: string;
  /** Apollo's person behind the contact, when its directory knows one with this email. */
  person_id: string | null;
  fields: ContactFields & BulkExtras;
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
  matchPerson: MatchIdentity[];
  enrichPerson: Array<{ query: EnrichmentQuery; webhookUrl: string | undefined }>;
  updateContact: Array<{ contactId: string; fields: ContactFields }>;
  getWebhookResult: string[];
  bulkCreateContacts: Array<{ contacts: BulkContact[]; runDedupe: boolean }>;
  bulkUpdateContacts: Array<Array<{ id: string } & ContactFields>>;
  matchPeople: MatchIdentity[][];
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

/** What bulk_create answers. */
export interface BulkReply {
  created: ApolloContact[];
  existing: ApolloContact[];
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
    matchPerson: [],
    enrichPerson: [],
    updateContact: [],
    getWebhookResult: [],
    bulkCreateContacts: [],
    bulkUpdateContacts: [],
    matchPeople: [],
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
  private readonly bulkReplyTransforms: Array<(reply: BulkReply) => BulkReply> = [];
  private requestCount = 0;

  /** How many times each method was called. */
  get calls(): Record<ApolloMethod, number> {
    return {
      createContact: this.received.createContact.length,
      findContactsByEmail: this.received.findContactsByEmail.length,
      matchPerson: this.received.matchPerson.length,
      enrichPerson: this.received.enrichPerson.length,
      updateContact: this.received.updateContact.length,
      getWebhookResult: this.received.getWebhookResult.length,
      bulkCreateContacts: this.received.bulkCreateContacts.length,
      bulkUpdateContacts: this.received.bulkUpdateContacts.length,
      matchPeople: this.received.matchPeople.length,
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

  async matchPerson(identity: MatchIdentity, _options: CallOptions): Promise<MatchedPerson | null> {
    this.received.matchPerson.push(structuredClone(identity));
    return this.run('matchPerson', () => {
      const contact = this.contacts.find((candidate) => this.contactMatches(candidate, identity));
      if (contact !== undefined) return this.matched(this.personOf(contact), contact);
      const person = this.directory.find((candidate) => this.personMatches(candidate, identity));
      if (person === undefined) return null;
      return this.matched(person, this.savedContactOf(person));
    });
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

  // PIPELINE: the bulk methods as the pipeline's unit tests need them (docs/apollo/apollo-api.md);
  // the lead reconciles them with the bulk-apollo branch's fake on merge.

  /**
   * Like Apollo's bulk_create: without `runDedupe` every entry makes a new contact; with it, an entry
   * matching a saved contact (CRM id, email, then first + last name with organisation, in that
   * order; earlier entries of the same call included) comes back in `existing` unchanged. The
   * reply has no index back to the entries: each list comes in reverse order of the entries.
   */
  /**
   * The next bulk_create reply (after its effect) is what `transform` makes of it: a reply Apollo
   * shows with fewer fields, say, that cannot be mapped back to the entries.
   */
  transformNextBulkReply(transform: (reply: BulkReply) => BulkReply): void {
    this.bulkReplyTransforms.push(transform);
  }

  async bulkCreateContacts(
    contacts: BulkContact[],
    options: CallOptions & { runDedupe: boolean },
  ): Promise<{ created: ApolloContact[]; existing: ApolloContact[] }> {
    if (contacts.length > 100) throw new Error('bulk_create takes at most 100 contacts');
    this.received.bulkCreateContacts.push({
      contacts: structuredClone(contacts),
      runDedupe: options.runDedupe,
    });
    return this.run('bulkCreateContacts', () => {
      const created: ApolloContact[] = [];
      const existing: ApolloContact[] = [];
      for (const contact of contacts) {
        const match = options.runDedupe ? this.bulkDedupeMatch(contact) : undefined;
        if (match !== undefined) existing.unshift(this.toApolloContact(match));
        else created.unshift(this.toApolloContact(this.addContactInPlace(contact)));
      }
      const transform = this.bulkReplyTransforms.shift();
      return transform === undefined ? { created, existing } : transform({ created, existing });
    });
  }

  /** Sets the given fields of each contact named by id (ids Apollo does not hold are skipped). */
  async bulkUpdateContacts(
    updates: Array<{ id: string } & ContactFields>,
    _options: CallOptions,
  ): Promise<void> {
    if (updates.length > 100) throw new Error('bulk_update is used with at most 100 contacts here');
    this.received.bulkUpdateContacts.push(structuredClone(updates));
    return this.run('bulkUpdateContacts', () => {
      for (const { id, ...fields } of updates) {
        const contact = this.contacts.find((candidate) => candidate.id === id);
        if (contact !== undefined) Object.assign(contact.fields, structuredClone(fields));
      }
    });
  }

  /** people/bulk_match without reveal flags: `matchPerson` for each identity, in order. */
  async matchPeople(
    identities: MatchIdentity[],
    _options: CallOptions,
  ): Promise<Array<MatchedPerson | null>> {
    if (identities.length > 10) throw new Error('bulk_match takes at most 10 people');
    this.received.matchPeople.push(structuredClone(identities));
    return this.run('matchPeople', () =>
      identities.map((identity) => {
        const contact = this.contacts.find((candidate) => this.contactMatches(candidate, identity));
        if (contact !== undefined) return this.matched(this.personOf(contact), contact);
        const person = this.directory.find((candidate) => this.personMatches(candidate, identity));
        return person === undefined ? null : this.matched(person, this.savedContactOf(person));
      }),
    );
  }

  /** The saved contact bulk_create's dedupe returns: CRM id, then email, then name + organisation. */
  private bulkDedupeMatch(contact: BulkContact): FakeContact | undefined {
    for (const crm of CRM_IDS) {
      const id = contact[crm];
      const byCrm = id === undefined ? undefined : this.contacts.find((saved) => saved.fields[crm] === id);
      if (byCrm !== undefined) return byCrm;
    }
    if (contact.email !== undefined) {
      const byEmail = this.contacts.find((saved) => sameText(saved.fields.email, contact.email));
      if (byEmail !== undefined) return byEmail;
    }
    return this.contacts.find(
      (saved) =>
        sameText(saved.fields.first_name, contact.first_name) &&
        sameText(saved.fields.last_name, contact.last_name) &&
        sameText(saved.fields.organization_name, contact.organization_name),
    );
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

  private addContactInPlace(fields: ContactFields & BulkExtras): FakeContact {
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
    const crmIds = Object.fromEntries(
      CRM_IDS.flatMap((crm) => (contact.fields[crm] ? [[crm, contact.fields[crm]]] : [])),
    );
    return {
      id: contact.id,
      email: contact.fields.email ?? null,
      person_id: contact.person_id,
      phone_numbers: phoneNumbers,
      first_name: contact.fields.first_name ?? null,
      last_name: contact.fields.last_name ?? null,
      organization_name: contact.fields.organization_name ?? null,
      ...crmIds,
    };
  }
}
