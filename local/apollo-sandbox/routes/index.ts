/** Every endpoint the sandbox serves, under `/api/v1` (and the older `/v1`). */
import { CONTACTS_RATE_LIMITS, ENRICHMENT_RATE_LIMITS, WEBHOOK_RESULT_RATE_LIMITS } from '../rate-limits';
import { bulkCreateContacts, bulkUpdateContacts } from './bulk-contacts';
import { createContact, searchContacts, updateContact, viewContact } from './contacts';
import { bulkMatchPeople, matchPerson } from './people';
import type { Route } from './route';
import { showWebhookResult } from './webhook-result';

const CONTACT_ID_PATTERN = /^\/contacts\/([^/]+)$/;
const ROUTES: Route[] = [
  {
    endpoint: 'POST /contacts/search',
    method: 'POST',
    template: '/contacts/search',
    pattern: /^\/contacts\/search$/,
    limits: CONTACTS_RATE_LIMITS,
    handle: searchContacts,
  },
  {
    endpoint: 'POST /contacts/bulk_create',
    method: 'POST',
    template: '/contacts/bulk_create',
    pattern: /^\/contacts\/bulk_create$/,
    limits: CONTACTS_RATE_LIMITS,
    handle: bulkCreateContacts,
  },
  {
    endpoint: 'POST /contacts/bulk_update',
    method: 'POST',
    template: '/contacts/bulk_update',
    pattern: /^\/contacts\/bulk_update$/,
    limits: CONTACTS_RATE_LIMITS,
    handle: bulkUpdateContacts,
  },
  {
    endpoint: 'POST /contacts',
    method: 'POST',
    template: '/contacts',
    pattern: /^\/contacts$/,
    limits: CONTACTS_RATE_LIMITS,
    handle: createContact,
  },
  {
    endpoint: 'GET /contacts/{contact_id}',
    method: 'GET',
    template: '/contacts/{contact_id}',
    pattern: CONTACT_ID_PATTERN,
    limits: CONTACTS_RATE_LIMITS,
    handle: viewContact,
  },
  {
    endpoint: 'PATCH /contacts/{contact_id}',
    method: 'PATCH',
    template: '/contacts/{contact_id}',
    pattern: CONTACT_ID_PATTERN,
    limits: CONTACTS_RATE_LIMITS,
    handle: updateContact,
  },
  // Older clients update with PUT.
  {
    endpoint: 'PUT /contacts/{contact_id}',
    method: 'PUT',
    template: '/contacts/{contact_id}',
    pattern: CONTACT_ID_PATTERN,
    limits: CONTACTS_RATE_LIMITS,
    handle: updateContact,
  },
  {
    endpoint: 'POST /people/match',
    method: 'POST',
    template: '/people/match',
    pattern: /^\/people\/match$/,
    limits: ENRICHMENT_RATE_LIMITS,
    handle: matchPerson,
  },
  {
    endpoint: 'POST /people/bulk_match',
    method: 'POST',
    template: '/people/bulk_match',
    pattern: /^\/people\/bulk_match$/,
    // Apollo: half of people/match's minute limit, the same hour and day limits.
    limits: ENRICHMENT_RATE_LIMITS,
    minuteShareOf: { endpoint: 'POST /people/match', share: 0.5 },
    handle: bulkMatchPeople,
  },
  {
    endpoint: 'GET /webhook_result/{request_id}',
    method: 'GET',
    template: '/webhook_result/{request_id}',
    pattern: /^\/webhook_result\/([^/]+)$/,
    limits: WEBHOOK_RESULT_RATE_LIMITS,
    handle: showWebhookResult,
  },
];

export function routeOf(endpoint: string): Route | undefined {
  return ROUTES.find((route) => route.endpoint === endpoint);
}

export function findRoute(
  method: string,
  path: string,
): { route: Route; pathId: string | undefined } | undefined {
  for (const route of ROUTES) {
    const match = route.method === method ? route.pattern.exec(path) : null;
    if (match) return { route, pathId: match[1] };
  }
  return undefined;
}

/** The path below the API prefix; both `/api/v1` and the older `/v1` are served. */
export function stripApiPrefix(pathname: string): string | undefined {
  const prefix = ['/api/v1/', '/v1/'].find((candidate) => pathname.startsWith(candidate));
  return prefix ? pathname.slice(prefix.length - 1) : undefined;
}
