/**
 * Contract tests of the Apollo client's bulk calls against Apollo's OpenAPI document
 * (docs/apollo/apollo-openapi.json): `bulkCreateContacts` (POST /contacts/bulk_create),
 * `bulkUpdateContacts` (POST /contacts/bulk_update, whose body the document lacks: checked against
 * PATCH /contacts/{contact_id}'s fields) and `matchPeople` (POST /people/bulk_match). What is sent
 * must validate against the request schemas; the documented replies and errors must be read the
 * way the use cases expect. No network: a recording fake `fetch` answers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApolloHttpClient } from '../lib/apollo/http-client';
import { toBulkContact } from '../lib/apollo/bulk-contacts';
import { mapBulkCreateReply } from '../lib/apollo/bulk-replies';
import type { ApolloEndpoint, RateLimitWindow } from '../lib/apollo/rate-limits';
import { toPerson } from '../lib/person';
import {
  documentedErrorText,
  documentedReplies,
  documentedReply,
  requestValidators,
  type BulkEndpoint,
} from './support/apollo-openapi';
import { EMILY, MARK_TWAIN } from './support/people';
import {
  BASE_URL,
  blankFields,
  callOptions,
  clientWith,
  expectError,
  recordingFetch,
  rejected,
  reply,
  resolved,
  type FakeReply,
} from './support/recording-fetch';

const options = { defaultPhoneCountry: 'US' as const };
const mark = toPerson(MARK_TWAIN, 'body', options);
const emily = toPerson(EMILY, 'body', options);
const markBulk = toBulkContact(mark.fields, {
  salesforce_contact_id: '003xx000004TmiQAAS',
  hubspot_id: '12345678',
});

function json(body: unknown, status = 200, headers: Record<string, string> = {}): FakeReply {
  return { status, body: JSON.stringify(body), contentType: 'application/json', headers };
}

const CREATED = documentedReply('/contacts/bulk_create', 200);
const MATCHED = documentedReply('/people/bulk_match', 200, 'Result');
const UPDATED = json({ message: '1 contacts updated' });

/** The three bulk calls, each with a valid request, for tables of error cases. */
const actOn: Record<BulkEndpoint, (client: ApolloHttpClient) => Promise<unknown>> = {
  '/contacts/bulk_create': (client) =>
    client.bulkCreateContacts([markBulk.contact], { ...callOptions(), runDedupe: true }),
  '/contacts/bulk_update': (client) =>
    client.bulkUpdateContacts([{ id: '66aa00000000000000000001', ...markBulk.followUp }], callOptions()),
  '/people/bulk_match': (client) => client.matchPeople([mark.match, emily.match], callOptions()),
};

/** The text an error body carries: `error`, `error_message` (bulk_match) or `message`. */
function errorText(body: unknown): string | undefined {
  const { error, error_message: errorMessage, message } = (body ?? {}) as Record<string, unknown>;
  const text = [error, errorMessage, message].find((candidate) => typeof candidate === 'string');
  return typeof text === 'string' ? text : undefined;
}

describe('Apollo client: bulk contract', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('requests', () => {
    it.each([
      ['with run_dedupe', true],
      ['without run_dedupe', false],
    ])(
      'sends bulk_create %s a body that satisfies the document: no typed phones, no blanks',
      async (_name, runDedupe) => {
        // Prepare
        const { fetch, calls } = recordingFetch(reply(CREATED));
        const emilyBulk = toBulkContact({ ...emily.fields, title: '' });

        // Act
        await resolved(
          clientWith(fetch).bulkCreateContacts([markBulk.contact, emilyBulk.contact], {
            ...callOptions(),
            runDedupe,
          }),
        );

        // Assess
        expect(calls).toHaveLength(1);
        const [call] = calls;
        expect(call?.url).toBe(`${BASE_URL}/contacts/bulk_create`);
        expect(call?.method).toBe('POST');
        const validate = requestValidators['/contacts/bulk_create'];
        expect(validate(call?.body), JSON.stringify(validate.errors)).toBe(true);
        expect(blankFields(call?.body)).toEqual([]);
        expect(call?.body).toEqual({
          contacts: [
            {
              first_name: 'Mark',
              last_name: 'Twain',
              email: MARK_TWAIN.email,
              organization_name: MARK_TWAIN.organization_name,
              title: 'Author',
              salesforce_contact_id: '003xx000004TmiQAAS',
              hubspot_id: '12345678',
            },
            {
              first_name: EMILY.first_name,
              last_name: EMILY.last_name,
              organization_name: EMILY.organization_name,
            },
          ],
          run_dedupe: runDedupe,
        });
      },
    );

    it('sends bulk_update contact_attributes, each an id with PATCH /contacts/{id} fields, typed phones included', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch(UPDATED);
      expect(markBulk.followUp).toBeDefined();

      // Act
      await resolved(
        clientWith(fetch).bulkUpdateContacts(
          [
            { id: '66aa00000000000000000001', ...markBulk.followUp, label_names: ['Authors'] },
            { id: '66aa00000000000000000002', title: '  ' },
          ],
          callOptions(),
        ),
      );

      // Assess
      const [call] = calls;
      expect(call?.url).toBe(`${BASE_URL}/contacts/bulk_update`);
      const validate = requestValidators['/contacts/bulk_update'];
      expect(validate(call?.body), JSON.stringify(validate.errors)).toBe(true);
      expect(blankFields(call?.body)).toEqual([]);
      expect(call?.body).toEqual({
        contact_attributes: [
          {
            id: '66aa00000000000000000001',
            website_url: MARK_TWAIN.website_url,
            direct_phone: '+15551234567',
            mobile_phone: '+15557654321',
            label_names: ['Authors'],
          },
          { id: '66aa00000000000000000002' },
        ],
      });
    });

    it('sends bulk_match only the identities in details, never a reveal or waterfall flag', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch(json({ matches: [null, null] }));

      // Act
      await resolved(clientWith(fetch).matchPeople([mark.match, emily.match], callOptions()));

      // Assess
      const [call] = calls;
      expect(call?.url).toBe(`${BASE_URL}/people/bulk_match`);
      const validate = requestValidators['/people/bulk_match'];
      expect(validate(call?.body), JSON.stringify(validate.errors)).toBe(true);
      expect(call?.body).toEqual({
        details: [
          { email: MARK_TWAIN.email },
          {
            first_name: EMILY.first_name,
            last_name: EMILY.last_name,
            organization_name: EMILY.organization_name,
          },
        ],
      });
    });

    it.each([
      ['/contacts/bulk_create', { contacts: [{ first_name: 'Mark', direct_phone: '+15551234567' }] }],
      ['/contacts/bulk_create', { contacts: [{ first_name: 'Mark', website_url: 'https://x.example' }] }],
      ['/contacts/bulk_create', { contacts: [{ first_name: 'Mark' }], run_dedupe: 'yes' }],
      ['/contacts/bulk_create', { contacts: Array.from({ length: 101 }, () => ({ first_name: 'Mark' })) }],
      ['/contacts/bulk_update', { contact_attributes: [{ title: 'No id' }] }],
      [
        '/contacts/bulk_update',
        { contact_attributes: [{ id: 'x', linkedin_url: 'https://linkedin.com/in/x' }] },
      ],
      ['/contacts/bulk_update', { contacts: [{ id: 'x', title: 'Wrong key' }] }],
      ['/people/bulk_match', { details: [{ email: 'a@b.example' }], reveal_phone_number: true }],
      ['/people/bulk_match', { details: [{ email: 'a@b.example', contact_id: 'x' }] }],
    ] as const)(
      'rejects a body with an unknown, mistyped or surplus field when %s gets %j',
      (endpoint, body) => {
        // Act
        const valid = requestValidators[endpoint](body);

        // Assess: the test copies of the schemas can fail, so the passing requests above mean something.
        expect(valid).toBe(false);
      },
    );

    it.each([
      ['bulkCreateContacts', 101, '/contacts/bulk_create'],
      ['bulkUpdateContacts', 101, '/contacts/bulk_update'],
      ['matchPeople', 11, '/people/bulk_match'],
    ] as const)('refuses %s with %i items before calling Apollo', async (method, count, endpoint) => {
      // Prepare
      const { fetch, calls } = recordingFetch();
      const client = clientWith(fetch);
      const act = {
        bulkCreateContacts: () =>
          client.bulkCreateContacts(
            Array.from({ length: count }, () => markBulk.contact),
            {
              ...callOptions(),
              runDedupe: true,
            },
          ),
        bulkUpdateContacts: () =>
          client.bulkUpdateContacts(
            Array.from({ length: count }, (_, index) => ({ id: `c${index}` })),
            callOptions(),
          ),
        matchPeople: () =>
          client.matchPeople(
            Array.from({ length: count }, () => mark.match),
            callOptions(),
          ),
      }[method];

      // Act
      const error = await rejected(act());

      // Assess
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain(`POST ${endpoint} takes at most ${count - 1}`);
      expect(calls).toEqual([]);
    });

    it('takes exactly the maxima: 100 contacts to create, 100 to update, 10 people to match', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch(
        reply(CREATED),
        UPDATED,
        json({ matches: Array.from({ length: 10 }, () => null) }),
      );
      const client = clientWith(fetch);

      // Act
      await resolved(
        client.bulkCreateContacts(
          Array.from({ length: 100 }, () => markBulk.contact),
          { ...callOptions(), runDedupe: true },
        ),
      );
      await resolved(
        client.bulkUpdateContacts(
          Array.from({ length: 100 }, (_, index) => ({ id: `c${index}` })),
          callOptions(),
        ),
      );
      const matches = await resolved(
        client.matchPeople(
          Array.from({ length: 10 }, () => mark.match),
          callOptions(),
        ),
      );

      // Assess
      expect(calls.map((call) => call.url.slice(BASE_URL.length))).toEqual([
        '/contacts/bulk_create',
        '/contacts/bulk_update',
        '/people/bulk_match',
      ]);
      expect(requestValidators['/contacts/bulk_create'](calls[0]?.body)).toBe(true);
      expect(matches).toHaveLength(10);
    });

    it('calls nothing for empty batches', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch();
      const client = clientWith(fetch);

      // Act
      const created = await resolved(client.bulkCreateContacts([], { ...callOptions(), runDedupe: true }));
      await resolved(client.bulkUpdateContacts([], callOptions()));
      const matches = await resolved(client.matchPeople([], callOptions()));

      // Assess
      expect(created).toEqual({ created: [], existing: [] });
      expect(matches).toEqual([]);
      expect(calls).toEqual([]);
    });
  });

  describe('documented replies', () => {
    it('reads the documented bulk_create reply, which mapBulkCreateReply maps back to the people sent', async () => {
      // Prepare: the three people of the document's request examples.
      const sent = [
        {
          ref: 'c_john',
          contact: {
            first_name: 'John',
            last_name: 'Doe',
            email: 'john.doe@example.com',
            organization_name: 'Acme Corporation',
          },
        },
        {
          ref: 'c_jane',
          contact: {
            first_name: 'Jane',
            last_name: 'Smith',
            email: 'jane.smith@example.com',
            organization_name: 'TechStart Inc',
          },
        },
        {
          ref: 'c_existing',
          contact: { first_name: 'New', last_name: 'Name', email: 'existing@example.com' },
        },
      ];
      const { fetch } = recordingFetch(reply(CREATED));

      // Act
      const result = await resolved(
        clientWith(fetch).bulkCreateContacts(
          sent.map(({ contact }) => contact),
          { ...callOptions(), runDedupe: true },
        ),
      );
      const mapped = mapBulkCreateReply(sent, result);

      // Assess
      expect(result.created.map((contact) => contact.id)).toEqual([
        '507f1f77bcf86cd799439011',
        '507f1f77bcf86cd799439017',
      ]);
      expect(result.existing[0]).toMatchObject({ id: '507f1f77bcf86cd799439015', first_name: 'Original' });
      expect(
        Object.fromEntries(
          [...mapped.matched].map(([ref, { contact, outcome }]) => [ref, `${outcome} ${contact.id}`]),
        ),
      ).toEqual({
        c_john: 'created 507f1f77bcf86cd799439011',
        c_jane: 'created 507f1f77bcf86cd799439017',
        c_existing: 'existing 507f1f77bcf86cd799439015',
      });
    });

    it('reads a bulk_create reply without existing_contacts as none, and one without created_contacts as an unknown outcome', async () => {
      // Prepare
      const { fetch } = recordingFetch(
        json({ created_contacts: [{ id: 'x-1' }] }),
        json({ existing_contacts: [] }),
      );
      const client = clientWith(fetch);
      const act = () => client.bulkCreateContacts([markBulk.contact], { ...callOptions(), runDedupe: false });

      // Act
      const first = await resolved(act());
      const second = await rejected(act());

      // Assess
      expect(first).toEqual({ created: [{ id: 'x-1' }], existing: [] });
      expect(expectError(second, 'ApolloUnavailableError').outcomeUnknown).toBe(true);
    });

    it('reads the documented bulk_match reply, one match per identity, in order', async () => {
      // Prepare
      const expected = (MATCHED.json as { matches: Array<{ id: string; email: string }> }).matches;
      const { fetch } = recordingFetch(reply(MATCHED));

      // Act
      const matches = await resolved(
        clientWith(fetch).matchPeople(
          expected.map((match) => ({ email: match.email })),
          callOptions(),
        ),
      );

      // Assess
      expect(matches.map((match) => match?.id)).toEqual(expected.map((match) => match.id));
    });

    it('keeps null for a person bulk_match did not find, and refuses a reply with another number of matches', async () => {
      // Prepare
      const person = { id: '64a7ff0cc4dfae00013df1a5', email: MARK_TWAIN.email, contact: { id: 'c-1' } };
      const { fetch } = recordingFetch(json({ matches: [person, null] }), json({ matches: [person] }));
      const client = clientWith(fetch);

      // Act
      const matches = await resolved(client.matchPeople([mark.match, emily.match], callOptions()));
      const short = await rejected(client.matchPeople([mark.match, emily.match], callOptions()));

      // Assess
      expect(matches).toEqual([person, null]);
      expect(expectError(short, 'ApolloUnavailableError').message).toContain('1 matches for 2 people');
    });

    it.each([
      ['a message', { message: '1 contacts updated' }],
      ['a job id', { message: 'queued', job_id: '66aa00000000000000000099' }],
      ['contacts and skipped ids', { contacts: [], skipped_contact_ids: {} }],
    ])('accepts a bulk_update reply with %s', async (_name, body) => {
      // Prepare
      const { fetch, calls } = recordingFetch(json(body));

      // Act
      await resolved(actOn['/contacts/bulk_update'](clientWith(fetch)));

      // Assess
      expect(calls).toHaveLength(1);
    });
  });

  describe('errors', () => {
    const bulkDocumented = (status: number) =>
      (['/contacts/bulk_create', '/people/bulk_match'] as const).flatMap((endpoint) =>
        documentedReplies(endpoint).filter((documented) => documented.status === status),
      );

    it('finds the error examples these tests rely on in the document', () => {
      // Assess: if the document loses its examples, the tables below would silently shrink.
      expect(bulkDocumented(401)).toHaveLength(2);
      expect(bulkDocumented(429)).toHaveLength(2);
      expect(bulkDocumented(422).length).toBeGreaterThanOrEqual(4);
      expect(bulkDocumented(400)).toHaveLength(2);
    });

    it.each(bulkDocumented(401))(
      'throws ApolloAuthError when $endpoint answers the documented 401',
      async (documented) => {
        // Prepare
        const { fetch, calls } = recordingFetch(reply(documented));

        // Act
        const error = await rejected(actOn[documented.endpoint as BulkEndpoint](clientWith(fetch)));

        // Assess
        expectError(error, 'ApolloAuthError');
        expect(calls).toHaveLength(1);
      },
    );

    it.each([...bulkDocumented(422), ...bulkDocumented(400)])(
      'throws ApolloRejectedError with the documented text when $endpoint answers the $status "$example"',
      async (documented) => {
        // Prepare
        const { fetch, calls } = recordingFetch(reply(documented));
        const text = errorText(documented.json);

        // Act
        const error = await rejected(actOn[documented.endpoint as BulkEndpoint](clientWith(fetch)));

        // Assess
        expect(text).toBeDefined();
        expect(expectError(error, 'ApolloRejectedError').message).toContain(text);
        expect(calls).toHaveLength(1);
      },
    );

    it.each(bulkDocumented(429))(
      'throws ApolloRateLimitError with retry-after when $endpoint answers the documented 429 and may not wait',
      async (documented) => {
        // Prepare
        const { fetch, calls } = recordingFetch(reply(documented, { 'retry-after': '37' }));

        // Act
        const error = await rejected(actOn[documented.endpoint as BulkEndpoint](clientWith(fetch)));

        // Assess
        const rateLimit = expectError(error, 'ApolloRateLimitError');
        expect(rateLimit.retryAfterSeconds).toBe(37);
        expect(rateLimit.message).toContain(documentedErrorText(documented));
        expect(calls).toHaveLength(1);
      },
    );

    const forbidden = documentedReply('/contacts/{contact_id}', 403, undefined, 'get');
    it.each(Object.keys(actOn) as BulkEndpoint[])(
      'throws ApolloForbiddenError naming API_INACCESSIBLE when %s answers 403',
      async (endpoint) => {
        // Prepare
        const { fetch } = recordingFetch(reply(forbidden));

        // Act
        const error = await rejected(actOn[endpoint](clientWith(fetch)));

        // Assess
        expect(expectError(error, 'ApolloForbiddenError').message).toContain('API_INACCESSIBLE');
      },
    );

    const connectionError = (code: string) =>
      new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code}`), { code }) });

    it.each([
      ['the documented 500', reply(documentedReply('/contacts/bulk_create', 500))],
      ['502 from a gateway', { status: 502, body: '<html>502 Bad Gateway</html>', contentType: 'text/html' }],
      ['a connection reset', { fetchError: connectionError('ECONNRESET') }],
      [
        'a reply that is not JSON',
        { status: 200, body: '{"created_contacts": [', contentType: 'application/json' },
      ],
    ] satisfies Array<[string, FakeReply]>)(
      'throws an unknown outcome and never repeats bulk_create when Apollo answers %s',
      async (_name, failure) => {
        // Prepare
        const { fetch, calls } = recordingFetch(failure, reply(CREATED));

        // Act
        const error = await rejected(actOn['/contacts/bulk_create'](clientWith(fetch)));

        // Assess: the contacts may exist; only the caller, retrying with run_dedupe, may try again.
        expect(expectError(error, 'ApolloUnavailableError').outcomeUnknown).toBe(true);
        expect(calls).toHaveLength(1);
      },
    );

    it('throws an unknown outcome within timeoutMs when bulk_create gets no answer', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch({ waitForAbort: true });

      // Act
      const error = await rejected(actOn['/contacts/bulk_create'](clientWith(fetch, { timeoutMs: 100 })));

      // Assess
      expect(expectError(error, 'ApolloUnavailableError').outcomeUnknown).toBe(true);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.signal?.aborted).toBe(true);
    });

    it('repeats bulk_create when the connection was refused: the request never reached Apollo', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch(
        { fetchError: connectionError('ECONNREFUSED') },
        reply(CREATED),
      );

      // Act
      const result = await resolved(actOn['/contacts/bulk_create'](clientWith(fetch)));

      // Assess
      expect(result).toMatchObject({
        created: [{ id: '507f1f77bcf86cd799439011' }, { id: '507f1f77bcf86cd799439017' }],
      });
      expect(calls).toHaveLength(2);
    });

    it('waits out a short 429 in place and sends the same bulk_create again', async () => {
      // Prepare
      const { fetch, calls } = recordingFetch(
        reply(documentedReply('/contacts/bulk_create', 429), { 'retry-after': '1' }),
        reply(CREATED),
      );

      // Act
      await resolved(actOn['/contacts/bulk_create'](clientWith(fetch, { maxRetryWaitSeconds: 2 })));

      // Assess: a 429 means Apollo did nothing.
      expect(calls).toHaveLength(2);
      expect(calls[1]?.body).toEqual(calls[0]?.body);
    });

    it.each([
      ['/contacts/bulk_update', UPDATED],
      ['/people/bulk_match', json({ matches: [null, null] })],
    ] as const)('repeats %s after a 503: it is safe to repeat', async (endpoint, success) => {
      // Prepare
      const { fetch, calls } = recordingFetch(
        { status: 503, body: 'Service Unavailable', contentType: 'text/plain' },
        success,
      );

      // Act
      await resolved(actOn[endpoint](clientWith(fetch)));

      // Assess
      expect(calls).toHaveLength(2);
    });
  });

  describe('rate limits', () => {
    const DAY_SPELLINGS: Array<Record<string, string>> = [
      { 'x-rate-limit-daily': '2000', 'x-daily-usage': '12', 'x-daily-requests-left': '1988' },
      { 'x-rate-limit-24-hour': '2000', 'x-24-hour-usage': '12', 'x-24-hour-requests-left': '1988' },
    ];
    const successes: Record<BulkEndpoint, FakeReply> = {
      '/contacts/bulk_create': reply(CREATED),
      '/contacts/bulk_update': UPDATED,
      '/people/bulk_match': json({ matches: [null, null] }),
    };

    it.each(
      (Object.keys(actOn) as BulkEndpoint[]).flatMap((endpoint) =>
        DAY_SPELLINGS.map((day) => ({ endpoint, day })),
      ),
    )('reports $endpoint’s windows to onRateLimit, naming it ($day)', async ({ endpoint, day }) => {
      // Prepare
      const onRateLimit = vi.fn<(windows: RateLimitWindow[], endpoint: ApolloEndpoint) => void>();
      const success = successes[endpoint] as { status: number; body: string; contentType: string };
      const { fetch } = recordingFetch({
        ...success,
        headers: {
          'x-rate-limit-minute': '200',
          'x-minute-usage': '3',
          'x-minute-requests-left': '197',
          ...day,
        },
      });

      // Act
      await resolved(actOn[endpoint](clientWith(fetch, { onRateLimit })));

      // Assess
      expect(onRateLimit).toHaveBeenCalledTimes(1);
      expect(onRateLimit).toHaveBeenCalledWith(
        expect.arrayContaining([
          { window: 'minute', limit: 200, used: 3, left: 197 },
          { window: 'day', limit: 2000, used: 12, left: 1988 },
        ]),
        `POST ${endpoint}`,
      );
    });

    it('reports the exhausted window with the endpoint when bulk_create answers 429', async () => {
      // Prepare
      const onRateLimit = vi.fn<(windows: RateLimitWindow[], endpoint: ApolloEndpoint) => void>();
      const { fetch } = recordingFetch(
        reply(documentedReply('/contacts/bulk_create', 429), {
          'retry-after': '42',
          'x-rate-limit-minute': '200',
          'x-minute-usage': '200',
          'x-minute-requests-left': '0',
        }),
      );

      // Act
      await rejected(actOn['/contacts/bulk_create'](clientWith(fetch, { onRateLimit })));

      // Assess
      expect(onRateLimit).toHaveBeenCalledWith(
        [{ window: 'minute', limit: 200, used: 200, left: 0 }],
        'POST /contacts/bulk_create',
      );
    });
  });
});
