import type { Identity } from '../identity';
import type { ContactFields, MatchIdentity } from '../person';

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
  /** POST /people/bulk_match (≤10), never a reveal or waterfall flag. One entry per identity, in order, null when not found. */
  matchPeople(identities: MatchIdentity[], options: CallOptions): Promise<Array<MatchedPerson | null>>;
  /**
   * `POST /people/match` that spends credits: enriches a person, and with `webhookUrl` asks Apollo
   * to reveal phone numbers and post them there later.
   */
  enrichPerson(query: EnrichmentQuery, options: CallOptions & { webhookUrl?: string }): Promise<Enrichment>;
  /** `PATCH /contacts/{id}`: sets the given fields only. */
  updateContact(contactId: string, fields: ContactFields, options: CallOptions): Promise<ApolloContact>;
  /** `GET /webhook_result/{request_id}`: the phone-reveal payload when the callback never came. */
  getWebhookResult(requestId: string, options: CallOptions): Promise<WebhookResult>;
}

/** People per `POST /people/bulk_match` at most (Apollo refuses more: `RECORD_LIMIT_EXCEEDED`). */
export const MAX_BULK_MATCH_PEOPLE = 10;

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
