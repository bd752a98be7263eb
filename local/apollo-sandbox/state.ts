/** The sandbox's memory: contacts, Apollo's directory of people, labels, request ids, rate-limit windows, faults. */
import { PhoneCallbacks, type PhoneRequest } from './callbacks';
import { newApolloId, newRequestId } from './ids';
import {
  CRM_ID_FIELDS,
  PHONE_FIELDS,
  PHONE_TYPE_BY_FIELD,
  readPersonIdentity,
  stringParam,
  TEXT_FIELDS,
  type BulkContactInput,
  type ContactChanges,
  type Params,
} from './params';
import { newPersonPhone, newPhoneNumber } from './phones';
import { WINDOW_MS, WINDOW_NAMES, type EndpointUsage, type RateLimits, type WindowName } from './rate-limits';
import { NEW_STAGE_ID, SANDBOX_USER_ID } from './team';
import { domainOf, emailDomain, joinName, linkedinKey, sameText } from './text';
import type {
  FaultRule,
  SandboxContact,
  SandboxContactSeed,
  SandboxPerson,
  SandboxPersonSeed,
  SandboxRequest,
} from './types';

interface SandboxLabel {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

interface PendingFault {
  rule: FaultRule;
  remaining: number;
  /** Matching requests let through so far (see `FaultRule.skip`). */
  skipped: number;
}

/** A request_id people/match issued; only those with a phone request have a webhook result. */
interface IssuedRequest {
  phone: PhoneRequest | undefined;
  expired: boolean;
}

/** Everything the sandbox remembers; `reset()` replaces it whole (after `dispose()`). */
export class SandboxState {
  readonly contacts: SandboxContact[] = [];
  readonly requests: SandboxRequest[] = [];
  readonly faults: PendingFault[] = [];
  /** Apollo's database of people, who need not be contacts of the team. */
  readonly people: SandboxPerson[] = [];
  /** Every request_id people/match issued, by its decimal form. */
  readonly issuedRequests = new Map<string, IssuedRequest>();
  creditsConsumed = 0;
  readonly phoneCallbacks = new PhoneCallbacks();
  private readonly labelsByName = new Map<string, SandboxLabel>();
  private readonly organizationIdsByName = new Map<string, string>();
  private readonly personIdsByIdentity = new Map<string, string>();
  private readonly usageByEndpoint = new Map<string, EndpointUsage>();
  private readonly jobs = new Set<ReturnType<typeof setTimeout>>();

  newContact(now: string): SandboxContact {
    const contact: SandboxContact = {
      id: newApolloId(),
      first_name: null,
      last_name: null,
      name: null,
      email: null,
      email_status: null,
      organization_name: null,
      organization_id: null,
      title: null,
      website_url: null,
      linkedin_url: null,
      present_raw_address: null,
      account_id: null,
      contact_stage_id: NEW_STAGE_ID,
      label_names: [],
      label_ids: [],
      typed_custom_fields: {},
      phone_numbers: [],
      sanitized_phone: null,
      person_id: null,
      hubspot_id: null,
      salesforce_id: null,
      salesforce_contact_id: null,
      salesforce_lead_id: null,
      outreach_id: null,
      salesloft_id: null,
      additional_emails: [],
      owner_id: SANDBOX_USER_ID,
      creator_id: SANDBOX_USER_ID,
      source: 'api',
      original_source: 'api',
      created_at: now,
      updated_at: now,
    };
    this.contacts.push(contact);
    return contact;
  }

  findContact(id: string | undefined): SandboxContact | undefined {
    return this.contacts.find((contact) => contact.id === id);
  }

  /** Field-level overwrite: sent fields replace, omitted ones stay, empty ones clear. */
  applyChanges(contact: SandboxContact, changes: ContactChanges, now: string): void {
    for (const field of TEXT_FIELDS) {
      const value = changes.text[field];
      if (value !== undefined) contact[field] = value;
    }
    for (const field of PHONE_FIELDS) {
      const rawNumber = changes.phones[field];
      if (rawNumber !== undefined) this.setPhone(contact, PHONE_TYPE_BY_FIELD[field], rawNumber);
    }
    if (changes.labelNames) this.setLabels(contact, changes.labelNames, now);
    if (changes.customFields) {
      for (const [fieldId, value] of Object.entries(changes.customFields)) {
        if (value === null || value === '') delete contact.typed_custom_fields[fieldId];
        else contact.typed_custom_fields[fieldId] = value;
      }
    }
    this.deriveFields(contact);
    contact.updated_at = now;
  }

  addContact(seed: SandboxContactSeed): SandboxContact {
    const now = new Date().toISOString();
    // A copy, so the caller's objects (typed_custom_fields, phones) never alias the stored contact.
    const { phone_numbers: phoneSeeds = [], label_names: labelNames = [], ...fields } = structuredClone(seed);
    const contact = this.newContact(now);
    Object.assign(contact, { updated_at: fields.created_at ?? now }, fields);
    contact.phone_numbers = phoneSeeds.map((phone, position) => ({
      ...newPhoneNumber(phone.raw_number, phone.type ?? 'other', position),
      ...phone,
    }));
    this.setLabels(contact, labelNames, now);
    this.deriveFields(contact, fields);
    return contact;
  }

  /**
   * The contact `run_dedupe` would update. Apollo's order: id, CRM ids, person_id, email, then
   * first+last name with the same company (by organization name or email domain), so a
   * contact can match although the sent email differs from the stored one.
   */
  findDedupeMatch(changes: ContactChanges, params: Params): SandboxContact | undefined {
    const id = stringParam(params, 'id');
    const personId = stringParam(params, 'person_id');
    const { email, first_name: firstName, last_name: lastName, organization_name: company } = changes.text;
    return (
      (id ? this.findContact(id) : undefined) ??
      (personId ? this.contacts.find((contact) => contact.person_id === personId) : undefined) ??
      (email ? this.contacts.find((contact) => sameText(contact.email, email)) : undefined) ??
      (firstName && lastName
        ? this.contacts.find(
            (contact) =>
              sameText(contact.first_name, firstName) &&
              sameText(contact.last_name, lastName) &&
              (sameText(contact.organization_name, company) ||
                sameText(emailDomain(contact.email), emailDomain(email ?? null))),
          )
        : undefined)
    );
  }

  /**
   * The contact bulk_create's `run_dedupe` returns (unchanged) for `input`, in Apollo's documented
   * order: contact id, CRM ids, person_id, email (against each contact's primary and additional
   * emails), then first + last name with the company (email domain, organization_id or
   * organization_name). Contacts created earlier in the same call count (*unsure*: Apollo does
   * not say whether a call sees its own creations; this is the stricter reading).
   */
  findBulkDedupeMatch(input: BulkContactInput): SandboxContact | undefined {
    const {
      email,
      first_name: firstName,
      last_name: lastName,
      organization_name: company,
    } = input.changes.text;
    const byCrmId = CRM_ID_FIELDS.flatMap((field) => {
      const id = input.crmIds[field];
      const found = id === undefined ? undefined : this.contacts.find((contact) => contact[field] === id);
      return found ? [found] : [];
    })[0];
    const companyOf = (contact: SandboxContact) =>
      sameText(emailDomain(contact.email), emailDomain(email ?? null)) ||
      (input.organizationId !== undefined && contact.organization_id === input.organizationId) ||
      sameText(contact.organization_name, company);
    return (
      (input.id ? this.findContact(input.id) : undefined) ??
      byCrmId ??
      (input.personId ? this.contacts.find((contact) => contact.person_id === input.personId) : undefined) ??
      (email
        ? this.contacts.find(
            (contact) =>
              sameText(contact.email, email) ||
              contact.additional_emails.some((other) => sameText(other, email)),
          )
        : undefined) ??
      (firstName && lastName
        ? this.contacts.find(
            (contact) =>
              sameText(contact.first_name, firstName) &&
              sameText(contact.last_name, lastName) &&
              companyOf(contact),
          )
        : undefined)
    );
  }

  /** A new contact from one bulk_create input: its fields, CRM ids, other emails and untyped phones. */
  createFromBulk(input: BulkContactInput, labelNames: string[], now: string): SandboxContact {
    const contact = this.newContact(now);
    this.applyChanges(
      contact,
      { ...input.changes, labelNames: labelNames.length > 0 ? labelNames : undefined },
      now,
    );
    for (const field of CRM_ID_FIELDS) contact[field] = input.crmIds[field] ?? null;
    contact.linkedin_url = input.linkedinUrl ?? null;
    contact.additional_emails = [...input.additionalEmails];
    if (input.organizationId !== undefined) contact.organization_id = input.organizationId;
    for (const rawNumber of input.untypedPhones) {
      if (!contact.phone_numbers.some((phone) => phone.raw_number === rawNumber)) {
        contact.phone_numbers.push(newPhoneNumber(rawNumber, null, contact.phone_numbers.length));
      }
    }
    this.deriveFields(contact, { organization_id: contact.organization_id ?? undefined });
    return contact;
  }

  /** Runs `job` after `delayMs` (a bulk_update's async job), unless the state is disposed first. */
  schedule(delayMs: number, job: () => void): void {
    const timer = setTimeout(() => {
      this.jobs.delete(timer);
      job();
    }, delayMs);
    // A forgotten sandbox must not keep the process alive for a job.
    timer.unref();
    this.jobs.add(timer);
  }

  /**
   * The saved contact people/match identifies: by person id, email, LinkedIn URL, then
   * first+last name (or `name`) with the employer's name or domain. Later ways are tried when
   * earlier ones find nothing, as Apollo uses all the details it is given.
   */
  findPerson(params: Params): SandboxContact | undefined {
    const { personId, email, linkedin, firstName, lastName, company, domain } = readPersonIdentity(params);
    return (
      (personId ? this.contacts.find((contact) => this.personIdOf(contact) === personId) : undefined) ??
      (email ? this.contacts.find((contact) => sameText(contact.email, email)) : undefined) ??
      (linkedin
        ? this.contacts.find((contact) => linkedinKey(contact.linkedin_url) === linkedin)
        : undefined) ??
      (firstName && lastName && (company || domain)
        ? this.contacts.find(
            (contact) =>
              sameText(contact.first_name, firstName) &&
              sameText(contact.last_name, lastName) &&
              (sameText(contact.organization_name, company) ||
                (domain !== null &&
                  (domainOf(contact.website_url) === domain || emailDomain(contact.email) === domain))),
          )
        : undefined)
    );
  }

  /**
   * The directory person people/match identifies, tried in the same order as `findPerson`:
   * id, email (any case), LinkedIn URL (scheme, "www." and trailing slash ignored), then
   * first+last name (or `name`) with the employer's name or domain.
   */
  findDirectoryPerson(params: Params): SandboxPerson | undefined {
    const { personId, email, linkedin, firstName, lastName, company, domain } = readPersonIdentity(params);
    return (
      (personId ? this.people.find((person) => person.id === personId) : undefined) ??
      (email ? this.people.find((person) => sameText(person.email, email)) : undefined) ??
      (linkedin ? this.people.find((person) => linkedinKey(person.linkedin_url) === linkedin) : undefined) ??
      (firstName && lastName && (company || domain)
        ? this.people.find(
            (person) =>
              sameText(person.first_name, firstName) &&
              sameText(person.last_name, lastName) &&
              (sameText(person.organization_name, company) ||
                (domain !== null &&
                  (person.domain === domain ||
                    domainOf(person.website_url) === domain ||
                    emailDomain(person.email) === domain))),
          )
        : undefined)
    );
  }

  /** The team's saved contact for a directory person: the one linked by person_id, else by email. */
  savedContactOf(person: SandboxPerson): SandboxContact | undefined {
    return (
      this.contacts.find((contact) => contact.person_id === person.id) ??
      (person.email ? this.contacts.find((contact) => sameText(contact.email, person.email)) : undefined)
    );
  }

  addPerson(seed: SandboxPersonSeed): SandboxPerson {
    const {
      mobile_phones: mobilePhones = [],
      phone_numbers: otherPhones = [],
      ...fields
    } = structuredClone(seed);
    const domain = domainOf(fields.domain) ?? domainOf(fields.website_url);
    const organizationKey = fields.organization_name?.trim() || domain;
    const person: SandboxPerson = {
      id: fields.id ?? newApolloId(),
      first_name: fields.first_name,
      last_name: fields.last_name,
      name: joinName(fields.first_name, fields.last_name) ?? '',
      email: fields.email ?? null,
      title: fields.title ?? null,
      organization_name: fields.organization_name ?? null,
      organization_id: organizationKey ? this.organizationIdOf(organizationKey) : null,
      website_url: fields.website_url ?? (domain ? `http://www.${domain}` : null),
      domain,
      linkedin_url: fields.linkedin_url ?? null,
      mobile_phones: mobilePhones.map((phone) => newPersonPhone(phone, 'mobile')),
      phone_numbers: otherPhones.map((phone) => newPersonPhone(phone, 'other')),
    };
    this.people.push(person);
    return person;
  }

  /** A fresh request_id, remembered so webhook_result knows it. */
  issueRequestId(): bigint {
    let requestId = newRequestId();
    while (this.issuedRequests.has(requestId.toString())) requestId = newRequestId();
    this.issuedRequests.set(requestId.toString(), { phone: undefined, expired: false });
    return requestId;
  }

  /** Remembers an accepted phone reveal and schedules its callbacks as the current behaviour says. */
  acceptPhoneRequest(request: Omit<PhoneRequest, 'readyAt' | 'lastDispatchedAt'>): void {
    const phone = this.phoneCallbacks.accept(request);
    const issued = this.issuedRequests.get(request.requestId);
    if (issued) issued.phone = phone;
  }

  /** Cancels pending callbacks (and those in flight) and pending jobs; nothing happens afterwards. */
  dispose(): void {
    this.phoneCallbacks.dispose();
    for (const timer of this.jobs) clearTimeout(timer);
    this.jobs.clear();
  }

  /**
   * The Apollo person behind a contact. A raw-data contact keeps `person_id: null`, yet
   * people/match still names a person; contacts sharing an email are the same person, and a
   * directory person with that email is that person.
   */
  personIdOf(contact: SandboxContact): string {
    if (contact.person_id) return contact.person_id;
    const directoryPerson = contact.email
      ? this.people.find((person) => sameText(person.email, contact.email))
      : undefined;
    if (directoryPerson) return directoryPerson.id;
    const identity = contact.email ? `email:${contact.email.trim().toLowerCase()}` : `contact:${contact.id}`;
    let personId = this.personIdsByIdentity.get(identity);
    if (!personId) {
      personId = newApolloId();
      this.personIdsByIdentity.set(identity, personId);
    }
    return personId;
  }

  labelsOf(contact: SandboxContact): SandboxLabel[] {
    return contact.label_names.flatMap((name) => this.labelsByName.get(name.toLowerCase()) ?? []);
  }

  labelUseCount(label: SandboxLabel): number {
    return this.contacts.filter((contact) => contact.label_ids.includes(label.id)).length;
  }

  /** Counts the request in its endpoint's fixed windows; answers the exhausted window, if any. */
  consumeRateLimit(
    key: string,
    limits: RateLimits,
    now: number,
  ): { usage: EndpointUsage; exhausted: WindowName | undefined } {
    const usage = this.usageByEndpoint.get(key) ?? {
      minute: { startedAt: now, used: 0 },
      hour: { startedAt: now, used: 0 },
      day: { startedAt: now, used: 0 },
    };
    this.usageByEndpoint.set(key, usage);
    for (const window of WINDOW_NAMES) {
      if (now - usage[window].startedAt >= WINDOW_MS[window]) usage[window] = { startedAt: now, used: 0 };
    }
    const exhausted = WINDOW_NAMES.find((window) => usage[window].used >= limits[window]);
    if (!exhausted) for (const window of WINDOW_NAMES) usage[window].used += 1;
    return { usage, exhausted };
  }

  /**
   * The first queued fault matching this request, used up once per match. A rule still skipping
   * (`skip`) lets this request through untouched, and counts it.
   */
  takeFault(method: string, path: string): FaultRule | undefined {
    const index = this.faults.findIndex(
      ({ rule }) =>
        (rule.method === undefined || rule.method.toUpperCase() === method) &&
        (rule.path === undefined || pathMatches(path, rule.path)),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    if (fault.skipped < (fault.rule.skip ?? 0)) {
      fault.skipped += 1;
      return undefined;
    }
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault.rule;
  }

  private setPhone(contact: SandboxContact, type: string, rawNumber: string | null): void {
    // A typed field replaces the number of its type; untyped numbers (type null) are left alone.
    const index = contact.phone_numbers.findIndex((phone) => phone.type === type);
    if (rawNumber === null) {
      if (index >= 0) contact.phone_numbers.splice(index, 1);
    } else if (index >= 0) {
      contact.phone_numbers[index] = newPhoneNumber(rawNumber, type, index);
    } else {
      contact.phone_numbers.push(newPhoneNumber(rawNumber, type, contact.phone_numbers.length));
    }
  }

  private setLabels(contact: SandboxContact, names: string[], now: string): void {
    const labels = names.map((name) => {
      let label = this.labelsByName.get(name.toLowerCase());
      if (!label) {
        label = { id: newApolloId(), name, created_at: now, updated_at: now };
        this.labelsByName.set(name.toLowerCase(), label);
      }
      return label;
    });
    contact.label_names = labels.map((label) => label.name);
    contact.label_ids = labels.map((label) => label.id);
  }

  /** Recomputes what Apollo derives from the sent fields, unless a seed set it explicitly. */
  private deriveFields(contact: SandboxContact, explicit: Partial<SandboxContact> = {}): void {
    contact.name = explicit.name ?? joinName(contact.first_name, contact.last_name);
    contact.organization_id =
      explicit.organization_id ??
      (contact.organization_name ? this.organizationIdOf(contact.organization_name) : null);
    contact.email_status = contact.email ? (contact.email_status ?? 'verified') : null;
    contact.phone_numbers.forEach((phone, position) => (phone.position = position));
    contact.sanitized_phone = explicit.sanitized_phone ?? contact.phone_numbers[0]?.sanitized_number ?? null;
  }

  organizationIdOf(name: string): string {
    const key = name.trim().toLowerCase();
    let id = this.organizationIdsByName.get(key);
    if (!id) {
      id = newApolloId();
      this.organizationIdsByName.set(key, id);
    }
    return id;
  }
}

export function pathMatches(path: string, expected: string | RegExp): boolean {
  // search() ignores a global RegExp's lastIndex, so a reused /g pattern still matches every time.
  return typeof expected === 'string' ? path === expected : path.search(expected) >= 0;
}
