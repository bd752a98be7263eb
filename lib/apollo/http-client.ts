import type * as z from 'zod/mini';
import {
  ApolloAuthError,
  ApolloForbiddenError,
  ApolloRateLimitError,
  ApolloRejectedError,
  ApolloUnavailableError,
  ConfigurationError,
  isError,
} from '../errors';
import { identitiesOf, identityKey, type Identity } from '../identity';
import type { ContactFields, MatchIdentity } from '../person';
import {
  MAX_BULK_CREATE_CONTACTS,
  MAX_BULK_MATCH_PEOPLE,
  MAX_BULK_UPDATE_CONTACTS,
  type Apollo,
  type ApolloContact,
  type BulkContact,
  type CallOptions,
  type Enrichment,
  type EnrichmentQuery,
  type MatchedPerson,
  type WebhookResult,
} from './apollo';
import { parseRateLimitHeaders, type ApolloEndpoint, type RateLimitWindow } from './rate-limits';
import {
  bulkCreateReplySchema,
  bulkMatchReplySchema,
  bulkUpdateReplySchema,
  createReplySchema,
  matchReplySchema,
  parseApolloJson,
  phoneRevealPayloadSchema,
  searchReplySchema,
  webhookResultReplySchema,
} from './schemas';
import { sleep } from '../bounded';

export interface ApolloClientOptions {
  baseUrl: string;
  apiKey: () => Promise<string>;
  /** Upper bound for one HTTP request. */
  timeoutMs: number;
  /** A 429 whose retry-after is at most this long is waited out in place (if the deadline allows). */
  maxRetryWaitSeconds: number;
  /** Every reply's rate-limit windows (429s too), with the endpoint they count for. */
  onRateLimit?: (windows: RateLimitWindow[], endpoint: ApolloEndpoint) => void;
  /** Every request's HTTP status (`no_reply`: it failed without one: a timeout, a reset), for metrics. */
  onResponse?: (endpoint: ApolloEndpoint, status: number | 'no_reply') => void;
  fetch?: typeof fetch;
}

/** Most pages of search results read while looking for an exact email. */
const MAX_SEARCH_PAGES = 5;
const SEARCH_PAGE_SIZE = 100;
/** Attempts for calls that are safe to repeat (search, match). Creates are never repeated here. */
const IDEMPOTENT_ATTEMPTS = 3;
const DEFAULT_RETRY_AFTER_SECONDS = 60;
/** Connection errors that prove the request never reached Apollo. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** Removes undefined, null and blank values: Apollo clears fields sent empty (an upsert, an update). */
function compact<T extends object>(body: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(body).filter(
      ([, value]) =>
        value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === ''),
    ),
  ) as Partial<T>;
}

/**
 * The contact fields as the single create names them. Apollo's bulk create takes a HubSpot record
 * id as `hubspot_id`; the single create's documentation names the same id `hubspot_vid` (the
 * contact's own field), with `salesforce_contact_id` and `salesforce_lead_id` spelled alike in
 * both (docs/apollo/apollo-openapi.json, `POST /contacts`, "How Apollo picks the match").
 */
function singleCreateFields({ hubspot_id, ...fields }: ContactFields): Record<string, unknown> {
  return { ...fields, hubspot_vid: hubspot_id };
}

/** `retry-after` is seconds, or an HTTP date. */
function parseRetryAfter(value: string | null, now: number): number {
  if (value === null || value.trim() === '') return DEFAULT_RETRY_AFTER_SECONDS;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? DEFAULT_RETRY_AFTER_SECONDS : Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * Apollo's error bodies come in five shapes: text/plain, `{error}`, `{error, error_code}`,
 * `{message}`, and bulk_match's `{status: "failed", error_code, error_message}`.
 */
function describeErrorBody(text: string): { message: string; code?: string } {
  try {
    const body = JSON.parse(text) as {
      error?: unknown;
      message?: unknown;
      error_message?: unknown;
      error_code?: unknown;
    };
    const message = [body.error, body.error_message, body.message].find(
      (candidate) => typeof candidate === 'string',
    );
    return {
      message: typeof message === 'string' ? message : text.slice(0, 300),
      code: typeof body.error_code === 'string' ? body.error_code : undefined,
    };
  } catch {
    return { message: text.slice(0, 300) };
  }
}

/** Refuses a batch over Apollo's per-call maximum before anything is sent: the caller must split it. */
function checkBatchSize(endpoint: ApolloEndpoint, size: number, max: number, what: string): void {
  if (size > max) {
    throw new RangeError(`${endpoint} takes at most ${max} ${what} per call, got ${size}: split the batch`);
  }
}

function errorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/**
 * The one Apollo client, the adapter of the `Apollo` port: x-api-key, JSON bodies, a timeout on
 * every request, retry-after honoured, every reply checked against `./schemas`.
 */
export class ApolloHttpClient implements Apollo {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ApolloClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async createContact(
    fields: ContactFields,
    options: CallOptions & { runDedupe?: boolean },
  ): Promise<ApolloContact> {
    const body = compact({ ...singleCreateFields(fields), run_dedupe: options.runDedupe ? true : undefined });
    const reply = await this.call('POST /contacts', '/contacts', body, options, { idempotent: false });
    return this.read(createReplySchema, reply, 'POST /contacts').contact;
  }

  async findContactsByEmail(email: string, options: CallOptions): Promise<ApolloContact[]> {
    const wanted = email.trim().toLowerCase();
    return this.searchContacts(wanted, (contact) => contact.email?.trim().toLowerCase() === wanted, options);
  }

  async findContactsByName(
    search: { first_name: string; last_name: string; identities: readonly Identity[] },
    options: CallOptions,
  ): Promise<ApolloContact[]> {
    const wanted = new Set(search.identities.map(identityKey));
    return this.searchContacts(
      `${search.first_name} ${search.last_name}`,
      (contact) =>
        identitiesOf({
          first_name: contact.first_name ?? undefined,
          last_name: contact.last_name ?? undefined,
          organization_name: contact.organization_name ?? undefined,
          website_url:
            contact.website_url ??
            contact.organization?.website_url ??
            contact.organization?.primary_domain ??
            contact.account?.domain ??
            undefined,
        }).some((identity) => wanted.has(identityKey(identity))),
      options,
    );
  }

  /** `POST /contacts/search` by keywords (fuzzy), page after page, keeping what `keep` accepts. */
  private async searchContacts(
    keywords: string,
    keep: (contact: ApolloContact) => boolean,
    options: CallOptions,
  ): Promise<ApolloContact[]> {
    const found: ApolloContact[] = [];
    for (let page = 1; page <= MAX_SEARCH_PAGES; page++) {
      const reply = await this.call(
        'POST /contacts/search',
        '/contacts/search',
        { q_keywords: keywords, page, per_page: SEARCH_PAGE_SIZE },
        options,
        { idempotent: true },
      );
      const { contacts, pagination } = this.read(searchReplySchema, reply, 'POST /contacts/search');
      found.push(...contacts.filter(keep));
      if (contacts.length < SEARCH_PAGE_SIZE || page >= (pagination?.total_pages ?? page)) break;
    }
    return found;
  }

  async matchPerson(identity: MatchIdentity, options: CallOptions): Promise<MatchedPerson | null> {
    const reply = await this.call('POST /people/match', '/people/match', compact(identity), options, {
      idempotent: true,
    });
    return this.read(matchReplySchema, reply, 'POST /people/match').person ?? null;
  }

  async enrichPerson(
    query: EnrichmentQuery,
    options: CallOptions & { webhookUrl?: string },
  ): Promise<Enrichment> {
    const body = compact({
      ...query,
      reveal_phone_number: options.webhookUrl ? true : undefined,
      webhook_url: options.webhookUrl,
    });
    // Not repeated on failure: a second request would spend the credits again.
    const reply = await this.call('POST /people/match', '/people/match', body, options, {
      idempotent: false,
    });
    const parsed = this.read(matchReplySchema, reply, 'POST /people/match');
    return {
      person: parsed.person ?? null,
      requestId: parsed.request_id ?? null,
    };
  }

  async updateContact(
    contactId: string,
    fields: ContactFields,
    options: CallOptions,
  ): Promise<ApolloContact> {
    const path = `/contacts/${encodeURIComponent(contactId)}`;
    // Setting the same fields twice leaves the contact as it is: safe to repeat.
    const reply = await this.call('PATCH /contacts/{contact_id}', path, compact(fields), options, {
      idempotent: true,
    });
    return this.read(createReplySchema, reply, 'PATCH /contacts/{id}').contact;
  }

  async getWebhookResult(requestId: string, options: CallOptions): Promise<WebhookResult> {
    const path = `/webhook_result/${encodeURIComponent(requestId)}`;
    const reply = await this.call('GET /webhook_result/{request_id}', path, undefined, options, {
      idempotent: true,
      answered: [400, 404, 410],
    });
    const parsed = this.read(webhookResultReplySchema, reply, 'GET /webhook_result/{id}');
    if (parsed.error_code === 'result_pending') {
      return {
        state: 'pending',
        retryAfterSeconds: Math.max(1, Math.ceil(parsed.retry_after_seconds ?? 60)),
      };
    }
    if (parsed.error_code) return { state: 'gone', reason: parsed.error_code };
    if (parsed.webhook_result == null)
      return { state: 'gone', reason: `webhook_status ${parsed.webhook_status}` };
    const payload = phoneRevealPayloadSchema.safeParse(parsed.webhook_result);
    return payload.success ? { state: 'ready', payload: payload.data } : { state: 'unreadable' };
  }

  async bulkCreateContacts(
    contacts: BulkContact[],
    options: CallOptions & { runDedupe: boolean },
  ): Promise<{ created: ApolloContact[]; existing: ApolloContact[] }> {
    const endpoint = 'POST /contacts/bulk_create';
    checkBatchSize(endpoint, contacts.length, MAX_BULK_CREATE_CONTACTS, 'contacts');
    if (contacts.length === 0) return { created: [], existing: [] };
    const body = { contacts: contacts.map((contact) => compact(contact)), run_dedupe: options.runDedupe };
    // Never repeated here, even with run_dedupe: a repeat would report this call's own creations as
    // `existing`, and only the caller knows that an earlier try's outcome was unknown.
    const reply = await this.call(endpoint, '/contacts/bulk_create', body, options, { idempotent: false });
    const parsed = this.read(bulkCreateReplySchema, reply, endpoint);
    return { created: parsed.created_contacts, existing: parsed.existing_contacts ?? [] };
  }

  async bulkUpdateContacts(
    updates: Array<{ id: string } & ContactFields>,
    options: CallOptions,
  ): Promise<void> {
    const endpoint = 'POST /contacts/bulk_update';
    checkBatchSize(endpoint, updates.length, MAX_BULK_UPDATE_CONTACTS, 'contacts');
    if (updates.some((update) => update.id.trim() === '')) {
      throw new RangeError(`${endpoint}: every update needs the contact's id`);
    }
    if (updates.length === 0) return;
    // `contact_attributes[]`, one object per contact with its own fields (Apollo's other form,
    // `contact_ids` with top-level fields, sets the same values on every contact).
    const body = { contact_attributes: updates.map((update) => compact(update)) };
    // Setting the same fields twice leaves the contacts as they are: safe to repeat.
    const reply = await this.call(endpoint, '/contacts/bulk_update', body, options, { idempotent: true });
    this.read(bulkUpdateReplySchema, reply, endpoint);
  }

  async matchPeople(identities: MatchIdentity[], options: CallOptions): Promise<Array<MatchedPerson | null>> {
    const endpoint = 'POST /people/bulk_match';
    checkBatchSize(endpoint, identities.length, MAX_BULK_MATCH_PEOPLE, 'people');
    if (identities.length === 0) return [];
    // Only the identities: never a reveal or waterfall flag, so saved contacts cost nothing.
    const body = { details: identities.map((identity) => compact(identity)) };
    const reply = await this.call(endpoint, '/people/bulk_match', body, options, { idempotent: true });
    const { matches } = this.read(bulkMatchReplySchema, reply, endpoint);
    if (matches.length !== identities.length) {
      // Matches are told apart only by their position: with a count that differs, none can be trusted.
      throw new ApolloUnavailableError(
        `${endpoint}: ${matches.length} matches for ${identities.length} people`,
        true,
      );
    }
    return matches.map((match) => match ?? null);
  }

  private read<T>(schema: z.ZodMiniType<T>, reply: unknown, endpoint: string): T {
    const parsed = schema.safeParse(reply);
    if (!parsed.success) {
      // The request was carried out but the reply is not what Apollo documents: treat as unknown outcome.
      throw new ApolloUnavailableError(`${endpoint}: unexpected reply shape`, true);
    }
    return parsed.data;
  }

  /** Calls `endpoint` (`METHOD /template`) at `path` (the template filled in), retrying as `retryDelay` allows. */
  private async call(
    endpoint: ApolloEndpoint,
    path: string,
    body: unknown,
    { deadline }: CallOptions,
    { idempotent, answered = [] }: { idempotent: boolean; answered?: number[] },
  ): Promise<unknown> {
    const apiKey = await this.options.apiKey();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send(endpoint, path, body, apiKey, deadline, answered);
      } catch (error) {
        const wait = this.retryDelay(error, attempt, idempotent, deadline);
        if (wait === undefined) throw error;
        await sleep(wait);
      }
    }
  }

  /** How long to wait before another attempt, or undefined to give up and throw. */
  private retryDelay(
    error: unknown,
    attempt: number,
    idempotent: boolean,
    deadline: number,
  ): number | undefined {
    let wait: number;
    if (isError(error, 'ApolloRateLimitError')) {
      // A 429 means Apollo did nothing, so even a create may be repeated after retry-after.
      if (error.retryAfterSeconds > this.options.maxRetryWaitSeconds || attempt >= IDEMPOTENT_ATTEMPTS) {
        return undefined;
      }
      wait = error.retryAfterSeconds * 1000;
    } else if (isError(error, 'ApolloUnavailableError')) {
      // A create whose outcome is unknown is never repeated here: the use case searches first.
      if ((!idempotent && error.outcomeUnknown) || attempt >= IDEMPOTENT_ATTEMPTS) return undefined;
      wait = 100 * 2 ** attempt;
    } else {
      return undefined;
    }
    // Leave time for the next attempt itself, not just the wait.
    return Date.now() + wait + 1000 < deadline ? wait : undefined;
  }

  /** Sends one request. Statuses in `answered` are replies to read, not errors (webhook_result's 404). */
  private async send(
    endpoint: ApolloEndpoint,
    path: string,
    body: unknown,
    apiKey: string,
    deadline: number,
    answered: number[],
  ) {
    const method = endpoint.slice(0, endpoint.indexOf(' '));
    const timeoutMs = Math.min(this.options.timeoutMs, deadline - Date.now());
    if (timeoutMs <= 0)
      throw new ApolloUnavailableError(`${method} ${path}: no time left before the deadline`, false);
    let response: Response;
    try {
      response = await this.fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers: {
          'x-api-key': apiKey,
          'content-type': 'application/json',
          'cache-control': 'no-cache',
          accept: 'application/json',
        },
        body: method === 'GET' ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      this.options.onResponse?.(endpoint, 'no_reply');
      const code = errorCode(error);
      const reason = code ?? (error instanceof Error ? error.name : 'network error');
      throw new ApolloUnavailableError(`${method} ${path}: ${reason}`, !NOT_SENT_CODES.has(code ?? ''), {
        cause: error,
      });
    }
    this.options.onResponse?.(endpoint, response.status);
    const windows = parseRateLimitHeaders(response.headers);
    if (windows.length > 0) this.options.onRateLimit?.(windows, endpoint);

    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new ApolloUnavailableError(`${method} ${path}: reply cut off`, true, { cause: error });
    }
    if (response.ok || answered.includes(response.status)) {
      try {
        return parseApolloJson(text);
      } catch {
        throw new ApolloUnavailableError(`${method} ${path}: reply is not JSON`, true);
      }
    }
    throw this.toError(method, path, response, text);
  }

  private toError(method: string, path: string, response: Response, text: string): Error {
    const { message, code } = describeErrorBody(text);
    const where = `${method} ${path}`;
    switch (response.status) {
      case 401:
        return new ApolloAuthError(`${where}: Apollo rejected the API key (401)`);
      case 403:
        return new ApolloForbiddenError(
          `${where}: the API key lacks this endpoint's scope or the plan lacks the endpoint (403${code ? ` ${code}` : ''}): ${message}`,
        );
      case 404:
        return new ConfigurationError(`${where}: not found at Apollo (404): check APOLLO_BASE_URL`);
      case 429:
        return new ApolloRateLimitError(
          `${where}: rate limited: ${message}`,
          parseRetryAfter(response.headers.get('retry-after'), Date.now()),
        );
      case 400:
      case 422:
        return new ApolloRejectedError(`${message} (${response.status})`);
      default:
        if (response.status >= 500) return new ApolloUnavailableError(`${where}: ${response.status}`, true);
        return new ApolloRejectedError(`${where}: ${response.status}: ${message}`);
    }
  }
}
