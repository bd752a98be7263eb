/**
 * The Apollo sandbox's bulk endpoints behave like docs/apollo/apollo-api.md says Apollo's do:
 * `POST /contacts/bulk_create`, `POST /contacts/bulk_update`, `POST /people/bulk_match`, their
 * limits per call and per minute, and the faults tests script on them. Replies are checked against
 * the OpenAPI document's reply schemas (test/support/apollo-openapi.ts).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  startApolloSandbox,
  type ApolloSandbox,
  type ApolloSandboxOptions,
} from '../../local/apollo-sandbox';
import { documentedReply, replyValidators } from '../support/apollo-openapi';

const WREN = {
  first_name: 'Wren',
  last_name: 'Halloway',
  email: 'wren.halloway@lanternfish.example',
  organization_name: 'Lanternfish Labs',
  title: 'Keeper of Tide Tables',
};
/** Another Wren Halloway at Lanternfish Labs, with her own email: a different person. */
const OTHER_WREN = { ...WREN, email: 'w.halloway@lanternfish.example', title: 'Diver' };
const JUNO = {
  first_name: 'Juno',
  last_name: 'Marsh',
  email: 'juno.marsh@brackenridge.example',
  organization_name: 'Brackenridge Mills',
};
const OTTILIE = { first_name: 'Ottilie', last_name: 'Fenwick', organization_name: 'Cobblestone Cartography' };

interface BulkContactReply {
  id: string;
  email: string | null;
  first_name: string | null;
  title: string | null;
  updated_at: string;
  team_id: string;
  salesforce_contact_id: string | null;
  hubspot_vid: string | null;
  contact_emails: Array<{ email: string }>;
  label_ids: string[];
  phone_numbers: Array<{
    raw_number: string;
    sanitized_number: string;
    type: string | null;
    position: number;
  }>;
}
interface BulkCreateReply {
  created_contacts: BulkContactReply[];
  existing_contacts: BulkContactReply[];
}
interface BulkMatchReply {
  status: string;
  total_requested_enrichments: number;
  unique_enriched_records?: number;
  missing_records?: number;
  credits_consumed?: number;
  matches: Array<null | { id: string; email?: string | null; contact_id?: string }>;
  waterfall?: unknown;
}

/** `count` people with their own emails, all at one company. */
function people(count: number, prefix = 'p') {
  return Array.from({ length: count }, (_, index) => ({
    first_name: `First${index}`,
    last_name: `Last${index}`,
    email: `${prefix}${index}@lanternfish.example`,
    organization_name: 'Lanternfish Labs',
  }));
}

describe('Apollo sandbox: bulk endpoints', () => {
  let sandbox: ApolloSandbox;

  function call(
    target: ApolloSandbox,
    path: string,
    body: unknown,
    init: RequestInit = {},
  ): Promise<Response> {
    return fetch(`${target.url}${path}`, {
      method: 'POST',
      headers: { 'x-api-key': target.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      ...init,
    });
  }

  async function bulkCreate(body: unknown, target = sandbox): Promise<BulkCreateReply> {
    const response = await call(target, '/contacts/bulk_create', body);
    expect(response.status).toBe(200);
    const reply = (await response.json()) as BulkCreateReply;
    const validate = replyValidators['/contacts/bulk_create'];
    expect(validate(reply), JSON.stringify(validate.errors)).toBe(true);
    return reply;
  }

  async function bulkMatch(body: unknown, query = ''): Promise<BulkMatchReply> {
    const response = await call(sandbox, `/people/bulk_match${query}`, body);
    expect(response.status).toBe(200);
    const reply = (await response.json()) as BulkMatchReply;
    const validate = replyValidators['/people/bulk_match'];
    expect(validate(reply), JSON.stringify(validate.errors)).toBe(true);
    return reply;
  }

  async function withSandbox(options: ApolloSandboxOptions, test: (target: ApolloSandbox) => Promise<void>) {
    const target = await startApolloSandbox(options);
    try {
      await test(target);
    } finally {
      await target.close();
    }
  }

  beforeAll(async () => {
    sandbox = await startApolloSandbox();
  });

  afterAll(async () => {
    await sandbox.close();
  });

  beforeEach(() => {
    sandbox.reset();
  });

  describe('POST /contacts/bulk_create', () => {
    it('creates every contact, duplicates included, without run_dedupe, and answers without an index', async () => {
      // Prepare
      sandbox.addContact(WREN);

      // Act
      const reply = await bulkCreate({ contacts: [WREN, JUNO, JUNO] });

      // Assess
      expect(reply.created_contacts.map((contact) => contact.email)).toEqual([
        WREN.email,
        JUNO.email,
        JUNO.email,
      ]);
      expect(reply.existing_contacts).toEqual([]);
      expect(sandbox.contacts()).toHaveLength(4);
      const exampleKeys = Object.keys(
        (documentedReply('/contacts/bulk_create', 200).json as BulkCreateReply).created_contacts[0] ?? {},
      );
      for (const contact of reply.created_contacts) {
        expect(Object.keys(contact)).toEqual(expect.arrayContaining(exampleKeys));
        expect(Object.keys(contact).filter((key) => /index|input|position/.test(key))).toEqual([]);
      }
    });

    it('returns a contact Apollo already has unchanged in existing_contacts with run_dedupe, and creates the rest', async () => {
      // Prepare
      const known = sandbox.addContact({
        ...WREN,
        title: 'Original Title',
        updated_at: '2025-09-15T14:30:00Z',
      });

      // Act
      const reply = await bulkCreate({ contacts: [{ ...WREN, title: 'New Title' }, JUNO], run_dedupe: true });

      // Assess
      expect(reply.existing_contacts).toMatchObject([
        { id: known.id, title: 'Original Title', updated_at: '2025-09-15T14:30:00Z' },
      ]);
      expect(reply.created_contacts).toMatchObject([{ email: JUNO.email }]);
      expect(sandbox.contacts().find((contact) => contact.id === known.id)?.title).toBe('Original Title');
    });

    it('returns the first try’s contacts as existing when the same batch is sent again with run_dedupe', async () => {
      // Prepare: the first try's outcome was unknown to the client.
      const batch = { contacts: [WREN, JUNO, OTTILIE], run_dedupe: true };
      const first = await bulkCreate(batch);

      // Act
      const retry = await bulkCreate(batch);

      // Assess
      expect(retry.created_contacts).toEqual([]);
      expect(retry.existing_contacts.map((contact) => contact.id).sort()).toEqual(
        first.created_contacts.map((contact) => contact.id).sort(),
      );
      expect(sandbox.contacts()).toHaveLength(3);
    });

    it.each([
      [
        'hubspot_id',
        { hubspot_id: '12345678' },
        { hubspot_id: '12345678', email: 'elsewhere@lanternfish.example' },
      ],
      ['salesforce_contact_id', { salesforce_contact_id: '003A' }, { salesforce_contact_id: '003A' }],
      ['person_id', { person_id: 'aaaaaaaaaaaaaaaaaaaaaaaa' }, { person_id: 'aaaaaaaaaaaaaaaaaaaaaaaa' }],
      [
        'an additional email',
        { additional_emails: ['wren@tidetables.example'] },
        { email: 'WREN@tidetables.example' },
      ],
      ['name and organisation', {}, { email: OTHER_WREN.email }],
      [
        'name and email domain',
        { organization_name: null },
        { email: OTHER_WREN.email, organization_name: 'Elsewhere' },
      ],
    ])('matches by %s with run_dedupe', async (_key, seed, sent) => {
      // Prepare
      const known = sandbox.addContact({ ...WREN, ...seed });

      // Act
      const reply = await bulkCreate({ contacts: [{ ...WREN, ...sent }], run_dedupe: true });

      // Assess
      expect(reply.existing_contacts.map((contact) => contact.id)).toEqual([known.id]);
      expect(sandbox.contacts()).toHaveLength(1);
    });

    it('matches by contact id before anything else', async () => {
      // Prepare
      const byId = sandbox.addContact(JUNO);
      sandbox.addContact(WREN);

      // Act
      const reply = await bulkCreate({ contacts: [{ ...WREN, id: byId.id }], run_dedupe: true });

      // Assess
      expect(reply.existing_contacts.map((contact) => contact.id)).toEqual([byId.id]);
    });

    it('merges a namesake at the same company onto a contact created earlier in the same call', async () => {
      // Act
      const reply = await bulkCreate({ contacts: [WREN, OTHER_WREN], run_dedupe: true });

      // Assess: Apollo's false merge, as the client must detect it.
      const [created] = reply.created_contacts;
      expect(reply.existing_contacts).toEqual([{ ...created }]);
      expect(created?.email).toBe(WREN.email);
      expect(sandbox.contacts()).toHaveLength(1);
    });

    it('stores phone and phone_numbers[] untyped, in position order, and ignores the typed fields by default', async () => {
      // Act
      const reply = await bulkCreate({
        contacts: [
          {
            ...WREN,
            phone: '+1-202-555-0143',
            phone_numbers: [
              { raw_number: '+1 202 555 0122', position: 1 },
              { raw_number: '(202) 555-0135', position: 0 },
            ],
            direct_phone: '202-555-0177',
            mobile_phone: '202-555-0188',
          },
        ],
      });

      // Assess
      expect(reply.created_contacts[0]?.phone_numbers).toMatchObject([
        { raw_number: '+1-202-555-0143', sanitized_number: '+12025550143', type: null, position: 0 },
        { raw_number: '(202) 555-0135', sanitized_number: '+12025550135', type: null, position: 1 },
        { raw_number: '+1 202 555 0122', sanitized_number: '+12025550122', type: null, position: 2 },
      ]);
    });

    it.each([
      [
        'typed',
        [
          { raw_number: '202-555-0177', type: 'work_direct' },
          { raw_number: '202-555-0188', type: 'mobile' },
        ],
      ],
      [
        'untyped',
        [
          { raw_number: '202-555-0177', type: null },
          { raw_number: '202-555-0188', type: null },
        ],
      ],
    ] as const)('takes the typed phone fields as %s when the option says so', async (mode, expected) => {
      await withSandbox({ bulkCreatePhoneFields: mode }, async (target) => {
        // Act
        const reply = await bulkCreate(
          { contacts: [{ ...WREN, direct_phone: '202-555-0177', mobile_phone: '202-555-0188' }] },
          target,
        );

        // Assess
        expect(reply.created_contacts[0]?.phone_numbers).toMatchObject(expected);
      });
    });

    it('stores CRM ids, other emails and append_label_names, and shows them on the contact', async () => {
      // Act
      const reply = await bulkCreate({
        contacts: [
          {
            first_name: 'Michael',
            last_name: 'Brown',
            hubspot_id: '12345678',
            salesforce_contact_id: '003xx000004TmiQAAS',
            contact_emails: [
              { email: 'mbrown@example.com', position: 1 },
              { email: 'michael.brown@example.com', position: 0 },
            ],
          },
        ],
        append_label_names: ['VIP'],
      });

      // Assess
      expect(reply.created_contacts[0]).toMatchObject({
        email: 'michael.brown@example.com',
        hubspot_vid: '12345678',
        salesforce_contact_id: '003xx000004TmiQAAS',
        contact_emails: [{ email: 'mbrown@example.com' }],
      });
      expect(sandbox.contacts()[0]?.label_names).toEqual(['VIP']);
    });

    it.each([
      ['101 contacts', { contacts: people(101) }, 'Please limit your array to 100 contacts or fewer.'],
      [
        'no contacts',
        {},
        'Please provide an array of contact attributes in the "contact_attributes" parameter.',
      ],
      [
        'an empty array',
        { contacts: [] },
        'Please provide an array of contact attributes in the "contact_attributes" parameter.',
      ],
      [
        'one invalid email',
        { contacts: [WREN, { ...JUNO, email: 'not-an-email' }] },
        expect.stringContaining('email'),
      ],
      [
        'a foreign owner_id',
        { contacts: [WREN], owner_id: '507f1f77bcf86cd799439013' },
        expect.stringContaining('owner_id'),
      ],
    ] as Array<[string, unknown, unknown]>)(
      'answers 422 {error} and stores nothing for %s',
      async (_case, body, error) => {
        // Act
        const response = await call(sandbox, '/contacts/bulk_create', body);

        // Assess
        expect(response.status).toBe(422);
        expect(await response.json()).toEqual({ error });
        expect(sandbox.contacts()).toEqual([]);
      },
    );

    it('takes 100 contacts in one call', async () => {
      // Act
      const reply = await bulkCreate({ contacts: people(100), run_dedupe: true });

      // Assess
      expect(reply.created_contacts).toHaveLength(100);
    });
  });

  describe('POST /contacts/bulk_update', () => {
    it('sets typed phones and the other PATCH fields per contact from contact_attributes, skipping unknown ids', async () => {
      // Prepare
      const [wren, juno] = [sandbox.addContact(WREN), sandbox.addContact(JUNO)];

      // Act
      const response = await call(sandbox, '/contacts/bulk_update', {
        contact_attributes: [
          { id: wren.id, direct_phone: '202-555-0143', mobile_phone: '202-555-0188', label_names: ['Tide'] },
          { id: juno.id, website_url: 'https://brackenridge.example', title: 'Miller' },
          { id: 'ffffffffffffffffffffffff', title: 'Nobody' },
        ],
      });

      // Assess
      expect(response.status).toBe(200);
      const reply = (await response.json()) as { contacts: BulkContactReply[]; skipped_contact_ids: object };
      expect(reply.contacts.map((contact) => contact.id)).toEqual([wren.id, juno.id]);
      expect(reply.skipped_contact_ids).toEqual({ ffffffffffffffffffffffff: 'not found' });
      const [storedWren, storedJuno] = sandbox.contacts();
      expect(storedWren?.phone_numbers).toMatchObject([
        { sanitized_number: '+12025550143', type: 'work_direct' },
        { sanitized_number: '+12025550188', type: 'mobile' },
      ]);
      expect(storedWren?.label_names).toEqual(['Tide']);
      expect(storedJuno).toMatchObject({ website_url: 'https://brackenridge.example', title: 'Miller' });
    });

    it('keeps untyped numbers when a typed phone is set', async () => {
      // Prepare
      const created = await bulkCreate({ contacts: [{ ...WREN, phone: '202-555-0111' }] });
      const id = created.created_contacts[0]?.id;

      // Act
      await call(sandbox, '/contacts/bulk_update', {
        contact_attributes: [{ id, mobile_phone: '202-555-0188' }],
      });

      // Assess
      expect(sandbox.contacts()[0]?.phone_numbers).toMatchObject([
        { sanitized_number: '+12025550111', type: null },
        { sanitized_number: '+12025550188', type: 'mobile' },
      ]);
    });

    it('applies top-level fields to every contact of contact_ids', async () => {
      // Prepare
      const ids = [sandbox.addContact(WREN).id, sandbox.addContact(JUNO).id];

      // Act
      const response = await call(sandbox, '/contacts/bulk_update', { contact_ids: ids, title: 'Surveyor' });

      // Assess
      expect(response.status).toBe(200);
      expect(sandbox.contacts().map((contact) => contact.title)).toEqual(['Surveyor', 'Surveyor']);
    });

    it('answers 422 and changes nothing for 1,001 contacts, a missing id or an invalid field', async () => {
      // Prepare
      const wren = sandbox.addContact(WREN);
      const bodies = [
        { contact_attributes: Array.from({ length: 1001 }, () => ({ id: wren.id, title: 'Many' })) },
        { contact_attributes: [{ id: wren.id, title: 'Changed' }, { title: 'No id' }] },
        {
          contact_attributes: [
            { id: wren.id, title: 'Changed' },
            { id: wren.id, email: 'not-an-email' },
          ],
        },
        {},
      ];

      // Act
      const statuses = [];
      for (const body of bodies) statuses.push((await call(sandbox, '/contacts/bulk_update', body)).status);

      // Assess
      expect(statuses).toEqual([422, 422, 422, 422]);
      expect(sandbox.contacts()[0]?.title).toBe(WREN.title);
    });

    it('applies more than 100 contacts later, as a job with a job_id', async () => {
      await withSandbox({ bulkUpdateJobDelayMs: 100 }, async (target) => {
        // Prepare
        const ids = Array.from(
          { length: 101 },
          (_, index) => target.addContact({ email: `p${index}@x.example` }).id,
        );

        // Act
        const response = await call(target, '/contacts/bulk_update', {
          contact_attributes: ids.map((id) => ({ id, title: 'Later' })),
        });

        // Assess
        expect(response.status).toBe(200);
        expect(await response.json()).toMatchObject({
          job_id: expect.stringMatching(/^[0-9a-f]{24}$/) as unknown,
        });
        expect(target.contacts().filter((contact) => contact.title === 'Later')).toHaveLength(0);
        await vi.waitFor(() =>
          expect(target.contacts().every((contact) => contact.title === 'Later')).toBe(true),
        );
      });
    });
  });

  describe('POST /people/bulk_match', () => {
    it('answers matches in the order of details, null where nobody was found, with counts and credits', async () => {
      // Prepare: Wren is a saved contact (free); Samuel only in the directory (1 credit, once).
      sandbox.addContact(WREN);
      const samuel = sandbox.addPerson({
        first_name: 'Samuel',
        last_name: 'Clemens',
        email: 'sam@hartford.example',
      });

      // Act
      const reply = await bulkMatch({
        details: [
          { email: 'nobody@nowhere.example' },
          { email: WREN.email },
          { id: samuel.id },
          { email: samuel.email },
        ],
      });

      // Assess
      expect(reply).toMatchObject({
        status: 'success',
        total_requested_enrichments: 4,
        unique_enriched_records: 1,
        missing_records: 1,
        credits_consumed: 1,
      });
      expect(reply.matches[0]).toBeNull();
      expect(reply.matches[1]).toMatchObject({ email: WREN.email, contact_id: sandbox.contacts()[0]?.id });
      expect(reply.matches.slice(2).map((match) => match?.id)).toEqual([samuel.id, samuel.id]);
      expect(sandbox.creditsConsumed()).toBe(1);
    });

    it('finds saved contacts by name and company or domain, as people/match does', async () => {
      // Prepare
      sandbox.addContact({ ...OTTILIE, website_url: 'https://cobblestone.example' });

      // Act
      const reply = await bulkMatch({
        details: [
          { first_name: 'Ottilie', last_name: 'Fenwick', organization_name: 'Cobblestone Cartography' },
          { first_name: 'Ottilie', last_name: 'Fenwick', domain: 'cobblestone.example' },
        ],
      });

      // Assess
      const id = sandbox.contacts()[0]?.id;
      expect(reply.matches.map((match) => match?.contact_id)).toEqual([id, id]);
    });

    it.each([
      [{ details: people(11) }, 'RECORD_LIMIT_EXCEEDED'],
      [{ details: [] }, 'INVALID_REQUEST'],
      [{}, 'INVALID_REQUEST'],
    ])('answers 400 {status: failed, error_code} for %j', async (body, errorCode) => {
      // Act
      const response = await call(sandbox, '/people/bulk_match', body);

      // Assess
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        status: 'failed',
        error_code: errorCode,
        error_message: expect.any(String) as unknown,
      });
    });

    it('answers 400 to reveal_phone_number without a webhook_url, as people/match does', async () => {
      // Act
      const response = await call(sandbox, '/people/bulk_match?reveal_phone_number=true', {
        details: [{ email: WREN.email }],
      });

      // Assess
      expect(response.status).toBe(400);
      expect(sandbox.creditsConsumed()).toBe(0);
    });

    it('reveals phones for the request in one callback, 8 credits per mobile phone', async () => {
      // Prepare
      const received: string[] = [];
      const hook = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          received.push(body);
          res.end();
        });
      });
      await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
      const webhookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
      const ada = sandbox.addPerson({
        first_name: 'Ada',
        last_name: 'Lovelace',
        email: 'ada@analyticalengines.example',
        mobile_phones: [{ raw_number: '202-555-0199' }],
      });
      sandbox.setPhoneCallbacks({ mode: 'once', delayMs: 10 });

      try {
        // Act
        const reply = await bulkMatch(
          { details: [{ email: ada.email }, { email: 'nobody@nowhere.example' }] },
          `?reveal_phone_number=true&webhook_url=${encodeURIComponent(webhookUrl)}`,
        );

        // Assess
        expect(reply.credits_consumed).toBe(9);
        await vi.waitFor(() => expect(received).toHaveLength(1));
        expect(JSON.parse(received[0] ?? '{}')).toMatchObject({
          total_requested_enrichments: 2,
          credits_consumed: 9,
          people: [{ id: ada.id, status: 'success', phone_numbers: [{ type_cd: 'mobile' }] }],
        });
      } finally {
        await new Promise<void>((resolve) => hook.close(() => resolve()));
      }
    });

    it('answers a waterfall request with waterfall in place of counts and credits, without emails', async () => {
      // Prepare
      sandbox.addContact(WREN);

      // Act
      const reply = await bulkMatch(
        { details: [{ email: WREN.email }] },
        '?run_waterfall_email=true&webhook_url=https%3A%2F%2Fhooks.example%2Fw',
      );

      // Assess
      expect(reply.waterfall).toMatchObject({ status: 'accepted' });
      expect(reply).not.toHaveProperty('credits_consumed');
      expect(reply.matches[0]).not.toHaveProperty('email');
    });
  });

  describe('rate limits', () => {
    it("counts bulk_create and bulk_update apart from POST /contacts, at the contacts endpoints' limits, with both day spellings", async () => {
      // Prepare
      await call(sandbox, '/contacts', WREN);

      // Act
      const create = await call(sandbox, '/contacts/bulk_create', { contacts: [JUNO] });
      const update = await call(sandbox, '/contacts/bulk_update', {
        contact_ids: ['ffffffffffffffffffffffff'],
        title: 'x',
      });

      // Assess
      for (const response of [create, update]) {
        expect(response.headers.get('x-rate-limit-minute')).toBe('200');
        expect(response.headers.get('x-minute-usage')).toBe('1');
        expect(response.headers.get('x-rate-limit-hourly')).toBe('600');
        expect(response.headers.get('x-daily-requests-left')).toBe('1999');
        expect(response.headers.get('x-24-hour-requests-left')).toBe('1999');
      }
    });

    it("gives people/bulk_match half of people/match's minute limit, and the same hour and day", async () => {
      // Act
      const match = await call(sandbox, '/people/match', { email: WREN.email });
      const bulk = await call(sandbox, '/people/bulk_match', { details: [{ email: WREN.email }] });

      // Assess
      expect(match.headers.get('x-rate-limit-minute')).toBe('1000');
      expect(bulk.headers.get('x-rate-limit-minute')).toBe('500');
      expect(bulk.headers.get('x-rate-limit-hourly')).toBe(match.headers.get('x-rate-limit-hourly'));
      expect(bulk.headers.get('x-rate-limit-daily')).toBe(match.headers.get('x-rate-limit-daily'));
    });

    it.each([
      [{ rateLimitPerMinute: 200 }, { bulkCreate: '200', match: '200', bulkMatch: '100' }],
      [
        { rateLimits: { 'POST /people/match': { minute: 400 } } },
        { bulkCreate: '200', match: '400', bulkMatch: '200' },
      ],
      [
        {
          rateLimitPerMinute: 50,
          rateLimits: {
            'POST /contacts/bulk_create': { minute: 200 },
            'POST /people/bulk_match': { minute: 7 },
          },
        },
        { bulkCreate: '200', match: '50', bulkMatch: '7' },
      ],
    ] satisfies Array<[ApolloSandboxOptions, Record<string, string>]>)(
      'configures the windows per endpoint with %j',
      async (options, expected) => {
        await withSandbox(options, async (target) => {
          // Act
          const limits = {
            bulkCreate: (await call(target, '/contacts/bulk_create', { contacts: [JUNO] })).headers,
            match: (await call(target, '/people/match', { email: JUNO.email })).headers,
            bulkMatch: (await call(target, '/people/bulk_match', { details: [{ email: JUNO.email }] }))
              .headers,
          };

          // Assess
          expect(
            Object.fromEntries(
              Object.entries(limits).map(([name, headers]) => [name, headers.get('x-rate-limit-minute')]),
            ),
          ).toEqual(expected);
        });
      },
    );

    it('answers 429 with retry-after and a message naming people/bulk_match once its minute is used', async () => {
      await withSandbox({ rateLimits: { 'POST /people/bulk_match': { minute: 2 } } }, async (target) => {
        // Act
        const statuses = [];
        for (let attempt = 0; attempt < 2; attempt++) {
          statuses.push(
            (await call(target, '/people/bulk_match', { details: [{ email: JUNO.email }] })).status,
          );
        }
        const refused = await call(target, '/people/bulk_match', { details: [{ email: JUNO.email }] });
        const single = await call(target, '/people/match', { email: JUNO.email });

        // Assess
        expect(statuses).toEqual([200, 200]);
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await refused.json()).toEqual({
          message: expect.stringMatching(
            /^The maximum number of api calls allowed for api\/v1\/people\/bulk_match is 2 times per minute\./,
          ) as unknown,
        });
        expect(single.status).toBe(200);
      });
    });
  });

  describe('faults on bulk_create', () => {
    it("create-then-fail: the contacts exist although 500 is answered with bulk_create's documented body", async () => {
      // Prepare
      sandbox.inject({ path: '/contacts/bulk_create', action: 'create-then-fail' });

      // Act
      const response = await call(sandbox, '/contacts/bulk_create', {
        contacts: [WREN, JUNO],
        run_dedupe: true,
      });

      // Assess
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual(documentedReply('/contacts/bulk_create', 500).json);
      expect(sandbox.contacts()).toHaveLength(2);
    });

    it('create-then-reset: the contacts exist although the connection is dropped without an answer', async () => {
      // Prepare
      sandbox.inject({ path: '/contacts/bulk_create', action: 'create-then-reset' });

      // Act
      const attempt = call(sandbox, '/contacts/bulk_create', { contacts: [WREN, JUNO], run_dedupe: true });

      // Assess
      await expect(attempt).rejects.toThrow();
      expect(sandbox.contacts()).toHaveLength(2);
      expect(sandbox.requests()).toMatchObject([{ path: '/contacts/bulk_create', status: 0 }]);
    });

    it('applyFirst: a call that broke off midway created only the first contacts', async () => {
      // Prepare
      sandbox.inject({
        path: '/contacts/bulk_create',
        action: 'create-then-fail',
        status: 502,
        applyFirst: 2,
      });

      // Act
      const response = await call(sandbox, '/contacts/bulk_create', { contacts: people(5) });

      // Assess
      expect(response.status).toBe(502);
      expect(sandbox.contacts().map((contact) => contact.email)).toEqual([
        'p0@lanternfish.example',
        'p1@lanternfish.example',
      ]);
    });

    it('skip: lets the first calls of a burst through, then answers 429 with retry-after, then lets calls through again', async () => {
      // Prepare
      sandbox.inject({
        path: '/contacts/bulk_create',
        status: 429,
        retryAfterSeconds: 20,
        skip: 3,
        times: 2,
      });

      // Act
      const statuses = [];
      const retryAfters = [];
      for (let index = 0; index < 6; index++) {
        const response = await call(sandbox, '/contacts/bulk_create', { contacts: people(1, `b${index}-`) });
        statuses.push(response.status);
        retryAfters.push(response.headers.get('retry-after'));
      }

      // Assess
      expect(statuses).toEqual([200, 200, 200, 429, 429, 200]);
      expect(retryAfters[3]).toBe('20');
      expect(sandbox.contacts()).toHaveLength(4);
    });

    it('rewrite: the contacts are stored, and the reply the client gets is the rewritten one', async () => {
      // Prepare: a reply the client cannot map by email.
      sandbox.inject({
        path: '/contacts/bulk_create',
        action: 'rewrite',
        rewrite: (body) => {
          const reply = body as BulkCreateReply;
          return {
            ...reply,
            created_contacts: reply.created_contacts.map((contact) => ({ ...contact, email: null })),
          };
        },
      });

      // Act
      const reply = await bulkCreate({ contacts: [WREN, JUNO] });

      // Assess
      expect(reply.created_contacts.map((contact) => contact.email)).toEqual([null, null]);
      expect(sandbox.contacts().map((contact) => contact.email)).toEqual([WREN.email, JUNO.email]);
    });
  });
});
