import { createHash, timingSafeEqual } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { InvalidRequestError, PayloadTooLargeError, UnauthorizedError } from '../errors';
import { logger } from '../logger';
import { publishingMetrics } from '../metrics';
import { keyPersonRefs } from '../person-refs';
import { errorResponse, type HttpResponse } from './responses';

/** An HTTP API request, as the routes see it: lower-cased headers, the raw body, and a deadline. */
export interface HttpRequest {
  /** Upper case, as the sender sent it (`POST`). */
  method: string;
  /** The path as the sender wrote it, percent escapes and any stage prefix included. */
  rawPath: string;
  /** The query string as the sender wrote it, without `?` (empty when none). */
  rawQueryString: string;
  /** Epoch ms when API Gateway received the request (before any cold start). */
  receivedAtMs: number;
  headers: Record<string, string | undefined>;
  pathParameters: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  /** Undecoded bytes of the body, exactly as signed. */
  body: Buffer;
  /** Epoch ms when the Lambda runs out of time. */
  deadline: number;
}

/** API Gateway answers 503 after this long: a request received longer ago is a stored or replayed event. */
const GATEWAY_TIMEOUT_MS = 30_000;

/** When API Gateway received the request; now, for an event whose time cannot be a live request's. */
function receivedAt(timeEpoch: number | undefined): number {
  const nowMs = Date.now();
  return timeEpoch !== undefined && timeEpoch <= nowMs && nowMs - timeEpoch <= GATEWAY_TIMEOUT_MS
    ? timeEpoch
    : nowMs;
}

function toRequest(event: APIGatewayProxyEventV2, context: Context): HttpRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const body = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  return {
    method: event.requestContext.http.method.toUpperCase(),
    rawPath: event.rawPath,
    rawQueryString: event.rawQueryString,
    receivedAtMs: receivedAt(event.requestContext.timeEpoch),
    headers,
    pathParameters: event.pathParameters ?? {},
    query: event.queryStringParameters ?? {},
    body,
    deadline: Date.now() + context.getRemainingTimeInMillis(),
  };
}

/** Turns any error thrown by a route into the response `errorResponse` chooses. */
const errorResponses = (): MiddlewareObj<APIGatewayProxyEventV2, HttpResponse> => ({
  onError: function errorResponsesOnError(request) {
    request.response = errorResponse(request.error);
  },
});

/**
 * Wraps a route as a Lambda handler for API Gateway's HTTP API (payload 2.0): structured logs with
 * the request id, and every error mapped to a response in one place.
 */
export function httpRoute(route: (request: HttpRequest) => Promise<HttpResponse>) {
  return middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishingMetrics())
    .use(errorResponses())
    .handler(async (event, context) => {
      await keyPersonRefs();
      return route(toRequest(event, context));
    });
}

/**
 * A path parameter as the gateway decoded it. API Gateway's HTTP API (and serverless-offline,
 * through hapi) percent-decode path parameters once; decoding again would read `%2540` (an escaped
 * `%40`) as `@`, so the value is used as it is.
 */
export function pathParameter(request: HttpRequest, name: string): string {
  return request.pathParameters[name] ?? '';
}

/**
 * The body's bytes exactly as received (API Gateway's base64 undone), refused with 413 over
 * `maxBytes` before any other work is done on them. What a signature is checked over.
 */
export function bodyBytes(request: HttpRequest, maxBytes: number): Buffer {
  if (request.body.byteLength > maxBytes) {
    throw new PayloadTooLargeError(`body is ${request.body.byteLength} bytes; the limit is ${maxBytes}`);
  }
  return request.body;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes as UTF-8 text; bytes that are not UTF-8 are refused (JSON is UTF-8), never replaced. */
export function utf8Text(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new InvalidRequestError('body: not valid JSON (not UTF-8)');
  }
}

/** The body as UTF-8 text, refused with 413 over `maxBytes` before any other work is done on it. */
export function bodyText(request: HttpRequest, maxBytes: number): string {
  return utf8Text(bodyBytes(request, maxBytes));
}

/** Constant-time comparison (both sides hashed first, so their lengths cannot leak either). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return given !== '' && timingSafeEqual(digest(given), digest(expected));
}

/** Checks the `x-api-key` header. */
export function requireApiKey(request: HttpRequest, expected: string): void {
  if (!sameSecret(request.headers['x-api-key'] ?? '', expected)) {
    throw new UnauthorizedError('x-api-key missing or wrong');
  }
}

/** Checks the `token` query parameter: Apollo signs nothing, so its callback URL carries a secret. */
export function requireQueryToken(request: HttpRequest, expected: string): void {
  if (!sameSecret(request.query.token ?? '', expected)) {
    throw new UnauthorizedError('callback token missing or wrong');
  }
}
