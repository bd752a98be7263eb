/**
 * The operator's API (`GET /conversions`, `GET /conversions/summary`, `POST /conversions/{id}/retry`)
 * through the real handlers, against dynalite (the `by-status` index), the Apollo sandbox and the
 * verification state machine. Failed records are made with the ledger's own writes (the consumer's
 * claim, then `failQueued` or `reject`), as the consumer makes them.
 */
import { describe, expect, it } from 'vitest';
import { DynamoDbLedger } from '../lib/dynamodb-ledger';
import { WALT } from './support/people';
import { useServiceHarness, type ServiceHarness } from './support/service-harness';

const people = (count: number, tag: string) =>
  Array.from({ length: count }, (_, i) => ({
    first_name: `Op${i}`,
    last_name: tag,
    email: `op${i}.${tag.toLowerCase()}@operators.example`,
    organization_name: 'Operators Inc.',
  }));

/**
 * Queues one person whose message is lost (the queue refuses the send; as a poison message ends in
 * the dead-letter queue), then ends its record as the consumer would: failed or rejected.
 */
async function endedRecord(harness: ServiceHarness, how: 'failQueued' | 'reject'): Promise<string> {
  harness.queue.refuseNext();
  const reply = await harness.createContacts(WALT);
  expect(reply.status).toBe(503);
  const id = reply.body.results[0]?.id as string;
  const ledger = new DynamoDbLedger(harness.dynamo.client, harness.tableName);
  const nowMs = Date.now();
  const claim = await ledger.claimQueued({
    key: id,
    token: 'consumer',
    lockExpiresAtMs: nowMs + 60_000,
    nowMs,
  });
  expect(claim.claimed).toBe(true);
  const ending = { key: id, token: 'consumer', reason: 'poison: Apollo answered 500 five times', nowMs };
  if (how === 'failQueued') {
    await ledger.failQueued({ ...ending, createUncertain: false, expiresAtSeconds: nowMs / 1000 + 86_400 });
  } else {
    await ledger.reject({
      ...ending,
      reason: 'Apollo refused: 422',
      expiresAtSeconds: nowMs / 1000 + 86_400,
    });
  }
  return id;
}

describe('Operator API (real handlers, dynalite by-status index, Apollo sandbox)', () => {
  const harness = useServiceHarness();

  it('lists records of a status page by page with an opaque cursor, and sums them up', async () => {
    // Act
    await harness.createContacts({ people: people(5, 'Listed') });
    await harness.settled();
    const pages = [];
    let cursor: string | null | undefined;
    do {
      const reply = await harness.listConversions({
        status: 'verified',
        limit: '2',
        ...(cursor && { cursor }),
      });
      expect(reply.status).toBe(200);
      pages.push(reply.body.conversions);
      cursor = reply.body.next_cursor;
    } while (cursor !== null && pages.length < 10);
    const summary = await harness.conversionSummary();

    // Assess
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    const ids = pages.flat().map((record) => record.id);
    expect(new Set(ids).size).toBe(5);
    expect(pages.flat().every((record) => record.status === 'verified' && record.contact_id !== null)).toBe(
      true,
    );
    // Oldest change first.
    const updated = pages.flat().map((record) => record.updated_at);
    expect(updated).toEqual([...updated].sort());
    expect(summary.status).toBe(200);
    expect(summary.body).toMatchObject({ total: 5, exact: true, credits_spent: 0 });
    expect(summary.body.statuses.verified.count).toBe(5);
    expect(summary.body.statuses.failed).toEqual({ count: 0, oldest_updated_at: null });
  });

  it('counts a repeat answered from the ledger as credits saved', async () => {
    // Act
    await harness.createContacts({ people: people(2, 'Saved') });
    await harness.settled();
    await harness.createContacts({ people: people(2, 'Saved') });
    const summary = await harness.conversionSummary();

    // Assess
    expect(summary.body).toMatchObject({ free_lookups: 2, credits_saved: 2 });
  });

  it('refuses a wrong key, an unknown status, a bad limit and a cursor of another status', async () => {
    await harness.createContacts({ people: people(3, 'Refused') });
    await harness.settled();
    const page = await harness.listConversions({ status: 'verified', limit: '1' });
    const cursor = page.body.next_cursor as string;

    expect((await harness.listConversions({ status: 'failed' }, 'wrong-key')).status).toBe(401);
    expect((await harness.conversionSummary('wrong-key')).status).toBe(401);
    expect((await harness.retryConversion('c_AAAAAAAAAAAAAAAAAAAAAA', 'wrong-key')).status).toBe(401);
    expect((await harness.listConversions({ status: 'lost' })).body.error).toBe('invalid_request');
    expect((await harness.listConversions({ status: 'failed', limit: '0' })).status).toBe(400);
    expect((await harness.listConversions({ status: 'failed', limit: '101' })).status).toBe(400);
    expect((await harness.listConversions({ status: 'failed', cursor })).status).toBe(400);
    expect((await harness.listConversions({ status: 'verified', cursor: 'not-a-cursor' })).status).toBe(400);
    expect((await harness.listConversions({ status: 'verified', cursor })).body.conversions).toHaveLength(2);
  });

  it('retries a failed record that holds its person: queued again, converted once, then not retryable', async () => {
    // Prepare
    const id = await endedRecord(harness, 'failQueued');
    const failed = await harness.listConversions({ status: 'failed' });
    expect(failed.body.conversions).toEqual([
      expect.objectContaining({ id, status: 'failed', last_error: 'poison: Apollo answered 500 five times' }),
    ]);
    expect(harness.apollo.contacts()).toHaveLength(0);

    // Act
    const retried = await harness.retryConversion(id);
    await harness.settled();
    const again = await harness.retryConversion(id);

    // Assess
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({ id, status: 'queued', action: 'requeued', sent: true });
    expect((await harness.getConversion(id)).body).toMatchObject({ status: 'verified', outcome: 'created' });
    expect(harness.apollo.contacts()).toHaveLength(1);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'not_retryable', status: 'verified' });
    expect((await harness.listConversions({ status: 'failed' })).body.conversions).toEqual([]);
  });

  it('a rejected record the ledger no longer holds: the retry arms it, and the same person sent again is queued', async () => {
    // Prepare
    const id = await endedRecord(harness, 'reject');
    const resentBefore = await harness.createContacts(WALT);
    expect(resentBefore.body.results[0]).toMatchObject({ id, status: 'rejected' });

    // Act
    const retried = await harness.retryConversion(id);
    const resent = await harness.createContacts(WALT);
    await harness.settled();

    // Assess
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id, status: 'rejected', action: 'awaiting_resend' });
    expect(resent.body.results[0]).toMatchObject({ id, status: 'queued' });
    expect((await harness.getConversion(id)).body).toMatchObject({ status: 'verified' });
    expect(harness.apollo.contacts()).toHaveLength(1);
  });

  it('retries a failed verification: the verification runs again, no second contact', async () => {
    // Prepare: the first verification finds another contact (recorded as verification_failed).
    harness.failTask('verifyContact', (call) =>
      call === 1
        ? Object.assign(new Error('people/match returned another contact'), { name: 'ContactMismatchError' })
        : undefined,
    );
    const reply = await harness.createContacts(WALT);
    const id = reply.body.results[0]?.id as string;
    await harness.settled();
    expect((await harness.getConversion(id)).body.status).toBe('verification_failed');

    // Act
    const retried = await harness.retryConversion(id);
    await harness.settled();

    // Assess
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({ id, status: 'created', action: 'verification_restarted' });
    expect((await harness.getConversion(id)).body.status).toBe('verified');
    expect(harness.apollo.contacts()).toHaveLength(1);
    expect(harness.apollo.countRequests('POST', '/contacts/bulk_create')).toBe(1);
  });

  it('answers 404 for an unknown id and 400 for something that is not an id', async () => {
    expect((await harness.retryConversion('c_AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
    expect((await harness.retryConversion('mark.twain@example.com')).status).toBe(400);
  });
});
