import type { Identity } from '../identity';
import type { ContactFields, MatchIdentity, PhoneField } from '../person';

/**
 * Apollo, as the use cases see it: the port. `ApolloHttpClient` (`./http-client`) is its adapter,
 * and `./schemas` checks each reply against the types below before a use case sees it.
 */
export interface Apollo {
  /** `POST /contacts`. With `runDedupe`, Apollo upserts onto a contact with the same email or name + company. */
  createContact(
    fields: ContactFields,
    options: CallOptions & { runDedupe?: boolean },
  ): Promise<ApolloContact>;
  /** Saved contacts whose email equals `email` exactly (search is fuzzy, so this filters). */
  findContactsByEmail(email: string, options: CallOptions): Promise<ApolloContact[]>;
  /**
   * Saved contacts that are this person by name and company: a contacts search (free) by the
   * names, keeping the contacts whose names with their organisation or website fold to one of
   * `identities` (`name_org`, `name_domain`: `lib/identity.ts`). For a person without email:
   * people/match by name would charge a credit for anyone Apollo knows who is not a contact yet.
   */
  findContactsByName(
    search: { first_name: string; last_name: string; identities: readonly Identity[] },
    options: CallOptions,
  ): Promise<ApolloContact[]>;
  /** `POST /people/match` without any reveal or waterfall flag: free for saved contacts. Null when not found. */
  matchPerson(identity: MatchIdentity, options: CallOptions): Promise<MatchedPerson | null>;
  /**
   * `POST /people/match` that spends credits: enriches a person, and with `webhookUrl` asks Apollo
   * to reveal phone numbers and post them there later.
   */
  enrichPerson(query: EnrichmentQuery, options: CallOptions & { webhookUrl?: string }): Promise<Enrichment>;
  /** `PATCH /contacts/{id}`: sets the given fields only. */
  updateContact(contactId: string, fields: ContactFields, options: CallOptions): Promise<ApolloContact>;
  /** `GET /webhook_result/{request_id}`: the phone-reveal payload when the callback never came. */
  getWebhookResult(requestId: string, options: CallOptions): Promise<WebhookResult>;
  /**
   * `POST /contacts/bulk_create` (at most `MAX_BULK_CREATE_CONTACTS`). With `runDedupe`, a contact
   * Apollo already has comes back unchanged in `existing`. No index in the reply: see
   * `mapBulkCreateReply` (`./bulk-replies`). A timeout or 5xx is an unknown outcome, never repeated here.
   */
  bulkCreateContacts(
    contacts: BulkContact[],
    options: CallOptions & { runDedupe: boolean },
  ): Promise<{ created: ApolloContact[]; existing: ApolloContact[] }>;
  /**
   * `POST /contacts/bulk_update` (at most `MAX_BULK_UPDATE_CONTACTS`, which Apollo applies
   * synchronously): each contact by its id, with the fields `PATCH /contacts/{id}` takes.
   */
  bulkUpdateContacts(updates: Array<{ id: string } & ContactFields>, options: CallOptions): Promise<void>;
  /**
   * `POST /people/bulk_match` (at most `MAX_BULK_MATCH_PEOPLE`), never with a reveal or waterfall
   * flag: one entry per identity, in order, null when Apollo found nobody.
   */
  matchPeople(identities: MatchIdentity[], options: CallOptions): Promise<Array<MatchedPerson | null>>;
}

/** Apollo's per-call maxima; the client refuses more with a RangeError before calling. */
export const MAX_BULK_CREATE_CONTACTS = 100;
/** Apollo takes 1,000, but applies only 100 or fewer synchronously (more become an async job). */
export const MAX_BULK_UPDATE_CONTACTS = 100;
export const MAX_BULK_MATCH_PEOPLE = 10;

/** The CRM ids bulk_create matches on (after the contact id) when `runDedupe` is set. */
export interface CrmIds {
  hubspot_id?: string;
  salesforce_contact_id?: string;
  salesforce_lead_id?: string;
}

/**
 * One contact for `POST /contacts/bulk_create`: the fields its documented schema has. Not the
 * typed phone fields (`direct_phone`, `mobile_phone`, ...): bulk_create documents only untyped
 * `phone_numbers`, so typed phones are set afterwards with `bulkUpdateContacts`. Neither
 * `website_url` nor `label_names`: bulk_create's schema has no such per-contact fields (only a
 * batch-wide `append_label_names`), so they go with the typed phones in the follow-up.
 * `toBulkContact` (`./bulk-contacts`) splits a person's `ContactFields` that way.
 */
export type BulkContact = Omit<ContactFields, PhoneField | 'website_url' | 'label_names'> &
  CrmIds & {
    linkedin_url?: string;
  };

export interface CallOptions {
  /** Epoch ms by which the call must have ended (the Lambda's deadline, less a margin). */
  deadline: number;
}

/** A phone number as Apollo shows it on a contact or a person. */
export interface ApolloPhoneNumber {
  raw_number?: string | null;
  sanitized_number?: string | null;
  type?: string | null;
}

/** A saved Apollo contact (only the fields this service reads). */
export interface ApolloContact {
  id: string;
  first_name?: string | null;
  last_name?: string | null;
  organization_name?: string | null;
  website_url?: string | null;
  /** Search results carry the contact's organisation and account (with the company's domain). */
  organization?: { website_url?: string | null; primary_domain?: string | null } | null;
  account?: { domain?: string | null } | null;
  email?: string | null;
  person_id?: string | null;
  phone_numbers?: ApolloPhoneNumber[] | null;
  // What a bulk_create reply is mapped back to its inputs by (`./bulk-replies`), besides the
  // name, company and email above.
  salesforce_contact_id?: string | null;
  salesforce_lead_id?: string | null;
  /** Apollo's contact objects name the HubSpot id `hubspot_vid` (a number or a string); bulk_create takes `hubspot_id`. */
  hubspot_vid?: string | number | null;
  hubspot_id?: string | number | null;
}

/** The person people/match finds, with the saved contact when there is one. */
export interface MatchedPerson {
  id?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  email?: string | null;
  title?: string | null;
  linkedin_url?: string | null;
  organization?: {
    name?: string | null;
    website_url?: string | null;
    primary_domain?: string | null;
  } | null;
  contact_id?: string | null;
  contact?: ApolloContact | null;
  phone_numbers?: ApolloPhoneNumber[] | null;
}

/** What people/match answers to an enrichment request. */
export interface Enrichment {
  person: MatchedPerson | null;
  /** Apollo's request id, a signed 64-bit integer kept digit for digit as a string. */
  requestId: string | null;
  // No credits here: people/match's reply does not report them (see `./pricing`).
}

/** Who to enrich: email; name and company; LinkedIn URL; or Apollo person id. */
export type EnrichmentQuery =
  | { email: string }
  | { first_name: string; last_name: string; organization_name?: string; domain?: string }
  | { linkedin_url: string }
  | { id: string };

/** The payload of Apollo's phone-reveal callback, and of `webhook_result` once it is ready. */
export interface PhoneRevealPayload {
  status?: string | null;
  credits_consumed?: number | null;
  people: Array<{
    id: string;
    status?: string | null;
    phone_numbers?: Array<{
      raw_number?: string | null;
      sanitized_number?: string | null;
      /** mobile, work_direct, work_hq, home, other. */
      type_cd?: string | null;
      status_cd?: string | null;
    }> | null;
  }>;
}

/**
 * Where a phone reveal stands, as `GET /webhook_result/{request_id}` tells: `ready` with the
 * payload, `unreadable` when the ready payload is not a phone-reveal payload, `pending` with how
 * long to wait, or `gone` (unknown, expired or refused request) with why.
 */
export type WebhookResult =
  | { state: 'ready'; payload: PhoneRevealPayload }
  | { state: 'unreadable' }
  | { state: 'pending'; retryAfterSeconds: number }
  | { state: 'gone'; reason: string };
