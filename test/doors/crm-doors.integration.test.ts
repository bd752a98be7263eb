import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SALESFORCE_ACK } from '../../lib/doors/salesforce';
import { PROJECT_ROOT } from '../../local/stack';
import {
  ORG_ID,
  PIPEDRIVE_USER,
  basicAuthorization,
  billionLaughs,
  contactsMessage,
  outboundMessage,
  pipedrivePerson,
  pipedriveV1,
  pipedriveV2,
  xxe,
} from '../support/crm-messages';
import { useServiceHarness } from '../support/service-harness';

/**
 * The Salesforce and Pipedrive doors end to end: the real handlers in process against dynalite,
 * the Apollo sandbox, the in-process conversion queue feeding the real consumer, and the
 * verification state machine (test/support/service-harness.ts). The doors answer once the people
 * are recorded and queued; `harness.settled()` waits for the consumer and the verifications.
 */
const harness = useServiceHarness();

const salesforceSample = readFileSync(join(PROJECT_ROOT, 'events/salesforce-outbound-message.xml'), 'utf8');
const pipedriveSample = readFileSync(join(PROJECT_ROOT, 'events/pipedrive-person-change.json'), 'utf8');

/** The contacts the consumer sent to Apollo's bulk_create, in order. */
function creates(): Array<Record<string, unknown>> {
  return harness.apollo
    .requests()
    .filter((request) => request.method === 'POST' && request.path === '/contacts/bulk_create')
    .flatMap((request) => (request.body as { contacts: Array<Record<string, unknown>> }).contacts);
}

/** What bulk_update set after bulk_create (the typed phones), in order. */
function updates(): Array<Record<string, unknown>> {
  return harness.apollo
    .requests()
    .filter((request) => request.method === 'POST' && request.path === '/contacts/bulk_update')
    .flatMap(
      (request) =>
        (request.body as { contact_attributes: Array<Record<string, unknown>> }).contact_attributes,
    );
}

/** Nothing reached Apollo and the ledger holds nothing: what refused input must leave. */
async function expectNothingWritten(): Promise<void> {
  expect(harness.apollo.requests()).toEqual([]);
  expect(await harness.ledgerItems()).toEqual([]);
}

const FAULT =
  /^<\?xml version="1.0" encoding="UTF-8"\?><soapenv:Envelope xmlns:soapenv="http:\/\/schemas.xmlsoap.org\/soap\/envelope\/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:(Client|Server)<\/faultcode><faultstring>[^<]*<\/faultstring><\/soapenv:Fault><\/soapenv:Body><\/soapenv:Envelope>$/;

describe('Salesforce door: POST /webhooks/salesforce/{secret}', () => {
  it('acknowledges the sample message once its two Contacts are queued, then converts them carrying their record ids and verifies them', async () => {
    harness.queue.pause();
    const reply = await harness.salesforce(salesforceSample);
    const statusesAtAck = await Promise.all(
      ['mary.shelley@frankenstein.example', 'percy.shelley@frankenstein.example'].map(
        async (email) => (await harness.lookupConversion({ email })).body.status,
      ),
    );
    await harness.settled();

    expect(reply).toEqual({
      status: 200,
      headers: { 'content-type': 'text/xml; charset=utf-8', 'cache-control': 'no-store' },
      body: SALESFORCE_ACK,
    });
    expect(statusesAtAck).toEqual(['queued', 'queued']);
    expect(harness.queue.sent).toHaveLength(2);
    // The queue hands the two over in either order: compared by email.
    const byEmail = (a: Record<string, unknown>, b: Record<string, unknown>) =>
      String(a.email).localeCompare(String(b.email));
    expect(creates().sort(byEmail)).toEqual([
      {
        first_name: 'Mary',
        last_name: 'Shelley',
        email: 'mary.shelley@frankenstein.example',
        title: 'Author & Editor',
        present_raw_address: 'London, United Kingdom',
        salesforce_contact_id: '0035e00000MaRySAAV',
      },
      {
        first_name: 'Percy',
        last_name: 'Shelley',
        email: 'percy.shelley@frankenstein.example',
        title: 'Poet',
        salesforce_contact_id: '0035e00000PeRcYAAV',
      },
    ]);
    expect(updates()).toEqual([
      expect.objectContaining({ direct_phone: '+442079460958', mobile_phone: '+442079460018' }),
    ]);
    expect(
      harness.apollo
        .contacts()
        .map((contact) => contact.salesforce_contact_id)
        .sort(),
    ).toEqual(['0035e00000MaRySAAV', '0035e00000PeRcYAAV']);
    for (const email of ['mary.shelley@frankenstein.example', 'percy.shelley@frankenstein.example']) {
      expect((await harness.lookupConversion({ email })).body).toMatchObject({ status: 'verified' });
    }
  });

  it('answers a retried message with the Ack from the ledger, without calling Apollo again', async () => {
    await harness.salesforce(salesforceSample);
    await harness.settled();
    const callsBefore = harness.apollo.requests().length;

    const retry = await harness.salesforce(salesforceSample);

    expect(retry.status).toBe(200);
    expect(retry.body).toBe(SALESFORCE_ACK);
    expect(harness.apollo.requests()).toHaveLength(callsBefore);
    expect(harness.apollo.contacts()).toHaveLength(2);
    // Answered from the delivery's memory, not converted again: no free lookup counted.
    const record = await harness.lookupConversion({ email: 'mary.shelley@frankenstein.example' });
    expect(record.body).toMatchObject({ status: 'verified', free_lookups: 0 });
  });

  it('sends a Lead with its 18-character id, given the 15-character one', async () => {
    const lead = outboundMessage([
      {
        type: 'Lead',
        fields: { Id: '00Q5e00000JaNeA', Email: 'jane@chawton.example', Company: 'Chawton Press' },
      },
    ]);

    expect((await harness.salesforce(lead)).body).toBe(SALESFORCE_ACK);
    await harness.settled();
    expect(creates()).toEqual([
      {
        email: 'jane@chawton.example',
        organization_name: 'Chawton Press',
        salesforce_lead_id: '00Q5e00000JaNeAEAV',
      },
    ]);
  });

  it('does not acknowledge while the queue refuses a send (a retried 503 fault), and acknowledges the retry', async () => {
    harness.queue.refuseNext({ error: new Error('SQS is unavailable') });
    const message = contactsMessage(['ada@engines.example']);

    const first = await harness.salesforce(message);
    const retry = await harness.salesforce(message);
    await harness.settled();

    expect(first.status).toBe(503);
    expect(first.headers['retry-after']).toMatch(/^\d+$/);
    expect(first.body).toMatch(FAULT);
    expect(first.body).toContain('<faultcode>soapenv:Server</faultcode>');
    expect(retry.body).toBe(SALESFORCE_ACK);
    expect(harness.apollo.contacts()).toHaveLength(1);
  });

  it('acknowledges a message whose people cannot be converted, writing nothing, and one about Accounts', async () => {
    const nobody = outboundMessage([{ type: 'Contact', fields: { FirstName: 'No', LastName: 'Company' } }]);
    const accounts = outboundMessage([{ type: 'Account', fields: { Name: 'Acme' } }]);

    expect((await harness.salesforce(nobody)).body).toBe(SALESFORCE_ACK);
    expect((await harness.salesforce(accounts)).body).toBe(SALESFORCE_ACK);
    await expectNothingWritten();
  });

  it.each([
    [
      'a wrong secret in the path',
      () => harness.salesforce(salesforceSample, { secret: 'x'.repeat(34) }),
      401,
    ],
    ['no secret in the path', () => harness.salesforce(salesforceSample, { secret: '' }), 401],
    [
      'another org',
      () => harness.salesforce(contactsMessage(['a@b.example'], { organizationId: '00D000000000002' })),
      401,
    ],
    ['billion laughs', () => harness.salesforce(billionLaughs()), 400],
    ['an external entity', () => harness.salesforce(xxe('file')), 400],
    ['a remote DTD', () => harness.salesforce(xxe('remote-dtd')), 400],
    ['bytes that are not UTF-8', () => harness.salesforce(Buffer.from([0x3c, 0x61, 0xfe, 0x2f, 0x3e])), 400],
    ['JSON', () => harness.salesforce(JSON.stringify({ email: 'a@b.example' })), 400],
    [
      'a body over 1 MB',
      () => harness.salesforce(`${salesforceSample}<!--${'x'.repeat(1024 * 1024)}-->`),
      413,
    ],
  ])('refuses %s with a SOAP fault, writing nothing', async (_what, send, status) => {
    const reply = await send();

    expect(reply.status).toBe(status);
    expect(reply.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(reply.body).toMatch(FAULT);
    expect(reply.body).toContain('<faultcode>soapenv:Client</faultcode>');
    await expectNothingWritten();
  });

  it('answers 500 misconfigured (retried by Salesforce) when no org is configured', async () => {
    await harness.reset({ SALESFORCE_ORG_IDS: '' });

    const reply = await harness.salesforce(salesforceSample);

    expect(reply.status).toBe(500);
    expect(reply.body).toContain('<faultcode>soapenv:Server</faultcode>');
    expect(reply.body).toContain('the service is misconfigured');
    await expectNothingWritten();
  });

  it('accepts the org configured in its 15-character form, and the next secret during a rotation', async () => {
    await harness.reset({
      SALESFORCE_ORG_IDS: `00D5e000000KQ2e, ${ORG_ID.slice(0, 15)}`,
      SALESFORCE_ENDPOINT_SECRET: `next-salesforce-endpoint-secret harness-salesforce-endpoint-secret`,
    });

    const old = await harness.salesforce(contactsMessage(['old@rotation.example']));
    const next = await harness.salesforce(contactsMessage(['next@rotation.example']), {
      secret: 'next-salesforce-endpoint-secret',
    });

    await harness.settled();
    expect([old.body, next.body]).toEqual([SALESFORCE_ACK, SALESFORCE_ACK]);
    expect(harness.apollo.contacts()).toHaveLength(2);
  });
});

describe('Pipedrive door: POST /webhooks/pipedrive', () => {
  it('queues the sample change event (202), then converts it into one verified contact', async () => {
    const reply = await harness.pipedrive(pipedriveSample);
    await harness.settled();

    expect(reply.status).toBe(202);
    const id = await harness.conversionIdOf('jane.austen@chawton.example');
    expect(reply.body).toEqual({ results: [{ id, status: 'queued', contact_id: null }] });
    expect(creates()).toEqual([
      { first_name: 'Jane', last_name: 'Austen', email: 'jane.austen@chawton.example', title: 'Novelist' },
    ]);
    expect(updates()).toEqual([
      expect.objectContaining({ direct_phone: '+442079460775', mobile_phone: '+447700900775' }),
    ]);
    expect((await harness.getConversion(id)).body.status).toBe('verified');
  });

  it('answers a retried event (meta.attempt counted up) from the ledger, and a later change as a duplicate', async () => {
    const created = pipedriveV2('create', pipedrivePerson(), { id: 'evt-create', attempt: 1 });
    const first = await harness.pipedrive(created);
    await harness.settled();
    const callsBefore = harness.apollo.requests().length;

    const retried = await harness.pipedrive({
      ...created,
      meta: { ...(created.meta as object), attempt: 2 },
    });
    expect(retried.body).toEqual(first.body);
    expect(harness.apollo.requests()).toHaveLength(callsBefore);
    // Answered from the delivery's memory, not converted again: no free lookup counted.
    const email = 'jane.austen@chawton.example';
    expect((await harness.lookupConversion({ email })).body).toMatchObject({ free_lookups: 0 });

    const changed = await harness.pipedrive(
      pipedriveV2('change', pipedrivePerson({ job_title: 'Author' }), { previous: { job_title: null } }),
    );
    expect(changed.body.results[0]).toMatchObject({ id: first.body.results[0]?.id, status: 'duplicate' });
    expect(harness.apollo.contacts()).toHaveLength(1);
    expect((await harness.lookupConversion({ email })).body).toMatchObject({ free_lookups: 1 });
  });

  it('converts a v1 event too', async () => {
    const reply = await harness.pipedrive(
      pipedriveV1('added', {
        id: 5,
        name: 'Anne Brontë',
        email: [{ value: 'anne@haworth.example', primary: true }],
      }),
    );

    await harness.settled();
    expect(reply.status).toBe(202);
    expect(reply.body.results[0]?.status).toBe('queued');
    expect(harness.apollo.contacts()).toEqual([expect.objectContaining({ email: 'anne@haworth.example' })]);
  });

  it('acknowledges deletions, other entities and people it cannot convert with 200, writing nothing', async () => {
    const deleted = await harness.pipedrive(pipedriveV2('delete', null, { previous: pipedrivePerson() }));
    const deal = await harness.pipedrive(pipedriveV2('create', { id: 3, title: 'Deal' }, { entity: 'deal' }));
    const nameOnly = await harness.pipedrive(
      pipedriveV2('create', { id: 8, name: 'Emily Brontë', org_id: 9 }),
    );

    expect(deleted).toMatchObject({ status: 200, body: { ignored: 'delete.person', results: [] } });
    expect(deal).toMatchObject({ status: 200, body: { ignored: 'create.deal', results: [] } });
    expect(nameOnly).toMatchObject({
      status: 200,
      body: { results: [{ id: null, status: 'invalid', contact_id: null, field: 'body.data' }] },
    });
    await expectNothingWritten();
  });

  it.each([
    ['no credentials', null, 401],
    ['a wrong password', basicAuthorization(`${PIPEDRIVE_USER}:a-wrong-password-here`), 401],
  ])('refuses %s with 401, writing nothing', async (_what, authorization, status) => {
    const reply = await harness.pipedrive(pipedriveSample, authorization);

    expect(reply).toMatchObject({
      status,
      body: { error: 'unauthorized', message: 'missing or invalid credentials' },
    });
    await expectNothingWritten();
  });

  it('refuses a body that is not a Pipedrive webhook with 400, writing nothing', async () => {
    const reply = await harness.pipedrive({ email: 'jane.austen@chawton.example' });

    expect(reply).toMatchObject({ status: 400, body: { error: 'invalid_request', field: 'body.meta' } });
    await expectNothingWritten();
  });
});
