/**
 * The queued pipeline end to end, in this process: the real door handlers accept and queue, the
 * real consumer handler converts what the (in-process) queue hands it as SQS events, against
 * dynalite, the Apollo sandbox over HTTP and the verification state machine.
 */
import { UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbLedger } from '../lib/dynamodb-ledger';
import { CONVERSION_ID_PATTERN } from '../lib/identity';
import { EMILY, HERMAN, LOUISA, MARK_TWAIN, WALT } from './support/people';
import { enrichmentCompleted, useServiceHarness, type ServiceHarness } from './support/service-harness';

/** `count` fictional people with emails, some with phones. */
function crowd(count: number, tag = 'crowd') {
  return Array.from({ length: count }, (_, i) => ({
    first_name: `Person${i}`,
    last_name: `Of${tag}`,
    email: `person${i}.${tag}@crowd.example`,
    organization_name: `${tag} Works`,
    ...(i % 3 === 0 && { direct_phone: `202-555-${String(1000 + i).slice(-4)}` }),
    ...(i % 5 === 0 && { mobile_phone: `202-555-${String(2000 + i).slice(-4)}` }),
  }));
}

/** The attributes of a stored record these tests read. */
interface StoredRecord {
  pk: string;
  status?: string;
  outcome?: string;
  attempts?: number;
}

/** Every record in the ledger (items with a status), as stored. */
async function records(harness: ServiceHarness) {
  return (await harness.ledgerItems())
    .map((item) => unmarshall(item as Record<string, AttributeValue>) as StoredRecord)
    .filter((item) => item.status !== undefined);
}

describe('Pipeline: accept and queue, convert in bulk (real handlers, dynalite, Apollo sandbox)', () => {
  const harness = useServiceHarness();

  it('answers a delivery 202 queued at once, then converts and verifies the person without the sender', async () => {
    // Act
    harness.queue.pause();
    const reply = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    const queuedRecord = await harness.getConversion(reply.body.results[0]?.id as string);
    await harness.settled();

    // Assess
    expect(reply.status).toBe(202);
    const [result] = reply.body.results;
    expect(result).toEqual({
      id: expect.stringMatching(CONVERSION_ID_PATTERN) as unknown,
      status: 'queued',
      contact_id: null,
    });
    expect(queuedRecord.body).toMatchObject({ id: result?.id, status: 'queued' });
    expect(harness.queue.sent).toEqual([result?.id]);
    const [contact, ...others] = harness.apollo.contacts();
    expect(others).toEqual([]);
    expect(contact?.phone_numbers.map((phone) => [phone.sanitized_number, phone.type]).sort()).toEqual([
      ['+15551234567', 'work_direct'],
      ['+15557654321', 'mobile'],
    ]);
    expect((await harness.getConversion(result?.id as string)).body).toMatchObject({
      status: 'verified',
      outcome: 'created',
      contact_id: contact?.id,
    });
    // One bulk_create with dedupe, no phones in it; the typed phones by bulk_update.
    const creates = harness.apollo.requests().filter((r) => r.path === '/contacts/bulk_create');
    expect(creates).toHaveLength(1);
    expect(creates[0]?.body).toMatchObject({ run_dedupe: true, contacts: [{ email: MARK_TWAIN.email }] });
    expect(JSON.stringify(creates[0]?.body)).not.toContain('phone');
    expect(harness.apollo.countRequests('POST', '/contacts/bulk_update')).toBe(1);
    expect(harness.apollo.countRequests('POST', '/contacts')).toBe(0);
    expect(harness.apollo.countRequests('POST', '/contacts/search')).toBe(0);
  });

  it('answers a re-delivery after the conversion from the ledger, 200 duplicate, without Apollo or the queue', async () => {
    // Prepare
    const first = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    await harness.settled();
    const apolloCalls = harness.apollo.requests().length;

    // Act
    const again = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));

    // Assess
    expect(again.status).toBe(200);
    expect(again.body.results).toEqual([
      { id: first.body.results[0]?.id, status: 'duplicate', contact_id: harness.apollo.contacts()[0]?.id },
    ]);
    expect(harness.apollo.requests()).toHaveLength(apolloCalls);
    expect(harness.queue.sent).toHaveLength(1);
  });

  it('answers a 100-person delivery before any Apollo call, converts it with one bulk_create, verifies everyone', async () => {
    // Prepare
    const people = crowd(100);
    harness.queue.pause();

    // Act
    const reply = await harness.webhook(enrichmentCompleted({ people }));
    const apolloCallsAtAnswer = harness.apollo.requests().length;
    await harness.settled();

    // Assess
    expect(reply.status).toBe(202);
    expect(reply.body.results.map((r) => r.status)).toEqual(people.map(() => 'queued'));
    expect(apolloCallsAtAnswer).toBe(0);
    expect(harness.apollo.countRequests('POST', '/contacts/bulk_create')).toBe(1);
    expect(harness.apollo.contacts()).toHaveLength(100);
    const statuses = (await records(harness)).map((item) => item.status);
    expect(statuses).toEqual(people.map(() => 'verified'));
  }, 60_000);

  it('answers POST /contacts?wait=N with the final results once converted (200), and 202 without waiting', async () => {
    // Act
    const waited = await harness.createContacts({ people: [WALT, EMILY] }, undefined, 15);
    const unwaited = await harness.createContacts(LOUISA);

    // Assess
    expect(waited.status).toBe(200);
    const contacts = harness.apollo.contacts();
    expect(waited.body.results).toEqual([
      {
        id: expect.any(String) as unknown,
        status: 'created',
        contact_id: contacts.find((c) => c.email === WALT.email)?.id,
      },
      {
        id: expect.any(String) as unknown,
        status: 'created',
        contact_id: contacts.find((c) => c.last_name === 'Dickinson')?.id,
      },
    ]);
    expect(unwaited.status).toBe(202);
    expect(unwaited.body.results).toEqual([
      { id: expect.any(String) as unknown, status: 'queued', contact_id: null },
    ]);
  });

  it('refuses a wait that is not a number of seconds with 400, writing nothing', async () => {
    // Act
    const reply = await harness.createContacts(LOUISA, undefined, 'soon');

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: 'invalid_request', field: 'query.wait' });
    expect(await harness.ledgerItems()).toEqual([]);
  });

  it('answers a replayed webhook-id as the first time (202 queued), sending nothing twice', async () => {
    // Prepare
    const body = enrichmentCompleted({ person: WALT });
    const first = await harness.webhook(body, { id: 'msg_replayed' });

    // Act
    const replay = await harness.webhook(body, { id: 'msg_replayed' });

    // Assess
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    expect(harness.queue.sent).toHaveLength(1);
  });

  it('answers 503 with Retry-After when the queue refuses a send; the retry under the same webhook-id sends it', async () => {
    // Prepare
    harness.queue.refuseNext({ error: new Error('SQS is unavailable') });
    const body = enrichmentCompleted({ person: WALT });

    // Act
    const refused = await harness.webhook(body, { id: 'msg_unsent' });
    const retried = await harness.webhook(body, { id: 'msg_unsent' });
    await harness.settled();

    // Assess
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body).toMatchObject({ error: 'retry_later', results: [{ status: 'queued' }] });
    expect(retried.status).toBe(202);
    expect(harness.apollo.contacts()).toHaveLength(1);
    expect((await records(harness)).map((item) => item.status)).toEqual(['verified']);
  });

  it('sends the keys of people left queued too long again (the stranded-send sweep, through the index)', async () => {
    // Prepare: the send failed and nobody retried; the record is older than the sweep's threshold.
    harness.queue.refuseNext();
    await harness.webhook(enrichmentCompleted({ person: WALT }));
    const [item] = await records(harness);
    await harness.dynamo.client.send(
      new UpdateItemCommand({
        TableName: harness.tableName,
        Key: marshall({ pk: item?.pk }),
        UpdateExpression: 'SET updated_at = :old',
        ExpressionAttributeValues: marshall({ ':old': '2026-01-01T00:00:00.000Z' }),
      }),
    );

    // Act
    const report = await harness.sweepQueued();
    await harness.settled();

    // Assess
    expect(report).toEqual({ found: 1, sent: 1 });
    expect(harness.apollo.contacts()).toHaveLength(1);
  });

  describe('faults on bulk_create', () => {
    // The quiet period after a create of unknown outcome, shortened: the tests' clock is real.
    beforeEach(async () => {
      await harness.reset({ UNAVAILABLE_RETRY_AFTER_SECONDS: '1' });
    });

    it('created, then 500: the batch comes back, and dedupe returns what the first try made: one contact each', async () => {
      // Prepare
      harness.apollo.inject({
        method: 'POST',
        path: '/contacts/bulk_create',
        action: 'create-then-fail',
        status: 500,
      });

      // Act
      await harness.webhook(enrichmentCompleted({ people: [MARK_TWAIN, WALT, HERMAN] }));
      await harness.settled();

      // Assess
      expect(harness.apollo.contacts()).toHaveLength(3);
      expect(harness.apollo.countRequests('POST', '/contacts/bulk_create')).toBe(2);
      const statuses = (await records(harness)).map((item) => [item.status, item.outcome]);
      expect(statuses).toEqual([
        ['verified', 'created'],
        ['verified', 'created'],
        ['verified', 'created'],
      ]);
      // The phones were set on the retry (the contact is this service's).
      expect(harness.apollo.contacts().find((c) => c.email === MARK_TWAIN.email)?.phone_numbers).toHaveLength(
        2,
      );
    });

    it('a connection reset (nothing created): the retry creates, once', async () => {
      // Prepare
      harness.apollo.inject({ method: 'POST', path: '/contacts/bulk_create', action: 'reset' });

      // Act
      await harness.webhook(enrichmentCompleted({ people: [WALT, HERMAN] }));
      await harness.settled();

      // Assess
      expect(harness.apollo.contacts()).toHaveLength(2);
    });

    it('a create slower than the client waits: the retry, after Apollo finished, finds it through dedupe', async () => {
      // Prepare: the harness's Apollo timeout is 2 s.
      harness.apollo.inject({
        method: 'POST',
        path: '/contacts/bulk_create',
        action: 'delay',
        delayMs: 2500,
      });

      // Act
      await harness.webhook(enrichmentCompleted({ people: [WALT] }));
      await harness.queue.idle();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await harness.settled();

      // Assess
      expect(harness.apollo.contacts()).toHaveLength(1);
      expect((await records(harness))[0]).toMatchObject({ status: 'verified', outcome: 'created' });
    });

    it('429 mid-burst: the batch waits out retry-after on the queue, nobody gets a 5xx, one contact each', async () => {
      // Prepare
      harness.apollo.inject({
        method: 'POST',
        path: '/contacts/bulk_create',
        status: 429,
        retryAfterSeconds: 2,
      });

      // Act
      const replies = await Promise.all(
        [crowd(10, 'first'), crowd(10, 'second')].map((people) =>
          harness.webhook(enrichmentCompleted({ people })),
        ),
      );
      await harness.settled();

      // Assess
      expect(replies.map((r) => r.status)).toEqual([202, 202]);
      expect(harness.apollo.contacts()).toHaveLength(20);
      expect(harness.queue.deadLetters).toEqual([]);
      expect(
        (await records(harness)).every((item) => item.status === 'verified' && item.attempts === 1),
      ).toBe(true);
    });

    it('a reply that cannot be mapped: each person is resolved alone, one contact each', async () => {
      // Prepare: Apollo creates, but answers only with ids nobody can pair with the people.
      harness.apollo.inject({
        method: 'POST',
        path: '/contacts/bulk_create',
        action: 'create-then-fail',
        status: 200,
        body: { created_contacts: [], existing_contacts: [] },
      });

      // Act
      await harness.webhook(enrichmentCompleted({ people: [MARK_TWAIN, WALT] }));
      await harness.settled();

      // Assess
      expect(harness.apollo.contacts()).toHaveLength(2);
      expect((await records(harness)).map((item) => [item.status, item.outcome])).toEqual([
        ['verified', 'created'],
        ['verified', 'created'],
      ]);
    });

    it('Apollo merging another person of the same name and company: this person gets a contact of their own', async () => {
      // Prepare
      const namesake = harness.apollo.addContact({
        first_name: WALT.first_name,
        last_name: WALT.last_name,
        email: 'walt.w@elsewhere.example',
        organization_name: 'Leaves Press',
      });

      // Act
      await harness.webhook(enrichmentCompleted({ person: { ...WALT, organization_name: 'Leaves Press' } }));
      await harness.settled();

      // Assess
      const contacts = harness.apollo.contacts();
      expect(contacts).toHaveLength(2);
      expect(contacts.find((c) => c.id === namesake.id)).toEqual(namesake);
      expect(contacts.find((c) => c.id !== namesake.id)?.email).toBe(WALT.email);
      const created = harness.apollo.requests().filter((r) => r.method === 'POST' && r.path === '/contacts');
      expect(created.map((r) => (r.body as { run_dedupe?: boolean }).run_dedupe)).toEqual([undefined]);
      expect((await records(harness))[0]).toMatchObject({ status: 'verified', outcome: 'created' });
    });

    it('a consumer that dies between bulk_create and the ledger update: the retry makes no second contact', async () => {
      // Prepare: every ledger write after Apollo's reply fails, as if the invocation died there;
      // the consumer's lock lapses after 4 s (its remaining time).
      harness.queue.consumerRemainingMs = 4000;
      const died = () => Promise.reject(new Error('the invocation died'));
      const complete = vi.spyOn(DynamoDbLedger.prototype, 'complete').mockImplementation(died);
      const requeue = vi.spyOn(DynamoDbLedger.prototype, 'requeue').mockImplementation(died);

      // Act
      await harness.webhook(enrichmentCompleted({ people: [WALT, HERMAN] }));
      await harness.queue.idle();
      complete.mockRestore();
      requeue.mockRestore();
      await new Promise((resolve) => setTimeout(resolve, 4100));
      await harness.settled();

      // Assess
      expect(harness.apollo.contacts()).toHaveLength(2);
      expect(harness.apollo.countRequests('POST', '/contacts/bulk_create')).toBe(2);
      expect((await records(harness)).map((item) => [item.status, item.outcome])).toEqual([
        ['verified', 'created'],
        ['verified', 'created'],
      ]);
    }, 30_000);
  });
});
