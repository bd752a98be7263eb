import { beforeEach, describe, expect, it } from 'vitest';
import { ApolloRejectedError, RetryLaterError } from '../../lib/errors';
import {
  ConversionIntake,
  MAX_WAIT_SECONDS,
  acceptedStatusCode,
  lanesBySharedIdentity,
} from '../../lib/intake';
import { phoneHash, type Person } from '../../lib/person';
import type { InvalidPersonResult } from '../../lib/requests';
import { parseWaitSeconds } from '../../lib/requests';
import {
  FAKE_SETTINGS,
  InMemoryLedger,
  JUNO_INPUT,
  REQUEST_MS,
  WREN_INPUT,
  fakeServices,
  juno,
  ottilie,
  person,
  rejectionOf,
  tobin,
  wren,
  type FakeServices,
} from '../support/fakes';

const INVALID: InvalidPersonResult = {
  id: null,
  status: 'invalid',
  contact_id: null,
  field: 'body.people[1].email',
  reason: 'not an email address',
};

/** Another request (the synchronous path) resolves and claims `claimed` now. */
async function claimElsewhere(s: FakeServices, claimed: Person, token = 'rival') {
  return s.ledger.claim({
    key: await s.resolve(claimed),
    token,
    lockExpiresAtMs: s.clock.now() + REQUEST_MS,
    nowMs: s.clock.now(),
    fingerprint: claimed.fingerprint,
    match: claimed.match,
    expectedPhoneHashes: claimed.phones.map(phoneHash),
  });
}

/** Queues `people` through the intake and lets the consumer convert them. */
async function convertThroughQueue(s: FakeServices, people: Person[]) {
  const results = await s.intake.accept(people, s.request());
  await s.drain();
  return results;
}

describe('Class: ConversionIntake', () => {
  let s: FakeServices;

  beforeEach(() => {
    s = fakeServices();
  });

  describe('accept', () => {
    it('queues a new person with one conditional write and one message, without calling Apollo', async () => {
      // Prepare
      const wrenPerson = wren();

      // Act
      const results = await s.intake.accept([wrenPerson], s.request());

      // Assess
      const key = s.keyOf(wrenPerson);
      expect(results).toEqual([{ id: key, status: 'queued', contact_id: null }]);
      expect(s.queue.sent).toEqual([key]);
      expect(s.apollo.totalCalls).toBe(0);
      expect(await s.ledger.get({ key })).toMatchObject({
        status: 'queued',
        attempts: 0,
        sentAtMs: s.clock.now(),
        fingerprint: wrenPerson.fingerprint,
        match: wrenPerson.match,
        expectedPhoneHashes: [phoneHash('+12025550143')],
        holdsQueuedContact: true,
      });
      // What the consumer will send: the contact fields, typed phones in E.164 included.
      expect(s.ledger.item(key)?.queuedContact).toEqual(wrenPerson.fields);
    });

    it('answers every position in order: invalid ones as they are, a person named twice once', async () => {
      // Prepare
      const wrenPerson = wren();

      // Act
      const results = await s.intake.accept([wrenPerson, INVALID, juno(), wren()], s.request());

      // Assess
      expect(results).toEqual([
        { id: s.keyOf(wrenPerson), status: 'queued', contact_id: null },
        INVALID,
        { id: s.keyOf(juno()), status: 'queued', contact_id: null },
        { id: s.keyOf(wrenPerson), status: 'queued', contact_id: null },
      ]);
      expect(s.queue.sent).toEqual([s.keyOf(wrenPerson), s.keyOf(juno())]);
      expect(s.ledger.records()).toHaveLength(2);
    });

    it('queues one person spelled two ways in one delivery (with and without email) once', async () => {
      // Prepare
      const withEmail = wren();
      const withoutEmail = person({ ...WREN_INPUT, email: undefined, organization_name: 'LANTERNFISH LABS' });

      // Act
      const results = await s.intake.accept([withoutEmail, withEmail], s.request());

      // Assess
      const [first, second] = results;
      expect(first?.id).toBe(second?.id);
      expect(results.map((r) => r.status)).toEqual(['queued', 'queued']);
      expect(s.queue.sent).toEqual([first?.id]);
      expect(s.ledger.records()).toHaveLength(1);
    });

    it('keeps the phone fields that were not phone numbers out, and says so in the result', async () => {
      // Prepare
      const odd = person({ ...JUNO_INPUT, mobile_phone: 'call the front desk' });

      // Act
      const [result] = await s.intake.accept([odd], s.request());

      // Assess
      expect(result).toEqual({
        id: s.keyOf(odd),
        status: 'queued',
        contact_id: null,
        dropped_fields: ['mobile_phone'],
      });
    });

    it('answers a person converted before from the ledger as a duplicate, counting a free lookup, sending nothing', async () => {
      // Prepare
      await convertThroughQueue(s, [wren()]);
      const sentBefore = s.queue.sent.length;
      const callsBefore = s.apollo.totalCalls;

      // Act
      const results = await s.intake.accept([wren()], s.request());

      // Assess
      const key = s.keyOf(wren());
      expect(results).toEqual([{ id: key, status: 'duplicate', contact_id: 'contact-1' }]);
      expect(s.queue.sent).toHaveLength(sentBefore);
      expect(s.apollo.totalCalls).toBe(callsBefore);
      expect(await s.ledger.get({ key })).toMatchObject({ status: 'created', freeLookups: 1 });
    });

    it('starts the verification of a converted person whose verification never started, once for the delivery', async () => {
      // Prepare: converted, recorded, and the consumer died before starting the verification.
      const [wrenKey, junoKey] = [await s.resolve(wren()), await s.resolve(juno())];
      for (const [key, contactId] of [
        [wrenKey, 'contact-w'],
        [junoKey, 'contact-j'],
      ] as const) {
        await s.ledger.claim({
          key,
          token: 'dead',
          lockExpiresAtMs: s.clock.now() + REQUEST_MS,
          nowMs: s.clock.now(),
          fingerprint: 'fp',
          match: { email: 'x@example.test' },
          expectedPhoneHashes: [],
        });
        await s.ledger.complete({ key, token: 'dead', outcome: 'created', contactId, nowMs: s.clock.now() });
      }

      // Act
      const results = await s.intake.accept([wren(), juno()], s.request());

      // Assess
      expect(results.map((r) => r.status)).toEqual(['duplicate', 'duplicate']);
      expect(s.batchVerifications.started).toEqual([
        {
          people: expect.arrayContaining([
            { key: wrenKey, contact_id: 'contact-w' },
            { key: junoKey, contact_id: 'contact-j' },
          ]) as unknown,
        },
      ]);
      expect((await s.ledger.get({ key: wrenKey }))?.verificationStartedAt).toBe(s.clock.iso());
    });

    it('still answers when that verification cannot start (the sweep re-drives it later)', async () => {
      // Prepare
      const key = await s.resolve(wren());
      await claimElsewhere(s, wren(), 'dead');
      await s.ledger.complete({
        key,
        token: 'dead',
        outcome: 'created',
        contactId: 'c-1',
        nowMs: s.clock.now(),
      });
      s.batchVerifications.failNext();

      // Act
      const results = await s.intake.accept([wren()], s.request());

      // Assess
      expect(results).toEqual([{ id: key, status: 'duplicate', contact_id: 'c-1' }]);
      expect((await s.ledger.get({ key }))?.verificationStartedAt).toBeNull();
    });

    it('re-drives the verification of a converted person that has waited too long for its verdict', async () => {
      // Prepare
      await convertThroughQueue(s, [wren()]);
      s.clock.advance(FAKE_SETTINGS.verificationSweepAfterMs + 1);

      // Act
      await s.intake.accept([wren()], s.request());

      // Assess
      expect(s.redrives.redriven).toEqual([
        { request: { key: s.keyOf(wren()), contact_id: 'contact-1' }, redrive: 1 },
      ]);
    });

    it('answers a person already queued as queued, sending it again only once its send is old', async () => {
      // Prepare
      await s.intake.accept([wren()], s.request());
      const key = s.keyOf(wren());

      // Act
      const soon = await s.intake.accept([wren()], s.request());
      s.clock.advance(FAKE_SETTINGS.resendAfterMs);
      const later = await s.intake.accept([wren()], s.request());
      const again = await s.intake.accept([wren()], s.request());

      // Assess
      for (const results of [soon, later, again])
        expect(results).toEqual([{ id: key, status: 'queued', contact_id: null }]);
      expect(s.queue.sent).toEqual([key, key]);
      expect(await s.ledger.get({ key })).toMatchObject({ status: 'queued', sentAtMs: s.clock.now() });
    });

    it('answers 503 when the queue refuses a send, leaving the person queued and marked unsent; the retry sends it', async () => {
      // Prepare
      s.queue.refuseNext({ keys: [await s.resolve(wren())] });

      // Act
      const refused = await rejectionOf(s.intake.accept([wren(), juno()], s.request()));
      const unsent = await s.ledger.get({ key: s.keyOf(wren()) });
      const retried = await s.intake.accept([wren(), juno()], s.request());

      // Assess
      expect(refused).toBeInstanceOf(RetryLaterError);
      expect(refused).toMatchObject({
        reason: 'queue_unavailable',
        retryAfterSeconds: FAKE_SETTINGS.queueRetryAfterSeconds,
        results: [
          { id: s.keyOf(wren()), status: 'queued', contact_id: null },
          { id: s.keyOf(juno()), status: 'queued', contact_id: null },
        ],
      });
      expect(unsent).toMatchObject({ status: 'queued', sentAtMs: 0 });
      expect(retried.map((r) => r.status)).toEqual(['queued', 'queued']);
      // Juno went through the first time; Wren on the retry, and only Wren again.
      expect(s.queue.sent).toEqual([s.keyOf(juno()), s.keyOf(wren())]);
      expect((await s.ledger.get({ key: s.keyOf(wren()) }))?.sentAtMs).toBe(s.clock.now());
    });

    it('answers 503 when the queue cannot be reached at all', async () => {
      // Prepare
      s.queue.refuseNext({ error: new Error('SQS is unavailable') });

      // Act
      const refused = await rejectionOf(s.intake.accept([wren()], s.request()));

      // Assess
      expect(refused).toMatchObject({ name: 'RetryLaterError', reason: 'queue_unavailable' });
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({ status: 'queued', sentAtMs: 0 });
    });

    it('answers a person the queue holds right now (claimed by a consumer) as queued', async () => {
      // Prepare
      await s.intake.accept([wren()], s.request());
      const key = s.keyOf(wren());
      await s.ledger.claimQueued({
        key,
        token: 'consumer',
        lockExpiresAtMs: s.clock.now() + 60_000,
        nowMs: s.clock.now(),
      });

      // Act
      const results = await s.intake.accept([wren()], s.request());

      // Assess
      expect(results).toEqual([{ id: key, status: 'queued', contact_id: null }]);
      expect(s.queue.sent).toEqual([key]);
    });

    it('answers 503 in_progress for a person the synchronous path holds (it was never queued)', async () => {
      // Prepare
      await claimElsewhere(s, wren());

      // Act
      const refused = await rejectionOf(s.intake.accept([wren(), juno()], s.request()));

      // Assess
      expect(refused).toMatchObject({
        name: 'RetryLaterError',
        reason: 'in_progress',
        retryAfterSeconds: FAKE_SETTINGS.inProgressRetryAfterSeconds,
        results: [
          { id: s.keyOf(wren()), status: 'in_progress', contact_id: null },
          { id: s.keyOf(juno()), status: 'queued', contact_id: null },
        ],
      });
      // The other person was queued and sent all the same.
      expect(s.queue.sent).toEqual([s.keyOf(juno())]);
    });

    it('takes back a person whose synchronous holder died, with the doubt, and queues it', async () => {
      // Prepare
      await claimElsewhere(s, wren());
      s.clock.advance(REQUEST_MS + 1);

      // Act
      const results = await s.intake.accept([wren()], s.request());

      // Assess
      expect(results).toEqual([{ id: s.keyOf(wren()), status: 'queued', contact_id: null }]);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'queued',
        createUncertain: true,
      });
      expect(s.queue.sent).toEqual([s.keyOf(wren())]);
    });

    it('answers a person Apollo rejected from the ledger for the same data, and queues it again for changed data', async () => {
      // Prepare
      const key = await s.resolve(wren());
      await s.intake.accept([wren()], s.request());
      await s.ledger.claimQueued({
        key,
        token: 'consumer',
        lockExpiresAtMs: s.clock.now() + 60_000,
        nowMs: s.clock.now(),
      });
      await s.ledger.reject({
        key,
        token: 'consumer',
        reason: 'bad title (422)',
        nowMs: s.clock.now(),
        expiresAtSeconds: 1,
      });

      // Act
      const same = await s.intake.accept([wren()], s.request());
      const changed = await s.intake.accept([person({ ...WREN_INPUT, title: 'Tide Keeper' })], s.request());

      // Assess
      expect(same).toEqual([{ id: key, status: 'rejected', contact_id: null, reason: 'bad title (422)' }]);
      expect(changed).toEqual([{ id: key, status: 'queued', contact_id: null }]);
      expect(s.queue.sent).toEqual([key, key]);
      expect(await s.ledger.get({ key })).toMatchObject({ status: 'queued', attempts: 0 });
    });

    it('answers a person the service gave up on as failed, with the reason', async () => {
      // Prepare
      const key = await s.resolve(tobin());
      await claimElsewhere(s, tobin(), 'gave-up');
      await s.ledger.fail({
        key,
        token: 'gave-up',
        reason: 'gave up after 10 attempts',
        nowMs: s.clock.now(),
        expiresAtSeconds: 1,
      });

      // Act
      const results = await s.intake.accept([tobin()], s.request());

      // Assess
      expect(results).toEqual([
        { id: key, status: 'failed', contact_id: null, reason: 'gave up after 10 attempts' },
      ]);
      expect(s.queue.sent).toEqual([]);
    });

    it('refuses a person without email whose name and company name several people, with the reason', async () => {
      // Prepare: two people of that name at that company, each with their own email.
      const namesake = { ...WREN_INPUT, email: 'wren.h@lanternfish.example' };
      await s.intake.accept([wren(), person(namesake)], s.request());

      // Act
      const results = await s.intake.accept([person({ ...WREN_INPUT, email: undefined })], s.request());

      // Assess
      expect(results).toEqual([
        {
          id: null,
          status: 'rejected',
          contact_id: null,
          reason: 'several people with this name at this company: send an email',
        },
      ]);
    });

    it('answers 503 in_progress for a person whose identity another delivery is deciding past the wait', async () => {
      // Prepare: another delivery holds the name's lock; each try moves the clock on.
      const ledger = new BusyIdentityLedger(s.clock);
      const intake = new ConversionIntake({
        ledger,
        queue: s.queue,
        verifications: s.batchVerifications,
        resendAfterMs: FAKE_SETTINGS.resendAfterMs,
        queueRetryAfterSeconds: FAKE_SETTINGS.queueRetryAfterSeconds,
        inProgressRetryAfterSeconds: FAKE_SETTINGS.inProgressRetryAfterSeconds,
        now: s.clock.now,
      });

      // Act
      const refused = await rejectionOf(intake.accept([ottilie()], s.request()));

      // Assess
      expect(refused).toMatchObject({
        name: 'RetryLaterError',
        reason: 'in_progress',
        results: [{ id: null, status: 'in_progress', contact_id: null }],
      });
      expect(s.queue.sent).toEqual([]);
    });

    it('sends what it queued even when another person of the delivery fails on the ledger, then fails', async () => {
      // Prepare
      const failing = new FailingEnqueueLedger(JUNO_INPUT.email);
      const intake = new ConversionIntake({
        ledger: failing,
        queue: s.queue,
        verifications: s.batchVerifications,
        resendAfterMs: FAKE_SETTINGS.resendAfterMs,
        queueRetryAfterSeconds: FAKE_SETTINGS.queueRetryAfterSeconds,
        inProgressRetryAfterSeconds: FAKE_SETTINGS.inProgressRetryAfterSeconds,
        now: s.clock.now,
      });

      // Act
      const error = await rejectionOf(intake.accept([wren(), juno()], s.request()));

      // Assess
      expect(error).toMatchObject({ message: 'DynamoDB is unavailable' });
      expect(s.queue.sent).toHaveLength(1);
      expect((await failing.get({ key: s.queue.sent[0] as string }))?.status).toBe('queued');
    });
  });

  describe('acceptAndWait', () => {
    /** An intake whose long-poll pauses let the consumer run (and move the clock). */
    function intakeWithConsumer(): ConversionIntake {
      return new ConversionIntake({
        ledger: s.ledger,
        queue: s.queue,
        verifications: s.batchVerifications,
        resendAfterMs: FAKE_SETTINGS.resendAfterMs,
        queueRetryAfterSeconds: FAKE_SETTINGS.queueRetryAfterSeconds,
        inProgressRetryAfterSeconds: FAKE_SETTINGS.inProgressRetryAfterSeconds,
        now: s.clock.now,
        sleep: async (ms) => {
          s.clock.advance(ms);
          await s.consumeOnce();
        },
      });
    }

    it('answers the final results once the consumer has converted everyone', async () => {
      // Prepare
      s.apollo.addContact({ ...juno().fields });

      // Act
      const answer = await intakeWithConsumer().acceptAndWait([wren(), INVALID, juno()], {
        ...s.request(),
        waitMs: 10_000,
      });

      // Assess
      expect(answer).toEqual({
        final: true,
        results: [
          { id: s.keyOf(wren()), status: 'created', contact_id: 'contact-2' },
          INVALID,
          { id: s.keyOf(juno()), status: 'existing', contact_id: 'contact-1' },
        ],
      });
      expect(acceptedStatusCode(answer.results)).toBe(200);
    });

    it('answers a person Apollo refused as rejected, with the reason', async () => {
      // Prepare
      // The batch is refused whole, then the person on their own.
      s.apollo.failNext('bulkCreateContacts', new ApolloRejectedError('bad (422)'));
      s.apollo.failNext('bulkCreateContacts', new ApolloRejectedError('bad (422)'));

      // Act
      const answer = await intakeWithConsumer().acceptAndWait([wren()], { ...s.request(), waitMs: 10_000 });

      // Assess
      expect(answer).toEqual({
        final: true,
        results: [{ id: s.keyOf(wren()), status: 'rejected', contact_id: null, reason: 'bad (422)' }],
      });
    });

    it('answers the current results when the wait is up, the people still queued', async () => {
      // Prepare
      const started = s.clock.now();

      // Act
      const answer = await s.intake.acceptAndWait([wren()], { ...s.request(), waitMs: 3000 });

      // Assess
      expect(answer).toEqual({
        final: false,
        results: [{ id: s.keyOf(wren()), status: 'queued', contact_id: null }],
      });
      expect(acceptedStatusCode(answer.results)).toBe(202);
      expect(s.clock.now() - started).toBeGreaterThan(2000);
      expect(s.clock.now() - started).toBeLessThanOrEqual(3000);
    });

    it('never waits past the request deadline', async () => {
      // Prepare
      const started = s.clock.now();

      // Act
      await s.intake.acceptAndWait([wren()], { deadline: started + 4000, waitMs: 20_000 });

      // Assess
      expect(s.clock.now() - started).toBeLessThanOrEqual(3000);
    });

    it('does not wait at all for wait=0, nor for results that are final already', async () => {
      // Prepare
      await convertThroughQueue(s, [juno()]);
      const started = s.clock.now();

      // Act
      const unwaited = await s.intake.acceptAndWait([wren()], { ...s.request(), waitMs: 0 });
      const final = await s.intake.acceptAndWait([juno()], { ...s.request(), waitMs: 10_000 });

      // Assess
      expect(unwaited.final).toBe(false);
      expect(final).toEqual({
        final: true,
        results: [{ id: s.keyOf(juno()), status: 'duplicate', contact_id: 'contact-1' }],
      });
      expect(s.clock.now()).toBe(started);
    });
  });
});

describe('Function: parseWaitSeconds', () => {
  it('reads 0 to the maximum, clamps more to the maximum, and refuses what is not a number', () => {
    expect(parseWaitSeconds(undefined, MAX_WAIT_SECONDS)).toBe(0);
    expect(parseWaitSeconds('', MAX_WAIT_SECONDS)).toBe(0);
    expect(parseWaitSeconds('10', MAX_WAIT_SECONDS)).toBe(10);
    expect(parseWaitSeconds('2.5', MAX_WAIT_SECONDS)).toBe(2.5);
    expect(parseWaitSeconds('600', MAX_WAIT_SECONDS)).toBe(20);
    for (const bad of ['-1', 'ten', '1e3', '10s', 'NaN']) {
      expect(() => parseWaitSeconds(bad, MAX_WAIT_SECONDS)).toThrow(
        expect.objectContaining({ name: 'InvalidRequestError', field: 'query.wait' }) as Error,
      );
    }
  });
});

describe('Class: StrandedQueueSweep', () => {
  let s: FakeServices;

  beforeEach(() => {
    s = fakeServices();
  });

  it('sends again the keys of people queued and unchanged too long, and leaves recent ones alone', async () => {
    // Prepare: Wren's send was refused and nobody retried; Juno was queued just now.
    s.queue.refuseNext();
    await rejectionOf(s.intake.accept([wren()], s.request()));
    s.clock.advance(FAKE_SETTINGS.queuedSweepAfterMs + 1);
    await s.intake.accept([juno()], s.request());

    // Act
    const report = await s.queuedSweep.sweep();
    const second = await s.queuedSweep.sweep();

    // Assess
    expect(report).toEqual({ found: 1, sent: 1 });
    expect(second).toEqual({ found: 0, sent: 0 });
    expect(s.queue.sent).toEqual([s.keyOf(juno()), s.keyOf(wren())]);
    expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({ sentAtMs: s.clock.now() });
    await s.drain();
    expect(s.apollo.contacts).toHaveLength(2);
  });

  it('fails loudly when the queue refuses, after sending what it could', async () => {
    // Prepare
    await s.intake.accept([wren(), juno()], s.request());
    s.clock.advance(FAKE_SETTINGS.queuedSweepAfterMs + 1);
    s.queue.refuseNext({ keys: [s.keyOf(juno())] });

    // Act
    const error = await rejectionOf(s.queuedSweep.sweep());

    // Assess
    expect(error).toMatchObject({ message: 'the conversion queue refused 1 of 2 keys' });
    expect(s.queue.sent.slice(2)).toEqual([s.keyOf(wren())]);
  });
});

/** A ledger on which another delivery holds every identity lock; each try moves the clock on. */
class BusyIdentityLedger extends InMemoryLedger {
  constructor(private readonly clock: { advance(ms: number): void }) {
    super();
  }

  override lockIdentity(): Promise<boolean> {
    this.clock.advance(400);
    return Promise.resolve(false);
  }
}

/** A ledger whose enqueue of the person with one email fails as an unavailable DynamoDB would. */
class FailingEnqueueLedger extends InMemoryLedger {
  constructor(private readonly failingEmail: string) {
    super();
  }

  override enqueue(request: Parameters<InMemoryLedger['enqueue']>[0]) {
    if ('email' in request.match && request.match.email === this.failingEmail) {
      return Promise.reject(new Error('DynamoDB is unavailable'));
    }
    return super.enqueue(request);
  }
}

describe('Function: lanesBySharedIdentity', () => {
  it('puts people sharing a weak identity in one lane, in the delivery order, and the others alone', () => {
    // Prepare: two namesakes at one company (other emails), Juno, a third namesake, Tobin.
    const namesake = (email: string) => person({ ...WREN_INPUT, email });
    const people = [
      namesake('a@lanternfish.example'),
      juno(),
      namesake('b@lanternfish.example'),
      tobin(),
      namesake('c@lanternfish.example'),
    ];

    // Act
    const lanes = lanesBySharedIdentity(people, [0, 1, 2, 3, 4]);

    // Assess
    expect(lanes).toEqual([[0, 2, 4], [1], [3]]);
  });

  it('joins two lanes that one person links, keeping the order', () => {
    // Prepare: Wren at her company, Wren by her LinkedIn elsewhere, then one who has both.
    const people = [
      person({ ...WREN_INPUT, email: 'a@x.example' }),
      person({
        first_name: 'Other',
        last_name: 'One',
        email: 'b@x.example',
        linkedin_url: 'https://www.linkedin.com/in/wren-h',
      }),
      person({ ...WREN_INPUT, email: 'c@x.example', linkedin_url: 'https://www.linkedin.com/in/wren-h' }),
      juno(),
    ];

    // Act
    const lanes = lanesBySharedIdentity(people, [0, 1, 2, 3]);

    // Assess
    expect(lanes).toEqual([[0, 1, 2], [3]]);
  });
});
