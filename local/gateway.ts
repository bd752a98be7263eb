import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small HTTP front for serverless-offline, so the local stack answers like API Gateway's HTTP
 * API where serverless-offline does not:
 *
 * - A handler that throws or times out: serverless-offline answers 200 with the error and its
 *   stack trace as the body (payload 2.0 wraps any result without `statusCode`). API Gateway
 *   answers 500 `{"message":"Internal Server Error"}`, or 503 `{"message":"Service Unavailable"}`
 *   when the integration times out; a sender then retries. The gateway answers the same, and
 *   writes the error's type and first line to the stack's log, never to the caller.
 * - Load: serverless-offline starts a handler instance for every request in flight, without a
 *   limit. The gateway lets `maxConcurrent` requests through at a time and queues the rest (as a
 *   Lambda reserved concurrency would throttle), answering 429 `{"message":"Too Many Requests"}`
 *   once `maxQueued` are waiting.
 * - Exposure: serverless-offline listens on a Unix socket in a private directory (`upstreamSocket`),
 *   not on a TCP port; only the gateway, bound to `host`, is reachable.
 * - Bodies: API Gateway's HTTP API hands a Lambda the body as UTF-8 text only for text content
 *   types (`text/*`, `application/json`, `application/xml`, `application/javascript`) and
 *   base64-encodes every other body (`isBase64Encoded`), one without a content type included.
 *   serverless-offline base64-encodes only `application/octet-stream` and `multipart/form-data`
 *   and decodes the rest as UTF-8, replacing bytes that are not UTF-8: so the gateway forwards a
 *   body of any other content type as `application/octet-stream`, and the handler gets its bytes.
 */
export interface LocalGatewayOptions {
  host: string;
  port: number;
  /** serverless-offline's HTTP server (a Unix socket path). */
  upstreamSocket: string;
  maxConcurrent: number;
  maxQueued: number;
  log: (line: string) => void;
}

export interface LocalGateway {
  url: string;
  /** Requests being served and waiting, now and at most so far. */
  stats(): { inFlight: number; queued: number; maxInFlight: number };
  close(): Promise<void>;
}

/** A counting semaphore: `acquire` resolves when a slot is free, in arrival order. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  maxActive = 0;

  constructor(
    readonly limit: number,
    readonly maxWaiting = Number.POSITIVE_INFINITY,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function; rejects at once when the queue is full. */
  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) throw new Error('queue full');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    this.maxActive = Math.max(this.maxActive, this.active);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    };
  }

  /** Runs `task` in a slot. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }
}

interface UpstreamReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The error serverless-offline made of a failed invocation, if this reply is one. */
export function offlineLambdaError(reply: {
  status: number;
  body: Buffer;
}): { type: string; message: string; timeout: boolean } | undefined {
  if (reply.body.byteLength === 0 || reply.body.byteLength > 1_000_000) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply.body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { errorType, errorMessage, stackTrace } = parsed as Record<string, unknown>;
  if (typeof errorType !== 'string' || !Array.isArray(stackTrace)) return undefined;
  const message = typeof errorMessage === 'string' ? errorMessage : '';
  return {
    type: errorType,
    message,
    timeout: errorType === 'LambdaTimeoutError' || /\[504\]|timeout/i.test(message),
  };
}

function forward(
  socketPath: string,
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
): Promise<UpstreamReply> {
  return new Promise((resolve, reject) => {
    const upstream = httpRequest(
      { socketPath, method, path, headers: { ...headers, 'content-length': String(body.byteLength) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 502,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', reject);
      },
    );
    upstream.on('error', reject);
    upstream.end(body);
  });
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

/** Content types whose bodies API Gateway's HTTP API passes to a Lambda as text, not base64. */
const TEXT_CONTENT_TYPE = /^\s*(?:text\/[^;\s]+|application\/(?:json|xml|javascript))\s*(?:;|$)/i;

/**
 * The headers to forward so that serverless-offline passes the body as API Gateway would: as text
 * for a text content type, base64-encoded (it does that for `application/octet-stream`) otherwise.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders, body: Buffer): IncomingHttpHeaders {
  const type = headers['content-type'];
  if (body.byteLength === 0 || (type !== undefined && TEXT_CONTENT_TYPE.test(type))) return headers;
  return { ...headers, 'content-type': 'application/octet-stream' };
}

export async function startLocalGateway(options: LocalGatewayOptions): Promise<LocalGateway> {
  const limiter = new Limiter(options.maxConcurrent, options.maxQueued);
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(body));
      };
      // serverless-offline also serves its Lambda Invoke API on the HTTP port: API Gateway has
      // no such route, and it would invoke any function, unauthenticated.
      if (/^\/2015-03-31\//.test(request.url ?? '')) {
        answer(404, { message: 'Not Found' });
        return;
      }
      const body = Buffer.concat(chunks);
      void limiter
        .acquire()
        .then(async (release) => {
          try {
            const reply = await forward(
              options.upstreamSocket,
              request.method ?? 'GET',
              request.url ?? '/',
              upstreamHeaders(request.headers, body),
              body,
            );
            const failure = offlineLambdaError(reply);
            if (failure) {
              options.log(
                `[gateway] ${request.method} ${request.url?.split('?')[0]}: the handler failed ` +
                  `(${failure.type}: ${failure.message.split('\n')[0]?.slice(0, 200)}); answered ` +
                  `${failure.timeout ? 503 : 500} as API Gateway would`,
              );
              if (failure.timeout) answer(503, { message: 'Service Unavailable' });
              else answer(500, { message: 'Internal Server Error' });
              return;
            }
            const headers: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(reply.headers)) {
              if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
            }
            response.writeHead(reply.status, headers);
            response.end(reply.body);
          } finally {
            release();
          }
        })
        .catch((error: unknown) => {
          if (response.headersSent) return;
          if (error instanceof Error && error.message === 'queue full') {
            answer(429, { message: 'Too Many Requests' });
          } else {
            options.log(`[gateway] serverless-offline did not answer: ${String(error)}`);
            answer(503, { message: 'Service Unavailable' });
          }
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${address.port}`,
    stats: () => ({ inFlight: limiter.inFlight, queued: limiter.queued, maxInFlight: limiter.maxActive }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
