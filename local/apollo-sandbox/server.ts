/**
 * The sandbox's HTTP server: authentication, routing, Apollo's rate limits, scripted faults
 * (`inject`), then the route's handler; and the handle tests and `npm start` drive it through.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PREFIX, answerAdmin } from './admin';
import { checkCallbackBehaviour } from './callbacks';
import { parseRequestId } from './ids';
import { mergeQueryAndBody, type Params } from './params';
import { rateLimitHeaders, WINDOW_MS, type RateLimits } from './rate-limits';
import {
  ApolloReplyError,
  apolloErrorBody,
  INVALID_API_KEY_MESSAGE,
  misconfigured,
  toJson,
  tooManyRequestsMessage,
  type Reply,
} from './replies';
import { findRoute, routeOf, stripApiPrefix } from './routes';
import type { Route, SandboxBehaviour } from './routes/route';
import { pathMatches, SandboxState } from './state';
import type { ApolloSandbox, ApolloSandboxOptions, FaultRule, SandboxRequest } from './types';

const DEFAULT_API_KEY = 'sandbox-apollo-key';
const DEFAULT_BULK_UPDATE_JOB_DELAY_MS = 1_000;

function faultReply(rule: FaultRule, route: Route): Reply {
  const status = rule.status ?? 500;
  return {
    status,
    body: rule.body !== undefined ? rule.body : apolloErrorBody(status, route),
    headers: rule.retryAfterSeconds !== undefined ? { 'retry-after': String(rule.retryAfterSeconds) } : {},
  };
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
 * // The 4th bulk_create and the next two answer 429 (a burst hitting the limit midway).
 * apollo.inject({ path: '/contacts/bulk_create', status: 429, retryAfterSeconds: 20, skip: 3, times: 3 });
 */
export async function startApolloSandbox(options: ApolloSandboxOptions = {}): Promise<ApolloSandbox> {
  const apiKey = options.apiKey ?? DEFAULT_API_KEY;
  const host = options.host ?? '127.0.0.1';
  const latencyMs = options.latencyMs ?? 0;
  const closing = new AbortController();
  let state = new SandboxState();
  const behaviour: SandboxBehaviour = {
    bulkCreatePhoneFields: options.bulkCreatePhoneFields ?? 'ignored',
    bulkUpdateJobDelayMs: options.bulkUpdateJobDelayMs ?? DEFAULT_BULK_UPDATE_JOB_DELAY_MS,
  };

  /**
   * An endpoint's windows: its own `rateLimits` entry, else `rateLimitPerMinute`, else Apollo's
   * defaults; a minute limit that is a share of another endpoint's follows that one. The hour and
   * day windows are never smaller than the minute's unless set explicitly.
   */
  function limitsFor(route: Route): RateLimits {
    const configured = options.rateLimits?.[route.endpoint] ?? {};
    const shareOf = route.minuteShareOf && routeOf(route.minuteShareOf.endpoint);
    const minute =
      configured.minute ??
      (shareOf && route.minuteShareOf
        ? Math.max(1, Math.floor(limitsFor(shareOf).minute * route.minuteShareOf.share))
        : (options.rateLimitPerMinute ?? route.limits.minute));
    const hour = configured.hour ?? Math.max(route.limits.hour, minute);
    return { minute, hour, day: configured.day ?? Math.max(route.limits.day, hour) };
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
    record: SandboxRequest,
  ): Promise<Reply | typeof CONNECTION_RESET> {
    if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: closing.signal });
    if (req.headers['x-api-key'] !== apiKey) return { status: 401, body: INVALID_API_KEY_MESSAGE };

    const method = req.method ?? 'GET';
    const found = path === undefined ? undefined : findRoute(method, path);
    if (path === undefined || !found) return { status: 404, body: { error: 'Not Found' } };
    const { route, pathId } = found;

    const limits = limitsFor(route);
    const { usage, exhausted } = state.consumeRateLimit(route.endpoint, limits, Date.now());
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
    const action = fault ? (fault.action ?? 'respond') : undefined;
    if (fault && action === 'respond') return faultReply(fault, route);
    if (action === 'reset') return CONNECTION_RESET;

    let reply: Reply;
    try {
      const params = routeParams(body, url.searchParams);
      // The handler runs in one go, so the credits it adds are this request's own.
      const creditsBefore = state.creditsConsumed;
      reply = route.handle(state, {
        params,
        pathId,
        now: new Date().toISOString(),
        behaviour,
        applyFirst: fault?.applyFirst,
      });
      record.creditsConsumed = state.creditsConsumed - creditsBefore;
    } catch (error) {
      if (!(error instanceof ApolloReplyError)) throw error;
      reply = error.reply;
    }
    if (fault && action === 'create-then-fail') return faultReply(fault, route);
    if (action === 'create-then-reset') return CONNECTION_RESET;
    if (fault && action === 'rewrite') {
      reply = {
        ...reply,
        status: fault.status ?? reply.status,
        body: fault.rewrite ? fault.rewrite(structuredClone(reply.body)) : reply.body,
      };
    }
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
      if (url.pathname.startsWith(ADMIN_PREFIX)) {
        const reply =
          req.headers['x-api-key'] !== apiKey
            ? { status: 401, body: INVALID_API_KEY_MESSAGE }
            : body.valid
              ? answerAdmin(state, method, url.pathname, body.value)
              : { status: 422, body: { error: 'The request body is not valid JSON.' } };
        send(res, reply);
        options.log?.(`${method} ${url.pathname} ${reply.status} ${Date.now() - receivedAt}ms`);
        return;
      }
      const record: SandboxRequest = {
        method,
        path: path ?? url.pathname,
        query: Object.fromEntries(url.searchParams),
        body: body.valid ? body.value : body.raw,
        status: 0,
        at: receivedAt,
        creditsConsumed: 0,
      };
      state.requests.push(record);
      const reply = await answer(req, url, path, body, record);
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
      state.phoneCallbacks.behaviour = checkCallbackBehaviour(behaviour);
    },
    callbacks: () => structuredClone(state.phoneCallbacks.delivered),
    expireRequest: (requestId) => {
      const issued = state.issuedRequests.get(parseRequestId(requestId) ?? '');
      if (!issued) throw new Error(`The Apollo sandbox never issued request_id ${String(requestId)}`);
      issued.expired = true;
    },
    inject: (rule) => {
      state.faults.push({ rule: { ...rule }, remaining: rule.times ?? 1, skipped: 0 });
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
