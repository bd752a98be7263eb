import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useServiceHarness, type ServiceHarness } from '../support/service-harness';

/**
 * Each front door end to end, through the real handlers (dynalite, the Apollo sandbox, the
 * in-process conversion queue feeding the real consumer, the verification state machine from
 * serverless.yml): what a HubSpot workflow, a Svix-based sender and Clay, Zapier, Make or n8n send,
 * signed as they sign, answered 202 `queued` at once, each ending in one verified contact per person.
 */
const harness = useServiceHarness();
const event = (name: string) => readFileSync(path.resolve(__dirname, '../../events', name), 'utf8');
const EXAMPLE_SOURCES = JSON.parse(
  readFileSync(path.resolve(__dirname, '../../docs/crm/custom-sources.example.json'), 'utf8'),
) as Record<string, unknown>;

interface Result {
  id: string | null;
  status: string;
  contact_id: string | null;
  field?: string;
}
const resultsOf = (reply: { body: { results?: unknown } }) => (reply.body.results ?? []) as Result[];

/** The contacts the consumer sent to Apollo's bulk_create, in order. */
const creates = (h: ServiceHarness) =>
  h.apollo
    .requests()
    .filter((request) => request.method === 'POST' && request.path === '/contacts/bulk_create')
    .flatMap((request) => (request.body as { contacts: Array<Record<string, unknown>> }).contacts);

/** What bulk_update set after bulk_create (typed phones, website, labels), in order. */
const updates = (h: ServiceHarness) =>
  h.apollo
    .requests()
    .filter((request) => request.method === 'POST' && request.path === '/contacts/bulk_update')
    .flatMap(
      (request) =>
        (request.body as { contact_attributes: Array<Record<string, unknown>> }).contact_attributes,
    );

async function expectVerified(h: ServiceHarness, ids: Array<string | null>): Promise<void> {
  await h.settled();
  for (const id of ids) {
    const record = await h.getConversion(id as string);
    expect(record.body).toMatchObject({ id, status: 'verified' });
  }
}

async function expectNothingWritten(h: ServiceHarness): Promise<void> {
  expect(h.apollo.requests()).toEqual([]);
  expect(await h.ledgerItems()).toEqual([]);
}

describe('Door: HubSpot workflow webhook', () => {
  it('converts the "all contact properties" body into one verified contact carrying the HubSpot record id', async () => {
    const reply = await harness.sendAs('hubspot', event('hubspot-all-properties.json'));
    await harness.settled();

    expect(reply.status).toBe(202);
    const [result] = resultsOf(reply);
    expect(result).toMatchObject({ status: 'queued', contact_id: null });
    expect(creates(harness)).toEqual([
      expect.objectContaining({
        email: 'grace.hopper@cobolworks.example',
        first_name: 'Grace',
        organization_name: 'COBOL Works Inc.',
        present_raw_address: '1 Harvard Way, Arlington, VA, United States',
        hubspot_id: '1501',
      }),
    ]);
    expect(updates(harness)).toEqual([expect.objectContaining({ mobile_phone: '+15550101992' })]);
    expect(harness.apollo.contacts()).toEqual([expect.objectContaining({ hubspot_id: '1501' })]);
    await expectVerified(harness, [result?.id ?? null]);
  });

  it("answers HubSpot's retry of the same contact from the ledger, without calling Apollo", async () => {
    const first = await harness.sendAs('hubspot', event('hubspot-custom-body.json'));
    await harness.settled();
    const callsBefore = harness.apollo.requests().length;

    const retry = await harness.sendAs('hubspot', event('hubspot-custom-body.json'));

    expect(retry.status).toBe(200);
    expect(resultsOf(retry)).toEqual([
      { ...resultsOf(first)[0], status: 'duplicate', contact_id: harness.apollo.contacts()[0]?.id },
    ]);
    expect(harness.apollo.requests().length).toBe(callsBefore);
    expect(harness.queue.sent).toHaveLength(1);
  });

  it('refuses a forged, stale or unsigned delivery with 401 and writes nothing', async () => {
    const body = event('hubspot-custom-body.json');
    const replies = [
      await harness.sendAs('hubspot', body, { secrets: { hubspotClientSecret: 'not-the-app-secret' } }),
      await harness.sendAs('hubspot', body, { nowMs: Date.now() - 301_000 }),
      await harness.sendAs('hubspot', body, { headers: { 'content-type': 'application/json' } }),
    ];

    expect(replies.map((reply) => reply.status)).toEqual([401, 401, 401]);
    await expectNothingWritten(harness);
  });

  it('answers without Apollo, and 503 (which HubSpot retries, unlike a 4xx) when the queue refuses a send', async () => {
    harness.queue.pause();
    harness.queue.refuseNext({ error: new Error('SQS is unavailable') });

    const refused = await harness.sendAs('hubspot', event('hubspot-custom-body.json'));
    const retried = await harness.sendAs('hubspot', event('hubspot-custom-body.json'));
    const apolloCallsAtAnswer = harness.apollo.requests().length;
    await harness.settled();

    expect(apolloCallsAtAnswer).toBe(0);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(retried.status).toBe(202);
    expect(resultsOf(retried)).toEqual([expect.objectContaining({ status: 'queued' })]);
    expect(harness.queue.sent).toEqual([resultsOf(retried)[0]?.id]);
    await expectVerified(harness, [resultsOf(retried)[0]?.id ?? null]);
  }, 30_000);
});

describe('Door: HubSpot with an API key', () => {
  it('takes the key in its named header, and refuses any other with 401', async () => {
    await harness.reset({ HUBSPOT_AUTH: 'api_key', HUBSPOT_API_KEY_NAME: 'X-Workflow-Key' });
    const secrets = { hubspotApiKeyName: 'x-workflow-key' };

    const accepted = await harness.sendAs('hubspot-api-key', event('hubspot-custom-body.json'), { secrets });
    const refused = await harness.sendAs('hubspot-api-key', event('hubspot-custom-body.json'), {
      secrets: { ...secrets, hubspotApiKey: 'another-key' },
    });

    expect(accepted.status).toBe(202);
    expect(refused.status).toBe(401);
  });

  it('takes the key from the query when configured so', async () => {
    await harness.reset({
      HUBSPOT_AUTH: 'api_key',
      HUBSPOT_API_KEY_IN: 'query',
      HUBSPOT_API_KEY_NAME: 'key',
    });
    const secrets = { hubspotApiKeyIn: 'query' as const, hubspotApiKeyName: 'key' };

    const accepted = await harness.sendAs('hubspot-api-key', event('hubspot-custom-body.json'), { secrets });
    const inHeader = await harness.sendAs('hubspot-api-key', event('hubspot-custom-body.json'), {
      secrets: { hubspotApiKeyName: 'key' },
    });

    expect(accepted.status).toBe(202);
    expect(inHeader.status).toBe(401);
  });
});

describe('Door: Standard Webhooks from Svix-based senders', () => {
  it('converts a delivery the svix package signed under svix-* headers, and answers its replay once', async () => {
    const body = event('enrichment-completed.json');
    const id = 'msg_2vJ9sV4hZ1kq8Xb0pQ7nR3tW6yU';

    const first = await harness.sendAs('svix', body, { id });
    const replay = await harness.sendAs('svix', body, { id });

    expect(first.status).toBe(202);
    expect(resultsOf(first)).toEqual([expect.objectContaining({ status: 'queued' })]);
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    expect(harness.queue.sent).toHaveLength(1);
    await expectVerified(
      harness,
      resultsOf(first).map((result) => result.id),
    );
  });
});

describe('Door: custom JSON sources', () => {
  it("converts Clay's templated row with the source's label", async () => {
    const reply = await harness.sendAs('custom:clay', event('custom-clay.json'));
    await harness.settled();

    expect(reply.status).toBe(202);
    expect(creates(harness)).toEqual([
      expect.objectContaining({ email: 'dorothy.vaughan@fortranlab.example' }),
    ]);
    expect(updates(harness)).toEqual([expect.objectContaining({ label_names: ['Clay'] })]);
    await expectVerified(
      harness,
      resultsOf(reply).map((result) => result.id),
    );
  });

  it("converts Make's list of people, one without email, and answers a repeated execution id once", async () => {
    const body = event('custom-make.json');

    const first = await harness.sendAs('custom:make', body, { id: 'make-execution-1' });
    const repeated = await harness.sendAs('custom:make', body, { id: 'make-execution-1' });

    expect(first.status).toBe(202);
    expect(resultsOf(first).map((result) => result.status)).toEqual(['queued', 'queued']);
    expect(repeated.body).toEqual(first.body);
    expect(harness.queue.sent).toHaveLength(2);
    await expectVerified(
      harness,
      resultsOf(first).map((result) => result.id),
    );
  });

  it("accepts n8n's HMAC of the raw body, and refuses a body it does not sign", async () => {
    const body = JSON.stringify([{ email: 'ada@seq.example', firstName: 'Ada', lastName: 'Quill' }]);
    const other = JSON.stringify([{ email: 'eve@seq.example' }]);
    const hmacOfBody = createHmac('sha256', 'local-n8n-secret-not-for-production').update(body).digest('hex');

    const signed = await harness.sendAs('custom:n8n', body);
    const forged = await harness.sendAs('custom:n8n', other, {
      headers: { 'content-type': 'application/json', 'x-n8n-signature': hmacOfBody },
    });

    await harness.settled();
    expect(signed.status).toBe(202);
    expect(forged.status).toBe(401);
    expect(creates(harness).map((create) => create.email)).toEqual(['ada@seq.example']);
  });

  it('answers 404 for a source nobody configured and 401 for a wrong secret, writing nothing', async () => {
    // The sender knows a source "sheets" (its own copy of Clay's map); the service does not.
    const unknown = await harness.sendAs('custom:sheets', event('custom-clay.json'), {
      secrets: { customSources: JSON.stringify({ sheets: EXAMPLE_SOURCES.clay }) },
    });
    const wrong = await harness.sendAs('custom:clay', event('custom-clay.json'), {
      headers: {
        'content-type': 'application/json',
        'x-clay-secret': 'local-zapier-secret-not-for-production',
      },
    });

    expect(unknown.status).toBe(404);
    expect(wrong.status).toBe(401);
    await expectNothingWritten(harness);
  });

  it('knows a person by its HubSpot record id across doors: Zapier first, then the HubSpot workflow without email', async () => {
    const viaZapier = await harness.sendAs('custom:zapier', event('custom-zapier.json'));
    await harness.settled();
    const [first] = resultsOf(viaZapier);

    const viaHubSpot = await harness.sendAs('hubspot', {
      hs_object_id: '1504',
      firstname: 'Mary',
      lastname: 'Jackson',
      company: 'Langley Research',
    });

    expect(first?.status).toBe('queued');
    expect(resultsOf(viaHubSpot)).toEqual([
      { ...first, status: 'duplicate', contact_id: harness.apollo.contacts()[0]?.id },
    ]);
    expect(harness.apollo.contacts()).toEqual([expect.objectContaining({ hubspot_id: '1504' })]);
  });
});

describe('Door: custom JSON sources, misconfigured', () => {
  it('answers 500 misconfigured (the operator is alerted, the sender retries) and writes nothing', async () => {
    await harness.reset({ CUSTOM_SOURCES: '{"clay": {"secrets": ["short"], "fields": {}}}' });

    const reply = await harness.sendAs('custom:clay', event('custom-clay.json'), {
      headers: {
        'content-type': 'application/json',
        'x-clay-secret': 'local-clay-secret-not-for-production',
      },
    });

    expect(reply.status).toBe(500);
    expect(reply.body).toMatchObject({ error: 'misconfigured' });
    await expectNothingWritten(harness);
  });
});
