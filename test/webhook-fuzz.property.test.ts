import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { useServiceHarness, type HttpReply } from './support/service-harness';
import {
  CONTROL_CHARACTER,
  E164,
  PHONE_FIELDS,
  badlySignedDelivery,
  emailOf,
  envelope,
  hostileBatch,
  ignoredDelivery,
  invalidDelivery,
  partlyInvalidDelivery,
  isBlank,
  isCreateFor,
  nowSeconds,
  personInput,
  spelledEmail,
  type Delivery,
  type PersonSpec,
} from './support/webhook-arbitraries';

/**
 * Property-based tests of the webhook handler: generated bodies and header sets
 * (test/support/webhook-arbitraries.ts) thrown at the real handler (dynalite, the Apollo sandbox
 * and the local state machine behind it, as in production).
 */

// One harness for the file; each property resets it where it needs a clean Apollo and ledger.
const harness = useServiceHarness({ resetBeforeEach: false });

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function send(delivery: Delivery): Promise<HttpReply> {
  return harness.webhook(delivery.body, delivery.headers ? { headers: delivery.headers(nowSeconds()) } : {});
}

/**
 * What a request left behind: Apollo calls and ledger keys. Cleans up when there is any, so the next
 * run (and fast-check's shrinking) starts from an empty Apollo and ledger whatever this one asserts.
 */
async function takeWrites(): Promise<{ apolloCalls: string[]; ledgerKeys: string[] }> {
  const apolloCalls = harness.apollo.requests().map((request) => `${request.method} ${request.path}`);
  const ledgerKeys = (await harness.ledgerItems()).map((item) => JSON.stringify(item.pk));
  if (apolloCalls.length > 0 || ledgerKeys.length > 0) {
    await harness.verificationsSettled().catch(() => undefined);
    await harness.reset();
  }
  return { apolloCalls, ledgerKeys };
}

/** Sends the delivery and asserts its answer, and that it called no Apollo and wrote no ledger item. */
async function expectAnsweredWithoutWrites(delivery: Delivery, status: number, body: unknown): Promise<void> {
  const reply = await send(delivery);
  const writes = await takeWrites();

  expect({ status: reply.status, body: reply.body }).toEqual({ status, body });
  expect(writes).toEqual({ apolloCalls: [], ledgerKeys: [] });
}

/** What bulk_create was sent, entry by entry (Apollo's documented request: `contacts[]`). */
function bulkCreated(): Array<Record<string, unknown>> {
  return harness.apollo
    .requests()
    .filter((request) => request.method === 'POST' && request.path === '/contacts/bulk_create')
    .flatMap((request) => (request.body as { contacts: Array<Record<string, unknown>> }).contacts);
}

/**
 * Every contact sent to Apollo: bulk_create's entries, and the single creates (people with neither
 * email nor company go alone through `POST /contacts`, which takes their website and phones).
 */
function everyCreate(): Array<Record<string, unknown>> {
  const singles = harness.apollo
    .requests()
    .filter((request) => request.method === 'POST' && request.path === '/contacts')
    .map((request) => {
      const { run_dedupe: _dedupe, ...fields } = request.body as Record<string, unknown>;
      return fields;
    });
  return [...bulkCreated(), ...singles];
}

/** The phone field each phone type on a contact comes from. */
const FIELD_OF_TYPE: Record<string, string | undefined> = {
  work_direct: 'direct_phone',
  work_hq: 'corporate_phone',
  mobile: 'mobile_phone',
  home: 'home_phone',
  other: 'other_phone',
};

interface ResultBody {
  id: string;
  status: string;
  contact_id: string | null;
  dropped_fields?: string[];
}

/** Generous: each property makes hundreds of real handler calls (the last one about 100 conversions). */
describe('Property: webhook handler', () => {
  it('refuses every missing, malformed, stale, future or forged signature with 401, and writes nothing', async () => {
    const kinds = new Set<string>();
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(badlySignedDelivery, async (delivery) => {
        kinds.add(delivery.kind);
        await expectAnsweredWithoutWrites(delivery, 401, {
          error: 'unauthorized',
          message: 'missing or invalid credentials',
        });
      }),
      { numRuns: 300 },
    );
    expect([...kinds].sort()).toEqual(
      [
        'emptied',
        'future',
        'garbage-signature',
        'huge-timestamp',
        'malformed-timestamp',
        'missing',
        'other-id',
        'other-secret',
        'signed-other-body',
        'stale',
        'wrong-version',
      ].sort(),
    );
  }, 60_000);

  it('refuses correctly signed bodies that are not valid requests with 400 (413 over 1 MB), and writes nothing', async () => {
    const kinds = new Set<string>();
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(invalidDelivery, async (delivery) => {
        kinds.add(delivery.kind);
        await expectAnsweredWithoutWrites(
          delivery,
          delivery.status,
          delivery.status === 413
            ? { error: 'payload_too_large', message: expect.any(String) as unknown }
            : {
                error: 'invalid_request',
                message: expect.any(String) as unknown,
                field: expect.stringMatching(/^body/) as unknown,
                reason: expect.any(String) as unknown,
              },
        );
      }),
      { numRuns: 500 },
    );
    expect([...kinds].sort()).toEqual(
      [
        'deeply-nested',
        'envelope-timestamp',
        'huge-string',
        'json-not-object',
        'no-identity',
        'not-an-email',
        'not-json',
        'oversized',
        'people-count',
        'wrong-type',
      ].sort(),
    );
  }, 60_000);

  it('converts the valid people of a batch and answers each invalid one at its index, writing nothing for it', async () => {
    const kinds = new Set<string>();
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(partlyInvalidDelivery, async (delivery) => {
        for (const position of delivery.expected) if ('why' in position) kinds.add(position.why);
        const reply = await send(delivery);
        await harness.settled();
        // Valid people of one name at one company are told apart by email (Apollo's dedupe would
        // merge them): whichever way each was created, one contact per valid person.
        const creates = harness.apollo.contacts().map((contact) => contact.email as string);
        const valid = delivery.expected.flatMap((position) => ('valid' in position ? [position.valid] : []));
        const ids = new Map<string, string>();
        // Read before `takeWrites`, which resets the ledger (and asserted after it: a failed run
        // must not leave its people to the next one).
        for (const email of valid) ids.set(email, await harness.conversionIdOf(email).catch(() => ''));
        const writes = await takeWrites();
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
                    new RegExp(`^${escapeRegExp(position.invalid)}(\\.|\\[|$)`),
                  ) as unknown,
                  reason: expect.stringMatching(/\S/) as unknown,
                },
          ),
        );
        // One contact per valid person and nothing else; the ledger holds records of the valid people
        // only (besides their identity items and the delivery's own `webhook:` item).
        expect(creates.sort()).toEqual([...valid].sort());
        const recordKeys = writes.ledgerKeys.filter((key) => /^\{"S":"c_/.test(key));
        expect(recordKeys.sort()).toEqual([...ids.values()].map((id) => JSON.stringify({ S: id })).sort());
      }),
      { numRuns: 30 },
    );
    expect([...kinds].sort()).toEqual(
      ['huge-string', 'no-identity', 'not-an-email', 'not-an-object', 'wrong-type'].sort(),
    );
  }, 180_000);

  it('acknowledges other event types with 200, whatever their data, and writes nothing', async () => {
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(ignoredDelivery, async (delivery) => {
        await expectAnsweredWithoutWrites(delivery, 200, { ignored: delivery.type, results: [] });
      }),
      { numRuns: 200 },
    );
  }, 60_000);

  it('turns valid people with hostile content into exactly one clean, verified contact each', async () => {
    const kinds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(hostileBatch, async ({ people: specs, repeats, shape }) => {
        for (const spec of specs) {
          kinds.add(spec.identity);
          for (const phone of Object.values(spec.phones)) kinds.add(`${phone.kind} phone`);
        }
        if (repeats.length > 0) kinds.add('repeated person');
        await harness.reset();
        const inputs = specs.map((spec, index) => personInput(index, spec));
        // The same person listed again, with the email spelled differently.
        const repeated = repeats.map(({ of, emailCase }) => {
          const index = of % specs.length;
          const spec = specs[index] as PersonSpec;
          return {
            ...personInput(index, spec),
            ...(spec.identity === 'email' && { email: spelledEmail(index, { ...spec, emailCase }) }),
          };
        });
        const sent = [...inputs, ...repeated];
        const data = shape === 'person' && sent.length === 1 ? { person: sent[0] } : { people: sent };

        const reply = await harness.webhook(JSON.stringify(envelope(data)));
        await harness.settled();

        // One result per position, one queued person per distinct person, one contact each.
        expect(reply.status).toBe(202);
        const results = reply.body.results as ResultBody[];
        expect(results).toHaveLength(sent.length);
        expect(results.every((result) => result.status === 'queued')).toBe(true);
        expect(new Set(results.map((result) => result.id)).size).toBe(specs.length);
        for (const [index, spec] of specs.entries()) {
          if (spec.identity === 'email') {
            expect(results[index]?.id).toBe(await harness.conversionIdOf(emailOf(index)));
          }
        }
        repeated.forEach(({ email }, r) => {
          const index = (repeats[r]?.of ?? 0) % specs.length;
          expect(results[specs.length + r], `repeat of person ${index} (${String(email)})`).toEqual(
            results[index],
          );
        });
        expect(harness.apollo.contacts()).toHaveLength(specs.length);
        // What was sent for each person: its bulk_create entry (no phones), with the typed phones
        // the contact holds afterwards (set by bulk_update), or its single create.
        const creates = everyCreate().map((entry) => {
          const contact = harness.apollo
            .contacts()
            .find((candidate) =>
              specs.some(
                (spec, index) =>
                  isCreateFor(index, spec, entry) &&
                  isCreateFor(index, spec, candidate as unknown as Record<string, unknown>),
              ),
            );
          const phones = Object.fromEntries(
            (contact?.phone_numbers ?? []).flatMap((phone) => {
              const field = FIELD_OF_TYPE[phone.type ?? ''];
              return field === undefined ? [] : [[field, phone.raw_number]];
            }),
          );
          return { ...entry, ...phones };
        });
        expect(creates).toHaveLength(specs.length);
        for (const entry of bulkCreated()) {
          for (const field of PHONE_FIELDS) expect(entry[field], `${field} in bulk_create`).toBeUndefined();
        }

        // Nothing sent to Apollo is empty or carries a control character; phones are E.164.
        for (const body of creates) {
          for (const [field, value] of Object.entries(body)) {
            const texts = Array.isArray(value) ? value : [value];
            for (const text of texts) {
              if (typeof text !== 'string') continue;
              expect(text, `${field} sent empty`).not.toBe('');
              expect(CONTROL_CHARACTER.test(text), `${field} = ${JSON.stringify(text)}`).toBe(false);
            }
            if ((PHONE_FIELDS as readonly string[]).includes(field)) expect(value).toMatch(E164);
          }
        }

        // Every phone is either sent in E.164 or dropped and reported, never both, never lost.
        specs.forEach((spec, index) => {
          const body = creates.find((create) => isCreateFor(index, spec, create));
          expect(body, `create request of person ${index}`).toBeDefined();
          const dropped = [...(results[index]?.dropped_fields ?? [])].sort();
          const expectedDropped: string[] = [];
          for (const field of PHONE_FIELDS) {
            const phone = spec.phones[field];
            const value = body?.[field];
            if (phone === undefined || isBlank(phone.raw)) {
              expect(value, `${field} absent`).toBeUndefined();
              continue;
            }
            if (phone.kind === 'readable')
              expect(value, `${field} ${JSON.stringify(phone.raw)}`).toBe(phone.e164);
            if (phone.kind === 'garbage')
              expect(value, `${field} ${JSON.stringify(phone.raw)}`).toBeUndefined();
            if (value === undefined) expectedDropped.push(field);
          }
          expect(dropped, `dropped_fields of person ${index}`).toEqual(expectedDropped.sort());
        });

        // Each one verified through people/match (the other items are identities naming the records).
        const statuses = (await harness.ledgerItems())
          .filter((item) => item.status !== undefined)
          .map((item) => (item.status as { S?: string }).S);
        expect(statuses).toEqual(specs.map(() => 'verified'));
      }),
      { numRuns: 100 },
    );
    expect([...kinds].sort()).toEqual(
      [
        'email',
        'garbage phone',
        'name',
        'random phone',
        'readable phone',
        'repeated person',
        'website',
      ].sort(),
    );
  }, 180_000);
});
