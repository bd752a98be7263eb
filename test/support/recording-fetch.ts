/**
 * A recording fake `fetch` for the Apollo client's contract tests, answering with the OpenAPI
 * document's own examples, and the helpers those tests share (the client, settling calls while
 * the client's back-off sleeps are fast-forwarded, error assertions).
 */
import { expect, vi } from 'vitest';
import { ApolloHttpClient, type ApolloClientOptions } from '../../lib/apollo/http-client';
import { isError, type ErrorName } from '../../lib/errors';
import { documentedReplies, openApi, type DocumentedReply } from './apollo-openapi';

export const BASE_URL = openApi.servers[0]?.url ?? 'https://api.apollo.io/api/v1';
export const API_KEY = 'test-apollo-key';

export interface RecordedCall {
  url: string;
  method: string;
  headers: Headers;
  /** The JSON body, parsed. */
  body: unknown;
  signal: AbortSignal | undefined;
}

export type FakeReply =
  | { status: number; body: string; contentType: string; headers?: Record<string, string> }
  | { fetchError: unknown }
  | { waitForAbort: true };

export function reply(documented: DocumentedReply, headers: Record<string, string> = {}): FakeReply {
  return { status: documented.status, body: documented.body, contentType: documented.contentType, headers };
}

/** The documented 200 reply of whichever POST endpoint was called, for fakes that should just succeed. */
export function okReplyFor(url: string): FakeReply {
  const endpoint = Object.keys(openApi.paths).find((candidate) => url === `${BASE_URL}${candidate}`);
  const documented =
    endpoint === undefined
      ? undefined
      : documentedReplies(endpoint).find((candidate) => candidate.status === 200);
  if (documented === undefined) return { status: 404, body: 'Not Found', contentType: 'text/plain' };
  return reply(documented);
}

/**
 * A `fetch` that records every call. It answers with `replies` in order (the last one repeats);
 * with none, with the documented 200 example of whichever endpoint was called.
 */
export function recordingFetch(...replies: FakeReply[]): { fetch: typeof fetch; calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  const fake: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const rawBody = init?.body;
    calls.push({
      url,
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body: typeof rawBody === 'string' ? (JSON.parse(rawBody) as unknown) : rawBody,
      signal: init?.signal ?? undefined,
    });
    const next =
      replies.length === 0
        ? okReplyFor(url)
        : (replies[Math.min(calls.length, replies.length) - 1] as FakeReply);
    if ('fetchError' in next) throw next.fetchError;
    if ('waitForAbort' in next) {
      const signal = init?.signal;
      if (!signal) throw new Error('the client sent no abort signal: this request could hang forever');
      return new Promise<Response>((_resolve, reject) => {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- as fetch does: the signal's reason as it is (typed any; a DOMException for a timeout)
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    }
    return new Response(next.body, {
      status: next.status,
      headers: { 'content-type': next.contentType, ...next.headers },
    });
  };
  return { fetch: fake, calls };
}

export function clientWith(fake: typeof fetch, options: Partial<ApolloClientOptions> = {}): ApolloHttpClient {
  return new ApolloHttpClient({
    baseUrl: BASE_URL,
    apiKey: () => Promise.resolve(API_KEY),
    timeoutMs: 5_000,
    maxRetryWaitSeconds: 0,
    fetch: fake,
    ...options,
  });
}

export const callOptions = () => ({ deadline: Date.now() + 60_000 });

/**
 * Waits for `promise`, fast-forwarding the client's back-off sleeps (setTimeout is faked below;
 * AbortSignal.timeout and setImmediate keep real time, so request timeouts still fire for real).
 */
export async function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  let done = false;
  const result = promise
    .then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    )
    .finally(() => {
      done = true;
    });
  while (!done) {
    await vi.runOnlyPendingTimersAsync();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return result;
}

export async function resolved<T>(promise: Promise<T>): Promise<T> {
  const result = await settle(promise);
  if ('error' in result) return expect.unreachable(`expected success, got ${String(result.error)}`);
  return result.value;
}

export async function rejected(promise: Promise<unknown>): Promise<unknown> {
  const result = await settle(promise);
  if (!('error' in result)) return expect.unreachable('expected the call to fail, but it succeeded');
  return result.error;
}

/** Asserts the error's class (by name, as the project checks it) and returns it narrowed. */
export function expectError<N extends ErrorName>(error: unknown, name: N) {
  if (!isError(error, name)) {
    return expect.unreachable(
      `expected ${name}, got ${error instanceof Error ? error.name : typeof error}: ${String(error)}`,
    );
  }
  return error;
}

/** Paths of fields that are null, empty or blank strings: Apollo clears a field sent empty. */
export function blankFields(value: unknown, at = 'body'): string[] {
  if (value === null || (typeof value === 'string' && value.trim() === '')) return [at];
  if (Array.isArray(value)) return value.flatMap((item, index) => blankFields(item, `${at}[${index}]`));
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) =>
      blankFields(item, `${at}.${key}`),
    );
  }
  return [];
}
