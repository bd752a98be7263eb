import { createHash, timingSafeEqual } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { PayloadTooLargeError, UnauthorizedError } from '../errors';
import { logger } from '../logger';
import { errorResponse, type HttpResponse } from './responses';

/** An HTTP API request, as the routes see it: lower-cased headers, the raw body, and a deadline. */
export interface HttpRequest {
  headers: Record<string, string | undefined>;
  pathParameters: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  /** Undecoded bytes of the body, exactly as signed. */
  body: Buffer;
  /** Epoch ms when the Lambda runs out of time. */
  deadline: number;
}

function toRequest(event: APIGatewayProxyEventV2, context: Context): HttpRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const body = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  return {
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
    .use(errorResponses())
    .handler((event, context) => route(toRequest(event, context)));
}

/** A path parameter, URL-decoded whether or not the gateway decoded it already. */
export function pathParameter(request: HttpRequest, name: string): string {
  const value = request.pathParameters[name] ?? '';
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // a stray % that was never an escape
  }
}

/** The body as UTF-8 text, refused with 413 over `maxBytes` before any other work is done on it. */
export function bodyText(request: HttpRequest, maxBytes: number): string {
  if (request.body.byteLength > maxBytes) {
    throw new PayloadTooLargeError(`body is ${request.body.byteLength} bytes; the limit is ${maxBytes}`);
  }
  return request.body.toString('utf8');
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
