/**
 * Contract tests: the Apollo client against Apollo's own OpenAPI document (`shared/apollo-openapi.json`).
 *
 * What the client sends must validate against the document's request schemas, and the client must
 * read every reply the document shows (200 and each error) the way the use cases expect. No network:
 * the client gets a recording fake `fetch` that answers with the document's own examples.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApolloHttpClient } from '../lib/apollo/http-client';
import { parseRateLimitHeaders, type ApolloEndpoint, type RateLimitWindow } from '../lib/apollo/rate-limits';
import { toPerson } from '../lib/person';
import {
  ENDPOINTS,
  documentedErrorText,
  documentedReplies,
  documentedReply,
  requestValidators,
  type Endpoint,
} from './support/apollo-openapi';
import { MARK_TWAIN } from './support/people';
import {
  API_KEY,
  BASE_URL,
  blankFields,
  callOptions,
  clientWith,
  expectError,
  okReplyFor,
  recordingFetch,
  rejected,
  reply,
  resolved,
  type FakeReply,
} from './support/recording-fetch';

// ---------------------------------------------------------------------------------------------
// People
// ---------------------------------------------------------------------------------------------

const SEED_EMAIL = MARK_TWAIN.email;
const seed = toPerson(MARK_TWAIN, 'body', { defaultPhoneCountry: 'US' });
// Blank and null inputs on purpose: none of them may reach Apollo.
const nameAndCompanyOnly = toPerson(
  {
    first_name: 'Mark',
    last_name: 'Twain',
    organization_name: 'Great American Writers Co.',
    email: '',
    title: null,
    direct_phone: '  ',
  },
  'body',
  { defaultPhoneCountry: 'US' },
);
const nameAndWebsiteOnly = toPerson(
  { first_name: 'Mark', last_name: 'Twain', website_url: 'https://www.greatamericanwriters.example' },
  'body',
  { defaultPhoneCountry: 'US' },
);

/** Apollo documents `...-daily` for the day window; live accounts send `...-24-hour`. */
const DAY_HEADER_SPELLINGS: Array<{ spelling: string; headers: Record<string, string> }> = [
  {
    spelling: 'documented daily',
    headers: { 'x-rate-limit-daily': '2000', 'x-daily-usage': '12', 'x-daily-requests-left': '1988' },
  },
  {
    spelling: 'live 24-hour',
    headers: { 'x-rate-limit-24-hour': '2000', 'x-24-hour-usage': '12', 'x-24-hour-requests-left': '1988' },
  },
];

const CREATE_FORBIDDEN = /^(reveal_|run_waterfall_)/;
const MATCH_FORBIDDEN = [
  'reveal_personal_emails',
  'reveal_phone_number',
  'run_waterfall_email',
  'run_waterfall_phone',
  'webhook_url',
];

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('Apollo client: contract', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('requests', () => {
    interface RequestScenario {
      name: string;
      endpoint: Endpoint;
      act: (client: ApolloHttpClient) => Promise<unknown>;
      /** The exact body expected, when the scenario pins it. */
      expectedBody?: Record<string, unknown>;
    }
    const scenarios: RequestScenario[] = [
      {
        name: 'creating the seed person',
        endpoint: '/contacts',
        act: (client) => client.createContact(seed.fields, callOptions()),
        expectedBody: { ...seed.fields },
      },
      {
        name: 'creating the seed person with runDedupe',
        endpoint: '/contacts',
        act: (client) => client.createContact(seed.fields, { ...callOptions(), runDedupe: true }),
        expectedBody: { ...seed.fields, run_dedupe: true },
      },
      {
        name: 'creating a person a CRM door delivered, with its record ids',
        endpoint: '/contacts',
        act: (client) =>
          client.createContact(
            { ...seed.fields, hubspot_id: '1501', salesforce_contact_id: '003A0000006Vm9rIAC' },
            callOptions(),
          ),
        // The single create names the HubSpot id `hubspot_vid` (docs/crm/SOURCE.md).
        expectedBody: { ...seed.fields, hubspot_vid: '1501', salesforce_contact_id: '003A0000006Vm9rIAC' },
      },
      {
        name: 'creating a person with only a name and a company',
        endpoint: '/contacts',
        act: (client) => client.createContact(nameAndCompanyOnly.fields, callOptions()),
        expectedBody: {
          first_name: 'Mark',
          last_name: 'Twain',
          organization_name: 'Great American Writers Co.',
        },
      },
      {
        name: 'searching contacts by email',
        endpoint: '/contacts/search',
        act: (client) => client.findContactsByEmail(SEED_EMAIL, callOptions()),
      },
      {
        name: 'searching contacts by name (a person without email)',
        endpoint: '/contacts/search',
        act: (client) =>
          client.findContactsByName(
            { first_name: 'Mark', last_name: 'Twain', identities: nameAndCompanyOnly.identities },
            callOptions(),
          ),
        expectedBody: { q_keywords: 'Mark Twain', page: 1, per_page: 100 },
      },
      {
        name: 'matching a person by email',
        endpoint: '/people/match',
        act: (client) => client.matchPerson(seed.match, callOptions()),
        expectedBody: { email: SEED_EMAIL },
      },
      {
        name: 'matching a person by name and organization_name',
        endpoint: '/people/match',
        act: (client) => client.matchPerson(nameAndCompanyOnly.match, callOptions()),
        expectedBody: {
          first_name: 'Mark',
          last_name: 'Twain',
          organization_name: 'Great American Writers Co.',
        },
      },
      {
        name: 'matching a person by name and domain',
        endpoint: '/people/match',
        act: (client) => client.matchPerson(nameAndWebsiteOnly.match, callOptions()),
        expectedBody: { first_name: 'Mark', last_name: 'Twain', domain: 'greatamericanwriters.example' },
      },
    ];

    it.each(scenarios.map((scenario) => [scenario.name, scenario] as const))(
      'sends a request that satisfies the document when %s',
      async (_name, scenario) => {
        // Prepare
        const { fetch, calls } = recordingFetch();
        const client = clientWith(fetch);

        // Act
        await resolved(scenario.act(client));

        // Assess
        expect(calls).toHaveLength(1);
        for (const call of calls) {
          expect(call.method).toBe('POST');
          expect(call.url).toBe(`${BASE_URL}${scenario.endpoint}`);
          expect(call.headers.get('x-api-key')).toBe(API_KEY);
          expect(call.headers.get('authorization')).toBeNull();
          expect(call.headers.get('content-type')).toBe('application/json');
          expect(call.headers.get('cache-control')).toBe('no-cache');

          const validate = requestValidators[scenario.endpoint];
          const valid = validate(call.body);
          expect(validate.errors ?? [], `body ${JSON.stringify(call.body)}`).toEqual([]);
          expect(valid).toBe(true);
          expect(blankFields(call.body)).toEqual([]);

          const fields = Object.keys(call.body as object);
          if (scenario.endpoint === '/contacts') {
            expect(fields.filter((field) => CREATE_FORBIDDEN.test(field))).toEqual([]);
          }
          if (scenario.endpoint === '/people/match') {
            expect(fields.filter((field) => MATCH_FORBIDDEN.includes(field))).toEqual([]);
          }
          if (scenario.expectedBody !== undefined) expect(call.body).toEqual(scenario.expectedBody);
        }
      },
    );

    it('searches for the exact email, one page of at most 100, when it looks a contact up', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch();

      // Act
      await resolved(clientWith(fetch).findContactsByEmail(SEED_EMAIL, callOptions()));

      // Assess
      const body = calls[0]?.body as { q_keywords?: unknown; page?: unknown; per_page?: unknown };
      expect(body.q_keywords).toBe(SEED_EMAIL);
      expect(body.page).toBe(1);
      expect(body.per_page).toBeGreaterThanOrEqual(1);
      expect(body.per_page).toBeLessThanOrEqual(100); // Apollo's documented maximum.
    });

    it('strips blank fields from a create when the caller passes them anyway', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch();
      const fields = {
        first_name: 'Mark',
        last_name: 'Twain',
        organization_name: 'Great American Writers Co.',
        title: '',
      };

      // Act
      await resolved(clientWith(fetch).createContact(fields, callOptions()));

      // Assess
      expect(calls[0]?.body).toEqual({
        first_name: 'Mark',
        last_name: 'Twain',
        organization_name: 'Great American Writers Co.',
      });
    });

    it.each([
      {
        endpoint: '/contacts' as const,
        body: { first_name: 'Mark', linkedin_url: 'https://linkedin.com/in/x' },
      },
      { endpoint: '/contacts' as const, body: { first_name: 'Mark', run_dedupe: 'yes' } },
      { endpoint: '/contacts/search' as const, body: { q_keywords: SEED_EMAIL, per_page: 'all' } },
      { endpoint: '/people/match' as const, body: { email: SEED_EMAIL, contact_id: 'x' } },
    ])('rejects a body with an unknown or mistyped field when $endpoint gets $body', ({ endpoint, body }) => {
      // Prepare
      const validate = requestValidators[endpoint];

      // Act
      const valid = validate(body);

      // Assess: the test copy of the schema can fail, so the passing requests above mean something.
      expect(valid).toBe(false);
    });
  });

  describe('documented replies', () => {
    it.each(documentedReplies('/contacts').filter((r) => r.status === 200))(
      'returns the contact when POST /contacts answers the documented 200 "$example"',
      async (documented) => {
        // Prepare
        const { fetch } = recordingFetch(reply(documented));
        const expected = (documented.json as { contact: { id: string; phone_numbers: unknown[] } }).contact;

        // Act
        const contact = await resolved(clientWith(fetch).createContact(seed.fields, callOptions()));

        // Assess
        expect(contact.id).toBe(expected.id);
        expect(contact.phone_numbers).toEqual(expected.phone_numbers);
      },
    );

    it('returns the contact whose email matches exactly when search answers the documented 200', async () => {
      // Prepare
      const documented = documentedReply('/contacts/search', 200);
      const [example] = (documented.json as { contacts: Array<{ id: string; email: string }> }).contacts;
      if (example === undefined) return expect.unreachable('the documented search reply has no contact');
      const { fetch, calls } = recordingFetch(reply(documented));

      // Act: the same address in another case and with spaces is the same email.
      const found = await resolved(
        clientWith(fetch).findContactsByEmail(` ${example.email.toUpperCase()} `, callOptions()),
      );

      // Assess
      expect(found.map((contact) => contact.id)).toEqual([example.id]);
      expect(calls).toHaveLength(1);
    });

    it('filters out fuzzy results when search answers with contacts whose email is not the one searched', async () => {
      // Prepare: the documented reply plus a near miss, as Apollo's fuzzy keyword search returns them.
      const documented = documentedReply('/contacts/search', 200);
      const body = documented.json as { contacts: Array<{ id: string; email: string }> };
      const [example] = body.contacts;
      if (example === undefined) return expect.unreachable('the documented search reply has no contact');
      const nearMiss = { ...example, id: 'fuzzy-near-miss', email: `w${example.email}` };
      const withNearMiss = { ...body, contacts: [nearMiss, ...body.contacts] };
      const { fetch } = recordingFetch({ ...reply(documented), body: JSON.stringify(withNearMiss) });

      // Act
      const found = await resolved(clientWith(fetch).findContactsByEmail(example.email, callOptions()));

      // Assess
      expect(found.map((contact) => contact.id)).toEqual([example.id]);
    });

    it('keeps the contacts whose name and company fold to the person searched by name, and no fuzzy near miss', async () => {
      // Prepare: the documented reply's first contact, as this person and as three near misses.
      const documented = documentedReply('/contacts/search', 200);
      const body = documented.json as { contacts: Array<Record<string, unknown>> };
      const [example] = body.contacts;
      if (example === undefined) return expect.unreachable('the documented search reply has no contact');
      const as = (id: string, fields: Record<string, unknown>) => ({
        ...example,
        id,
        email: null,
        ...fields,
      });
      const contacts = [
        as('same', {
          first_name: 'MARK',
          last_name: 'twain',
          organization_name: 'Great American Writers, Inc.',
        }),
        as('by-website', {
          first_name: 'Mark',
          last_name: 'Twain',
          organization_name: null,
          website_url: 'https://www.greatamericanwriters.example',
        }),
        as('other-company', { first_name: 'Mark', last_name: 'Twain', organization_name: 'Other Writers' }),
        as('other-name', {
          first_name: 'Marko',
          last_name: 'Twain',
          organization_name: 'Great American Writers Co.',
        }),
      ];
      const { fetch } = recordingFetch({ ...reply(documented), body: JSON.stringify({ ...body, contacts }) });
      const searched = toPerson(
        {
          first_name: 'Mark',
          last_name: 'Twain',
          organization_name: 'Great American Writers Co.',
          website_url: 'greatamericanwriters.example',
        },
        'body',
        { defaultPhoneCountry: 'US' },
      );

      // Act
      const found = await resolved(
        clientWith(fetch).findContactsByName(
          { first_name: 'Mark', last_name: 'Twain', identities: searched.identities },
          callOptions(),
        ),
      );

      // Assess
      expect(found.map((contact) => contact.id)).toEqual(['same', 'by-website']);
    });

    it('returns no contact when search answers the documented 200 for another email', async () => {
      // Prepare
      const { fetch } = recordingFetch(reply(documentedReply('/contacts/search', 200)));

      // Act
      const found = await resolved(clientWith(fetch).findContactsByEmail(SEED_EMAIL, callOptions()));

      // Assess
      expect(found).toEqual([]);
    });

    it('returns the person and their contact when people/match answers the documented 200', async () => {
      // Prepare
      const documented = documentedReply('/people/match', 200);
      const expected = (
        documented.json as {
          person: {
            id: string;
            email: string;
            contact_id: string;
            contact: { id: string; person_id: string; phone_numbers: Array<{ sanitized_number: string }> };
          };
        }
      ).person;
      const { fetch } = recordingFetch(reply(documented));

      // Act
      const person = await resolved(clientWith(fetch).matchPerson({ email: expected.email }, callOptions()));

      // Assess
      expect(person?.id).toBe(expected.id);
      expect(person?.email).toBe(expected.email);
      expect(person?.contact_id).toBe(expected.contact_id);
      expect(person?.contact?.id).toBe(expected.contact.id);
      expect(person?.contact?.person_id).toBe(expected.id);
      expect(person?.contact?.phone_numbers?.map((phone) => phone.sanitized_number)).toEqual(
        expected.contact.phone_numbers.map((phone) => phone.sanitized_number),
      );
    });

    it('returns null when people/match answers 200 with person null', async () => {
      // Prepare
      const { fetch } = recordingFetch({
        status: 200,
        body: '{"person":null}',
        contentType: 'application/json',
      });

      // Act
      const person = await resolved(clientWith(fetch).matchPerson({ email: SEED_EMAIL }, callOptions()));

      // Assess
      expect(person).toBeNull();
    });

    const actOn: Record<Endpoint, (client: ApolloHttpClient) => Promise<unknown>> = {
      '/contacts': (client) => client.createContact(seed.fields, callOptions()),
      '/contacts/search': (client) => client.findContactsByEmail(SEED_EMAIL, callOptions()),
      '/people/match': (client) => client.matchPerson(seed.match, callOptions()),
    };
    const documentedErrors = (status: number) =>
      ENDPOINTS.flatMap((endpoint) => documentedReplies(endpoint)).filter((r) => r.status === status);

    it('finds the error examples these tests rely on in the document', () => {
      // Assess: if the document loses its examples, the it.each tables below would silently shrink.
      expect(documentedErrors(401).map((r) => r.endpoint)).toEqual([...ENDPOINTS]);
      expect(documentedErrors(429).map((r) => r.endpoint)).toEqual([...ENDPOINTS]);
      expect(documentedErrors(422).length).toBeGreaterThan(0);
      expect(documentedErrors(403).length).toBeGreaterThan(0);
    });

    it.each(documentedErrors(401))(
      'throws ApolloAuthError when $endpoint answers the documented 401 ($contentType)',
      async (documented) => {
        // Prepare
        const { fetch, calls } = recordingFetch(reply(documented));

        // Act
        const error = await rejected(actOn[documented.endpoint as Endpoint](clientWith(fetch)));

        // Assess
        expectError(error, 'ApolloAuthError');
        expect(calls).toHaveLength(1);
      },
    );

    // The `{error, error_code: API_INACCESSIBLE}` shape is documented for GET /contacts/{id} (and the
    // usage stats); apollo-api.md: every endpoint answers it when the key lacks that endpoint's scope.
    const scopeForbidden = documentedReply('/contacts/{contact_id}', 403, undefined, 'get');
    const forbiddenCases = [
      ...ENDPOINTS.map((endpoint) => ({
        ...scopeForbidden,
        endpoint,
        example: `${scopeForbidden.example} (from GET /contacts/{contact_id})`,
      })),
      ...documentedErrors(403),
    ];

    it.each(forbiddenCases)(
      'throws ApolloForbiddenError when $endpoint answers the documented 403 "$example"',
      async (documented) => {
        // Prepare
        const { fetch, calls } = recordingFetch(reply(documented));
        const text = documentedErrorText(documented);
        const code = (documented.json as { error_code?: string }).error_code;

        // Act
        const error = await rejected(actOn[documented.endpoint as Endpoint](clientWith(fetch)));

        // Assess
        const forbidden = expectError(error, 'ApolloForbiddenError');
        expect(text).toBeDefined();
        expect(forbidden.message).toContain(text);
        if (code !== undefined) expect(forbidden.message).toContain(code);
        expect(calls).toHaveLength(1);
      },
    );

    it.each(documentedErrors(422))(
      'throws ApolloRejectedError with the documented text when $endpoint answers the 422 "$example"',
      async (documented) => {
        // Prepare
        const { fetch, calls } = recordingFetch(reply(documented));
        const text = documentedErrorText(documented);

        // Act
        const error = await rejected(actOn[documented.endpoint as Endpoint](clientWith(fetch)));

        // Assess
        const rejection = expectError(error, 'ApolloRejectedError');
        expect(text).toBeDefined();
        expect(rejection.message).toContain(text);
        expect(calls).toHaveLength(1);
      },
    );

    it.each(documentedErrors(429))(
      'throws ApolloRateLimitError with retry-after when $endpoint answers the documented 429 and may not wait',
      async (documented) => {
        // Prepare
        const { fetch, calls } = recordingFetch(reply(documented, { 'retry-after': '37' }));
        const text = documentedErrorText(documented);

        // Act
        const error = await rejected(
          actOn[documented.endpoint as Endpoint](clientWith(fetch, { maxRetryWaitSeconds: 0 })),
        );

        // Assess
        const rateLimit = expectError(error, 'ApolloRateLimitError');
        expect(rateLimit.retryAfterSeconds).toBe(37);
        expect(text).toBeDefined();
        expect(rateLimit.message).toContain(text);
        expect(calls).toHaveLength(1);
      },
    );

    // No 5xx is documented for these endpoints; bulk_create documents a 500 body, and gateways answer
    // 502/503 with HTML.
    const serverError = documentedReply('/contacts/bulk_create', 500);
    const serverErrorCases = ENDPOINTS.flatMap((endpoint) => [
      { endpoint, status: 500, body: serverError.body, contentType: serverError.contentType },
      { endpoint, status: 502, body: '<html><body>502 Bad Gateway</body></html>', contentType: 'text/html' },
      {
        endpoint,
        status: 503,
        body: '<html><body>503 Service Unavailable</body></html>',
        contentType: 'text/html',
      },
    ]);

    it.each(serverErrorCases)(
      'throws ApolloUnavailableError with an unknown outcome when $endpoint answers $status',
      async ({ endpoint, status, body, contentType }) => {
        // Prepare
        const { fetch } = recordingFetch({ status, body, contentType });

        // Act
        const error = await rejected(actOn[endpoint](clientWith(fetch)));

        // Assess
        expect(expectError(error, 'ApolloUnavailableError').outcomeUnknown).toBe(true);
      },
    );

    const connectionError = (code: string) =>
      new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code}`), { code }) });

    it('throws ApolloUnavailableError with a known outcome when the connection is refused', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch({ fetchError: connectionError('ECONNREFUSED') });

      // Act
      const error = await rejected(clientWith(fetch).createContact(seed.fields, callOptions()));

      // Assess: the request never reached Apollo, so even a create may be tried again.
      expect(expectError(error, 'ApolloUnavailableError').outcomeUnknown).toBe(false);
      expect(calls.length).toBeGreaterThan(1);
    });

    it('throws ApolloUnavailableError with an unknown outcome when the connection is reset', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch({ fetchError: connectionError('ECONNRESET') });

      // Act
      const error = await rejected(clientWith(fetch).createContact(seed.fields, callOptions()));

      // Assess: Apollo may have created the contact, so the create is not repeated.
      expect(expectError(error, 'ApolloUnavailableError').outcomeUnknown).toBe(true);
      expect(calls).toHaveLength(1);
    });
  });

  describe('behaviour', () => {
    const rateLimited = documentedReply('/contacts', 429);

    it.each(['0', '1'])(
      'waits out a 429 in place and succeeds when retry-after is %s and maxRetryWaitSeconds is 2',
      async (retryAfter) => {
        // Prepare
        const created = documentedReply('/contacts', 200);
        const { fetch, calls } = recordingFetch(
          reply(rateLimited, { 'retry-after': retryAfter }),
          reply(created),
        );

        // Act
        const contact = await resolved(
          clientWith(fetch, { maxRetryWaitSeconds: 2 }).createContact(seed.fields, callOptions()),
        );

        // Assess
        expect(contact.id).toBe((created.json as { contact: { id: string } }).contact.id);
        expect(calls).toHaveLength(2);
      },
    );

    it('does not wait when retry-after is longer than maxRetryWaitSeconds', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch(
        reply(rateLimited, { 'retry-after': '3' }),
        okReplyFor(`${BASE_URL}/contacts`),
      );

      // Act
      const error = await rejected(
        clientWith(fetch, { maxRetryWaitSeconds: 2 }).createContact(seed.fields, callOptions()),
      );

      // Assess
      expect(expectError(error, 'ApolloRateLimitError').retryAfterSeconds).toBe(3);
      expect(calls).toHaveLength(1);
    });

    it('retries a search when Apollo answers 503', async () => {
      // Prepare
      const documented = documentedReply('/contacts/search', 200);
      const [example] = (documented.json as { contacts: Array<{ id: string; email: string }> }).contacts;
      if (example === undefined) return expect.unreachable('the documented search reply has no contact');
      const { fetch, calls } = recordingFetch(
        { status: 503, body: 'Service Unavailable', contentType: 'text/plain' },
        reply(documented),
      );

      // Act
      const found = await resolved(clientWith(fetch).findContactsByEmail(example.email, callOptions()));

      // Assess
      expect(found.map((contact) => contact.id)).toEqual([example.id]);
      expect(calls).toHaveLength(2);
    });

    it('does not retry a create when Apollo answers 503', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch(
        { status: 503, body: 'Service Unavailable', contentType: 'text/plain' },
        okReplyFor(`${BASE_URL}/contacts`),
      );

      // Act
      const error = await rejected(clientWith(fetch).createContact(seed.fields, callOptions()));

      // Assess
      expect(expectError(error, 'ApolloUnavailableError').outcomeUnknown).toBe(true);
      expect(calls).toHaveLength(1);
    });

    it('hands a ready webhook_result over as the phone-reveal payload, and one of another shape as unreadable', async () => {
      // Prepare
      const payload = {
        status: 'success',
        credits_consumed: 8,
        people: [{ id: 'p1', phone_numbers: [{ sanitized_number: '+14155550100', type_cd: 'mobile' }] }],
      };
      const json = (body: unknown): FakeReply => ({
        status: 200,
        body: JSON.stringify(body),
        contentType: 'application/json',
      });
      const { fetch } = recordingFetch(
        json({ webhook_status: 'success', webhook_result: payload }),
        json({ webhook_status: 'success', webhook_result: { people: 'none' } }),
      );
      const client = clientWith(fetch);

      // Act
      const ready = await resolved(client.getWebhookResult('123', callOptions()));
      const unreadable = await resolved(client.getWebhookResult('123', callOptions()));

      // Assess
      expect(ready).toEqual({ state: 'ready', payload });
      expect(unreadable).toEqual({ state: 'unreadable' });
    });

    it('gives up with an unknown outcome within timeoutMs when Apollo does not answer', async () => {
      // Prepare
      const timeoutMs = 150;
      const { fetch, calls } = recordingFetch({ waitForAbort: true });
      const client = clientWith(fetch, { timeoutMs });
      const started = performance.now();

      // Act
      const error = await rejected(client.createContact(seed.fields, callOptions()));

      // Assess
      const elapsed = performance.now() - started;
      expect(expectError(error, 'ApolloUnavailableError').outcomeUnknown).toBe(true);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.signal?.aborted).toBe(true);
      expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 20);
      expect(elapsed).toBeLessThan(timeoutMs + 1_000);
    });

    const minuteAndHourHeaders = {
      'x-rate-limit-minute': '200',
      'x-minute-usage': '3',
      'x-minute-requests-left': '197',
      'x-rate-limit-hourly': '600',
      'x-hourly-usage': '40',
      'x-hourly-requests-left': '560',
    };

    it.each(DAY_HEADER_SPELLINGS)(
      'reports a day window to onRateLimit when Apollo sends the $spelling headers',
      async ({ headers }) => {
        // Prepare
        const onRateLimit = vi.fn<(windows: RateLimitWindow[], endpoint: ApolloEndpoint) => void>();
        const { fetch } = recordingFetch(
          reply(documentedReply('/contacts', 200), { ...minuteAndHourHeaders, ...headers }),
        );

        // Act
        await resolved(clientWith(fetch, { onRateLimit }).createContact(seed.fields, callOptions()));

        // Assess
        expect(onRateLimit).toHaveBeenCalledTimes(1);
        const windows = onRateLimit.mock.calls[0]?.[0] ?? [];
        expect(windows.find((w) => w.window === 'day')).toEqual({
          window: 'day',
          limit: 2000,
          used: 12,
          left: 1988,
        });
        expect(windows.find((w) => w.window === 'minute')).toEqual({
          window: 'minute',
          limit: 200,
          used: 3,
          left: 197,
        });
        expect(windows.find((w) => w.window === 'hour')).toEqual({
          window: 'hour',
          limit: 600,
          used: 40,
          left: 560,
        });
      },
    );

    it('reports the exhausted day window to onRateLimit when Apollo answers 429', async () => {
      // Prepare
      const onRateLimit = vi.fn<(windows: RateLimitWindow[], endpoint: ApolloEndpoint) => void>();
      const { fetch } = recordingFetch(
        reply(rateLimited, {
          'retry-after': '37',
          'x-rate-limit-24-hour': '600',
          'x-24-hour-usage': '600',
          'x-24-hour-requests-left': '0',
        }),
      );

      // Act
      const error = await rejected(
        clientWith(fetch, { onRateLimit }).createContact(seed.fields, callOptions()),
      );

      // Assess
      expectError(error, 'ApolloRateLimitError');
      expect(onRateLimit).toHaveBeenCalledWith(
        [{ window: 'day', limit: 600, used: 600, left: 0 }],
        'POST /contacts',
      );
    });

    it('does not call onRateLimit when the reply has no rate-limit headers', async () => {
      // Prepare
      const onRateLimit = vi.fn<(windows: RateLimitWindow[], endpoint: ApolloEndpoint) => void>();
      const { fetch } = recordingFetch();

      // Act
      await resolved(clientWith(fetch, { onRateLimit }).createContact(seed.fields, callOptions()));

      // Assess
      expect(onRateLimit).not.toHaveBeenCalled();
    });
  });

  describe('parseRateLimitHeaders', () => {
    it.each(DAY_HEADER_SPELLINGS)(
      'reads the day window when the headers use the $spelling spelling',
      ({ headers }) => {
        // Act
        const windows = parseRateLimitHeaders(new Headers(headers));

        // Assess
        expect(windows).toEqual([{ window: 'day', limit: 2000, used: 12, left: 1988 }]);
      },
    );

    it('reads minute, hour and day windows when all are present', () => {
      // Prepare
      const headers = new Headers({
        'x-rate-limit-minute': '200',
        'x-minute-usage': '3',
        'x-minute-requests-left': '197',
        'x-rate-limit-hourly': '600',
        'x-hourly-usage': '40',
        'x-hourly-requests-left': '560',
        'x-rate-limit-24-hour': '2000',
        'x-24-hour-usage': '12',
        'x-24-hour-requests-left': '1988',
      });

      // Act
      const windows = parseRateLimitHeaders(headers);

      // Assess
      expect(windows).toEqual(
        expect.arrayContaining([
          { window: 'minute', limit: 200, used: 3, left: 197 },
          { window: 'hour', limit: 600, used: 40, left: 560 },
          { window: 'day', limit: 2000, used: 12, left: 1988 },
        ]),
      );
      expect(windows).toHaveLength(3);
    });

    it('merges both day spellings into one day window when a reply mixes them', () => {
      // Prepare
      const headers = new Headers({
        'x-rate-limit-daily': '2000',
        'x-24-hour-usage': '12',
        'x-24-hour-requests-left': '1988',
      });

      // Act
      const windows = parseRateLimitHeaders(headers);

      // Assess
      expect(windows).toEqual([{ window: 'day', limit: 2000, used: 12, left: 1988 }]);
    });

    it('returns no window when the reply has no rate-limit headers', () => {
      // Act
      const windows = parseRateLimitHeaders(new Headers({ 'content-type': 'application/json' }));

      // Assess
      expect(windows).toEqual([]);
    });

    it('ignores values that are not numbers when a header is malformed', () => {
      // Prepare
      const headers = new Headers({
        'x-rate-limit-minute': 'lots',
        'x-minute-usage': '',
        'x-minute-requests-left': '5',
      });

      // Act
      const windows = parseRateLimitHeaders(headers);

      // Assess
      expect(windows).toEqual([{ window: 'minute', limit: undefined, used: undefined, left: 5 }]);
    });
  });
});
