/**
 * The service's HTTP API as the command-line tool calls it: `x-api-key`, JSON, and the service's
 * answers honoured: 429 and 503 wait for `Retry-After`, other 5xx and network errors back off
 * exponentially, a bounded number of times.
 */

/** Where the tool points by default: the local stack (`npm start` prints the same URL and key). */
export const LOCAL_API_URL = 'http://127.0.0.1:3000';
export const LOCAL_API_KEY = 'local-api-key';

export interface ApiOptions {
  url: string;
  apiKey: string;
  /** Tries of one request at most (retry-after and backoff between them). */
  maxTries?: number;
  /** Longest pause between tries, in ms. */
  maxPauseMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Told about every wait, e.g. for the progress line. */
  onWait?: (why: string, ms: number) => void;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(`HTTP ${status}: ${typeof body.message === 'string' ? body.message : JSON.stringify(body)}`);
    this.name = 'ApiError';
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ServiceApi {
  private readonly base: string;

  constructor(private readonly options: ApiOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  /**
   * One request, retried while the service or the network asks for it. A 503 `retry_later` of
   * `POST /contacts` is retried whole: the ledger answers the people it queued already as they are.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const maxTries = this.options.maxTries ?? 8;
    const sleep = this.options.sleep ?? defaultSleep;
    const maxPauseMs = this.options.maxPauseMs ?? 60_000;
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let parsed: Record<string, unknown>;
      let retryAfterMs: number | undefined;
      try {
        const response = await fetch(`${this.base}${path}`, {
          method,
          headers: {
            'x-api-key': this.options.apiKey,
            ...(body !== undefined && { 'content-type': 'application/json' }),
          },
          ...(body !== undefined && { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(60_000),
        });
        status = response.status;
        const text = await response.text();
        parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
        const header = response.headers.get('retry-after');
        if (header !== null && /^\d+$/.test(header.trim())) retryAfterMs = Number(header) * 1000;
      } catch (error) {
        if (attempt >= maxTries) throw error;
        const pause = Math.min(maxPauseMs, 500 * 2 ** (attempt - 1));
        this.options.onWait?.(`network error (${(error as Error).message})`, pause);
        await sleep(pause);
        continue;
      }
      const retryable = status === 429 || status >= 500;
      if (!retryable) {
        if (status >= 400) throw new ApiError(status, parsed);
        return { status, body: parsed as T };
      }
      if (attempt >= maxTries) throw new ApiError(status, parsed);
      const pause = Math.min(maxPauseMs, retryAfterMs ?? 500 * 2 ** (attempt - 1));
      this.options.onWait?.(`HTTP ${status}`, pause);
      await sleep(pause);
    }
  }
}
