import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbLedger } from '../lib/dynamodb-ledger';
import type { KeptEnrichment } from '../lib/ledger';
import { createLedgerTable, startLocalDynamoDb, type LocalDynamoDb } from '../local/dynamodb';

const NOW = Date.parse('2026-11-26T10:00:00Z');
const LOOKUP = 'grace.example@compilers.example';
const KEY = 'grace.example@compilers.example';
const TTL = Math.floor(NOW / 1000) + 86_400;

const KEPT: KeptEnrichment = {
  person: { id: 'aaaaaaaaaaaaaaaaaaaaaaaa', first_name: 'Grace', last_name: 'Example' },
  requestId: '-1234567890123456789',
  creditsConsumed: 1,
  phonesRequested: true,
};

const claimOf = (token: string, nowMs = NOW) => ({
  lookup: LOOKUP,
  token,
  lockExpiresAtMs: nowMs + 20_000,
  nowMs,
  expiresAtSeconds: TTL,
});

describe('Class: DynamoDbLedger, the enrichment payment ports (against dynalite)', () => {
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
    const tableName = `enrichment-ledger-${++table}`;
    await createLedgerTable(dynamo.client, tableName);
    ledger = new DynamoDbLedger(dynamo.client, tableName);
  });

  /** A converted person record, as the conversion leaves it. */
  async function convertedRecord() {
    await ledger.claim({
      key: KEY,
      token: 'conversion',
      lockExpiresAtMs: NOW + 20_000,
      nowMs: NOW,
      fingerprint: 'fp',
      match: { email: KEY },
      expectedPhoneHashes: [],
    });
    await ledger.complete({ key: KEY, token: 'conversion', outcome: 'created', contactId: 'c1', nowMs: NOW });
  }

  it('grants one of 20 concurrent claims on a lookup; the others see the live lock', async () => {
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ledger.claimEnrichment(claimOf(`t${i}`))),
    );

    expect(claims.filter((claim) => claim.claimed)).toHaveLength(1);
    for (const claim of claims.filter((c) => !c.claimed)) {
      expect(claim).toEqual({ claimed: false, kept: null, lockExpiresAtMs: NOW + 20_000 });
    }
  });

  it('refuses every claim once the payment is kept, even after the lock would have lapsed, and hands over what was kept', async () => {
    await ledger.claimEnrichment(claimOf('a'));
    expect(
      await ledger.keepEnrichment({
        lookup: LOOKUP,
        token: 'a',
        kept: KEPT,
        nowMs: NOW,
        expiresAtSeconds: TTL,
      }),
    ).toBe(true);

    // While the payer still holds the lookup (it is converting), nobody takes its payment over.
    const meanwhile = await ledger.claimEnrichment(claimOf('b', NOW + 1_000));
    const later = await ledger.claimEnrichment(claimOf('b', NOW + 60_000));

    expect(meanwhile).toEqual({ claimed: false, kept: null, lockExpiresAtMs: NOW + 20_000 });
    expect(await ledger.keptEnrichment({ lookup: LOOKUP, nowMs: NOW + 1_000 })).toBeNull();
    expect(later).toEqual({ claimed: false, kept: KEPT, lockExpiresAtMs: NOW + 20_000 });
    expect(await ledger.keptEnrichment({ lookup: LOOKUP })).toEqual(KEPT);
    expect(await ledger.keptEnrichment({ lookup: LOOKUP, nowMs: NOW + 60_000 })).toEqual(KEPT);
  });

  it("gives the payer's lock back after the conversion, keeping the payment for the next request", async () => {
    await ledger.claimEnrichment(claimOf('a'));
    await ledger.keepEnrichment({
      lookup: LOOKUP,
      token: 'a',
      kept: KEPT,
      nowMs: NOW,
      expiresAtSeconds: TTL,
    });

    await ledger.releaseEnrichment({ lookup: LOOKUP, token: 'b' });
    const stillHeld = await ledger.keptEnrichment({ lookup: LOOKUP, nowMs: NOW + 1_000 });
    await ledger.releaseEnrichment({ lookup: LOOKUP, token: 'a' });

    expect(stillHeld).toBeNull();
    expect(await ledger.keptEnrichment({ lookup: LOOKUP, nowMs: NOW + 1_000 })).toEqual(KEPT);
    expect(await ledger.claimEnrichment(claimOf('c', NOW + 1_000))).toEqual({
      claimed: false,
      kept: KEPT,
      lockExpiresAtMs: null,
    });
  });

  it('hands a lapsed claim over; the lapsed holder can neither keep nor release it', async () => {
    await ledger.claimEnrichment(claimOf('a'));
    const takeover = await ledger.claimEnrichment(claimOf('b', NOW + 20_001));

    const lateKeep = await ledger.keepEnrichment({
      lookup: LOOKUP,
      token: 'a',
      kept: KEPT,
      nowMs: NOW + 20_002,
      expiresAtSeconds: TTL,
    });
    await ledger.releaseEnrichment({ lookup: LOOKUP, token: 'a' });
    const third = await ledger.claimEnrichment(claimOf('c', NOW + 20_003));

    expect(takeover).toEqual({ claimed: true });
    expect(lateKeep).toBe(false);
    expect(await ledger.keptEnrichment({ lookup: LOOKUP })).toBeNull();
    expect(third.claimed).toBe(false);
  });

  it('makes a released claim claimable at once', async () => {
    await ledger.claimEnrichment(claimOf('a'));
    await ledger.releaseEnrichment({ lookup: LOOKUP, token: 'a' });

    expect(await ledger.claimEnrichment(claimOf('b', NOW + 1))).toEqual({ claimed: true });
  });

  it('counts an enrichment’s credits once per request id, however often it is recorded', async () => {
    await convertedRecord();
    const enrichment = {
      key: KEY,
      apolloPersonId: 'aaaaaaaaaaaaaaaaaaaaaaaa',
      requestId: '-1234567890123456789',
      creditsConsumed: 1,
      phoneReveal: 'pending' as const,
      nowMs: NOW,
    };

    await ledger.recordEnrichment(enrichment);
    await ledger.recordEnrichment(enrichment);
    await ledger.recordEnrichment({ ...enrichment, requestId: '-42', creditsConsumed: 1 });

    expect(await ledger.get({ key: KEY })).toMatchObject({
      creditsConsumed: 2,
      requestId: '-1234567890123456789',
      requestCredits: 1,
      phoneReveal: 'pending',
    });
  });

  it('never reopens a reveal: applied stays applied under its own request id', async () => {
    await convertedRecord();
    await ledger.recordEnrichment({
      key: KEY,
      apolloPersonId: 'p',
      requestId: '-1',
      creditsConsumed: 1,
      phoneReveal: 'pending',
      nowMs: NOW,
    });
    await ledger.recordPhonesApplied({ key: KEY, phoneHashes: ['h'], nowMs: NOW });

    await ledger.recordEnrichment({
      key: KEY,
      apolloPersonId: 'p',
      requestId: '-2',
      creditsConsumed: 0,
      phoneReveal: 'pending',
      nowMs: NOW + 1,
    });
    await ledger.recordEnrichment({
      key: KEY,
      apolloPersonId: 'p',
      requestId: '-3',
      creditsConsumed: 0,
      phoneReveal: 'not_requested',
      nowMs: NOW + 2,
    });

    expect(await ledger.get({ key: KEY })).toMatchObject({
      phoneReveal: 'applied',
      requestId: '-1',
      creditsConsumed: 1,
    });
  });

  it('lets a reveal follow an enrichment that did not ask for phones', async () => {
    await convertedRecord();
    const base = { key: KEY, apolloPersonId: 'p', creditsConsumed: 1, nowMs: NOW };
    await ledger.recordEnrichment({ ...base, requestId: '-1', phoneReveal: 'not_requested' });

    await ledger.recordEnrichment({ ...base, requestId: '-2', creditsConsumed: 0, phoneReveal: 'pending' });

    expect(await ledger.get({ key: KEY })).toMatchObject({
      phoneReveal: 'pending',
      requestId: '-2',
      requestCredits: 0,
      creditsConsumed: 1,
    });
  });

  it('counts a reveal’s credits once, however often its result is delivered', async () => {
    await convertedRecord();

    const counted = [
      await ledger.countRevealCredits({ key: KEY, credits: 8, nowMs: NOW }),
      await ledger.countRevealCredits({ key: KEY, credits: 8, nowMs: NOW + 1 }),
    ];

    expect(counted).toEqual([true, false]);
    expect((await ledger.get({ key: KEY }))?.creditsConsumed).toBe(8);
  });

  it('never gives a linked alias an expiry when phones are held there: the link outlives phones never applied', async () => {
    // Prepare: the Apollo person id links to the record; a callback then holds its phones there.
    await convertedRecord();
    await ledger.link({ alias: 'person:p1', key: KEY, nowMs: NOW });
    const held = { phones: [{ e164: '+12025550188', type: 'mobile' }], creditsConsumed: 8 };

    // Act: the phones are held (and, say, writing them to the contact fails: nothing releases them).
    const pointsAt = await ledger.holdRevealedPhones({
      alias: 'person:p1',
      held,
      nowMs: NOW,
      expiresAtSeconds: TTL,
    });

    // Assess: DynamoDB's TTL would delete the whole item, the link with it.
    const { Item } = await dynamo.client.send(
      new GetItemCommand({ TableName: `enrichment-ledger-${table}`, Key: marshall({ pk: 'person:p1' }) }),
    );
    expect(pointsAt).toBe(KEY);
    expect(Item && unmarshall(Item)).toMatchObject({ alias_of: KEY, held_phones: held });
    expect(Item && unmarshall(Item).expires_at).toBeUndefined();
  });

  it('still lets phones held for an unknown Apollo person expire', async () => {
    const held = { phones: [{ e164: '+12025550188', type: 'mobile' }], creditsConsumed: 8 };

    const pointsAt = await ledger.holdRevealedPhones({
      alias: 'person:p2',
      held,
      nowMs: NOW,
      expiresAtSeconds: TTL,
    });

    const { Item } = await dynamo.client.send(
      new GetItemCommand({ TableName: `enrichment-ledger-${table}`, Key: marshall({ pk: 'person:p2' }) }),
    );
    expect(pointsAt).toBeNull();
    expect(Item && unmarshall(Item)).toMatchObject({ held_phones: held, expires_at: TTL });
  });
});
