import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SALESFORCE_ACK } from '../../lib/doors/salesforce';
import {
  hostilePipedrivePerson,
  hostileSalesforceMessage,
  ignoredPipedriveEvent,
  refusedPipedriveRequest,
  refusedSalesforceRequest,
  type PipedriveRequest,
  type SalesforceRequest,
} from '../support/crm-door-arbitraries';
import { useServiceHarness, type HttpReply } from '../support/service-harness';

/**
 * Property-based tests of the Salesforce and Pipedrive doors: generated bodies, secrets and
 * credentials (test/support/crm-door-arbitraries.ts) thrown at the real handlers (dynalite, the
 * in-process conversion queue and its consumer, the Apollo sandbox and the local state machine
 * behind them). Bad input is never answered with a 5xx, and what is refused calls no Apollo,
 * writes nothing and queues nothing.
 */

const harness = useServiceHarness({ resetBeforeEach: false });

interface Writes {
  apolloCalls: string[];
  ledgerKeys: string[];
  queuedKeys: readonly string[];
}

/**
 * What a request left behind, once the queue's consumer has converted what it queued (with the
 * contacts it sent to bulk_create); resets when there is any, so the next run starts clean.
 */
async function takeWrites(): Promise<Writes & { created: Array<Record<string, unknown>> }> {
  const ledgerKeys = (await harness.ledgerItems()).map((item) => JSON.stringify(item.pk));
  const queuedKeys = [...harness.queue.sent];
  if (queuedKeys.length > 0) await harness.settled().catch(() => undefined);
  const requests = harness.apollo.requests();
  const apolloCalls = requests.map((request) => `${request.method} ${request.path}`);
  const created = requests
    .filter((request) => request.method === 'POST' && request.path === '/contacts/bulk_create')
    .flatMap((request) => (request.body as { contacts: Array<Record<string, unknown>> }).contacts);
  if (apolloCalls.length > 0 || ledgerKeys.length > 0 || queuedKeys.length > 0) await harness.reset();
  return { apolloCalls, ledgerKeys, queuedKeys, created };
}

const NOTHING: Writes = { apolloCalls: [], ledgerKeys: [], queuedKeys: [] };

/** The writes alone, to compare with NOTHING. */
function writesOf({ apolloCalls, ledgerKeys, queuedKeys }: Writes): Writes {
  return { apolloCalls, ledgerKeys, queuedKeys };
}

function sendSalesforce(request: SalesforceRequest) {
  return harness.salesforce(request.body, request.secret === undefined ? {} : { secret: request.secret });
}

function sendPipedrive(request: PipedriveRequest): Promise<HttpReply> {
  return request.authorization === undefined
    ? harness.pipedrive(request.body)
    : harness.pipedrive(request.body, request.authorization);
}

const SOAP_FAULT =
  /^<\?xml version="1.0" encoding="UTF-8"\?><soapenv:Envelope [^>]*><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client<\/faultcode><faultstring>[^<]*<\/faultstring><\/soapenv:Fault><\/soapenv:Body><\/soapenv:Envelope>$/;

const EXPECTED_STATUS: Record<string, number> = {
  'wrong-secret': 401,
  'other-org': 401,
  oversized: 413,
  'wrong-credentials': 401,
};

describe('Property: Salesforce door', () => {
  it('refuses whatever is not an acceptable Outbound Message with a 4xx SOAP fault, and writes nothing', async () => {
    const kinds = new Set<string>();
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(refusedSalesforceRequest, async (request) => {
        kinds.add(request.kind);
        const reply = await sendSalesforce(request);
        const writes = writesOf(await takeWrites());

        expect({ status: reply.status, writes }, request.label).toEqual({
          status: EXPECTED_STATUS[request.kind] ?? 400,
          writes: NOTHING,
        });
        expect(reply.headers['content-type']).toBe('text/xml; charset=utf-8');
        expect(reply.body).toMatch(SOAP_FAULT);
      }),
      { numRuns: 300 },
    );
    expect([...kinds].sort()).toEqual(
      [
        'bad-org-id',
        'bad-reference',
        'bytes',
        'deep',
        'dtd',
        'json',
        'markup',
        'notification-count',
        'other-org',
        'oversized',
        'text',
        'truncated-tag',
        'unicode',
        'wrong-secret',
      ].sort(),
    );
  }, 180_000);

  it('acknowledges well-formed messages of people with any field content: each one converted or invalid, never a 5xx', async () => {
    let messagesWithCreates = 0;
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(hostileSalesforceMessage, async (request) => {
        const reply = await sendSalesforce(request);
        const { created } = await takeWrites();
        if (created.length > 0) messagesWithCreates += 1;

        expect({ status: reply.status, body: reply.body }, request.label).toEqual({
          status: 200,
          body: SALESFORCE_ACK,
        });
        // Every create carries only clean text: the id (when sent) is an 18-character Salesforce id.
        for (const create of created) {
          for (const value of [create.salesforce_contact_id, create.salesforce_lead_id]) {
            if (value !== undefined) expect(value).toMatch(/^[A-Za-z0-9]{18}$/);
          }
        }
      }),
      // Each run with people converts them and resets the harness: a few dozen runs are minutes.
      { numRuns: 25 },
    );
    expect(messagesWithCreates).toBeGreaterThan(0);
  }, 180_000);
});

describe('Property: Pipedrive door', () => {
  it('refuses what is not an authenticated Pipedrive webhook with a 4xx, and writes nothing', async () => {
    const kinds = new Set<string>();
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(refusedPipedriveRequest, async (request) => {
        kinds.add(request.kind);
        const reply = await sendPipedrive(request);
        const writes = writesOf(await takeWrites());

        expect({ status: reply.status, writes }, request.label).toEqual({
          status: EXPECTED_STATUS[request.kind] ?? 400,
          writes: NOTHING,
        });
        expect(reply.body).toMatchObject({
          error: expect.any(String) as unknown,
          message: expect.any(String) as unknown,
        });
      }),
      { numRuns: 300 },
    );
    expect([...kinds].sort()).toEqual(
      [
        'json-without-meta',
        'not-json',
        'oversized',
        'person-not-an-object',
        'unknown-meta',
        'wrong-credentials',
      ].sort(),
    );
  }, 180_000);

  it('acknowledges deletions and other entities or actions with 200, and writes nothing', async () => {
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(ignoredPipedriveEvent, async (request) => {
        const reply = await sendPipedrive(request);
        const writes = writesOf(await takeWrites());

        expect({ status: reply.status, results: reply.body.results, writes }, request.label).toEqual({
          status: 200,
          results: [],
          writes: NOTHING,
        });
        expect(typeof reply.body.ignored).toBe('string');
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('answers person events with any field content: the person queued (202) and converted, or invalid (200) with nothing written', async () => {
    const outcomes = new Set<string>();
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(hostilePipedrivePerson, async (request) => {
        const reply = await sendPipedrive(request);
        const writes = await takeWrites();

        expect(reply.body.results, `${request.label}: ${JSON.stringify(reply.body)}`).toHaveLength(1);
        const status = reply.body.results[0]?.status as string;
        outcomes.add(status);
        expect(reply.status, request.label).toBe(status === 'queued' ? 202 : 200);
        expect(['queued', 'invalid'], request.label).toContain(status);
        if (status === 'invalid') expect(writesOf(writes), request.label).toEqual(NOTHING);
        else expect(writes.created, request.label).toHaveLength(1);
      }),
      { numRuns: 150 },
    );
    expect([...outcomes].sort()).toEqual(['invalid', 'queued']);
  }, 180_000);
});
