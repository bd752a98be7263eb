import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbLedger } from '../lib/dynamodb-ledger';
import type { ClaimRequest } from '../lib/ledger';
import { createLedgerTable, startLocalDynamoDb, type LocalDynamoDb } from '../local/dynamodb';

const NOW = Date.parse('2026-11-26T10:00:00Z');

function claimRequest(overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    key: 'mark.twain@greatamericanwriters.example',
    token: 'token-a',
    lockExpiresAtMs: NOW + 20_000,
    nowMs: NOW,
    fingerprint: 'fp-1',
    match: { email: 'mark.twain@greatamericanwriters.example' },
    expectedPhoneHashes: ['hash-1'],
    ...overrides,
  };
}

describe('Class: DynamoDbLedger (against dynalite)', () => {
  let dynamo: LocalDynamoDb;
  let ledger: DynamoDbLedger;
  let table = 0;

  beforeAll(async () => {
    dynamo = await startLocalDynamoDb();
  });
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(async () => {
    const tableName = `ledger-${++table}`;
    await createLedgerTable(dynamo.client, tableName);
    ledger = new DynamoDbLedger(dynamo.client, tableName);
  });

  it('claims a new key, and refuses a second claim while the lock holds', async () => {
    // Act
    const first = await ledger.claim(claimRequest());
    const second = await ledger.claim(claimRequest({ token: 'token-b', nowMs: NOW + 1000 }));

    // Assess
    expect(first).toEqual({ claimed: true, previous: null });
    expect(second.claimed).toBe(false);
    expect(!second.claimed && second.record).toMatchObject({
      status: 'creating',
      lockToken: 'token-a',
      attempts: 1,
      createdAt: '2026-11-26T10:00:00.000Z',
    });
  });

  it('hands a lapsed claim to the next claimer, showing it was never released', async () => {
    await ledger.claim(claimRequest());

    const takeover = await ledger.claim(claimRequest({ token: 'token-b', nowMs: NOW + 20_001 }));

    expect(takeover.claimed).toBe(true);
    expect(takeover.claimed && takeover.previous).toMatchObject({ status: 'creating', lockToken: 'token-a' });
    expect((await ledger.get({ key: claimRequest().key }))?.attempts).toBe(2);
  });

  it('lets only the current claim holder complete (fencing token)', async () => {
    await ledger.claim(claimRequest());
    await ledger.claim(claimRequest({ token: 'token-b', nowMs: NOW + 20_001 }));

    await expect(
      ledger.complete({
        key: claimRequest().key,
        token: 'token-a',
        outcome: 'created',
        contactId: 'c-old',
        nowMs: NOW + 20_002,
      }),
    ).rejects.toMatchObject({ name: 'LockLostError' });
    await ledger.complete({
      key: claimRequest().key,
      token: 'token-b',
      outcome: 'created',
      contactId: 'c-new',
      nowMs: NOW + 20_003,
    });

    expect(await ledger.get({ key: claimRequest().key })).toMatchObject({
      status: 'created',
      contactId: 'c-new',
      outcome: 'created',
      lockToken: null,
      lockExpiresAtMs: null,
      convertedAt: new Date(NOW + 20_003).toISOString(),
    });
  });

  it('never hands out a converted key again', async () => {
    await ledger.claim(claimRequest());
    await ledger.complete({
      key: claimRequest().key,
      token: 'token-a',
      outcome: 'existing',
      contactId: 'c1',
      nowMs: NOW,
    });

    const later = await ledger.claim(claimRequest({ token: 'token-b', nowMs: NOW + 10 * 86_400_000 }));

    expect(later.claimed).toBe(false);
    expect(!later.claimed && later.record).toMatchObject({
      status: 'created',
      contactId: 'c1',
      outcome: 'existing',
    });
  });

  it('makes a released claim claimable at once and keeps "a create may have happened" sticky', async () => {
    const key = claimRequest().key;
    await ledger.claim(claimRequest());
    await ledger.release({
      key,
      token: 'token-a',
      error: 'POST /contacts: 503',
      createUncertain: true,
      nowMs: NOW + 1,
    });
    const second = await ledger.claim(claimRequest({ token: 'token-b', nowMs: NOW + 2 }));
    await ledger.release({
      key,
      token: 'token-b',
      error: 'rate limited',
      createUncertain: true,
      nowMs: NOW + 3,
    });

    expect(second.claimed && second.previous).toMatchObject({
      lockToken: null,
      createUncertain: true,
      lastError: 'POST /contacts: 503',
    });
    expect(await ledger.get({ key })).toMatchObject({
      status: 'creating',
      createUncertain: true,
      attempts: 2,
    });
  });

  it('keeps a rejected person rejected for the same data and claimable for changed data', async () => {
    const key = claimRequest().key;
    await ledger.claim(claimRequest());
    await ledger.reject({
      key,
      token: 'token-a',
      reason: 'invalid contact stage',
      nowMs: NOW,
      expiresAtSeconds: 1_900_000_000,
    });

    const replay = await ledger.claim(claimRequest({ token: 'token-b' }));
    const changed = await ledger.claim(claimRequest({ token: 'token-c', fingerprint: 'fp-2' }));

    expect(!replay.claimed && replay.record).toMatchObject({
      status: 'rejected',
      lastError: 'invalid contact stage',
    });
    expect(changed.claimed).toBe(true);
  });

  it('moves created to verified, and never a verified record to failed', async () => {
    const key = claimRequest().key;
    await ledger.claim(claimRequest());
    await ledger.complete({ key, token: 'token-a', outcome: 'created', contactId: 'c1', nowMs: NOW });
    await ledger.markVerificationStarted({ key, nowMs: NOW + 1 });
    await ledger.markVerified({ key, nowMs: NOW + 2 });
    await ledger.markVerificationFailed({ key, reason: 'late failure', nowMs: NOW + 3 });

    expect(await ledger.get({ key })).toMatchObject({
      status: 'verified',
      verificationStartedAt: new Date(NOW + 1).toISOString(),
      verifiedAt: new Date(NOW + 2).toISOString(),
      lastError: null,
    });
  });

  it('records why a verification failed', async () => {
    const key = claimRequest().key;
    await ledger.claim(claimRequest());
    await ledger.complete({ key, token: 'token-a', outcome: 'created', contactId: 'c1', nowMs: NOW });

    await ledger.markVerificationFailed({
      key,
      reason: 'ContactMismatchError: different email',
      nowMs: NOW + 5,
    });

    expect(await ledger.get({ key })).toMatchObject({
      status: 'verification_failed',
      lastError: 'ContactMismatchError: different email',
    });
  });

  it('gives one claim to one of 50 concurrent claimers', async () => {
    const claims = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ledger.claim(claimRequest({ token: `token-${i}` }))),
    );

    expect(claims.filter((claim) => claim.claimed)).toHaveLength(1);
  });

  it('returns null for an unknown key', async () => {
    expect(await ledger.get({ key: 'nobody@example.com' })).toBeNull();
  });

  describe('records waiting for a verdict (the sparse awaiting-verdict index)', () => {
    const keys = ['ada@example.com', 'basil@example.com', 'clara@example.com', 'dorian@example.com'];

    async function completeAt(key: string, nowMs: number) {
      await ledger.claim(claimRequest({ key, token: `token-${key}`, nowMs }));
      await ledger.complete({ key, token: `token-${key}`, outcome: 'created', contactId: `c-${key}`, nowMs });
    }

    it('lists completed records once they have waited long enough, and forgets them with their verdict', async () => {
      // Prepare: four records completed a minute apart, one still creating.
      for (const [index, key] of keys.entries()) await completeAt(key, NOW + index * 60_000);
      await ledger.claim(claimRequest({ key: 'edith@example.com', token: 'token-e' }));
      await ledger.markVerified({ key: 'ada@example.com', nowMs: NOW + 300_000 });
      await ledger.markVerificationFailed({
        key: 'basil@example.com',
        reason: 'mismatch',
        nowMs: NOW + 300_000,
      });

      // Act
      const all = await ledger.awaitingVerdict({ olderThanMs: NOW + 600_000, limit: 10 });
      const older = await ledger.awaitingVerdict({ olderThanMs: NOW + 150_000, limit: 10 });
      const limited = await ledger.awaitingVerdict({ olderThanMs: NOW + 600_000, limit: 1 });

      // Assess
      expect(all.map((record) => record.key).sort()).toEqual(['clara@example.com', 'dorian@example.com']);
      expect(all).toContainEqual({
        key: 'clara@example.com',
        contactId: 'c-clara@example.com',
        awaitingSinceMs: NOW + 120_000,
        redrives: 0,
      });
      expect(older.map((record) => record.key)).toEqual(['clara@example.com']);
      expect(limited).toHaveLength(1);
      expect(await ledger.get({ key: 'clara@example.com' })).toMatchObject({
        awaitingVerdictSinceMs: NOW + 120_000,
        verificationRedrives: 0,
      });
      expect(await ledger.get({ key: 'ada@example.com' })).toMatchObject({ awaitingVerdictSinceMs: null });
    });

    it('hands one re-drive to one of several concurrent sweepers, counting re-drives', async () => {
      // Prepare
      const key = keys[0] as string;
      await completeAt(key, NOW);

      // Act
      const racing = await Promise.all(
        Array.from({ length: 5 }, () =>
          ledger.markRedriven({ key, awaitingSinceMs: NOW, nowMs: NOW + 1000 }),
        ),
      );
      const second = await ledger.markRedriven({ key, awaitingSinceMs: NOW + 1000, nowMs: NOW + 2000 });
      await ledger.markVerified({ key, nowMs: NOW + 3000 });
      const afterVerdict = await ledger.markRedriven({ key, awaitingSinceMs: null, nowMs: NOW + 4000 });

      // Assess
      expect(racing.filter((redrive) => redrive !== null)).toEqual([1]);
      expect(second).toBe(2);
      expect(afterVerdict).toBeNull();
      expect(await ledger.get({ key })).toMatchObject({ status: 'verified', verificationRedrives: 2 });
      expect(await ledger.awaitingVerdict({ olderThanMs: NOW + 600_000, limit: 10 })).toEqual([]);
    });
  });
});

describe('Class: DynamoDbLedger (unit, mocked SDK)', () => {
  // Mock this one client only: mocking the class would also mock the dynalite tests' client.
  const client = new DynamoDBClient({ region: 'us-east-1' });
  const dynamoMock = mockClient(client);
  const ledger = new DynamoDbLedger(client, 'ledger');

  beforeEach(() => {
    dynamoMock.reset();
  });

  it('reads the record with a consistent read when the claim condition fails', async () => {
    // Prepare
    dynamoMock
      .on(UpdateItemCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'condition', $metadata: {} }));
    dynamoMock
      .on(GetItemCommand)
      .resolves({ Item: marshall({ pk: 'a@b.example', status: 'created', contact_id: 'c9' }) });

    // Act
    const claim = await ledger.claim(claimRequest({ key: 'a@b.example' }));

    // Assess
    expect(claim).toMatchObject({ claimed: false, record: { status: 'created', contactId: 'c9' } });
    expect(dynamoMock.commandCalls(GetItemCommand)[0]?.args[0].input).toMatchObject({ ConsistentRead: true });
    const update = dynamoMock.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(update?.ConditionExpression).toContain('lock_expires_at < :now');
    expect(update?.ReturnValues).toBe('ALL_OLD');
  });

  it('uses the item DynamoDB returns with a failed claim, without another read', async () => {
    dynamoMock.on(UpdateItemCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'condition',
        $metadata: {},
        Item: marshall({ pk: 'a@b.example', status: 'verified', contact_id: 'c7' }),
      }),
    );

    const claim = await ledger.claim(claimRequest({ key: 'a@b.example' }));

    expect(claim).toMatchObject({ claimed: false, record: { status: 'verified', contactId: 'c7' } });
    expect(dynamoMock.commandCalls(GetItemCommand)).toHaveLength(0);
    expect(
      dynamoMock.commandCalls(UpdateItemCommand)[0]?.args[0].input.ReturnValuesOnConditionCheckFailure,
    ).toBe('ALL_OLD');
  });

  it('lets other DynamoDB errors through', async () => {
    dynamoMock
      .on(UpdateItemCommand)
      .rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));

    await expect(ledger.claim(claimRequest())).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  it('writes a result only on the condition that the token still holds the claim', async () => {
    dynamoMock.on(UpdateItemCommand).resolves({});

    await ledger.complete({
      key: 'a@b.example',
      token: 'tok',
      outcome: 'created',
      contactId: 'c1',
      nowMs: NOW,
    });

    const input = dynamoMock.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBe('lock_token = :token AND #status = :creating_status');
    expect(input?.ExpressionAttributeValues?.[':token']).toEqual({ S: 'tok' });
  });
});
