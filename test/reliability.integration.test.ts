import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbLedger } from '../lib/dynamodb-ledger';
import { IdentityResolution } from '../lib/identity-resolution';
import { toPerson } from '../lib/person';
import { lambdaContext } from '../local/lambda-events';
import { LambdaServiceError } from '../local/step-functions-server';
import { MARK_TWAIN } from './support/people';
import { enrichmentCompleted, useServiceHarness } from './support/service-harness';

const KEY = MARK_TWAIN.email;

function namedError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

/** How a Lambda that ran out of time shows up in Step Functions. */
const timedOut = () => namedError('Sandbox.Timedout', 'Task timed out after 20.00 seconds');
/** The ledger write of the failure path failing, every time. */
const throttled = () => namedError('ProvisionedThroughputExceededException', 'the ledger is throttled');

describe('Reliability: no verification stuck, nothing silent (real handlers, dynalite, Apollo sandbox)', () => {
  const harness = useServiceHarness();
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const record = async () => (await harness.lookupConversion({ email: KEY })).body;
  /** The conversion id of the record (its ledger key). */
  const recordId = () => harness.conversionIdOf(KEY);
  const verifications = () =>
    harness.stepFunctions.executions().filter((execution) => execution.name.startsWith('verify-'));

  /** Moves the record's wait for a verdict back by `ms`, as if the sweep ran that much later. */
  async function backdate(ms: number): Promise<void> {
    const key = await recordId();
    const stored = (await new DynamoDbLedger(harness.dynamo.client, harness.tableName).get({ key }))
      ?.awaitingVerdictSinceMs;
    await harness.dynamo.client.send(
      new UpdateItemCommand({
        TableName: harness.tableName,
        Key: marshall({ pk: key }),
        UpdateExpression: 'SET awaiting_verdict_since = :since',
        ExpressionAttributeValues: marshall({ ':since': (stored ?? Date.now()) - ms }),
      }),
    );
  }

  /** A converted person whose verification ended without a verdict: timed out, and the recorder failed. */
  async function stuckConversion(): Promise<string> {
    harness.failTask('verifyContact', timedOut);
    harness.failTask('recordVerificationFailure', throttled);
    const reply = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    await harness.settled();
    expect(reply.status).toBe(202);
    return harness.apollo.contacts()[0]?.id as string;
  }

  const healTasks = () => {
    harness.failTask('verifyContact', () => undefined);
    harness.failTask('recordVerificationFailure', () => undefined);
  };

  it('a verification whose Lambda times out and dies is retried and ends verified', async () => {
    // Prepare
    harness.failTask('verifyContact', (call) =>
      call === 1
        ? timedOut()
        : call === 2
          ? new LambdaServiceError('Unknown', 'the function ended without an error type')
          : undefined,
    );

    // Act
    await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    await harness.settled();

    // Assess
    expect(await record()).toMatchObject({ status: 'verified' });
    expect(verifications().map((execution) => execution.status)).toEqual(['SUCCEEDED']);
  });

  it('a verification that always times out ends verification_failed, with the reason', async () => {
    // Prepare
    harness.failTask('verifyContact', timedOut);

    // Act
    await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    await harness.settled();

    // Assess
    expect(await record()).toMatchObject({
      status: 'verification_failed',
      last_error: 'Sandbox.Timedout: Task timed out after 20.00 seconds',
    });
  });

  it('a failure that cannot be recorded fails the execution loudly (VerdictNotRecorded), not quietly', async () => {
    // Act
    await stuckConversion();

    // Assess
    expect(verifications()).toEqual([
      expect.objectContaining({ status: 'FAILED', error: 'VerdictNotRecorded' }),
    ]);
    expect(await record()).toMatchObject({ status: 'created' });
  });

  it('a failure path that finds no record to write to fails the execution instead of ending quietly', async () => {
    // Act: a verification for a key the ledger does not hold (say, deleted by hand).
    const handler = (await import('../functions/record-verification-failure')).handler;
    const missing = handler(
      {
        people: [{ key: 'c_nobodyxxxxxxxxxxxxxxxxx', contact_id: 'c1' }],
        error: { Error: 'ContactMismatchError', Cause: '' },
      },
      lambdaContext('recordVerificationFailure'),
    );

    // Assess
    await expect(missing).rejects.toMatchObject({ name: 'VerdictNotRecordedError' });
  });

  it('a failure path arriving after the record was verified keeps the verdict', async () => {
    // Prepare
    await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    await harness.settled();
    const handler = (await import('../functions/record-verification-failure')).handler;

    // Act
    const late = await handler(
      {
        people: [{ key: await recordId(), contact_id: 'c1' }],
        error: { Error: 'States.Timeout', Cause: '' },
      },
      lambdaContext('recordVerificationFailure'),
    );

    // Assess
    expect(late).toEqual({ failed: 0, decidedBefore: 1, reason: 'States.Timeout' });
    expect(await record()).toMatchObject({ status: 'verified' });
  });

  it('the sweep finds a record left without a verdict through the index, never a scan, and re-drives it to a verdict', async () => {
    // Prepare: stuck, then the cause goes away, and the sweep runs an hour and a bit later.
    const contactId = await stuckConversion();
    healTasks();
    await backdate(61 * 60_000);
    const sent = vi.spyOn(DynamoDBClient.prototype, 'send');

    // Act
    const report = await harness.sweepVerifications();
    await harness.verificationsSettled();

    // Assess
    const commands = sent.mock.calls.map(([command]) => command.constructor.name);
    vi.restoreAllMocks();
    expect(commands).toContain('QueryCommand');
    expect(commands).not.toContain('ScanCommand');
    expect(report).toEqual({ found: 1, redriven: 1, gaveUp: 0, skipped: 0 });
    expect(verifications().map((execution) => [execution.name.endsWith('-r1'), execution.status])).toEqual([
      [false, 'FAILED'],
      [true, 'SUCCEEDED'],
    ]);
    expect(verifications()[1]?.input).toEqual({ people: [{ key: await recordId(), contact_id: contactId }] });
    expect(await record()).toMatchObject({ status: 'verified', contact_id: contactId });
    // Nothing is left waiting: the next sweep finds nothing.
    await backdate(61 * 60_000);
    expect(await harness.sweepVerifications()).toMatchObject({ found: 0 });
  });

  it('the sweep leaves a record alone until it has waited VERIFICATION_SWEEP_AFTER_MINUTES', async () => {
    // Prepare
    await stuckConversion();
    await backdate(59 * 60_000);

    // Act
    const report = await harness.sweepVerifications();

    // Assess
    expect(report).toMatchObject({ found: 0, redriven: 0 });
    expect(verifications()).toHaveLength(1);
  });

  it('the sweep gives up after VERIFICATION_MAX_REDRIVES re-drives and records verification_failed', async () => {
    // Prepare: the record never gets a verdict from its executions.
    await harness.reset({ VERIFICATION_MAX_REDRIVES: '1' });
    await stuckConversion();
    await backdate(61 * 60_000);
    const first = await harness.sweepVerifications();
    await harness.verificationsSettled();
    await backdate(61 * 60_000);

    // Act
    const second = await harness.sweepVerifications();
    await harness.verificationsSettled();

    // Assess
    expect(first).toMatchObject({ redriven: 1 });
    expect(second).toMatchObject({ found: 1, redriven: 0, gaveUp: 1 });
    expect(verifications().map((execution) => execution.error)).toEqual([
      'VerdictNotRecorded',
      'VerdictNotRecorded',
    ]);
    expect(await record()).toMatchObject({
      status: 'verification_failed',
      last_error: 'no verdict after 1 re-driven verifications',
    });
  });

  it('a redelivery of a person whose verification has waited too long for a verdict re-drives it', async () => {
    // Prepare
    const contactId = await stuckConversion();
    healTasks();
    await backdate(61 * 60_000);

    // Act
    const again = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    await harness.verificationsSettled();

    // Assess
    expect(again.status).toBe(200);
    expect(again.body.results).toEqual([
      { id: await recordId(), status: 'duplicate', contact_id: contactId },
    ]);
    expect(verifications().map((execution) => execution.status)).toEqual(['FAILED', 'SUCCEEDED']);
    expect(await record()).toMatchObject({ status: 'verified' });
  });
});

describe('Reliability: in_progress is never an answer a sender can drop', () => {
  const harness = useServiceHarness();

  it('a delivery of a person the consumer is converting right now: 202 queued, converted without that sender', async () => {
    // Prepare: Apollo's bulk_create takes a moment, so the consumer holds the person meanwhile.
    harness.apollo.inject({ method: 'POST', path: '/contacts/bulk_create', action: 'delay', delayMs: 600 });
    const first = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    while (harness.apollo.countRequests('POST', '/contacts/bulk_create') === 0) await sleep(10);

    // Act
    const second = await harness.createContacts(MARK_TWAIN);
    await harness.settled();
    const retry = await harness.createContacts(MARK_TWAIN);

    // Assess
    const id = await harness.conversionIdOf(KEY);
    const contactId = harness.apollo.contacts()[0]?.id;
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.results).toEqual([{ id, status: 'queued', contact_id: null }]);
    expect(retry.status).toBe(200);
    expect(retry.body.results).toEqual([{ id, status: 'duplicate', contact_id: contactId }]);
    expect(harness.apollo.contacts()).toHaveLength(1);
    expect(await harness.getConversion(id)).toMatchObject({ body: { status: 'verified' } });
  });

  it('a person the synchronous path holds and whose holder died: 503 until the lock lapses, then queued and converted', async () => {
    // Prepare: an invocation claimed the person and died; its lock lapses in a second and a half.
    await harness.reset({ IN_PROGRESS_RETRY_AFTER_SECONDS: '1' });
    const ledger = new DynamoDbLedger(harness.dynamo.client, harness.tableName);
    // It had resolved who the person is (the record's id, linked to the email) before claiming.
    const resolution = await new IdentityResolution({ ledger }).resolve(
      toPerson(MARK_TWAIN, 'body', { defaultPhoneCountry: 'US' }),
      { deadline: Date.now() + 10_000 },
    );
    if (resolution.kind !== 'record') throw new Error(`resolved as ${resolution.kind}`);
    const id = resolution.key;
    const lapsesAt = Date.now() + 1500;
    await ledger.claim({
      key: id,
      token: 'dead-invocation',
      lockExpiresAtMs: lapsesAt,
      nowMs: Date.now(),
      fingerprint: 'fp',
      match: { email: KEY },
      expectedPhoneHashes: [],
    });

    // Act: the webhook sender retries after each Retry-After.
    const replies = [await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }))];
    while (replies.at(-1)?.status === 503 && replies.length < 10) {
      await sleep(Number(replies.at(-1)?.headers['retry-after']) * 1000);
      replies.push(await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN })));
    }
    await harness.settled();

    // Assess
    expect(replies[0]?.status).toBe(503);
    expect(replies[0]?.headers['retry-after']).toBe('1');
    expect(replies[0]?.body.results).toEqual([{ id, status: 'in_progress', contact_id: null }]);
    const last = replies.at(-1);
    expect(last?.status).toBe(202);
    expect(last?.body.results).toEqual([{ id, status: 'queued', contact_id: null }]);
    expect(harness.apollo.contacts()).toHaveLength(1);
    // The dead holder may have created the contact: the conversion counts it as this service's.
    expect(await harness.getConversion(id)).toMatchObject({
      body: { status: 'verified', outcome: 'created' },
    });
  });
});
