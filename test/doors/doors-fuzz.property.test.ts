import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FUZZ_SOURCES,
  badlyAuthenticatedCustom,
  badlySignedHubSpot,
  hostileCustomBatch,
  hostileHubSpot,
  hubSpotBody,
  hubSpotPerson,
  invalidCustom,
  invalidHubSpot,
  partlyInvalidCustom,
  unknownSource,
  type CustomDelivery,
  type HubSpotDelivery,
} from '../support/door-arbitraries';
import { useServiceHarness, type HttpReply } from '../support/service-harness';
import {
  CONTROL_CHARACTER,
  E164,
  PHONE_FIELDS,
  badlySignedDelivery,
  isCreateFor,
  nowSeconds,
  personInput,
  type Delivery,
} from '../support/webhook-arbitraries';

/**
 * The hostile-input guarantees of every CRM door, as test/webhook-fuzz.property.test.ts proves them
 * for the Standard Webhooks door: generated bodies and headers thrown at the real handlers (the
 * in-process queue and its consumer behind them). Bad input is refused with a 4xx (never a 5xx),
 * without an Apollo call, a ledger write or a queued message; a body over 1 MB is a 413; valid
 * people with hostile content are queued (202) and become one clean contact each.
 */
const harness = useServiceHarness({ resetBeforeEach: false });
const CUSTOM = { CUSTOM_SOURCES: FUZZ_SOURCES };

const UNAUTHORIZED = { error: 'unauthorized', message: 'missing or invalid credentials' };
const invalidAnswer = (status: number) =>
  status === 413
    ? { error: 'payload_too_large', message: expect.any(String) as unknown }
    : {
        error: 'invalid_request',
        message: expect.any(String) as unknown,
        field: expect.stringMatching(/^body/) as unknown,
        reason: expect.any(String) as unknown,
      };

/**
 * What a request left behind (Apollo calls, ledger keys, queued keys), once the consumer has
 * converted what was queued; resets when there is any, for the next run.
 */
async function takeWrites(
  env: Record<string, string> = {},
): Promise<{ apolloCalls: string[]; ledgerKeys: string[]; queuedKeys: string[] }> {
  const ledgerKeys = (await harness.ledgerItems()).map((item) => JSON.stringify(item.pk));
  const queuedKeys = [...harness.queue.sent];
  if (queuedKeys.length > 0) await harness.settled().catch(() => undefined);
  const apolloCalls = harness.apollo.requests().map((request) => `${request.method} ${request.path}`);
  if (apolloCalls.length > 0 || ledgerKeys.length > 0 || queuedKeys.length > 0) await harness.reset(env);
  return { apolloCalls, ledgerKeys, queuedKeys };
}

async function expectAnsweredWithoutWrites(
  send: () => Promise<HttpReply>,
  status: number,
  body: unknown,
  env: Record<string, string> = {},
): Promise<void> {
  const reply = await send();
  const writes = await takeWrites(env);

  expect({ status: reply.status, body: reply.body }).toEqual({ status, body });
  expect(writes).toEqual({ apolloCalls: [], ledgerKeys: [], queuedKeys: [] });
}

const sendHubSpot = (delivery: HubSpotDelivery) => () =>
  harness.sendAs('hubspot', delivery.body, {
    headers: delivery.hubSpotHeaders?.(harness.publicApiUrl, Date.now()),
  });

const sendCustom = (delivery: CustomDelivery) => () =>
  harness.sendAs(`custom:${delivery.source}`, delivery.body, {
    headers: delivery.customHeaders && { 'content-type': 'application/json', ...delivery.customHeaders },
    secrets: { customSources: FUZZ_SOURCES },
  });

/** Nothing sent to Apollo is empty or carries a control character; phones are E.164. */
function expectCleanCreate(body: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(body)) {
    for (const text of Array.isArray(value) ? value : [value]) {
      if (typeof text !== 'string') continue;
      expect(text, `${field} sent empty`).not.toBe('');
      expect(CONTROL_CHARACTER.test(text), `${field} = ${JSON.stringify(text)}`).toBe(false);
    }
    if ((PHONE_FIELDS as readonly string[]).includes(field)) expect(value).toMatch(E164);
  }
}

/** bulk_create's entries, in order. */
const bulkCreated = () =>
  harness.apollo
    .requests()
    .filter((request) => request.method === 'POST' && request.path === '/contacts/bulk_create')
    .flatMap((request) => (request.body as { contacts: Array<Record<string, unknown>> }).contacts);

/**
 * Every contact sent to Apollo: bulk_create's entries, and the single creates (people with neither
 * email nor company go alone through `POST /contacts`).
 */
const createsSent = (): Array<Record<string, unknown>> => [
  ...bulkCreated(),
  ...harness.apollo
    .requests()
    .filter((request) => request.method === 'POST' && request.path === '/contacts')
    .map((request) => {
      const { run_dedupe: _dedupe, ...fields } = request.body as Record<string, unknown>;
      return fields;
    }),
];

/** What bulk_update set after bulk_create (typed phones, website, labels), entry by entry. */
const updatesSent = () =>
  harness.apollo
    .requests()
    .filter((request) => request.method === 'POST' && request.path === '/contacts/bulk_update')
    .flatMap(
      (request) =>
        (request.body as { contact_attributes: Array<Record<string, unknown>> }).contact_attributes,
    );

describe('Property: the HubSpot door', () => {
  it('refuses every missing, forged, stale, future or mis-addressed signature with 401, and writes nothing', async () => {
    const kinds = new Set<string>();
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(badlySignedHubSpot, async (delivery) => {
        kinds.add(delivery.kind);
        await expectAnsweredWithoutWrites(sendHubSpot(delivery), 401, UNAUTHORIZED);
      }),
      { numRuns: 200 },
    );
    expect([...kinds].sort()).toEqual(
      [
        'future',
        'garbage-signature',
        'malformed-timestamp',
        'missing',
        'other-secret',
        'signed-other-body',
        'signed-other-method',
        'signed-other-uri',
        'stale',
        'v2-signature',
      ].sort(),
    );
  }, 60_000);

  it('refuses correctly signed bodies that are no contact with 400 (413 over 1 MB), and writes nothing', async () => {
    const kinds = new Set<string>();
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(invalidHubSpot, async (delivery) => {
        kinds.add(delivery.kind);
        await expectAnsweredWithoutWrites(
          sendHubSpot(delivery),
          delivery.status,
          invalidAnswer(delivery.status),
        );
      }),
      { numRuns: 300 },
    );
    expect([...kinds].sort()).toEqual(
      [
        'bad-record-id',
        'deeply-nested',
        'huge-string',
        'json-not-object',
        'no-identity',
        'not-a-contact',
        'not-an-email',
        'not-json',
        'oversized',
        'wrong-type',
      ].sort(),
    );
  }, 90_000);

  it('turns a contact with hostile content, in either body shape, into exactly one clean contact with its record id', async () => {
    await fc.assert(
      fc.asyncProperty(hostileHubSpot, async ({ spec, shape, recordId }) => {
        await harness.reset();
        const body = hubSpotBody(hubSpotPerson(0, spec), shape, recordId);

        const reply = await harness.sendAs('hubspot', body);
        await harness.settled();
        const again = await harness.sendAs('hubspot', body);

        expect(reply.status, JSON.stringify(reply.body)).toBe(202);
        expect(reply.body.results).toEqual([expect.objectContaining({ status: 'queued' })]);
        expect(again.status).toBe(200);
        expect(again.body.results).toEqual([
          { ...reply.body.results[0], status: 'duplicate', contact_id: harness.apollo.contacts()[0]?.id },
        ]);
        const creates = createsSent();
        expect(creates).toHaveLength(1);
        expect(isCreateFor(0, spec, creates[0] as Record<string, unknown>)).toBe(true);
        // bulk_create carries the record id; a person alone on the single create (no email, no
        // company) does not (the consumer's single create sends no CRM ids).
        for (const entry of bulkCreated()) expect(entry.hubspot_id).toBe(String(recordId));
        for (const sent of [...creates, ...updatesSent()]) expectCleanCreate(sent);
      }),
      { numRuns: 30 },
    );
  }, 120_000);
});

describe('Property: the custom JSON door', () => {
  it('refuses a missing or wrong secret, or a wrong HMAC, with 401, and writes nothing', async () => {
    const kinds = new Set<string>();
    await harness.reset(CUSTOM);
    await fc.assert(
      fc.asyncProperty(badlyAuthenticatedCustom, async (delivery) => {
        kinds.add(delivery.kind);
        await expectAnsweredWithoutWrites(sendCustom(delivery), 401, UNAUTHORIZED, CUSTOM);
      }),
      { numRuns: 200 },
    );
    expect([...kinds].sort()).toEqual(
      [
        'garbage-hmac',
        'hmac-of-other-body',
        'hmac-truncated',
        'hmac-under-other-secret',
        'missing-secret',
        'wrong-secret',
      ].sort(),
    );
  }, 60_000);

  it('answers a source nobody configured with 404, whatever its name, and writes nothing', async () => {
    await harness.reset(CUSTOM);
    await fc.assert(
      fc.asyncProperty(unknownSource, async (delivery) => {
        await expectAnsweredWithoutWrites(
          sendCustom(delivery),
          404,
          { error: 'not_found', message: expect.stringMatching(/^no custom source named/) as unknown },
          CUSTOM,
        );
      }),
      { numRuns: 100 },
    );
  }, 60_000);

  it('refuses authenticated bodies without one usable person with 400 (413 over 1 MB), and writes nothing', async () => {
    const kinds = new Set<string>();
    await harness.reset(CUSTOM);
    await fc.assert(
      fc.asyncProperty(invalidCustom, async (delivery) => {
        kinds.add(delivery.kind.replace(/:.*/, ''));
        await expectAnsweredWithoutWrites(
          sendCustom(delivery),
          delivery.status,
          invalidAnswer(delivery.status),
          CUSTOM,
        );
      }),
      { numRuns: 300 },
    );
    expect([...kinds].sort()).toEqual(
      ['all-invalid', 'deeply-nested', 'no-list', 'not-json', 'oversized', 'people-count'].sort(),
    );
  }, 90_000);

  it('converts the valid people of a list and answers each invalid one at its index, writing nothing for it', async () => {
    await harness.reset(CUSTOM);
    await fc.assert(
      fc.asyncProperty(partlyInvalidCustom, async (delivery) => {
        const reply = await sendCustom(delivery)();
        const valid = delivery.expected.flatMap((position) => ('valid' in position ? [position.valid] : []));
        let creates: unknown[];
        const ids = new Map<string, string>();
        try {
          await harness.settled();
          creates = createsSent().map((create) => create.email);
          expect(reply.status, JSON.stringify(reply.body)).toBe(202);
          for (const email of valid) ids.set(email, await harness.conversionIdOf(email));
        } finally {
          // Whatever the assertions say, the next run starts from an empty Apollo and ledger.
          await takeWrites(CUSTOM);
        }

        expect(reply.status, JSON.stringify(reply.body)).toBe(202);
        expect(reply.body.results).toEqual(
          delivery.expected.map((position) =>
            'valid' in position
              ? { id: ids.get(position.valid), status: 'queued', contact_id: null }
              : {
                  id: null,
                  status: 'invalid',
                  contact_id: null,
                  field: expect.stringMatching(
                    new RegExp(`^${position.invalid.replace(/[[\]]/g, '\\$&')}(\\.|\\[|$)`),
                  ) as unknown,
                  reason: expect.stringMatching(/\S/) as unknown,
                },
          ),
        );
        expect(creates.sort()).toEqual([...valid].sort());
      }),
      { numRuns: 25 },
    );
  }, 180_000);

  it('turns a list of people with hostile content into exactly one clean contact each', async () => {
    await fc.assert(
      fc.asyncProperty(hostileCustomBatch, async (specs) => {
        await harness.reset(CUSTOM);
        const people = specs.map((spec, index) => personInput(index, spec));

        const reply = await sendCustom({
          source: 'fuzz',
          body: JSON.stringify({ people }),
        } as CustomDelivery)();
        await harness.settled();

        expect(reply.status, JSON.stringify(reply.body)).toBe(202);
        expect(reply.body.results.map((result) => result.status)).toEqual(specs.map(() => 'queued'));
        const creates = createsSent();
        expect(creates).toHaveLength(specs.length);
        expect(harness.apollo.contacts()).toHaveLength(specs.length);
        specs.forEach((spec, index) => {
          const create = creates.find((body) => isCreateFor(index, spec, body));
          expect(create, `create request of person ${index}`).toBeDefined();
        });
        // The source's label reaches every contact: with bulk_update after bulk_create, or on the
        // single create.
        for (const contact of harness.apollo.contacts()) {
          expect(contact.label_names, contact.email ?? '').toEqual(expect.arrayContaining(['Fuzz']));
        }
        for (const sent of [...creates, ...updatesSent()]) expectCleanCreate(sent);
      }),
      { numRuns: 20 },
    );
  }, 120_000);
});

describe('Property: Standard Webhooks under svix-* headers', () => {
  it('refuses every bad signature under the svix-* spelling with 401, and writes nothing', async () => {
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(badlySignedDelivery, async (delivery: Delivery) => {
        const headers = Object.fromEntries(
          Object.entries(delivery.headers?.(nowSeconds()) ?? {}).map(([name, value]) => [
            name.replace(/^webhook-/, 'svix-'),
            value,
          ]),
        );
        await expectAnsweredWithoutWrites(
          () => harness.webhook(delivery.body, { headers }),
          401,
          UNAUTHORIZED,
        );
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});
