/**
 * Apollo API sandbox: a local HTTP server that behaves like the parts of Apollo's REST API this
 * service uses (create, view, update and search contacts; people/match with phone reveal and its
 * webhook callback; webhook_result polling), for `npm start` and for integration and fault tests.
 *
 * It copies Apollo's awkward parts on purpose, because those are what the service must survive:
 * create does not deduplicate, `run_dedupe` silently overwrites, search is fuzzy, errors come in
 * four different shapes (401 is text/plain), the day rate-limit headers have two spellings, and
 * `request_id` does not fit in a JS number. Scripted faults (`inject`) add the failures a live
 * Apollo only shows at random: outages, connection resets, timeouts, and "created, then failed".
 *
 * @example
 * const apollo = await startApolloSandbox();
 * await fetch(`${apollo.url}/contacts`, {
 *   method: 'POST',
 *   headers: { 'x-api-key': apollo.apiKey, 'content-type': 'application/json' },
 *   body: JSON.stringify({ first_name: 'Mark', last_name: 'Twain' }),
 * });
 * apollo.contacts(); // [{ id: '6650…', name: 'Mark Twain', … }]
 * await apollo.close();
 *
 * @example Phone reveal: a person in Apollo's directory, a callback to your webhook, or a poll.
 * apollo.addPerson({ first_name: 'Mark', last_name: 'Twain', email: 'mark@example.com',
 *   mobile_phones: [{ raw_number: '555-765-4321' }] });
 * apollo.setPhoneCallbacks({ mode: 'twice', delayMs: 50 });
 * // POST /people/match {email, reveal_phone_number: true, webhook_url: 'http://…/hook?token=…'}
 * // → 200 {person, request_id: -4611686018427387904}; 50 ms later POST …/hook?token=… {people: [...]}
 * apollo.callbacks(); // [{ url, requestId: '-4611…', status: 200, body: {...} }, …]
 * apollo.creditsConsumed(); // 9: 1 for the person, 8 for a mobile phone
 */
import { randomBytes } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  STATUS_CODES,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePhoneNumberFromString } from 'libphonenumber-js';

export interface ApolloSandboxOptions {
  /** Default 'sandbox-apollo-key'. */
  apiKey?: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Artificial latency added to every request, default 0. */
  latencyMs?: number;
  /** Per-endpoint minute limit; default 200 for contacts endpoints, 1000 for people/match and webhook_result. */
  rateLimitPerMinute?: number;
  /** Request log sink, one line per request: `method path status ms`. Never given bodies or query strings. */
  log?: (line: string) => void;
}

export interface SandboxPhoneNumber {
  raw_number: string;
  sanitized_number: string;
  type: string;
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
   */
  action?: 'respond' | 'reset' | 'delay' | 'create-then-fail';
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

/**
 * Contact stages the sandbox team knows. Apollo's stage ids are per team; any other
 * `contact_stage_id` is answered with 422, as Apollo does for an id it does not know.
 */
export const SANDBOX_CONTACT_STAGES = [
  { id: '6095a710bd01d100a506d4ae', name: 'New' },
  { id: '6095a710bd01d100a506d4af', name: 'Cold' },
  { id: '6095a710bd01d100a506d4b0', name: 'Approaching' },
  { id: '6095a710bd01d100a506d4b1', name: 'Replied' },
  { id: '6095a710bd01d100a506d4b2', name: 'Interested' },
  { id: '6095a710bd01d100a506d4b3', name: 'Not Interested' },
  { id: '6095a710bd01d100a506d4b4', name: 'Unresponsive' },
  { id: '6095a710bd01d100a506d4b5', name: 'Do Not Contact' },
  { id: '6095a710bd01d100a506d4b6', name: 'Bad Data' },
  { id: '6095a710bd01d100a506d4b7', name: 'Changed Job' },
] as const;

const DEFAULT_API_KEY = 'sandbox-apollo-key';
const NEW_STAGE_ID = SANDBOX_CONTACT_STAGES[0].id;
/** The sandbox team's only user, owner and creator of every contact. */
const SANDBOX_USER_ID = '64b0a11ce5a2d00001d0e0a1';
const SANDBOX_TEAM_ID = '64b0a11ce5a2d00001d0e0a0';
const INVALID_API_KEY_MESSAGE =
  'Invalid API key. See https://docs.apollo.io/reference/authentication for how to authenticate.';
const UPGRADE_URL = 'https://app.apollo.io/#/settings/plans/upgrade';
const CONTACT_NOT_FOUND_MESSAGE = 'Oops! This contact does not exist in Apollo.';
/** *unsure*: Apollo documents no default page size; 10 is the value its examples use. */
const DEFAULT_PER_PAGE = 10;
const MAX_PER_PAGE = 100;
/** Apollo's display limit for contact search: 100 per page, up to 500 pages. */
const MAX_REACHABLE_SEARCH_RESULTS = 50_000;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const APOLLO_ID_PATTERN = /^[0-9a-f]{24}$/;
/** Marks bigint values while serializing, so they can be written as bare JSON integers afterwards. */
const BIGINT_MARKER = '__apollo_sandbox_bigint__';

const TEXT_FIELDS = [
  'first_name',
  'last_name',
  'organization_name',
  'title',
  'email',
  'website_url',
  'present_raw_address',
  'account_id',
  'contact_stage_id',
] as const;
type TextField = (typeof TEXT_FIELDS)[number];

/** Which phone_numbers `type` each create field produces (Apollo documents only direct_phone and mobile_phone). */
const PHONE_TYPE_BY_FIELD = {
  direct_phone: 'work_direct',
  corporate_phone: 'work_hq',
  mobile_phone: 'mobile',
  home_phone: 'home',
  other_phone: 'other',
} as const;
type PhoneField = keyof typeof PHONE_TYPE_BY_FIELD;
const PHONE_FIELDS = Object.keys(PHONE_TYPE_BY_FIELD) as PhoneField[];

type WindowName = 'minute' | 'hour' | 'day';
type RateLimits = Record<WindowName, number>;
const WINDOW_NAMES: WindowName[] = ['minute', 'hour', 'day'];
const WINDOW_MS: Record<WindowName, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** Header spellings per window; live accounts send the day window as "24-hour", the docs say "daily". */
const RATE_LIMIT_HEADER_SPELLINGS: Array<[WindowName, string]> = [
  ['minute', 'minute'],
  ['hour', 'hourly'],
  ['day', 'daily'],
  ['day', '24-hour'],
];
/** Typical paid plan. *unsure*: the day limits are not published; they only need to exceed the hour. */
const CONTACTS_RATE_LIMITS: RateLimits = { minute: 200, hour: 600, day: 2_000 };
const ENRICHMENT_RATE_LIMITS: RateLimits = { minute: 1_000, hour: 2_000, day: 5_000 };
/** *unsure*: Apollo publishes no limits for polling webhook results; the enrichment ones stand in. */
const WEBHOOK_RESULT_RATE_LIMITS = ENRICHMENT_RATE_LIMITS;

/** Apollo's price list: 1 credit for a person's demographics or email, 8 more when a mobile phone comes back. */
const PERSON_CREDITS = 1;
const MOBILE_PHONE_CREDITS = 8;
const DEFAULT_CALLBACK_DELAY_MS = 100;
const DEFAULT_CALLBACK_BEHAVIOUR: PhoneCallbackBehaviour = {
  mode: 'once',
  delayMs: DEFAULT_CALLBACK_DELAY_MS,
};
/** A receiver that has not answered by then counts as unreachable (status 0). */
const CALLBACK_TIMEOUT_MS = 5_000;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
/** request_id magnitudes with exactly 19 digits: 10^18 up to 2^63 (|INT64_MIN|). */
const REQUEST_ID_MIN_MAGNITUDE = 10n ** 18n;
const REQUEST_ID_MAX_MAGNITUDE = 1n << 63n;
const REGION_NAMES = new Intl.DisplayNames(['en'], { type: 'region' });

type Params = Record<string, unknown>;

/** What the sandbox answers: a string body is sent as text/plain, anything else as JSON. */
interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** An Apollo error answer raised while handling a request; the dispatcher sends its reply. */
class ApolloReplyError extends Error {
  constructor(readonly reply: Reply) {
    super(`Apollo sandbox answers ${reply.status}`);
    this.name = 'ApolloReplyError';
  }
}

function misconfigured(detail: string): ApolloReplyError {
  return new ApolloReplyError({ status: 422, body: { error: `Parameters misconfigured. ${detail}` } });
}

interface SandboxLabel {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

/** The contact fields one create/update request sends; null means "sent empty", which clears the field. */
interface ContactChanges {
  text: Partial<Record<TextField, string | null>>;
  phones: Partial<Record<PhoneField, string | null>>;
  labelNames: string[] | undefined;
  customFields: Record<string, unknown> | undefined;
}

interface RouteRequest {
  params: Params;
  /** The path parameter (`{contact_id}`, `{request_id}`, still percent-encoded), for routes that have one. */
  pathId: string | undefined;
  now: string;
}

interface Route {
  method: string;
  /** The path as Apollo names the endpoint in its messages, e.g. '/contacts/{contact_id}'. */
  template: string;
  pattern: RegExp;
  limits: RateLimits;
  handle: (state: SandboxState, request: RouteRequest) => Reply;
}

interface PendingFault {
  rule: FaultRule;
  remaining: number;
}

interface RateWindow {
  startedAt: number;
  used: number;
}
type EndpointUsage = Record<WindowName, RateWindow>;

/** A 24-hex id shaped like Apollo's (MongoDB ObjectIds): the creation second, then random bytes. */
function newApolloId(): string {
  const seconds = Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(8, '0');
  return seconds + randomBytes(8).toString('hex');
}

/**
 * Apollo's request_id: a signed 64-bit integer beyond 2^53, often negative, so JS numbers lose
 * it. The sandbox always issues negative ones with 19 digits, the hardest case for a client.
 */
function newRequestId(): bigint {
  const span = REQUEST_ID_MAX_MAGNITUDE - REQUEST_ID_MIN_MAGNITUDE + 1n;
  return -(REQUEST_ID_MIN_MAGNITUDE + (randomBytes(8).readBigUInt64BE() % span));
}

/** A request_id in canonical decimal form, or undefined when it is not a signed 64-bit integer. */
function parseRequestId(raw: string | bigint | undefined): string | undefined {
  let value: bigint;
  if (typeof raw === 'bigint') {
    value = raw;
  } else {
    let text: string;
    try {
      text = decodeURIComponent(raw ?? '');
    } catch {
      return undefined;
    }
    if (!/^[+-]?\d{1,25}$/.test(text)) return undefined;
    value = BigInt(text);
  }
  return value >= INT64_MIN && value <= INT64_MAX ? value.toString() : undefined;
}

/** ISO 8601 UTC to the second, as Apollo writes `last_dispatched_at`. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function sameText(a: string | null | undefined, b: string | null | undefined): boolean {
  return a != null && b != null && a.trim().toLowerCase() === b.trim().toLowerCase();
}

function joinName(first: string | null, last: string | null): string | null {
  return [first, last].filter((part) => part).join(' ') || null;
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

function emailDomain(email: string | null): string | null {
  return email?.split('@')[1]?.toLowerCase() ?? null;
}

/** A LinkedIn profile URL without protocol, "www." or trailing slash, for comparing. */
function linkedinKey(url: string | null): string | null {
  return (
    url
      ?.trim()
      .toLowerCase()
      .replace(/^[a-z]+:\/\//, '')
      .replace(/^www\./, '')
      .replace(/\/+$/, '') || null
  );
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}

function stringParam(params: Params, name: string): string | undefined {
  const value = params[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function positiveIntParam(params: Params, name: string, fallback: number): number {
  const value = params[name];
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number >= 1 ? number : fallback;
}

function stringListParam(params: Params, name: string): string[] {
  const value = params[name];
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((item): item is string => typeof item === 'string' && item !== '');
}

/** Apollo takes the body's fields as query parameters too; list parameters arrive as `name[]=…`. */
function mergeQueryAndBody(query: URLSearchParams, body: Params): Params {
  const params: Params = {};
  for (const [key, value] of query) {
    if (key.endsWith('[]')) {
      const name = key.slice(0, -2);
      const list = params[name];
      params[name] = Array.isArray(list) ? [...list, value] : [value];
    } else {
      params[key] = value;
    }
  }
  return { ...params, ...body };
}

function readTextField(params: Params, field: string): string | null {
  const value = params[field];
  if (value === null) return null;
  if (typeof value !== 'string') throw misconfigured(`${field} must be a string`);
  return value.trim() === '' ? null : value;
}

/** Reads and validates everything before any change is made, so a 422 leaves the store untouched. */
function readContactChanges(params: Params): ContactChanges {
  const changes: ContactChanges = { text: {}, phones: {}, labelNames: undefined, customFields: undefined };
  for (const field of TEXT_FIELDS) {
    if (params[field] !== undefined) changes.text[field] = readTextField(params, field);
  }
  for (const field of PHONE_FIELDS) {
    if (params[field] !== undefined) changes.phones[field] = readTextField(params, field);
  }
  const { email, contact_stage_id: stageId, account_id: accountId } = changes.text;
  if (email && !EMAIL_PATTERN.test(email.trim())) throw misconfigured('email is not a valid email address');
  if (stageId && !SANDBOX_CONTACT_STAGES.some((stage) => stage.id === stageId)) {
    throw misconfigured(`${stageId} is not a valid ID`);
  }
  if (accountId && !APOLLO_ID_PATTERN.test(accountId)) throw misconfigured(`${accountId} is not a valid ID`);

  const labelNames = params.label_names;
  if (labelNames === null || labelNames === '') {
    changes.labelNames = [];
  } else if (labelNames !== undefined) {
    if (!Array.isArray(labelNames) || !labelNames.every((name) => typeof name === 'string')) {
      throw misconfigured('label_names must be an array of strings');
    }
    const names = labelNames.map((name) => name.trim()).filter((name) => name !== '');
    changes.labelNames = names.filter(
      (name, index) => names.findIndex((other) => sameText(other, name)) === index,
    );
  }

  const customFields = params.typed_custom_fields;
  if (customFields !== undefined && customFields !== null) {
    if (typeof customFields !== 'object' || Array.isArray(customFields)) {
      throw misconfigured('typed_custom_fields must be an object');
    }
    changes.customFields = customFields as Record<string, unknown>;
  }
  return changes;
}

/** E.164 via libphonenumber-js (default country US); unparseable numbers keep their digits. */
function sanitizePhone(rawNumber: string): string {
  const digits = rawNumber.replace(/\D/g, '');
  return parsePhoneNumberFromString(rawNumber, 'US')?.number ?? (digits ? `+${digits}` : '');
}

function newPhoneNumber(rawNumber: string, type: string, position: number): SandboxPhoneNumber {
  return {
    raw_number: rawNumber,
    sanitized_number: sanitizePhone(rawNumber),
    type,
    position,
    status: 'no_status',
    dnc_status: null,
  };
}

/** How people/match identifies a person; empty strings and missing fields are undefined/null. */
interface PersonIdentity {
  personId: string | undefined;
  email: string | undefined;
  linkedin: string | null;
  firstName: string | undefined;
  lastName: string | undefined;
  company: string | undefined;
  domain: string | null;
}

function readPersonIdentity(params: Params): PersonIdentity {
  const [firstFromName, ...lastFromName] = (stringParam(params, 'name') ?? '').split(/\s+/);
  return {
    personId: stringParam(params, 'id'),
    email: stringParam(params, 'email'),
    linkedin: linkedinKey(stringParam(params, 'linkedin_url') ?? null),
    firstName: stringParam(params, 'first_name') ?? firstFromName,
    lastName: stringParam(params, 'last_name') ?? lastFromName.join(' '),
    company: stringParam(params, 'organization_name'),
    domain: domainOf(stringParam(params, 'domain')),
  };
}

/** A phone reveal Apollo accepted: what it will deliver, where, and from when it can be polled. */
interface PhoneRequest {
  requestId: string;
  requestType: 'phone' | 'waterfall';
  webhookUrl: string;
  payload: SandboxPhoneCallbackPayload;
  /** When the first callback is due; webhook_result answers 200 from then on. */
  readyAt: number;
  lastDispatchedAt: string | null;
}

/** A request_id people/match issued; only those with a phone request have a webhook result. */
interface IssuedRequest {
  phone: PhoneRequest | undefined;
  expired: boolean;
}

/**
 * POSTs a JSON body to `target` on a fresh connection (no keep-alive socket outlives it) and
 * resolves with the status answered, or 0 when the receiver is unreachable, too slow, or the
 * delivery is aborted. Never rejects.
 */
function postJson(target: string, body: string, signal: AbortSignal): Promise<number> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      resolve(0);
      return;
    }
    const send = { 'http:': httpRequest, 'https:': httpsRequest }[url.protocol];
    if (!send) {
      resolve(0);
      return;
    }
    const request = send(
      url,
      {
        method: 'POST',
        agent: false,
        signal,
        timeout: CALLBACK_TIMEOUT_MS,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('timeout', () => request.destroy(new Error('callback timed out')));
    request.on('error', () => resolve(0));
    request.end(body);
  });
}

function newPersonPhone(seed: SandboxPersonPhoneSeed, defaultType: SandboxPhoneType): SandboxPersonPhone {
  return {
    _id: seed._id ?? newApolloId(),
    raw_number: seed.raw_number,
    sanitized_number: seed.sanitized_number ?? sanitizePhone(seed.raw_number),
    type_cd: seed.type_cd ?? defaultType,
  };
}

/** The phones a reveal delivers for a person: mobile phones first, then the others. */
function revealedPhones(person: SandboxPerson, now: string): SandboxRevealedPhone[] {
  return [...person.mobile_phones, ...person.phone_numbers].map((phone, position) => {
    const country = parsePhoneNumberFromString(phone.sanitized_number || phone.raw_number, 'US')?.country;
    return {
      _id: phone._id,
      confidence_cd: 'high',
      created_at: null,
      direct_dial_source_cd: null,
      dnc_other_info: country ? { country: REGION_NAMES.of(country) ?? country } : {},
      dnc_status_cd: 'not_found',
      dnc_status_updated_at: now,
      position,
      raw_number: phone.raw_number,
      sanitized_number: phone.sanitized_number,
      status_cd: 'valid_number',
      type_cd: phone.type_cd,
      updated_at: null,
      id: phone._id,
      key: phone._id,
    };
  });
}

function checkCallbackBehaviour(behaviour: PhoneCallbackBehaviour): PhoneCallbackBehaviour {
  if (!['once', 'twice', 'never'].includes(behaviour.mode)) {
    throw new TypeError(`Unknown phone callback mode: ${String(behaviour.mode)}`);
  }
  for (const name of ['delayMs', 'secondDelayMs'] as const) {
    const value = behaviour[name];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`${name} must be a finite number of milliseconds >= 0, got ${value}`);
    }
  }
  return { ...behaviour };
}

/** Everything the sandbox remembers; `reset()` replaces it whole (after `dispose()`). */
class SandboxState {
  readonly contacts: SandboxContact[] = [];
  readonly requests: SandboxRequest[] = [];
  readonly faults: PendingFault[] = [];
  /** Apollo's database of people, who need not be contacts of the team. */
  readonly people: SandboxPerson[] = [];
  readonly callbacks: SandboxCallback[] = [];
  /** Every request_id people/match issued, by its decimal form. */
  readonly issuedRequests = new Map<string, IssuedRequest>();
  creditsConsumed = 0;
  callbackBehaviour: PhoneCallbackBehaviour = DEFAULT_CALLBACK_BEHAVIOUR;
  private readonly labelsByName = new Map<string, SandboxLabel>();
  private readonly organizationIdsByName = new Map<string, string>();
  private readonly personIdsByIdentity = new Map<string, string>();
  private readonly usageByEndpoint = new Map<string, EndpointUsage>();
  private readonly callbackTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Aborted by dispose(): cancels callbacks in flight and refuses to schedule new ones. */
  private readonly deliveries = new AbortController();

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
    const { mode, delayMs = DEFAULT_CALLBACK_DELAY_MS, secondDelayMs } = this.callbackBehaviour;
    const phone: PhoneRequest = { ...request, readyAt: Date.now() + delayMs, lastDispatchedAt: null };
    const issued = this.issuedRequests.get(request.requestId);
    if (issued) issued.phone = phone;
    const delays = { once: [delayMs], twice: [delayMs, secondDelayMs ?? delayMs + 100], never: [] }[mode];
    if (this.deliveries.signal.aborted) return;
    for (const delay of delays) {
      const timer = setTimeout(() => {
        this.callbackTimers.delete(timer);
        void this.deliverCallback(phone);
      }, delay);
      // A forgotten sandbox must not keep the process alive for a callback.
      timer.unref();
      this.callbackTimers.add(timer);
    }
  }

  /** Cancels pending callbacks and those in flight; nothing is delivered or recorded afterwards. */
  dispose(): void {
    this.deliveries.abort();
    for (const timer of this.callbackTimers) clearTimeout(timer);
    this.callbackTimers.clear();
  }

  /** One unsigned POST of the payload; failures are recorded and not retried (Apollo's retries are 'twice'). */
  private async deliverCallback(phone: PhoneRequest): Promise<void> {
    const { signal } = this.deliveries;
    if (signal.aborted) return;
    const at = Date.now();
    phone.lastDispatchedAt = isoSeconds(at);
    const status = await postJson(phone.webhookUrl, toJson(phone.payload), signal);
    if (signal.aborted) return;
    this.callbacks.push({
      url: phone.webhookUrl,
      requestId: phone.requestId,
      at,
      status,
      body: structuredClone(phone.payload),
    });
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

  /** The first queued fault matching this request, used up once per match. */
  takeFault(method: string, path: string): FaultRule | undefined {
    const index = this.faults.findIndex(
      ({ rule }) =>
        (rule.method === undefined || rule.method.toUpperCase() === method) &&
        (rule.path === undefined || pathMatches(path, rule.path)),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault.rule;
  }

  private setPhone(contact: SandboxContact, type: string, rawNumber: string | null): void {
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

function pathMatches(path: string, expected: string | RegExp): boolean {
  // search() ignores a global RegExp's lastIndex, so a reused /g pattern still matches every time.
  return typeof expected === 'string' ? path === expected : path.search(expected) >= 0;
}

function toApolloPhoneNumber(phone: SandboxPhoneNumber) {
  return { ...phone, dnc_other_info: null, dialer_flags: null };
}

/** A stored contact in the shape of Apollo's contact objects (create/view/update examples). */
function toApolloContact(contact: SandboxContact) {
  return {
    contact_roles: [],
    id: contact.id,
    first_name: contact.first_name,
    last_name: contact.last_name,
    name: contact.name,
    linkedin_url: contact.linkedin_url,
    title: contact.title,
    contact_stage_id: contact.contact_stage_id,
    owner_id: contact.owner_id,
    creator_id: contact.creator_id,
    person_id: contact.person_id,
    email_needs_tickling: null,
    organization_name: contact.organization_name,
    source: contact.source,
    original_source: contact.original_source,
    organization_id: contact.organization_id,
    headline: null,
    photo_url: null,
    present_raw_address: contact.present_raw_address,
    linkedin_uid: null,
    extrapolated_email_confidence: null,
    salesforce_id: null,
    salesforce_lead_id: null,
    salesforce_contact_id: null,
    salesforce_account_id: null,
    crm_owner_id: null,
    created_at: contact.created_at,
    emailer_campaign_ids: [],
    direct_dial_status: null,
    direct_dial_enrichment_failed_at: null,
    email_status: contact.email_status,
    email_source: null,
    account_id: contact.account_id,
    last_activity_date: null,
    hubspot_vid: null,
    hubspot_company_id: null,
    crm_id: null,
    sanitized_phone: contact.sanitized_phone,
    merged_crm_ids: null,
    updated_at: contact.updated_at,
    queued_for_crm_push: false,
    suggested_from_rule_engine_config_id: null,
    email_unsubscribed: null,
    label_ids: [...contact.label_ids],
    has_pending_email_arcgate_request: false,
    has_email_arcgate_request: false,
    existence_level: 'full',
    email: contact.email,
    email_from_customer: contact.email ? true : null,
    custom_field_errors: {},
    crm_record_url: null,
    email_status_unavailable_reason: null,
    email_true_status: contact.email ? 'User Managed' : null,
    updated_email_true_status: true,
    contact_rule_config_statuses: [],
    source_display_name: 'Created from API',
    twitter_url: null,
    contact_campaign_statuses: [],
    contact_emails: [],
    next_contact_id: null,
    time_zone: null,
    city: null,
    state: null,
    country: null,
    show_intent: false,
    phone_numbers: contact.phone_numbers.map(toApolloPhoneNumber),
    account_phone_note: null,
    free_domain: false,
    is_likely_to_engage: false,
    email_domain_catchall: false,
    typed_custom_fields: { ...contact.typed_custom_fields },
  };
}

function toApolloOrganization(contact: SandboxContact) {
  if (!contact.organization_name) return null;
  return organizationShape(
    contact.organization_id,
    contact.organization_name,
    contact.website_url,
    domainOf(contact.website_url),
  );
}

/** An organization in the shape of the people/match example's `organization`. */
function organizationShape(
  id: string | null,
  name: string | null,
  websiteUrl: string | null,
  primaryDomain: string | null,
) {
  return {
    id,
    name,
    website_url: websiteUrl,
    blog_url: null,
    angellist_url: null,
    linkedin_url: null,
    twitter_url: null,
    facebook_url: null,
    primary_phone: {},
    languages: [],
    alexa_ranking: null,
    phone: null,
    linkedin_uid: null,
    founded_year: null,
    publicly_traded_symbol: null,
    publicly_traded_exchange: null,
    logo_url: null,
    crunchbase_url: null,
    primary_domain: primaryDomain,
  };
}

/** Search results carry the contact's account and organization too. */
function toApolloSearchContact(contact: SandboxContact) {
  const organization = toApolloOrganization(contact);
  const account = contact.account_id
    ? {
        ...organization,
        id: contact.account_id,
        name: contact.organization_name,
        domain: domainOf(contact.website_url),
        team_id: SANDBOX_TEAM_ID,
        organization_id: contact.organization_id,
        account_stage_id: null,
        source: 'api',
        original_source: 'api',
        owner_id: SANDBOX_USER_ID,
        modality: 'account',
      }
    : undefined;
  return { ...toApolloContact(contact), account, organization, contact_job_change_event: null };
}

function toApolloPerson(contact: SandboxContact, personId: string) {
  return {
    id: personId,
    first_name: contact.first_name,
    last_name: contact.last_name,
    name: contact.name,
    linkedin_url: contact.linkedin_url,
    title: contact.title,
    email_status: contact.email_status,
    photo_url: null,
    twitter_url: null,
    github_url: null,
    facebook_url: null,
    extrapolated_email_confidence: null,
    headline: null,
    email: contact.email,
    organization_id: contact.organization_id,
    employment_history: [],
    state: null,
    city: null,
    country: null,
    contact_id: contact.id,
    contact: toApolloContact(contact),
    revealed_for_current_team: true,
    organization: toApolloOrganization(contact),
    is_likely_to_engage: false,
    show_intent: false,
    departments: [],
    subdepartments: [],
    functions: [],
    seniority: null,
  };
}

/**
 * A directory person in the people/match example's shape. `contact_id` and `contact` are only
 * there when the team has saved the person as a contact (Apollo's docs are *unsure* otherwise).
 */
function toApolloDirectoryPerson(person: SandboxPerson, contact: SandboxContact | undefined) {
  return {
    id: person.id,
    first_name: person.first_name,
    last_name: person.last_name,
    name: person.name,
    linkedin_url: person.linkedin_url,
    title: person.title,
    email_status: person.email ? 'verified' : null,
    photo_url: null,
    twitter_url: null,
    github_url: null,
    facebook_url: null,
    extrapolated_email_confidence: null,
    headline: null,
    email: person.email,
    organization_id: person.organization_id,
    employment_history: [],
    state: null,
    city: null,
    country: null,
    ...(contact && { contact_id: contact.id, contact: toApolloContact(contact) }),
    revealed_for_current_team: true,
    organization:
      person.organization_name || person.domain
        ? organizationShape(
            person.organization_id,
            person.organization_name,
            person.website_url,
            person.domain,
          )
        : null,
    is_likely_to_engage: false,
    show_intent: false,
    departments: [],
    subdepartments: [],
    functions: [],
    seniority: null,
  };
}

function contactReply(state: SandboxState, contact: SandboxContact): Reply {
  const labels = state.labelsOf(contact).map((label) => ({
    id: label.id,
    modality: 'contacts',
    cached_count: state.labelUseCount(label),
    name: label.name,
    created_at: label.created_at,
    updated_at: label.updated_at,
    user_id: SANDBOX_USER_ID,
  }));
  return { status: 200, body: { contact: toApolloContact(contact), labels } };
}

function existingContact(state: SandboxState, id: string | undefined): SandboxContact {
  const contact = state.findContact(id);
  // Apollo answers an unknown contact id with 422, not 404.
  if (!contact) throw new ApolloReplyError({ status: 422, body: { error: CONTACT_NOT_FOUND_MESSAGE } });
  return contact;
}

function createContact(state: SandboxState, { params, now }: RouteRequest): Reply {
  const changes = readContactChanges(params);
  const match = isTrue(params.run_dedupe) ? state.findDedupeMatch(changes, params) : undefined;
  const contact = match ?? state.newContact(now);
  state.applyChanges(contact, changes, now);
  return contactReply(state, contact);
}

function viewContact(state: SandboxState, { pathId }: RouteRequest): Reply {
  return contactReply(state, existingContact(state, pathId));
}

function updateContact(state: SandboxState, { params, pathId, now }: RouteRequest): Reply {
  const contact = existingContact(state, pathId);
  state.applyChanges(contact, readContactChanges(params), now);
  return contactReply(state, contact);
}

/** The sort_by_field values whose data the sandbox has; the others (activity dates) leave the order alone. */
const SEARCH_SORT_FIELDS = new Map<string, 'created_at' | 'updated_at'>([
  ['contact_created_at', 'created_at'],
  ['contact_updated_at', 'updated_at'],
]);

/** Fuzzy like Apollo's keyword search: every word must appear somewhere in name, email, company or title. */
function matchesKeywords(contact: SandboxContact, words: string[]): boolean {
  const fields = [contact.name, contact.email, contact.organization_name, contact.title].flatMap((field) =>
    field ? [field.toLowerCase()] : [],
  );
  return words.every((word) => fields.some((field) => field.includes(word)));
}

function searchContacts(state: SandboxState, { params }: RouteRequest): Reply {
  const keywords = stringParam(params, 'q_keywords');
  const words = keywords?.toLowerCase().split(/\s+/) ?? [];
  const stageIds = stringListParam(params, 'contact_stage_ids');
  const labelIds = stringListParam(params, 'contact_label_ids');
  const page = positiveIntParam(params, 'page', 1);
  const perPage = Math.min(positiveIntParam(params, 'per_page', DEFAULT_PER_PAGE), MAX_PER_PAGE);

  const matches = state.contacts.filter(
    (contact) =>
      matchesKeywords(contact, words) &&
      (stageIds.length === 0 || stageIds.includes(contact.contact_stage_id ?? '')) &&
      (labelIds.length === 0 || contact.label_ids.some((id) => labelIds.includes(id))),
  );
  const sortBy = SEARCH_SORT_FIELDS.get(stringParam(params, 'sort_by_field') ?? '');
  if (sortBy) {
    const direction = isTrue(params.sort_ascending) ? 1 : -1;
    matches.sort((a, b) => direction * a[sortBy].localeCompare(b[sortBy]));
  }
  const reachable = matches.slice(0, MAX_REACHABLE_SEARCH_RESULTS);
  const pageContacts = reachable.slice((page - 1) * perPage, page * perPage);

  const breadcrumbs = [
    ...(keywords
      ? [
          {
            label: 'Contains Keywords',
            signal_field_name: 'q_keywords',
            value: keywords,
            display_name: keywords,
          },
        ]
      : []),
    ...stageIds.map((id) => ({
      label: 'Contact Stage',
      signal_field_name: 'contact_stage_ids',
      value: id,
      display_name: SANDBOX_CONTACT_STAGES.find((stage) => stage.id === id)?.name ?? '[Deleted Stage]',
    })),
  ];
  return {
    status: 200,
    body: {
      contacts: pageContacts.map(toApolloSearchContact),
      breadcrumbs,
      partial_results_only: false,
      has_join: false,
      disable_eu_prospecting: false,
      partial_results_limit: 10_000,
      pagination: {
        page,
        per_page: perPage,
        total_entries: matches.length,
        total_pages: Math.ceil(matches.length / perPage),
      },
      num_fetch_result: null,
    },
  };
}

/**
 * Looks in the directory first (`addPerson`), then among the team's saved contacts; anything
 * else is "not found": 200 with `person: null`. Credits follow Apollo's rule: a directory person
 * who is not a saved contact costs 1, a saved contact 0, a revealed mobile phone 8 more.
 *
 * With `reveal_phone_number` or `run_waterfall_phone` (and the required webhook_url) the reply
 * goes out at once without phones, and the phones follow in a callback to the webhook_url, as
 * `setPhoneCallbacks` scripts it. Only directory people have phones to reveal; a callback for
 * anyone else reports the record missing. Every 200 carries a fresh, remembered request_id.
 */
function matchPerson(state: SandboxState, { params, now }: RouteRequest): Reply {
  const wantsWaterfall = isTrue(params.run_waterfall_email) || isTrue(params.run_waterfall_phone);
  const revealsPhones = isTrue(params.reveal_phone_number) || isTrue(params.run_waterfall_phone);
  const webhookUrl = stringParam(params, 'webhook_url');
  if ((isTrue(params.reveal_phone_number) || wantsWaterfall) && !webhookUrl) {
    throw new ApolloReplyError({
      status: 400,
      body: {
        error: 'Please provide a webhook_url when reveal_phone_number or waterfall enrichment is requested.',
      },
    });
  }
  const person = state.findDirectoryPerson(params);
  const contact = person ? state.savedContactOf(person) : state.findPerson(params);
  const requestId = state.issueRequestId();
  let credits = person && !contact ? PERSON_CREDITS : 0;

  if (revealsPhones && webhookUrl) {
    const personId = person?.id ?? (contact ? state.personIdOf(contact) : undefined);
    const phones = person ? revealedPhones(person, now) : [];
    if (phones.some((phone) => phone.type_cd === 'mobile')) credits += MOBILE_PHONE_CREDITS;
    const enriched = phones.length > 0 ? 1 : 0;
    state.acceptPhoneRequest({
      requestId: requestId.toString(),
      requestType: isTrue(params.reveal_phone_number) ? 'phone' : 'waterfall',
      webhookUrl,
      payload: {
        status: 'success',
        total_requested_enrichments: 1,
        unique_enriched_records: enriched,
        missing_records: 1 - enriched,
        credits_consumed: credits,
        people:
          personId === undefined
            ? []
            : [{ id: personId, status: enriched ? 'success' : 'not_found', phone_numbers: phones }],
      },
    });
  }
  state.creditsConsumed += credits;

  return {
    status: 200,
    body: {
      person: person
        ? toApolloDirectoryPerson(person, contact)
        : contact
          ? toApolloPerson(contact, state.personIdOf(contact))
          : null,
      ...(wantsWaterfall && {
        waterfall: {
          status: 'accepted',
          message: 'Waterfall enrichment request accepted. Results will be sent to the provided webhook URL.',
        },
      }),
      request_id: requestId,
    },
  };
}

function webhookResultError(status: number, errorCode: string, extra: Record<string, unknown> = {}) {
  return new ApolloReplyError({ status, body: { error_code: errorCode, ...extra } });
}

/**
 * `GET /webhook_result/{request_id}`: 400 invalid_request_id, 404 request_id_unknown (also for
 * request ids that asked for no webhook), 410 request_id_expired (`expireRequest`), 404
 * result_pending until the first callback is due, then 200 with the payload (even when the
 * callbacks are scripted 'never' or failed), request_id echoed as a string.
 */
function showWebhookResult(state: SandboxState, { pathId }: RouteRequest): Reply {
  const requestId = parseRequestId(pathId);
  if (requestId === undefined) throw webhookResultError(400, 'invalid_request_id');
  const issued = state.issuedRequests.get(requestId);
  if (issued?.expired) throw webhookResultError(410, 'request_id_expired');
  const phone = issued?.phone;
  if (!phone) throw webhookResultError(404, 'request_id_unknown');
  const waitMs = phone.readyAt - Date.now();
  if (waitMs > 0) {
    throw webhookResultError(404, 'result_pending', {
      retry_after_seconds: Math.max(1, Math.ceil(waitMs / 1000)),
    });
  }
  return {
    status: 200,
    body: {
      request_id: phone.requestId,
      webhook_status: 'success',
      request_type: phone.requestType,
      last_dispatched_at: phone.lastDispatchedAt,
      failure_reason: null,
      webhook_result: phone.payload,
    },
  };
}

const CONTACT_ID_PATTERN = /^\/contacts\/([^/]+)$/;
const ROUTES: Route[] = [
  {
    method: 'POST',
    template: '/contacts/search',
    pattern: /^\/contacts\/search$/,
    limits: CONTACTS_RATE_LIMITS,
    handle: searchContacts,
  },
  {
    method: 'POST',
    template: '/contacts',
    pattern: /^\/contacts$/,
    limits: CONTACTS_RATE_LIMITS,
    handle: createContact,
  },
  {
    method: 'GET',
    template: '/contacts/{contact_id}',
    pattern: CONTACT_ID_PATTERN,
    limits: CONTACTS_RATE_LIMITS,
    handle: viewContact,
  },
  {
    method: 'PATCH',
    template: '/contacts/{contact_id}',
    pattern: CONTACT_ID_PATTERN,
    limits: CONTACTS_RATE_LIMITS,
    handle: updateContact,
  },
  // Older clients update with PUT.
  {
    method: 'PUT',
    template: '/contacts/{contact_id}',
    pattern: CONTACT_ID_PATTERN,
    limits: CONTACTS_RATE_LIMITS,
    handle: updateContact,
  },
  {
    method: 'POST',
    template: '/people/match',
    pattern: /^\/people\/match$/,
    limits: ENRICHMENT_RATE_LIMITS,
    handle: matchPerson,
  },
  {
    method: 'GET',
    template: '/webhook_result/{request_id}',
    pattern: /^\/webhook_result\/([^/]+)$/,
    limits: WEBHOOK_RESULT_RATE_LIMITS,
    handle: showWebhookResult,
  },
];

function findRoute(method: string, path: string): { route: Route; pathId: string | undefined } | undefined {
  for (const route of ROUTES) {
    const match = route.method === method ? route.pattern.exec(path) : null;
    if (match) return { route, pathId: match[1] };
  }
  return undefined;
}

/** The path below the API prefix; both `/api/v1` and the older `/v1` are served. */
function stripApiPrefix(pathname: string): string | undefined {
  const prefix = ['/api/v1/', '/v1/'].find((candidate) => pathname.startsWith(candidate));
  return prefix ? pathname.slice(prefix.length - 1) : undefined;
}

function endpointName(route: Route): string {
  return `api/v1${route.template}`;
}

function tooManyRequestsMessage(route: Route, window: WindowName, limit: number): string {
  return `The maximum number of api calls allowed for ${endpointName(route)} is ${limit} times per ${window}. Please upgrade your plan from ${UPGRADE_URL}.`;
}

/** The body Apollo sends with `status` on this endpoint; each error status has its own shape. */
function apolloErrorBody(status: number, route: Route): unknown {
  switch (status) {
    case 401:
      return INVALID_API_KEY_MESSAGE;
    case 403:
      return {
        error: `This API key is not authorized to access ${endpointName(route)}. Request an API key from your administrator that includes this endpoint in its configured scope.`,
        error_code: 'API_INACCESSIBLE',
      };
    case 422:
      return { error: 'Parameters misconfigured.' };
    case 429:
      return { message: tooManyRequestsMessage(route, 'hour', route.limits.hour) };
    default:
      return { error: STATUS_CODES[status] ?? 'Error' };
  }
}

function faultReply(rule: FaultRule, route: Route): Reply {
  const status = rule.status ?? 500;
  return {
    status,
    body: rule.body !== undefined ? rule.body : apolloErrorBody(status, route),
    headers: rule.retryAfterSeconds !== undefined ? { 'retry-after': String(rule.retryAfterSeconds) } : {},
  };
}

function rateLimitHeaders(limits: RateLimits, usage: EndpointUsage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [window, spelling] of RATE_LIMIT_HEADER_SPELLINGS) {
    headers[`x-rate-limit-${spelling}`] = String(limits[window]);
    headers[`x-${spelling}-usage`] = String(usage[window].used);
    headers[`x-${spelling}-requests-left`] = String(Math.max(0, limits[window] - usage[window].used));
  }
  return headers;
}

type ParsedBody = { valid: true; value: unknown } | { valid: false; raw: string };

function parseBody(raw: string): ParsedBody {
  if (raw.trim() === '') return { valid: true, value: null };
  try {
    return { valid: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { valid: false, raw };
  }
}

function routeParams(body: ParsedBody, query: URLSearchParams): Params {
  if (!body.valid) throw misconfigured('The request body is not valid JSON.');
  const { value } = body;
  if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
    throw misconfigured('The request body must be a JSON object.');
  }
  return mergeQueryAndBody(query, (value ?? {}) as Params);
}

/** JSON with bigints written as bare integers, the way Apollo writes request_id. */
function toJson(body: unknown): string {
  return JSON.stringify(body, (_key, value: unknown) =>
    typeof value === 'bigint' ? `${BIGINT_MARKER}${value}` : value,
  ).replace(new RegExp(`"${BIGINT_MARKER}(-?\\d+)"`, 'g'), '$1');
}

function send(res: ServerResponse, reply: Reply): void {
  const isText = typeof reply.body === 'string';
  const payload = isText ? (reply.body as string) : toJson(reply.body);
  res.writeHead(reply.status, {
    ...reply.headers,
    'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Answer that means "destroy the connection without answering". */
const CONNECTION_RESET = Symbol('connection reset');

/**
 * Starts an Apollo API sandbox on `host:port` (an ephemeral port by default).
 *
 * @example
 * const apollo = await startApolloSandbox({ rateLimitPerMinute: 5 });
 * apollo.inject({ method: 'POST', path: '/contacts', action: 'create-then-fail' });
 */
export async function startApolloSandbox(options: ApolloSandboxOptions = {}): Promise<ApolloSandbox> {
  const apiKey = options.apiKey ?? DEFAULT_API_KEY;
  const host = options.host ?? '127.0.0.1';
  const latencyMs = options.latencyMs ?? 0;
  const closing = new AbortController();
  let state = new SandboxState();

  function limitsFor(route: Route): RateLimits {
    const minute = options.rateLimitPerMinute ?? route.limits.minute;
    const hour = Math.max(route.limits.hour, minute);
    return { minute, hour, day: Math.max(route.limits.day, hour) };
  }

  /**
   * Decides the answer: auth, route, rate limit, scripted fault, then the operation. Only the
   * waits are asynchronous; from parsing the body to storing the contact runs in one go, so
   * concurrent creates cannot interleave (and, like Apollo, do not deduplicate each other).
   */
  async function answer(
    req: IncomingMessage,
    url: URL,
    path: string | undefined,
    body: ParsedBody,
  ): Promise<Reply | typeof CONNECTION_RESET> {
    if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: closing.signal });
    if (req.headers['x-api-key'] !== apiKey) return { status: 401, body: INVALID_API_KEY_MESSAGE };

    const method = req.method ?? 'GET';
    const found = path === undefined ? undefined : findRoute(method, path);
    if (path === undefined || !found) return { status: 404, body: { error: 'Not Found' } };
    const { route, pathId } = found;

    const limits = limitsFor(route);
    const { usage, exhausted } = state.consumeRateLimit(`${method} ${route.template}`, limits, Date.now());
    const usageHeaders = rateLimitHeaders(limits, usage);
    if (exhausted) {
      const retryAfterMs = usage[exhausted].startedAt + WINDOW_MS[exhausted] - Date.now();
      return {
        status: 429,
        body: { message: tooManyRequestsMessage(route, exhausted, limits[exhausted]) },
        headers: { ...usageHeaders, 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
      };
    }

    const fault = state.takeFault(method, path);
    if (fault?.delayMs) await sleep(fault.delayMs, undefined, { signal: closing.signal });
    if (fault && (fault.action ?? 'respond') === 'respond') return faultReply(fault, route);
    if (fault?.action === 'reset') return CONNECTION_RESET;

    let reply: Reply;
    try {
      const params = routeParams(body, url.searchParams);
      reply = route.handle(state, { params, pathId, now: new Date().toISOString() });
    } catch (error) {
      if (!(error instanceof ApolloReplyError)) throw error;
      reply = error.reply;
    }
    if (fault?.action === 'create-then-fail') return faultReply(fault, route);
    return reply.status < 300 ? { ...reply, headers: { ...usageHeaders, ...reply.headers } } : reply;
  }

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const url = new URL(req.url ?? '/', 'http://apollo.sandbox');
    const path = stripApiPrefix(url.pathname);
    const method = req.method ?? 'GET';
    let outcome: string;
    try {
      const body = parseBody(await readBody(req));
      const record: SandboxRequest = {
        method,
        path: path ?? url.pathname,
        query: Object.fromEntries(url.searchParams),
        body: body.valid ? body.value : body.raw,
        status: 0,
        at: receivedAt,
      };
      state.requests.push(record);
      const reply = await answer(req, url, path, body);
      if (reply === CONNECTION_RESET) {
        req.socket.resetAndDestroy();
        outcome = 'reset';
      } else {
        record.status = reply.status;
        // A client that timed out is gone, but the operation has happened: that is the point.
        if (!res.destroyed) send(res, reply);
        outcome = String(reply.status);
      }
    } catch (error) {
      if (closing.signal.aborted || req.destroyed) {
        res.destroy();
        return;
      }
      send(res, { status: 500, body: { error: 'Internal Server Error' } });
      outcome = `500 (${error instanceof Error ? error.message : String(error)})`;
    }
    options.log?.(`${method} ${url.pathname} ${outcome} ${Date.now() - receivedAt}ms`);
  }

  const server = createServer((req, res) => void handleRequest(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | undefined;

  return {
    url: `http://${urlHost}:${port}/api/v1`,
    apiKey,
    contacts: () => structuredClone(state.contacts),
    requests: () => structuredClone(state.requests),
    countRequests: (method, path) =>
      state.requests.filter(
        (request) => request.method === method.toUpperCase() && pathMatches(request.path, path),
      ).length,
    addContact: (seed = {}) => structuredClone(state.addContact(seed)),
    addPerson: (seed) => structuredClone(state.addPerson(seed)),
    people: () => structuredClone(state.people),
    creditsConsumed: () => state.creditsConsumed,
    setPhoneCallbacks: (behaviour) => {
      state.callbackBehaviour = checkCallbackBehaviour(behaviour);
    },
    callbacks: () => structuredClone(state.callbacks),
    expireRequest: (requestId) => {
      const issued = state.issuedRequests.get(parseRequestId(requestId) ?? '');
      if (!issued) throw new Error(`The Apollo sandbox never issued request_id ${String(requestId)}`);
      issued.expired = true;
    },
    inject: (rule) => {
      state.faults.push({ rule: { ...rule }, remaining: rule.times ?? 1 });
    },
    clearFaults: () => {
      state.faults.length = 0;
    },
    reset: () => {
      state.dispose();
      state = new SandboxState();
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        state.dispose();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
