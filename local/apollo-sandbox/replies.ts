/**
 * What the sandbox answers: replies, the error bodies Apollo sends (each status its own shape;
 * 401 is text/plain), and JSON with 64-bit request ids written as bare integers.
 */
import { STATUS_CODES } from 'node:http';
import type { WindowName } from './rate-limits';
import type { Route } from './routes/route';

export const INVALID_API_KEY_MESSAGE =
  'Invalid API key. See https://docs.apollo.io/reference/authentication for how to authenticate.';
const UPGRADE_URL = 'https://app.apollo.io/#/settings/plans/upgrade';

/** Marks bigint values while serializing, so they can be written as bare JSON integers afterwards. */
const BIGINT_MARKER = '__apollo_sandbox_bigint__';

/** What the sandbox answers: a string body is sent as text/plain, anything else as JSON. */
export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** An Apollo error answer raised while handling a request; the dispatcher sends its reply. */
export class ApolloReplyError extends Error {
  constructor(readonly reply: Reply) {
    super(`Apollo sandbox answers ${reply.status}`);
    this.name = 'ApolloReplyError';
  }
}

export function misconfigured(detail: string): ApolloReplyError {
  return new ApolloReplyError({ status: 422, body: { error: `Parameters misconfigured. ${detail}` } });
}

function endpointName(route: Route): string {
  return `api/v1${route.template}`;
}

export function tooManyRequestsMessage(route: Route, window: WindowName, limit: number): string {
  return `The maximum number of api calls allowed for ${endpointName(route)} is ${limit} times per ${window}. Please upgrade your plan from ${UPGRADE_URL}.`;
}

/** The body Apollo sends with `status` on this endpoint; each error status has its own shape. */
export function apolloErrorBody(status: number, route: Route): unknown {
  switch (status) {
    case 401:
      return INVALID_API_KEY_MESSAGE;
    case 403:
      return {
        error: `This API key is not authorized to access ${endpointName(route)}. Request an API key from your administrator that includes this endpoint in its configured scope.`,
        error_code: 'API_INACCESSIBLE',
      };
    case 422:
      return { error: 'Parameters misconfigured.' };
    case 429:
      return { message: tooManyRequestsMessage(route, 'hour', route.limits.hour) };
    case 500:
      // bulk_create documents its own 500 body.
      return route.endpoint === 'POST /contacts/bulk_create'
        ? { error: 'An error occurred while creating contacts. Please try again.' }
        : { error: STATUS_CODES[status] };
    default:
      return { error: STATUS_CODES[status] ?? 'Error' };
  }
}

/** JSON with bigints written as bare integers, the way Apollo writes request_id. */
export function toJson(body: unknown): string {
  return JSON.stringify(body, (_key, value: unknown) =>
    typeof value === 'bigint' ? `${BIGINT_MARKER}${value}` : value,
  ).replace(new RegExp(`"${BIGINT_MARKER}(-?\\d+)"`, 'g'), '$1');
}
