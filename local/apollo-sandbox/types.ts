/** The Apollo sandbox's public types: options, what it stores, scripted faults and callbacks, its handle. */
import type { RateLimits } from './rate-limits';

export type { RateLimits };

/** Each endpoint the sandbox serves, as `METHOD /template`: what `rateLimits` and its counters are keyed by. */
export type SandboxEndpoint =
  | 'POST /contacts'
  | 'POST /contacts/search'
  | 'GET /contacts/{contact_id}'
  | 'PATCH /contacts/{contact_id}'
  | 'PUT /contacts/{contact_id}'
  | 'POST /contacts/bulk_create'
  | 'POST /contacts/bulk_update'
  | 'POST /people/match'
  | 'POST /people/bulk_match'
  | 'GET /webhook_result/{request_id}';

/**
 * What bulk_create does with the single create's typed phone fields (`direct_phone`,
 * `mobile_phone`, ...), which its documented schema does not list: `ignored` (the default, as
 * the schema says), `typed` (taken as the single create takes them), or `untyped` (stored as
 * numbers without a type, like `phone_numbers[]`). The three ways Apollo might behave.
 */
export type BulkCreatePhoneFields = 'ignored' | 'typed' | 'untyped';

export interface ApolloSandboxOptions {
  /** Default 'sandbox-apollo-key'. */
  apiKey?: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Artificial latency added to every request, default 0. */
  latencyMs?: number;
  /**
   * Per-endpoint minute limit; default 200 for contacts endpoints (bulk ones too), 1000 for
   * people/match and webhook_result. people/bulk_match always gets half of people/match's.
   */
  rateLimitPerMinute?: number;
  /**
   * Windows per endpoint, overriding `rateLimitPerMinute` and the defaults for that endpoint only,
   * e.g. `{ 'POST /contacts/bulk_create': { minute: 200 }, 'POST /people/match': { minute: 400 } }`
   * (people/bulk_match then gets 200 a minute unless it is given its own).
   */
  rateLimits?: Partial<Record<SandboxEndpoint, Partial<RateLimits>>>;
  /** Default 'ignored': see `BulkCreatePhoneFields`. */
  bulkCreatePhoneFields?: BulkCreatePhoneFields;
  /** How long a bulk_update of more than 100 contacts (an async job at Apollo) takes to apply; default 1000 ms. */
  bulkUpdateJobDelayMs?: number;
  /** Request log sink, one line per request: `method path status ms`. Never given bodies or query strings. */
  log?: (line: string) => void;
}

export interface SandboxPhoneNumber {
  raw_number: string;
  sanitized_number: string;
  /** `work_direct`, `mobile`, ...; null for a number sent untyped (bulk_create's `phone`, `phone_numbers[]`). */
  type: string | null;
  position: number;
  status: string;
  dnc_status: string | null;
}

export interface SandboxContact {
  id: string;
  first_name: string | null;
  last_name: string | null;
  name: string | null;
  email: string | null;
  /** Set when an email first arrives and never re-verified, like Apollo. */
  email_status: string | null;
  organization_name: string | null;
  organization_id: string | null;
  title: string | null;
  website_url: string | null;
  linkedin_url: string | null;
  present_raw_address: string | null;
  account_id: string | null;
  contact_stage_id: string | null;
  /** The list names the contact belongs to; Apollo itself only returns `label_ids` and `labels[]`. */
  label_names: string[];
  label_ids: string[];
  typed_custom_fields: Record<string, unknown>;
  phone_numbers: SandboxPhoneNumber[];
  /** The first phone's E.164 number, as Apollo puts it on the contact. */
  sanitized_phone: string | null;
  /** Null for contacts made from raw data (every API-created contact). */
  person_id: string | null;
  /** CRM ids, set by bulk_create, which its `run_dedupe` matches on (the contact shows HubSpot's as `hubspot_vid`). */
  hubspot_id: string | null;
  salesforce_id: string | null;
  salesforce_contact_id: string | null;
  salesforce_lead_id: string | null;
  outreach_id: string | null;
  salesloft_id: string | null;
  /** Emails besides `email` (bulk_create's `contact_emails[]`); `run_dedupe` matches them too. */
  additional_emails: string[];
  owner_id: string;
  creator_id: string;
  source: 'api';
  original_source: 'api';
  created_at: string;
  updated_at: string;
}

/** A phone for `addContact`: only `raw_number` is needed, the rest is derived like a create would. */
export type SandboxPhoneNumberSeed = Pick<SandboxPhoneNumber, 'raw_number'> & Partial<SandboxPhoneNumber>;

/** A contact "Apollo already has", for `addContact`: any stored field, the rest defaulted. */
export type SandboxContactSeed = Partial<Omit<SandboxContact, 'phone_numbers'>> & {
  phone_numbers?: SandboxPhoneNumberSeed[];
};

export interface SandboxRequest {
  method: string;
  /** Path without the /api/v1 (or /v1) prefix and without the query string. */
  path: string;
  /** Query parameters (Apollo accepts the body's fields here too). */
  query: Record<string, string>;
  /** The parsed JSON body, the raw text when it is not JSON, or null when empty. */
  body: unknown;
  /** Status answered; 0 while still pending or when the connection was reset without an answer. */
  status: number;
  at: number;
  /** Credits this request used (people/match: 1 for a person who is not a contact, 8 per mobile reveal). */
  creditsConsumed: number;
}

export interface FaultRule {
  /** e.g. 'POST'; default any. */
  method?: string;
  /** Matched against the path without the /api/v1 prefix, e.g. '/contacts'; default any. Only known routes. */
  path?: string | RegExp;
  /** How many matching requests this applies to; default 1. */
  times?: number;
  /** Status to answer (default 500), with a body in Apollo's shape for that status unless `body` is given. */
  status?: number;
  /** Overrides the body: a string is sent as text/plain, anything else as JSON. */
  body?: unknown;
  /** Adds a retry-after header (for 429). */
  retryAfterSeconds?: number;
  /**
   * respond (default): answer status/body without doing the operation.
   * reset: destroy the connection without answering, and do not perform the operation.
   * delay: wait delayMs, then process normally (a client timeout fires while the operation still happens).
   * create-then-fail: perform the operation, then answer `status` (default 500): the "unknown outcome" case.
   * create-then-reset: perform the operation, then destroy the connection without answering.
   * rewrite: perform the operation, then answer its reply with the body passed through `rewrite`
   *   (a reply the client cannot map: emails stripped, entries dropped or reordered).
   */
  action?: 'respond' | 'reset' | 'delay' | 'create-then-fail' | 'create-then-reset' | 'rewrite';
  /** Lets this many matching requests through untouched before the rule applies (a 429 mid-burst). */
  skip?: number;
  /** For `rewrite`: the reply body, as it would have been sent, to what is sent instead. */
  rewrite?: (body: unknown) => unknown;
  /**
   * For the actions that perform the operation, on bulk_create: only the first N contacts are
   * processed, as a call that broke off midway would leave them.
   */
  applyFirst?: number;
  /** Wait this long before acting; for `delay` it is the whole point, for the others it slows the failure. */
  delayMs?: number;
}

/** Phone types as Apollo's phone records name them (`type_cd`); any other string is kept as given. */
export type SandboxPhoneType = 'mobile' | 'work_direct' | 'work_hq' | 'home' | 'other' | (string & {});

/** A phone Apollo can reveal for a directory person: only `raw_number` is needed. */
export interface SandboxPersonPhoneSeed {
  raw_number: string;
  /** Default 'mobile' in `mobile_phones`, 'other' in `phone_numbers`. */
  type_cd?: SandboxPhoneType;
  /** Apollo's id of the phone record; generated unless given. */
  _id?: string;
  /** E.164; derived from raw_number with libphonenumber-js (default country US) unless given. */
  sanitized_number?: string;
}

export interface SandboxPersonPhone {
  _id: string;
  raw_number: string;
  sanitized_number: string;
  type_cd: SandboxPhoneType;
}

/** A person in Apollo's database (not necessarily a contact of the team), for `addPerson`. */
export interface SandboxPersonSeed {
  /** 24 hex digits; generated unless given. */
  id?: string;
  first_name: string;
  last_name: string;
  email?: string | null;
  title?: string | null;
  /** The employer's name. */
  organization_name?: string | null;
  /** The employer's website; defaults to `http://www.<domain>` when only `domain` is given. */
  website_url?: string | null;
  /** The employer's domain (what people/match's `domain` matches); defaults to the website's host. */
  domain?: string | null;
  linkedin_url?: string | null;
  /** Revealed first, in this order; each counts as a mobile phone unless `type_cd` says otherwise. */
  mobile_phones?: SandboxPersonPhoneSeed[];
  /** Revealed after the mobile phones; `type_cd` defaults to 'other'. */
  phone_numbers?: SandboxPersonPhoneSeed[];
}

/** A person in the sandbox's directory, as stored. */
export interface SandboxPerson {
  id: string;
  first_name: string;
  last_name: string;
  name: string;
  email: string | null;
  title: string | null;
  organization_name: string | null;
  organization_id: string | null;
  website_url: string | null;
  domain: string | null;
  linkedin_url: string | null;
  mobile_phones: SandboxPersonPhone[];
  phone_numbers: SandboxPersonPhone[];
}

/** How the sandbox delivers phone-reveal callbacks; `setPhoneCallbacks` sets it until `reset()`. */
export interface PhoneCallbackBehaviour {
  /** once (default): one delivery; twice: the same payload again ("Apollo may retry"); never: none. */
  mode: 'once' | 'twice' | 'never';
  /** After the people/match reply; default 100. The result is pollable from this moment on. */
  delayMs?: number;
  /** For 'twice': when the second delivery goes out; default delayMs + 100. */
  secondDelayMs?: number;
}

/** One phone of a callback, in the shape of the webhook_result example's `webhook_result`. */
export interface SandboxRevealedPhone {
  _id: string;
  confidence_cd: 'high';
  created_at: null;
  direct_dial_source_cd: null;
  dnc_other_info: { country?: string };
  dnc_status_cd: 'not_found';
  dnc_status_updated_at: string;
  position: number;
  raw_number: string;
  sanitized_number: string;
  status_cd: 'valid_number';
  type_cd: SandboxPhoneType;
  updated_at: null;
  id: string;
  key: string;
}

/** The body Apollo POSTs to `webhook_url` after a phone reveal (and `webhook_result` returns). */
export interface SandboxPhoneCallbackPayload {
  status: 'success';
  total_requested_enrichments: number;
  unique_enriched_records: number;
  missing_records: number;
  /** Everything the request cost: the person (0 for a saved contact) plus 8 when a mobile phone is revealed. */
  credits_consumed: number;
  /** `id` is the Apollo person id; `status` is 'success' with phones, 'not_found' without (*unsure*). */
  people: Array<{ id: string; status: 'success' | 'not_found'; phone_numbers: SandboxRevealedPhone[] }>;
}

/** One callback delivery attempt the sandbox made. */
export interface SandboxCallback {
  /** The webhook_url exactly as the request gave it, query string included. */
  url: string;
  /** The people/match request_id, as a decimal string (it does not fit in a JS number). */
  requestId: string;
  /** When the delivery was sent (ms since the epoch). */
  at: number;
  /** What the receiver answered; 0 when it was unreachable or did not answer in time. */
  status: number;
  body: SandboxPhoneCallbackPayload;
}

export interface ApolloSandbox {
  /** Base URL including '/api/v1', e.g. 'http://127.0.0.1:41234/api/v1'. */
  readonly url: string;
  readonly apiKey: string;
  /** Deep copies of all stored contacts, in creation order. */
  contacts(): SandboxContact[];
  /** Every request received (rejected ones too), in arrival order. */
  requests(): SandboxRequest[];
  countRequests(method: string, path: string | RegExp): number;
  /** Stores a contact as if Apollo already had it, and returns a copy. */
  addContact(seed?: SandboxContactSeed): SandboxContact;
  /** Queues a scripted fault; rules are matched in order. */
  inject(rule: FaultRule): void;
  clearFaults(): void;
  /**
   * Puts a person into Apollo's directory (not a contact): people/match finds it by id, email,
   * LinkedIn URL, or name with company or domain, and reveals its phones. Returns a copy.
   */
  addPerson(seed: SandboxPersonSeed): SandboxPerson;
  /** Deep copies of the directory's people, in the order added. */
  people(): SandboxPerson[];
  /** Credits people/match has used since the last reset (1 per non-contact person, 8 per mobile reveal). */
  creditsConsumed(): number;
  /** Scripts the phone-reveal callbacks of later people/match requests; `reset()` restores 'once' after 100 ms. */
  setPhoneCallbacks(behaviour: PhoneCallbackBehaviour): void;
  /** Deep copies of the callback deliveries made, in the order they completed. */
  callbacks(): SandboxCallback[];
  /** Makes GET /webhook_result/{requestId} answer 410 request_id_expired; throws for an id never issued. */
  expireRequest(requestId: string | bigint): void;
  /**
   * Forgets contacts, people, requests, faults, rate-limit windows, credits, request ids and
   * callbacks; cancels pending callbacks and restores the default callback behaviour.
   */
  reset(): void;
  /** Closes the server and every open socket (keep-alive too), and cancels pending callbacks; idempotent. */
  close(): Promise<void>;
}
