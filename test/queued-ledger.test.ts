/**
 * The queue's part of the ledger (`enqueue`, `claimQueued`, `requeue`, the stranded-send query),
 * one set of cases run against `DynamoDbLedger` on dynalite and against `InMemoryLedger`, the
 * fake the unit tests stand on: both must pass the same cases, so the fake behaves as dynalite does.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbLedger } from '../lib/dynamodb-ledger';
import type { ClaimRequest, EnqueueRequest, QueuedContact } from '../lib/ledger';
import { createLedgerTable, startLocalDynamoDb, type LocalDynamoDb } from '../local/dynamodb';
import { InMemoryLedger } from './support/fakes';

const NOW = Date.parse('2026-11-26T10:00:00Z');
const KEY = 'c_AAAAAAAAAAAAAAAAAAAAAA';
const OTHER = 'c_BBBBBBBBBBBBBBBBBBBBBB';
const CONTACT: QueuedContact = {
  first_name: 'Wren',
  last_name: 'Halloway',
  email: 'wren.halloway@lanternfish.example',
  organization_name: 'Lanternfish Labs',
  direct_phone: '+12025550143',
};

function enqueueRequest(overrides: Partial<EnqueueRequest> = {}): EnqueueRequest {
  return {
    key: KEY,
    nowMs: NOW,
    fingerprint: 'fp-1',
    match: { email: 'wren.halloway@lanternfish.example' },
    expectedPhoneHashes: ['hash-1'],
    contact: CONTACT,
    ...overrides,
  };
}

function claimRequest(overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    key: KEY,
    token: 'sync-token',
    lockExpiresAtMs: NOW + 20_000,
    nowMs: NOW,
    fingerprint: 'fp-1',
    match: { email: 'wren.halloway@lanternfish.example' },
    expectedPhoneHashes: ['hash-1'],
    ...overrides,
  };
}

const claimQueuedRequest = (token: string, nowMs = NOW) => ({
  key: KEY,
  token,
  lockExpiresAtMs: nowMs + 60_000,
  nowMs,
});

/** A ledger under test, and what its stored item holds of the queued person (raw attributes). */
interface Subject {
  ledger: DynamoDbLedger | InMemoryLedger;
  /** Whether the stored item still holds the queued contact (its phone numbers). */
  holdsContact: (key: string) => Promise<boolean>;
}

let dynamo: LocalDynamoDb | undefined;
let table = 0;

const implementations: Array<[string, () => Promise<Subject>]> = [
  [
    'DynamoDbLedger (dynalite)',
    async () => {
      dynamo ??= await startLocalDynamoDb();
      const client = dynamo.client;
      const tableName = `queued-${++table}`;
      await createLedgerTable(client, tableName);
      return {
        ledger: new DynamoDbLedger(client, tableName),
        holdsContact: async (key) => {
          const { Item } = await client.send(
            new GetItemCommand({ TableName: tableName, Key: marshall({ pk: key }), ConsistentRead: true }),
          );
          return Item !== undefined && unmarshall(Item).queued_contact !== undefined;
        },
      };
    },
  ],
  [
    'InMemoryLedger',
    () => {
      const ledger = new InMemoryLedger();
      return Promise.resolve({
        ledger,
        holdsContact: (key) => Promise.resolve(ledger.item(key)?.queuedContact !== undefined),
      });
    },
  ],
];

afterAll(async () => {
  await dynamo?.close();
});

describe.each(implementations)('Ledger, the queued path: %s', (_, subject) => {
  let ledger: Subject['ledger'];
  let holdsContact: Subject['holdsContact'];

  beforeEach(async () => {
    ({ ledger, holdsContact } = await subject());
  });

  describe('enqueue', () => {
    it('writes a new person queued with what the consumer needs, once', async () => {
      // Act
      const first = await ledger.enqueue(enqueueRequest());
      const second = await ledger.enqueue(enqueueRequest({ nowMs: NOW + 1000 }));

      // Assess
      expect(first).toEqual({ enqueued: true, previous: null });
      expect(second).toMatchObject({
        enqueued: false,
        record: { status: 'queued', sentAtMs: NOW, attempts: 0, fingerprint: 'fp-1' },
      });
      expect(await ledger.get({ key: KEY })).toMatchObject({
        status: 'queued',
        attempts: 0,
        sentAtMs: NOW,
        match: { email: 'wren.halloway@lanternfish.example' },
        expectedPhoneHashes: ['hash-1'],
        createdAt: '2026-11-26T10:00:00.000Z',
        updatedAt: '2026-11-26T10:00:00.000Z',
        lockToken: null,
        createUncertain: false,
      });
      expect(await holdsContact(KEY)).toBe(true);
    });

    it('queues a person once however many deliveries write it at the same moment', async () => {
      // Act
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, (_, i) => ledger.enqueue(enqueueRequest({ nowMs: NOW + i }))),
      );

      // Assess
      expect(outcomes.filter((outcome) => outcome.enqueued)).toHaveLength(1);
      expect(
        outcomes
          .filter((outcome) => !outcome.enqueued)
          .map((outcome) => !outcome.enqueued && outcome.record.status),
      ).toEqual(Array.from({ length: 29 }, () => 'queued'));
    });

    it('queues a placeholder ownRecord made, keeping its owner', async () => {
      // Prepare
      await ledger.ownRecord({
        key: KEY,
        owner: 'id_owner',
        nowMs: NOW,
        placeholderExpiresAtSeconds: 1_900_000_000,
      });

      // Act
      const enqueued = await ledger.enqueue(enqueueRequest());

      // Assess
      expect(enqueued).toEqual({ enqueued: true, previous: null });
      expect(await ledger.recordOwner({ key: KEY })).toBe('id_owner');
    });

    it('leaves a converted person as it is', async () => {
      // Prepare
      await ledger.claim(claimRequest());
      await ledger.complete({
        key: KEY,
        token: 'sync-token',
        outcome: 'created',
        contactId: 'c1',
        nowMs: NOW,
      });

      // Act
      const enqueued = await ledger.enqueue(enqueueRequest({ nowMs: NOW + 5000 }));

      // Assess
      expect(enqueued).toMatchObject({ enqueued: false, record: { status: 'created', contactId: 'c1' } });
      expect(await holdsContact(KEY)).toBe(false);
    });

    it('keeps a rejected person rejected for the same data, and queues it again, attempts afresh, for changed data', async () => {
      // Prepare
      await ledger.enqueue(enqueueRequest());
      await ledger.claimQueued(claimQueuedRequest('consumer-1'));
      await ledger.reject({
        key: KEY,
        token: 'consumer-1',
        reason: 'bad stage (422)',
        nowMs: NOW + 1,
        expiresAtSeconds: 1_900_000_000,
      });

      // Act
      const replay = await ledger.enqueue(enqueueRequest({ nowMs: NOW + 2 }));
      const contactAfterReject = await holdsContact(KEY);
      const changed = await ledger.enqueue(enqueueRequest({ nowMs: NOW + 3, fingerprint: 'fp-2' }));

      // Assess
      expect(replay).toMatchObject({
        enqueued: false,
        record: { status: 'rejected', lastError: 'bad stage (422)' },
      });
      expect(contactAfterReject).toBe(false);
      expect(changed).toMatchObject({ enqueued: true, previous: { status: 'rejected', attempts: 1 } });
      expect(await ledger.get({ key: KEY })).toMatchObject({
        status: 'queued',
        attempts: 0,
        fingerprint: 'fp-2',
      });
    });

    it('leaves a live claim alone', async () => {
      // Prepare
      await ledger.claim(claimRequest());

      // Act
      const enqueued = await ledger.enqueue(enqueueRequest({ nowMs: NOW + 1000 }));

      // Assess
      expect(enqueued).toMatchObject({
        enqueued: false,
        record: { status: 'creating', lockToken: 'sync-token' },
      });
    });

    it('takes back a claim whose holder died, keeping the doubt that it created the contact', async () => {
      // Prepare: a synchronous conversion claimed and died (its lock lapses at NOW + 20 s).
      await ledger.claim(claimRequest());

      // Act
      const enqueued = await ledger.enqueue(enqueueRequest({ nowMs: NOW + 20_001 }));

      // Assess
      expect(enqueued).toMatchObject({
        enqueued: true,
        previous: { status: 'creating', lockToken: 'sync-token' },
      });
      expect(await ledger.get({ key: KEY })).toMatchObject({
        status: 'queued',
        attempts: 1,
        createUncertain: true,
        createUncertainSinceMs: null,
        lockToken: null,
        lockExpiresAtMs: null,
        sentAtMs: NOW + 20_001,
      });
    });

    it('takes back a claim given back (released) without adding doubt', async () => {
      // Prepare
      await ledger.claim(claimRequest());
      await ledger.release({
        key: KEY,
        token: 'sync-token',
        error: '429',
        createUncertain: false,
        nowMs: NOW + 1,
      });

      // Act
      const enqueued = await ledger.enqueue(enqueueRequest({ nowMs: NOW + 2 }));

      // Assess
      expect(enqueued).toMatchObject({ enqueued: true, previous: { status: 'creating', lockToken: null } });
      expect(await ledger.get({ key: KEY })).toMatchObject({
        status: 'queued',
        createUncertain: false,
        attempts: 1,
      });
    });
  });

  describe('claimQueued', () => {
    it('claims a queued person by key alone and hands over what to send; a second claim is refused', async () => {
      // Prepare
      await ledger.enqueue(enqueueRequest());

      // Act
      const first = await ledger.claimQueued(claimQueuedRequest('consumer-1', NOW + 10));
      const second = await ledger.claimQueued(claimQueuedRequest('consumer-2', NOW + 20));

      // Assess
      expect(first).toMatchObject({
        claimed: true,
        previous: { status: 'queued', attempts: 0 },
        contact: CONTACT,
      });
      expect(second).toMatchObject({
        claimed: false,
        record: { status: 'creating', lockToken: 'consumer-1' },
      });
      const record = await ledger.get({ key: KEY });
      expect(record).toMatchObject({ status: 'creating', attempts: 1, lockExpiresAtMs: NOW + 60_010 });
      expect(record?.sentAtMs).toBeUndefined();
    });

    it('claims a queued person whose consumer died once its lock lapsed', async () => {
      // Prepare
      await ledger.enqueue(enqueueRequest());
      await ledger.claimQueued(claimQueuedRequest('consumer-1'));

      // Act
      const takeover = await ledger.claimQueued(claimQueuedRequest('consumer-2', NOW + 60_001));

      // Assess
      expect(takeover).toMatchObject({
        claimed: true,
        previous: { status: 'creating', lockToken: 'consumer-1' },
        contact: CONTACT,
      });
      expect(await ledger.get({ key: KEY })).toMatchObject({ lockToken: 'consumer-2', attempts: 2 });
    });

    it('claims nothing that is missing, finished, refused, or held by the synchronous path without a queued person', async () => {
      // Prepare
      await ledger.claim(claimRequest({ key: OTHER }));

      // Act
      const missing = await ledger.claimQueued(claimQueuedRequest('consumer-1'));
      const syncHeldLapsed = await ledger.claimQueued({
        ...claimQueuedRequest('consumer-1', NOW + 20_001),
        key: OTHER,
      });
      await ledger.enqueue(enqueueRequest());
      await ledger.claimQueued(claimQueuedRequest('consumer-1'));
      await ledger.complete({
        key: KEY,
        token: 'consumer-1',
        outcome: 'created',
        contactId: 'c1',
        nowMs: NOW,
      });
      const finished = await ledger.claimQueued(claimQueuedRequest('consumer-2', NOW + 86_400_000));

      // Assess
      expect(missing).toEqual({ claimed: false, record: null });
      expect(syncHeldLapsed).toMatchObject({ claimed: false, record: { status: 'creating' } });
      expect(finished).toMatchObject({ claimed: false, record: { status: 'created', contactId: 'c1' } });
      expect(await holdsContact(KEY)).toBe(false);
    });

    it('lets the synchronous path claim a queued person, after which the consumer finds it converted', async () => {
      // Prepare
      await ledger.enqueue(enqueueRequest());

      // Act
      const sync = await ledger.claim(claimRequest({ nowMs: NOW + 5 }));
      await ledger.complete({
        key: KEY,
        token: 'sync-token',
        outcome: 'existing',
        contactId: 'c9',
        nowMs: NOW + 6,
      });
      const consumer = await ledger.claimQueued(claimQueuedRequest('consumer-1', NOW + 7));

      // Assess
      expect(sync).toMatchObject({ claimed: true, previous: { status: 'queued' } });
      expect(consumer).toMatchObject({ claimed: false, record: { status: 'created', contactId: 'c9' } });
      expect((await ledger.get({ key: KEY }))?.sentAtMs).toBeUndefined();
    });
  });

  describe('requeue', () => {
    it('puts a held person back on the queue as the holder, with the doubt sticky and the attempt refunded on request', async () => {
      // Prepare
      await ledger.enqueue(enqueueRequest());
      await ledger.claimQueued(claimQueuedRequest('consumer-1'));

      // Act
      await ledger.requeue({
        key: KEY,
        token: 'consumer-1',
        error: '502',
        createUncertain: true,
        nowMs: NOW + 1,
      });
      await ledger.claimQueued(claimQueuedRequest('consumer-2', NOW + 2));
      await ledger.requeue({
        key: KEY,
        token: 'consumer-2',
        error: '429',
        createUncertain: false,
        nowMs: NOW + 3,
        refundAttempt: true,
      });
      const stale = ledger.requeue({
        key: KEY,
        token: 'consumer-1',
        error: 'late',
        createUncertain: false,
        nowMs: NOW + 4,
      });

      // Assess
      await expect(stale).rejects.toMatchObject({ name: 'LockLostError' });
      expect(await ledger.get({ key: KEY })).toMatchObject({
        status: 'queued',
        attempts: 1,
        lastError: '429',
        createUncertain: true,
        createUncertainSinceMs: NOW + 1,
        sentAtMs: NOW + 3,
        lockToken: null,
        lockExpiresAtMs: null,
      });
      expect(await holdsContact(KEY)).toBe(true);
    });

    it('keeps the doubt undated when no create may still be running (quietPeriod: false)', async () => {
      // Prepare
      await ledger.enqueue(enqueueRequest());
      await ledger.claimQueued(claimQueuedRequest('consumer-1'));

      // Act
      await ledger.requeue({
        key: KEY,
        token: 'consumer-1',
        error: 'bulk_update: 503',
        createUncertain: true,
        quietPeriod: false,
        nowMs: NOW + 1,
      });

      // Assess
      expect(await ledger.get({ key: KEY })).toMatchObject({
        status: 'queued',
        createUncertain: true,
        createUncertainSinceMs: null,
      });
    });
  });

  describe('failQueued', () => {
    it('fails a poison person as the holder, keeping it for a redrive of the dead-letter queue', async () => {
      // Prepare
      await ledger.enqueue(enqueueRequest());
      await ledger.claimQueued(claimQueuedRequest('consumer-1'));

      // Act
      await ledger.failQueued({
        key: KEY,
        token: 'consumer-1',
        reason: 'gave up after 5 receives',
        createUncertain: true,
        nowMs: NOW + 1,
        expiresAtSeconds: 1_900_000_000,
      });
      const failed = await ledger.get({ key: KEY });
      const sameData = await ledger.enqueue(enqueueRequest({ nowMs: NOW + 2 }));
      const redriven = await ledger.claimQueued(claimQueuedRequest('consumer-2', NOW + 3));

      // Assess
      expect(failed).toMatchObject({
        status: 'failed',
        lastError: 'gave up after 5 receives',
        createUncertain: true,
        createUncertainSinceMs: NOW + 1,
        lockToken: null,
        holdsQueuedContact: true,
      });
      expect(sameData).toMatchObject({ enqueued: false, record: { status: 'failed' } });
      expect(redriven).toMatchObject({ claimed: true, previous: { status: 'failed' }, contact: CONTACT });
    });

    it('claims no person the synchronous path failed (it holds no queued person)', async () => {
      // Prepare
      await ledger.claim(claimRequest());
      await ledger.fail({
        key: KEY,
        token: 'sync-token',
        reason: 'too many',
        nowMs: NOW,
        expiresAtSeconds: 1,
      });

      // Act
      const claim = await ledger.claimQueued(claimQueuedRequest('consumer-1', NOW + 1));

      // Assess
      expect(claim).toMatchObject({ claimed: false, record: { status: 'failed' } });
    });
  });

  describe('sends', () => {
    it('marks a queued record unsent and sent, and nothing else', async () => {
      // Prepare
      await ledger.enqueue(enqueueRequest());
      await ledger.claim(claimRequest({ key: OTHER }));

      // Act
      await ledger.markUnsent({ key: KEY });
      const unsent = (await ledger.get({ key: KEY }))?.sentAtMs;
      await ledger.markSent({ key: KEY, nowMs: NOW + 9000 });
      await ledger.markSent({ key: OTHER, nowMs: NOW + 9000 });
      await ledger.markUnsent({ key: OTHER });

      // Assess
      expect(unsent).toBe(0);
      expect(await ledger.get({ key: KEY })).toMatchObject({
        sentAtMs: NOW + 9000,
        updatedAt: '2026-11-26T10:00:09.000Z',
      });
      const other = await ledger.get({ key: OTHER });
      expect(other).toMatchObject({ status: 'creating', updatedAt: '2026-11-26T10:00:00.000Z' });
      expect(other?.sentAtMs).toBeUndefined();
    });

    it('lists the keys of records queued and unchanged since before a time, oldest first, through the index', async () => {
      // Prepare
      const keys = ['c_Q1xxxxxxxxxxxxxxxxxxxx', 'c_Q2xxxxxxxxxxxxxxxxxxxx', 'c_Q3xxxxxxxxxxxxxxxxxxxx'];
      await ledger.enqueue(enqueueRequest({ key: keys[1], nowMs: NOW + 2000 }));
      await ledger.enqueue(enqueueRequest({ key: keys[0], nowMs: NOW + 1000 }));
      await ledger.enqueue(enqueueRequest({ key: keys[2], nowMs: NOW + 9000 }));
      await ledger.enqueue(enqueueRequest({ key: OTHER, nowMs: NOW }));
      await ledger.claimQueued({ ...claimQueuedRequest('consumer-1', NOW + 500), key: OTHER });

      // Act
      const before = await ledger.queuedBefore({ olderThanMs: NOW + 5000, limit: 10 });
      const limited = await ledger.queuedBefore({ olderThanMs: NOW + 60_000, limit: 2 });

      // Assess
      expect(before).toEqual([keys[0], keys[1]]);
      expect(limited).toEqual([keys[0], keys[1]]);
    });
  });
});
