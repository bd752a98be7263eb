import { signedWebhookHeaders } from '../../lib/webhook-signature';
import { LOCAL_DEFAULTS, localPorts } from '../stack';

/** One answer of the service, with its body read as text and (when it is JSON) parsed. */
export interface Answer {
  status: number;
  retryAfter: string | null;
  text: string;
  // Probes read many shapes; each checks what it reads.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** A 5xx the service answered, attributed to the probe that caused it. */
export interface ServerError {
  probe: string;
  request: string;
  status: number;
  body: string;
}

export interface EnrichmentAnswer {
  id: string | null;
  status: string;
  contact_id: string | null;
  apollo_person_id?: string | null;
  request_id?: string | null;
  credits_consumed?: number;
  credits_pending?: number;
  credits_saved?: boolean;
  phones?: string;
  reason?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The running local stack's HTTP API as a sender sees it: the same ports and secrets `npm start`
 * uses (PORT, API_KEY, WEBHOOK_SECRET, APOLLO_CALLBACK_TOKEN or the local defaults). Every 5xx is
 * kept, except the documented "retry later" answers (503 with Retry-After), which are counted.
 */
export class ServiceClient {
  readonly api = `http://127.0.0.1:${localPorts().http}`;
  readonly apiKey = process.env.API_KEY?.trim() || LOCAL_DEFAULTS.API_KEY;
  readonly webhookSecret = (process.env.WEBHOOK_SECRET?.trim() || LOCAL_DEFAULTS.WEBHOOK_SECRET).split(
    /\s+/,
  )[0] as string;
  readonly callbackToken = process.env.APOLLO_CALLBACK_TOKEN?.trim() || LOCAL_DEFAULTS.APOLLO_CALLBACK_TOKEN;
  readonly serverErrors: ServerError[] = [];
  /** 409/503 answers with Retry-After, by probe: a sender retries them. */
  readonly retryLaterAnswers = new Map<string, number>();
  /** The probe running now, to which 5xx answers are attributed. */
  probe = '';

  async request(
    method: string,
    path: string,
    options: { body?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const response = await fetch(`${this.api}${path}`, {
      method,
      headers: options.headers,
      body: options.body,
    });
    const text = await response.text();
    let json: unknown = undefined;
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON: kept as text.
    }
    const answer: Answer = {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      text,
      json,
    };
    if (answer.retryAfter !== null && (answer.status === 409 || answer.status === 503)) {
      this.retryLaterAnswers.set(this.probe, (this.retryLaterAnswers.get(this.probe) ?? 0) + 1);
    } else if (answer.status >= 500) {
      // Only the start of a body: enough to see which error, never a whole record.
      const request = `${method} ${path.length > 80 ? `${path.slice(0, 80)}...` : path}`;
      this.serverErrors.push({ probe: this.probe, request, status: answer.status, body: text.slice(0, 200) });
    }
    return answer;
  }

  /** A call with `x-api-key` and a JSON body. */
  post(path: string, body: unknown): Promise<Answer> {
    return this.request('POST', path, {
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'x-api-key': this.apiKey, 'content-type': 'application/json' },
    });
  }

  get(path: string): Promise<Answer> {
    return this.request('GET', path, { headers: { 'x-api-key': this.apiKey } });
  }

  /**
   * A signed delivery to the webhook. `signedBytes` signs other bytes than those sent (a forgery);
   * `contentType` is `application/json` unless given.
   */
  webhook(
    body: string | Buffer,
    options: { id?: string; signedBytes?: Buffer; contentType?: string } = {},
  ): Promise<Answer> {
    return this.request('POST', '/webhooks/enrichment-completed', {
      body,
      headers: {
        'content-type': options.contentType ?? 'application/json',
        ...signedWebhookHeaders(options.signedBytes ?? body, this.webhookSecret, { id: options.id }),
      },
    });
  }

  /** Apollo's phone callback, with the service's token, as raw text (to spell request_id as given). */
  phoneCallback(rawBody: string): Promise<Answer> {
    return this.request(
      'POST',
      `/webhooks/apollo/phone-numbers?token=${encodeURIComponent(this.callbackToken)}`,
      {
        body: rawBody,
        headers: { 'content-type': 'application/json' },
      },
    );
  }

  /**
   * Sends `send()` again while the service answers "retry later" (409/503 with Retry-After), as a
   * sender should, waiting what Retry-After says; at most `maxAttempts` times.
   */
  async withRetries(
    send: () => Promise<Answer>,
    maxAttempts = 20,
  ): Promise<{ answer: Answer; attempts: number }> {
    for (let attempt = 1; ; attempt += 1) {
      const answer = await send();
      if (answer.retryAfter === null || ![409, 503].includes(answer.status) || attempt >= maxAttempts) {
        return { answer, attempts: attempt };
      }
      await sleep(Math.min(5, Number(answer.retryAfter) || 1) * 1000);
    }
  }

  async record(id: string): Promise<Record<string, unknown> | null> {
    const answer = await this.get(`/conversions/${encodeURIComponent(id)}`);
    return answer.status === 200 ? (answer.json as Record<string, unknown>) : null;
  }

  /** Reads the record until `done(record)` holds, at most `timeoutMs`; returns the last one read. */
  async recordUntil(
    id: string,
    done: (record: Record<string, unknown>) => boolean,
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown> | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = await this.record(id);
      if ((record !== null && done(record)) || Date.now() > deadline) return record;
      await sleep(300);
    }
  }
}
