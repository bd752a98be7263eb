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
 * Apollo sandbox and the local state machine behind them). Bad input is never answered with a
 * 5xx, and what is refused calls no Apollo and writes nothing.
 */

const harness = useServiceHarness({ resetBeforeEach: false });

/** What a request left behind; resets when there is any, so the next run starts clean. */
async function takeWrites(): Promise<{ apolloCalls: string[]; ledgerKeys: string[] }> {
  const apolloCalls = harness.apollo.requests().map((request) => `${request.method} ${request.path}`);
  const ledgerKeys = (await harness.ledgerItems()).map((item) => JSON.stringify(item.pk));
  if (apolloCalls.length > 0 || ledgerKeys.length > 0) {
    await harness.verificationsSettled().catch(() => undefined);
    await harness.reset();
  }
  return { apolloCalls, ledgerKeys };
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
        const writes = await takeWrites();

        expect({ status: reply.status, writes }, request.label).toEqual({
          status: EXPECTED_STATUS[request.kind] ?? 400,
          writes: { apolloCalls: [], ledgerKeys: [] },
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
        const created = harness.apollo
          .requests()
          .filter((r) => r.method === 'POST' && r.path === '/contacts');
        await takeWrites();
        if (created.length > 0) messagesWithCreates += 1;

        expect({ status: reply.status, body: reply.body }, request.label).toEqual({
          status: 200,
          body: SALESFORCE_ACK,
        });
        // Every create carries only clean text: the id (when sent) is an 18-character Salesforce id.
        for (const create of created) {
          const id = create.body as { salesforce_contact_id?: string; salesforce_lead_id?: string };
          for (const value of [id.salesforce_contact_id, id.salesforce_lead_id]) {
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
        const writes = await takeWrites();

        expect({ status: reply.status, writes }, request.label).toEqual({
          status: EXPECTED_STATUS[request.kind] ?? 400,
          writes: { apolloCalls: [], ledgerKeys: [] },
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
        const writes = await takeWrites();

        expect({ status: reply.status, results: reply.body.results, writes }, request.label).toEqual({
          status: 200,
          results: [],
          writes: { apolloCalls: [], ledgerKeys: [] },
        });
        expect(typeof reply.body.ignored).toBe('string');
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('answers person events with any field content with 200: the person converted, or invalid with nothing written', async () => {
    const outcomes = new Set<string>();
    await harness.reset();
    await fc.assert(
      fc.asyncProperty(hostilePipedrivePerson, async (request) => {
        const reply = await sendPipedrive(request);
        const writes = await takeWrites();

        expect(reply.status, `${request.label}: ${JSON.stringify(reply.body)}`).toBe(200);
        expect(reply.body.results).toHaveLength(1);
        const status = reply.body.results[0]?.status as string;
        outcomes.add(status);
        expect(['created', 'invalid'], request.label).toContain(status);
        if (status === 'invalid') expect(writes, request.label).toEqual({ apolloCalls: [], ledgerKeys: [] });
      }),
      { numRuns: 150 },
    );
    expect([...outcomes].sort()).toEqual(['created', 'invalid']);
  }, 180_000);
});
