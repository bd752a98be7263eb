/** Every endpoint the sandbox serves, under `/api/v1` (and the older `/v1`). */
import { CONTACTS_RATE_LIMITS, ENRICHMENT_RATE_LIMITS, WEBHOOK_RESULT_RATE_LIMITS } from '../rate-limits';
import { bulkMatchPeople } from './bulk-match';
import { createContact, searchContacts, updateContact, viewContact } from './contacts';
import { matchPerson } from './people';
import type { Route } from './route';
import { showWebhookResult } from './webhook-result';

const CONTACT_ID_PATTERN = /^\/contacts\/([^/]+)$/;
const ROUTES: Route[] = [
  {
    method: 'POST',
    template: '/contacts/search',
    pattern: /^\/contacts\/search$/,
    limits: CONTACTS_RATE_LIMITS,
    handle: searchContacts,
  },
  {
    method: 'POST',
    template: '/contacts',
    pattern: /^\/contacts$/,
    limits: CONTACTS_RATE_LIMITS,
    handle: createContact,
  },
  {
    method: 'GET',
    template: '/contacts/{contact_id}',
    pattern: CONTACT_ID_PATTERN,
    limits: CONTACTS_RATE_LIMITS,
    handle: viewContact,
  },
  {
    method: 'PATCH',
    template: '/contacts/{contact_id}',
    pattern: CONTACT_ID_PATTERN,
    limits: CONTACTS_RATE_LIMITS,
    handle: updateContact,
  },
  // Older clients update with PUT.
  {
    method: 'PUT',
    template: '/contacts/{contact_id}',
    pattern: CONTACT_ID_PATTERN,
    limits: CONTACTS_RATE_LIMITS,
    handle: updateContact,
  },
  {
    method: 'POST',
    template: '/people/match',
    pattern: /^\/people\/match$/,
    limits: ENRICHMENT_RATE_LIMITS,
    handle: matchPerson,
  },
  // Stand-in until the bulk-apollo work lands (see ./bulk-match): half of people/match's minute limit.
  {
    method: 'POST',
    template: '/people/bulk_match',
    pattern: /^\/people\/bulk_match$/,
    limits: { ...ENRICHMENT_RATE_LIMITS, minute: ENRICHMENT_RATE_LIMITS.minute / 2 },
    handle: bulkMatchPeople,
  },
  {
    method: 'GET',
    template: '/webhook_result/{request_id}',
    pattern: /^\/webhook_result\/([^/]+)$/,
    limits: WEBHOOK_RESULT_RATE_LIMITS,
    handle: showWebhookResult,
  },
];

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
