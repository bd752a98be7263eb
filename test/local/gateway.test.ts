import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLocalGateway, type LocalGateway } from '../../local/gateway';

/**
 * The local stack's gateway in front of serverless-offline, against a stand-in upstream on a Unix
 * socket that answers the way serverless-offline does (its error replies copied from its source,
 * src/events/http/HttpServer.js: a failed invocation becomes 200 with the error as the body).
 */

type Upstream = (path: string) => { status: number; body: unknown; delayMs?: number };

describe('Local gateway: answers like API Gateway, in bounded concurrency', () => {
  let dir: string;
  let upstream: Server;
  let gateway: LocalGateway;
  let answer: Upstream;
  let inFlight = 0;
  let maxInFlight = 0;
  const logged: string[] = [];
  /** What serverless-offline received: content type and body bytes. */
  const forwarded: Array<{ type: string | undefined; body: Buffer }> = [];

  async function start(options: { maxConcurrent?: number; maxQueued?: number } = {}) {
    gateway = await startLocalGateway({
      host: '127.0.0.1',
      port: 0,
      upstreamSocket: join(dir, 'http.sock'),
      maxConcurrent: options.maxConcurrent ?? 4,
      maxQueued: options.maxQueued ?? 100,
      log: (line) => logged.push(line),
    });
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-test-'));
    inFlight = 0;
    maxInFlight = 0;
    logged.length = 0;
    answer = () => ({ status: 200, body: { ok: true } });
    forwarded.length = 0;
    upstream = createServer((request, response) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        forwarded.push({ type: request.headers['content-type'], body: Buffer.concat(chunks) });
        const reply = answer(request.url ?? '/');
        setTimeout(() => {
          inFlight -= 1;
          response.writeHead(reply.status, { 'content-type': 'application/json', 'x-custom': 'kept' });
          response.end(JSON.stringify(reply.body));
        }, reply.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(join(dir, 'http.sock'), resolve));
  });

  afterEach(async () => {
    await gateway?.close();
    await new Promise((resolve) => upstream.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const offlineError = (errorMessage: string, errorType = 'Error') => ({
    errorMessage,
    errorType,
    stackTrace: [`${errorType}: ${errorMessage}`, '    at handler (/var/task/index.js:1:1)'],
  });

  it('passes answers through with their status and headers', async () => {
    await start();
    answer = () => ({ status: 201, body: { results: [] } });

    const response = await fetch(`${gateway.url}/contacts`, { method: 'POST', body: '{}' });

    expect(response.status).toBe(201);
    expect(response.headers.get('x-custom')).toBe('kept');
    expect(await response.json()).toEqual({ results: [] });
  });

  it('forwards text bodies as they are and any other body as bytes (octet-stream), as API Gateway passes them to a Lambda', async () => {
    await start();
    // Not UTF-8: serverless-offline would replace 0xFF with U+FFFD unless it base64-encodes the body.
    const bytes = Buffer.from([0x7b, 0xff, 0x7d]);
    const types = [
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/xml',
      undefined,
      'application/x-www-form-urlencoded',
      'application/vnd.api+json',
      'application/octet-stream',
    ];

    for (const type of types) {
      await fetch(`${gateway.url}/webhooks/enrichment-completed`, {
        method: 'POST',
        headers: type === undefined ? {} : { 'content-type': type },
        body: bytes,
      });
    }

    expect(forwarded.map(({ type }) => type)).toEqual([
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/xml',
      'application/octet-stream',
      'application/octet-stream',
      'application/octet-stream',
      'application/octet-stream',
    ]);
    for (const { body } of forwarded) expect(body).toEqual(bytes);
  });

  it("turns a handler's unhandled error (200 with a stack trace) into API Gateway's 500", async () => {
    await start();
    answer = () => ({ status: 200, body: offlineError('boom: mark.twain@example.com', 'TypeError') });

    const response = await fetch(`${gateway.url}/contacts`, { method: 'POST', body: '{}' });
    const text = await response.text();

    expect(response.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ message: 'Internal Server Error' });
    expect(text).not.toContain('stackTrace');
    expect(logged.join('\n')).toContain('TypeError');
  });

  it("turns a handler's timeout into API Gateway's 503", async () => {
    await start();
    answer = () => ({ status: 200, body: offlineError('[504] - Lambda timeout.', 'LambdaTimeoutError') });

    const response = await fetch(`${gateway.url}/webhooks/enrichment-completed`, {
      method: 'POST',
      body: '{}',
    });

    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ message: 'Service Unavailable' });
  });

  it("turns serverless-offline's own 502 error replies into 500, without the stack trace", async () => {
    await start();
    answer = () => ({ status: 502, body: { ...offlineError('bad response'), offlineInfo: 'x' } });

    const response = await fetch(`${gateway.url}/contacts`, { method: 'POST', body: '{}' });

    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ message: 'Internal Server Error' });
  });

  it('lets at most maxConcurrent requests through at once and queues the others', async () => {
    await start({ maxConcurrent: 2 });
    answer = () => ({ status: 200, body: { ok: true }, delayMs: 50 });

    const statuses = await Promise.all(
      Array.from({ length: 12 }, () => fetch(`${gateway.url}/contacts`).then((r) => r.status)),
    );

    expect(statuses).toEqual(Array.from({ length: 12 }, () => 200));
    expect(maxInFlight).toBe(2);
    expect(gateway.stats().maxInFlight).toBe(2);
  });

  it('answers 429 once the queue is full, as a throttled API would', async () => {
    await start({ maxConcurrent: 1, maxQueued: 2 });
    answer = () => ({ status: 200, body: { ok: true }, delayMs: 200 });

    const statuses = await Promise.all(
      Array.from({ length: 6 }, () => fetch(`${gateway.url}/contacts`).then((r) => r.status)),
    );

    expect(statuses.filter((status) => status === 200)).toHaveLength(3);
    expect(statuses.filter((status) => status === 429)).toHaveLength(3);
  });

  it("does not expose serverless-offline's Lambda Invoke API on the HTTP port", async () => {
    await start();
    const invoked: string[] = [];
    answer = (path) => {
      invoked.push(path);
      return { status: 200, body: {} };
    };

    const response = await fetch(`${gateway.url}/2015-03-31/functions/verifyContact/invocations`, {
      method: 'POST',
      body: '{}',
    });

    expect(response.status).toBe(404);
    expect(invoked).toEqual([]);
  });
});
