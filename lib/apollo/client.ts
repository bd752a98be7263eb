import * as z from 'zod/mini';
import {
  ApolloAuthError,
  ApolloForbiddenError,
  ApolloRateLimitError,
  ApolloRejectedError,
  ApolloUnavailableError,
  ConfigurationError,
  isError,
} from '../errors';
import type { ContactFields, MatchIdentity } from '../person';
import { parseRateLimitHeaders, type RateLimitWindow } from './rate-limits';

const phoneNumberSchema = z.looseObject({
  raw_number: z.optional(z.nullable(z.string())),
  sanitized_number: z.optional(z.nullable(z.string())),
  type: z.optional(z.nullable(z.string())),
});

const contactSchema = z.looseObject({
  id: z.string(),
  email: z.optional(z.nullable(z.string())),
  person_id: z.optional(z.nullable(z.string())),
  phone_numbers: z.optional(z.nullable(z.array(phoneNumberSchema))),
});
export type ApolloContact = z.infer<typeof contactSchema>;

const matchedPersonSchema = z.looseObject({
  id: z.optional(z.nullable(z.string())),
  email: z.optional(z.nullable(z.string())),
  contact_id: z.optional(z.nullable(z.string())),
  contact: z.optional(z.nullable(contactSchema)),
  phone_numbers: z.optional(z.nullable(z.array(phoneNumberSchema))),
});
export type MatchedPerson = z.infer<typeof matchedPersonSchema>;

const createReplySchema = z.looseObject({ contact: contactSchema });
const searchReplySchema = z.looseObject({
  contacts: z.array(contactSchema),
  pagination: z.optional(z.looseObject({ total_pages: z.optional(z.nullable(z.number())) })),
});
const matchReplySchema = z.looseObject({ person: z.optional(z.nullable(matchedPersonSchema)) });

/** Apollo, as the use cases see it. */
export interface Apollo {
  /** `POST /contacts`. With `runDedupe`, Apollo upserts onto a contact with the same email or name + company. */
  createContact(
    fields: ContactFields,
    options: CallOptions & { runDedupe?: boolean },
  ): Promise<ApolloContact>;
  /** Saved contacts whose email equals `email` exactly (search is fuzzy, so this filters). */
  findContactsByEmail(email: string, options: CallOptions): Promise<ApolloContact[]>;
  /** `POST /people/match` without any reveal or waterfall flag: free for saved contacts. Null when not found. */
  matchPerson(identity: MatchIdentity, options: CallOptions): Promise<MatchedPerson | null>;
}

export interface CallOptions {
  /** Epoch ms by which the call must have ended (the Lambda's deadline, less a margin). */
  deadline: number;
}

export interface ApolloClientOptions {
  baseUrl: string;
  apiKey: () => Promise<string>;
  /** Upper bound for one HTTP request. */
  timeoutMs: number;
  /** A 429 whose retry-after is at most this long is waited out in place (if the deadline allows). */
  maxRetryWaitSeconds: number;
  onRateLimit?: (windows: RateLimitWindow[]) => void;
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

/** Removes undefined and empty-string values: Apollo clears fields sent empty on an upsert. */
function compact<T extends object>(body: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(body).filter(([, value]) => value !== undefined && value !== null && value !== ''),
  ) as Partial<T>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `retry-after` is seconds, or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number): number {
  if (value === null || value.trim() === '') return DEFAULT_RETRY_AFTER_SECONDS;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? DEFAULT_RETRY_AFTER_SECONDS : Math.max(0, Math.ceil((date - now) / 1000));
}

/** Apollo's error bodies come in four shapes: text/plain, `{error}`, `{error, error_code}`, `{message}`. */
function describeErrorBody(text: string): { message: string; code?: string } {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown; error_code?: unknown };
    const message = typeof body.error === 'string' ? body.error : body.message;
    return {
      message: typeof message === 'string' ? message : text.slice(0, 300),
      code: typeof body.error_code === 'string' ? body.error_code : undefined,
    };
  } catch {
    return { message: text.slice(0, 300) };
  }
}

function errorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** The one Apollo client: x-api-key, JSON bodies, a timeout on every request, retry-after honoured. */
export class ApolloHttpClient implements Apollo {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ApolloClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async createContact(
    fields: ContactFields,
    options: CallOptions & { runDedupe?: boolean },
  ): Promise<ApolloContact> {
    const body = compact({ ...fields, run_dedupe: options.runDedupe ? true : undefined });
    const reply = await this.call('POST', '/contacts', body, options, { idempotent: false });
    return this.read(createReplySchema, reply, 'POST /contacts').contact;
  }

  async findContactsByEmail(email: string, options: CallOptions): Promise<ApolloContact[]> {
    const wanted = email.trim().toLowerCase();
    const found: ApolloContact[] = [];
    for (let page = 1; page <= MAX_SEARCH_PAGES; page++) {
      const reply = await this.call(
        'POST',
        '/contacts/search',
        { q_keywords: wanted, page, per_page: SEARCH_PAGE_SIZE },
        options,
        { idempotent: true },
      );
      const { contacts, pagination } = this.read(searchReplySchema, reply, 'POST /contacts/search');
      found.push(...contacts.filter((contact) => contact.email?.trim().toLowerCase() === wanted));
      if (contacts.length < SEARCH_PAGE_SIZE || page >= (pagination?.total_pages ?? page)) break;
    }
    return found;
  }

  async matchPerson(identity: MatchIdentity, options: CallOptions): Promise<MatchedPerson | null> {
    const reply = await this.call('POST', '/people/match', compact(identity), options, { idempotent: true });
    return this.read(matchReplySchema, reply, 'POST /people/match').person ?? null;
  }

  private read<T>(schema: z.ZodMiniType<T>, reply: unknown, endpoint: string): T {
    const parsed = schema.safeParse(reply);
    if (!parsed.success) {
      // The request was carried out but the reply is not what Apollo documents: treat as unknown outcome.
      throw new ApolloUnavailableError(`${endpoint}: unexpected reply shape`, true);
    }
    return parsed.data;
  }

  private async call(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    body: unknown,
    { deadline }: CallOptions,
    { idempotent }: { idempotent: boolean },
  ): Promise<unknown> {
    const apiKey = await this.options.apiKey();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send(method, path, body, apiKey, deadline);
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

  private async send(method: string, path: string, body: unknown, apiKey: string, deadline: number) {
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
      const code = errorCode(error);
      const reason = code ?? (error instanceof Error ? error.name : 'network error');
      throw new ApolloUnavailableError(`${method} ${path}: ${reason}`, !NOT_SENT_CODES.has(code ?? ''), {
        cause: error,
      });
    }
    const windows = parseRateLimitHeaders(response.headers);
    if (windows.length > 0) this.options.onRateLimit?.(windows);

    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new ApolloUnavailableError(`${method} ${path}: reply cut off`, true, { cause: error });
    }
    if (response.ok) {
      try {
        return JSON.parse(text) as unknown;
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
