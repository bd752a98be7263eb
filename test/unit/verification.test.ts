import { createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ApolloRateLimitError,
  ApolloUnavailableError,
  ContactMismatchError,
  ContactsNotVisibleYetError,
  VerdictNotRecordedError,
} from '../../lib/errors';
import {
  checkVerificationRequest,
  verificationExecutionName,
  type PersonToVerify,
} from '../../lib/schedulers';
import type { VerificationFailureInput } from '../../lib/verification-failure';
import { redriveExecutionName } from '../../lib/verification-sweep';
import { phoneHash, type ContactFields, type Person } from '../../lib/person';
import {
  OTTILIE_INPUT,
  REQUEST_MS,
  WREN_INPUT,
  WREN_IN_APOLLO,
  fakeServices,
  juno,
  ottilie,
  person,
  rejectionOf,
  tobin,
  wren,
  type FakeServices,
} from '../support/fakes';

/**
 * The ledger as a conversion leaves it: `converted` claimed and recorded as created with
 * `contactId`. Apollo is prepared by each test.
 */
async function recordConverted(
  s: FakeServices,
  converted: Person,
  contactId: string,
): Promise<PersonToVerify> {
  const key = await s.resolve(converted);
  await s.ledger.claim({
    key,
    token: `converter-${key}`,
    lockExpiresAtMs: s.clock.now() + REQUEST_MS,
    nowMs: s.clock.now(),
    fingerprint: converted.fingerprint,
    match: converted.match,
    expectedPhoneHashes: converted.phones.map(phoneHash),
  });
  await s.ledger.complete({
    key,
    token: `converter-${key}`,
    outcome: 'created',
    contactId,
    nowMs: s.clock.now(),
  });
  return { key, contact_id: contactId };
}

/** Apollo holds `fields` as a contact, and the ledger records `converted` as converted into it. */
async function converted(
  s: FakeServices,
  convertedPerson: Person,
  fields: ContactFields = convertedPerson.fields,
): Promise<PersonToVerify> {
  const contact = s.apollo.addContact(fields);
  return recordConverted(s, convertedPerson, contact.id);
}

/** The `index`-th of a crowd of distinct fictional people, each with an email. */
function crowdMember(index: number): Person {
  return person({
    first_name: `Member${index}`,
    last_name: 'Crowd',
    email: `member${index}@crowd.example`,
    organization_name: 'Crowd Cooperative',
  });
}

const statusOf = async (s: FakeServices, { key }: PersonToVerify) => (await s.ledger.get({ key }))?.status;

describe('Class: ContactVerification', () => {
  let s: FakeServices;

  beforeEach(() => {
    s = fakeServices();
  });

  describe('verify', () => {
    it('marks every person verified when people/bulk_match returns their contacts, in one call', async () => {
      // Prepare
      const people = [await converted(s, wren()), await converted(s, tobin()), await converted(s, juno())];
      s.clock.advanceSeconds(30);

      // Act
      const report = await s.verification.verify({ people }, s.request());

      // Assess
      expect(report).toEqual({ verified: 3, failed: 0, decidedBefore: 0 });
      expect(s.metrics.verdicts).toEqual({ verified: 3 });
      expect(s.apollo.received.matchPeople).toEqual([
        [
          { email: 'wren.halloway@lanternfish.example' },
          { email: 'tobin.vale@quillfeather.example' },
          { email: 'juno.marsh@brackenridge.example' },
        ],
      ]);
      expect(s.apollo.calls.matchPerson).toBe(0);
      expect(s.apollo.calls.findContactsByName).toBe(0);
      for (const verified of people) {
        expect(await s.ledger.get({ key: verified.key })).toMatchObject({
          status: 'verified',
          verifiedAt: s.clock.iso(),
          updatedAt: s.clock.iso(),
          awaitingVerdictSinceMs: null,
        });
      }
    });

    it('verifies a batch mixing a person with email (people/bulk_match) and one without (the contacts search, never people/match)', async () => {
      // Prepare: Apollo's database knows Ottilie, so people/match would charge a credit for her.
      s.apollo.addPerson({
        id: 'person-ottilie',
        first_name: 'Ottilie',
        last_name: 'Fenwick',
        organization: { name: 'Cobblestone Cartography' },
      });
      const withEmail = await converted(s, wren());
      const withoutEmail = await converted(s, ottilie());
      s.clock.advanceSeconds(30);

      // Act
      const report = await s.verification.verify({ people: [withoutEmail, withEmail] }, s.request());

      // Assess
      expect(report).toEqual({ verified: 2, failed: 0, decidedBefore: 0 });
      expect(s.apollo.received.matchPeople).toEqual([[{ email: 'wren.halloway@lanternfish.example' }]]);
      expect(s.apollo.received.findContactsByName).toEqual([
        { first_name: 'Ottilie', last_name: 'Fenwick', identities: ottilie().identities },
      ]);
      expect(s.apollo.calls.matchPerson).toBe(0);
      for (const verified of [withEmail, withoutEmail]) {
        expect(await s.ledger.get({ key: verified.key })).toMatchObject({
          status: 'verified',
          verifiedAt: s.clock.iso(),
        });
      }
    });

    it('calls no people/bulk_match for a batch of people without email, one contacts search each', async () => {
      // Prepare
      const first = await converted(s, ottilie());
      const second = await converted(
        s,
        person({ first_name: 'Bram', last_name: 'Ashby', organization_name: 'Cobblestone Cartography' }),
      );

      // Act
      const report = await s.verification.verify({ people: [first, second] }, s.request());

      // Assess
      expect(report).toEqual({ verified: 2, failed: 0, decidedBefore: 0 });
      expect(s.apollo.calls.matchPeople).toBe(0);
      expect(s.apollo.calls.matchPerson).toBe(0);
      expect(s.apollo.received.findContactsByName.map((search) => search.first_name)).toEqual([
        'Ottilie',
        'Bram',
      ]);
    });

    it('leaves a person without email waiting when the contacts search does not show her contact, and verifies the rest', async () => {
      // Prepare: another Ottilie Fenwick at the same company is a contact; this record's is not visible.
      s.apollo.addContact(ottilie().fields);
      const notYet = await recordConverted(s, ottilie(), 'contact-9');
      const visible = await converted(s, wren());

      // Act
      const failure = await rejectionOf(s.verification.verify({ people: [notYet, visible] }, s.request()));

      // Assess
      expect(failure).toBeInstanceOf(ContactsNotVisibleYetError);
      expect(failure).toMatchObject({
        message:
          '1 of 2 people not visible through Apollo yet: the contacts search does not show the contact by its name yet (1)',
      });
      expect(await s.ledger.get({ key: notYet.key })).toMatchObject({ status: 'created', verifiedAt: null });
      expect(await statusOf(s, visible)).toBe('verified');
      expect(s.apollo.calls.matchPerson).toBe(0);
    });

    it('leaves a person without email waiting while the contact found by name lacks a phone sent', async () => {
      // Prepare: Ottilie was converted with a phone; Apollo's contact does not show it yet.
      const withPhone = person({ ...OTTILIE_INPUT, mobile_phone: '202-555-0133' });
      const request = await converted(s, withPhone, ottilie().fields);

      // Act
      const failure = await rejectionOf(s.verification.verify({ people: [request] }, s.request()));

      // Assess
      expect(failure).toBeInstanceOf(ContactsNotVisibleYetError);
      expect((failure as Error).message).toBe(
        '1 of 1 people not visible through Apollo yet: the contacts search returns the contact without 1 of the 1 phone numbers sent (1)',
      );
      expect(await statusOf(s, request)).toBe('created');
    });

    it('throws a failed contacts search as it is, writing nothing (the state machine retries)', async () => {
      // Prepare
      const request = await converted(s, ottilie());
      s.apollo.failNext('findContactsByName', new ApolloUnavailableError('Apollo answered 503', false));

      // Act
      const failure = await rejectionOf(s.verification.verify({ people: [request] }, s.request()));

      // Assess
      expect(failure).toBeInstanceOf(ApolloUnavailableError);
      expect(await statusOf(s, request)).toBe('created');
    });

    it('matches a batch in chunks of 10: 23 people make calls of 10, 10 and 3', async () => {
      // Prepare
      const people: PersonToVerify[] = [];
      for (let index = 0; index < 23; index++) people.push(await converted(s, crowdMember(index)));

      // Act
      const report = await s.verification.verify({ people }, s.request());

      // Assess
      expect(report).toEqual({ verified: 23, failed: 0, decidedBefore: 0 });
      expect(s.apollo.received.matchPeople.map((call) => call.length)).toEqual([10, 10, 3]);
      expect(s.apollo.received.matchPeople.flat()).toEqual(
        Array.from({ length: 23 }, (_, index) => ({ email: `member${index}@crowd.example` })),
      );
      expect(s.ledger.records().filter((record) => record.status === 'verified')).toHaveLength(23);
    });

    it('verifies those it sees and throws ContactsNotVisibleYetError naming how many remain', async () => {
      // Prepare: Juno was converted, but Apollo does not show her yet.
      const first = await converted(s, wren());
      const notYet = await recordConverted(s, juno(), 'contact-juno');
      const third = await converted(s, tobin());

      // Act
      const failure = await rejectionOf(
        s.verification.verify({ people: [first, notYet, third] }, s.request()),
      );

      // Assess
      expect(failure).toBeInstanceOf(ContactsNotVisibleYetError);
      expect(failure).toMatchObject({
        name: 'ContactsNotVisibleYetError',
        message:
          '1 of 3 people not visible through Apollo yet: people/match does not find the person yet (1)',
      });
      expect(await statusOf(s, first)).toBe('verified');
      expect(await statusOf(s, third)).toBe('verified');
      expect(await s.ledger.get({ key: notYet.key })).toMatchObject({ status: 'created', verifiedAt: null });
    });

    it('checks only the person still without a verdict on the retry, and verifies her once visible', async () => {
      // Prepare: Wren is contact-1, Tobin contact-2; Juno was converted into contact-3, which
      // Apollo does not show until after the first pass.
      const first = await converted(s, wren());
      const third = await converted(s, tobin());
      const late = await recordConverted(s, juno(), 'contact-3');
      const people = [first, late, third];
      await rejectionOf(s.verification.verify({ people }, s.request()));
      s.apollo.addContact(juno().fields);
      s.clock.advanceSeconds(20);

      // Act
      const report = await s.verification.verify({ people }, s.request());

      // Assess
      expect(report).toEqual({ verified: 1, failed: 0, decidedBefore: 2 });
      expect(s.apollo.received.matchPeople.map((call) => call.length)).toEqual([3, 1]);
      expect(s.apollo.received.matchPeople[1]).toEqual([{ email: 'juno.marsh@brackenridge.example' }]);
      expect(await s.ledger.get({ key: late.key })).toMatchObject({
        status: 'verified',
        verifiedAt: s.clock.iso(),
      });
    });

    it('throws ContactsNotVisibleYetError for the whole batch, writing nothing, when nobody is found', async () => {
      // Prepare
      const people = [
        await recordConverted(s, wren(), 'contact-1'),
        await recordConverted(s, juno(), 'contact-2'),
        await recordConverted(s, tobin(), 'contact-3'),
      ];
      const before = structuredClone(s.ledger.records());

      // Act
      const failure = await rejectionOf(s.verification.verify({ people }, s.request()));

      // Assess
      expect(failure).toBeInstanceOf(ContactsNotVisibleYetError);
      expect((failure as Error).message).toBe(
        '3 of 3 people not visible through Apollo yet: people/match does not find the person yet (3)',
      );
      expect(s.apollo.calls.matchPeople).toBe(1);
      expect(s.ledger.records()).toEqual(before);
    });

    it('names each reason with its count when several people remain for different reasons', async () => {
      // Prepare: Wren is known to Apollo's directory but not as a contact; Juno and Tobin are unknown.
      s.apollo.addPerson(WREN_IN_APOLLO);
      const people = [
        await recordConverted(s, wren(), 'contact-1'),
        await recordConverted(s, juno(), 'contact-2'),
        await recordConverted(s, tobin(), 'contact-3'),
      ];

      // Act
      const failure = await rejectionOf(s.verification.verify({ people }, s.request()));

      // Assess
      expect(failure).toBeInstanceOf(ContactsNotVisibleYetError);
      expect((failure as Error).message).toBe(
        '3 of 3 people not visible through Apollo yet: ' +
          'people/match finds the person, but not as a saved contact yet (1); ' +
          'people/match does not find the person yet (2)',
      );
    });

    it('skips people already verified or verification_failed, and calls Apollo only for the rest', async () => {
      // Prepare
      const verifiedBefore = await converted(s, wren());
      await s.ledger.markVerified({ key: verifiedBefore.key, nowMs: s.clock.now() });
      const failedBefore = await converted(s, juno());
      await s.ledger.markVerificationFailed({
        key: failedBefore.key,
        reason: 'ContactMismatchError: earlier',
        nowMs: s.clock.now(),
      });
      const waiting = await converted(s, tobin());
      const verifiedAt = s.clock.iso();
      s.clock.advanceSeconds(30);

      // Act
      const report = await s.verification.verify(
        { people: [verifiedBefore, failedBefore, waiting] },
        s.request(),
      );

      // Assess
      expect(report).toEqual({ verified: 1, failed: 0, decidedBefore: 2 });
      expect(s.apollo.received.matchPeople).toEqual([[{ email: 'tobin.vale@quillfeather.example' }]]);
      expect(await s.ledger.get({ key: verifiedBefore.key })).toMatchObject({
        status: 'verified',
        verifiedAt,
      });
      expect(await s.ledger.get({ key: failedBefore.key })).toMatchObject({
        status: 'verification_failed',
        lastError: 'ContactMismatchError: earlier',
      });
    });

    it('calls no Apollo at all when every person of the batch has a verdict', async () => {
      // Prepare
      const done = await converted(s, wren());
      await s.ledger.markVerified({ key: done.key, nowMs: s.clock.now() });

      // Act
      const report = await s.verification.verify({ people: [done] }, s.request());

      // Assess
      expect(report).toEqual({ verified: 0, failed: 0, decidedBefore: 1 });
      expect(s.apollo.totalCalls).toBe(0);
    });

    it('counts the phones Apollo shows on the person as well as those on the contact', async () => {
      // Prepare
      const twoPhones = person({ ...WREN_INPUT, mobile_phone: '202-555-0122' });
      s.apollo.addPerson({
        ...WREN_IN_APOLLO,
        phone_numbers: [{ raw_number: '(202) 555-0122', sanitized_number: '+12025550122', type: 'mobile' }],
      });
      const { mobile_phone: _mobile, ...withoutMobile } = twoPhones.fields;
      const request = await converted(s, twoPhones, withoutMobile);

      // Act
      const report = await s.verification.verify({ people: [request] }, s.request());

      // Assess
      expect(report).toEqual({ verified: 1, failed: 0, decidedBefore: 0 });
    });

    it('leaves a person whose phones Apollo does not all show yet waiting, naming how many are missing', async () => {
      // Prepare
      const twoPhones = person({ ...WREN_INPUT, mobile_phone: '202-555-0122' });
      const { mobile_phone: _mobile, ...withoutMobile } = twoPhones.fields;
      const phonesMissing = await converted(s, twoPhones, withoutMobile);
      const fine = await converted(s, juno());

      // Act
      const failure = await rejectionOf(
        s.verification.verify({ people: [phonesMissing, fine] }, s.request()),
      );

      // Assess
      expect(failure).toBeInstanceOf(ContactsNotVisibleYetError);
      expect((failure as Error).message).toBe(
        '1 of 2 people not visible through Apollo yet: ' +
          'people/match returns the contact without 1 of the 2 phone numbers sent (1)',
      );
      expect(await statusOf(s, phonesMissing)).toBe('created');
      expect(await statusOf(s, fine)).toBe('verified');
    });

    it('records verification_failed at once, without retrying, when Apollo returns another contact', async () => {
      // Prepare
      const mismatched = { ...(await converted(s, wren())), contact_id: 'contact-9' };
      const fine = await converted(s, juno());
      s.clock.advanceSeconds(30);

      // Act
      const report = await s.verification.verify({ people: [mismatched, fine] }, s.request());

      // Assess
      expect(report).toEqual({ verified: 1, failed: 1, decidedBefore: 0 });
      expect(s.metrics.verdicts).toEqual({ verified: 1, verification_failed: 1 });
      expect(await s.ledger.get({ key: mismatched.key })).toMatchObject({
        status: 'verification_failed',
        lastError: 'ContactMismatchError: people/match returns contact contact-1, not contact-9',
        updatedAt: s.clock.iso(),
        awaitingVerdictSinceMs: null,
      });
      expect(await statusOf(s, fine)).toBe('verified');
    });

    it('records verification_failed when people/match returns the contact with a different email', async () => {
      // Prepare: Apollo knows Wren by this email, but her contact shows another one
      s.apollo.addPerson(WREN_IN_APOLLO);
      const contact = s.apollo.addContact(
        { ...wren().fields, email: 'w.halloway@lanternfish-archive.example' },
        { person_id: 'person-wren' },
      );
      const request = await recordConverted(s, wren(), contact.id);

      // Act
      const report = await s.verification.verify({ people: [request] }, s.request());

      // Assess
      expect(report).toEqual({ verified: 0, failed: 1, decidedBefore: 0 });
      expect(await s.ledger.get({ key: request.key })).toMatchObject({
        status: 'verification_failed',
        lastError: 'ContactMismatchError: people/match returns the contact with a different email',
      });
    });

    it('records a mismatch and still retries the batch for a person not visible yet', async () => {
      // Prepare
      const mismatched = { ...(await converted(s, wren())), contact_id: 'contact-9' };
      const notYet = await recordConverted(s, juno(), 'contact-juno');

      // Act
      const failure = await rejectionOf(s.verification.verify({ people: [mismatched, notYet] }, s.request()));

      // Assess
      expect(failure).toBeInstanceOf(ContactsNotVisibleYetError);
      expect((failure as Error).message).toMatch(/^1 of 2 people not visible/);
      expect(await statusOf(s, mismatched)).toBe('verification_failed');
      expect(await statusOf(s, notYet)).toBe('created');
    });

    it('throws ContactMismatchError after verifying the others when the ledger has no record for a key', async () => {
      // Prepare
      const fine = await converted(s, wren());
      const nobody = { key: 'c_nobodyxxxxxxxxxxxxxxxxx', contact_id: 'contact-1' };

      // Act
      const failure = await rejectionOf(s.verification.verify({ people: [nobody, fine] }, s.request()));

      // Assess: Apollo was asked about Wren only; the failure path then fails the execution loudly.
      expect(failure).toBeInstanceOf(ContactMismatchError);
      expect((failure as Error).message).toBe(
        '1 of 2 people without a verdict written: the ledger has no record for this key (1)',
      );
      expect(s.apollo.received.matchPeople).toEqual([[{ email: 'wren.halloway@lanternfish.example' }]]);
      expect(await statusOf(s, fine)).toBe('verified');
    });

    it('throws ContactMismatchError when a mismatch cannot be written: the record is no longer created', async () => {
      // Prepare: a claim never completed (the record is `creating`), and Apollo shows another contact.
      s.apollo.addContact(wren().fields);
      const key = await s.resolve(wren());
      await s.ledger.claim({
        key,
        token: 'holder',
        lockExpiresAtMs: s.clock.now() + REQUEST_MS,
        nowMs: s.clock.now(),
        fingerprint: wren().fingerprint,
        match: wren().match,
        expectedPhoneHashes: [],
      });

      // Act
      const failure = await rejectionOf(
        s.verification.verify({ people: [{ key, contact_id: 'contact-9' }] }, s.request()),
      );

      // Assess
      expect(failure).toBeInstanceOf(ContactMismatchError);
      expect((failure as Error).message).toBe(
        '1 of 1 people without a verdict written: people/match returns contact contact-1, not contact-9 (1)',
      );
      expect(await s.ledger.get({ key })).toMatchObject({ status: 'creating', lastError: null });
    });

    it('keeps the verdicts of the chunks before an Apollo failure, and asks only for the rest on the retry', async () => {
      // Prepare: 12 people; the second bulk_match call is rate limited.
      const people: PersonToVerify[] = [];
      for (let index = 0; index < 12; index++) people.push(await converted(s, crowdMember(index)));
      // The scripts play one per call: the first call goes through, the second is refused.
      s.apollo.beforeNext('matchPeople', () => undefined);
      s.apollo.failNext('matchPeople', new ApolloRateLimitError('rate limited', 30));

      // Act
      const failure = await rejectionOf(s.verification.verify({ people }, s.request()));
      const retry = await s.verification.verify({ people }, s.request());

      // Assess
      expect(failure).toBeInstanceOf(ApolloRateLimitError);
      expect(retry).toEqual({ verified: 2, failed: 0, decidedBefore: 10 });
      expect(s.apollo.received.matchPeople.map((call) => call.length)).toEqual([10, 2, 2]);
      expect(s.ledger.records().filter((record) => record.status === 'verified')).toHaveLength(12);
    });
  });
});

describe('Class: VerificationFailureRecorder', () => {
  let s: FakeServices;

  beforeEach(() => {
    s = fakeServices();
  });

  describe('recordFailure', () => {
    const failures: Array<{ case: string; error: VerificationFailureInput['error']; reason: string }> = [
      {
        case: "the error name and the Lambda's errorMessage from a JSON cause",
        error: {
          Error: 'ContactsNotVisibleYetError',
          Cause: JSON.stringify({
            errorType: 'ContactsNotVisibleYetError',
            errorMessage:
              '1 of 1 people not visible through Apollo yet: people/match does not find the person yet (1)',
            trace: [],
          }),
        },
        reason:
          'ContactsNotVisibleYetError: 1 of 1 people not visible through Apollo yet: people/match does not find the person yet (1)',
      },
      {
        case: 'a cause that is not JSON as it is',
        error: { Error: 'States.Timeout', Cause: 'Task timed out after 30 seconds' },
        reason: 'States.Timeout: Task timed out after 30 seconds',
      },
      {
        case: 'a JSON cause without an errorMessage as it is',
        error: { Error: 'ApolloAuthError', Cause: '{"errorType":"ApolloAuthError","errorMessage":401}' },
        reason: 'ApolloAuthError: {"errorType":"ApolloAuthError","errorMessage":401}',
      },
      {
        case: 'the error name alone when there is no cause',
        error: { Error: 'States.TaskFailed' },
        reason: 'States.TaskFailed',
      },
      { case: 'UnknownError when the input carries no error', error: undefined, reason: 'UnknownError' },
    ];
    for (const { case: described, error, reason } of failures) {
      it(`records the reason as ${described}`, async () => {
        // Prepare
        const request = await converted(s, wren());
        s.clock.advanceSeconds(30);

        // Act
        const report = await s.verificationFailures.recordFailure({ people: [request], error });

        // Assess
        expect(report).toEqual({ failed: 1, decidedBefore: 0, reason });
        expect(s.metrics.verdicts).toEqual({ verification_failed: 1 });
        expect(await s.ledger.get({ key: request.key })).toMatchObject({
          status: 'verification_failed',
          lastError: reason,
          updatedAt: s.clock.iso(),
        });
      });
    }

    it('records every person of the batch still without a verdict, and leaves the decided ones as they are', async () => {
      // Prepare
      const verifiedBefore = await converted(s, wren());
      await s.ledger.markVerified({ key: verifiedBefore.key, nowMs: s.clock.now() });
      const mismatchedBefore = await converted(s, juno());
      await s.ledger.markVerificationFailed({
        key: mismatchedBefore.key,
        reason: 'ContactMismatchError: people/match returns contact contact-7, not contact-2',
        nowMs: s.clock.now(),
      });
      const waiting = [await converted(s, tobin()), await converted(s, ottilie())];

      // Act
      const report = await s.verificationFailures.recordFailure({
        people: [verifiedBefore, mismatchedBefore, ...waiting],
        error: { Error: 'ContactsNotVisibleYetError', Cause: '2 of 4 people not visible' },
      });

      // Assess
      expect(report).toEqual({
        failed: 2,
        decidedBefore: 2,
        reason: 'ContactsNotVisibleYetError: 2 of 4 people not visible',
      });
      for (const failed of waiting) {
        expect(await s.ledger.get({ key: failed.key })).toMatchObject({
          status: 'verification_failed',
          lastError: 'ContactsNotVisibleYetError: 2 of 4 people not visible',
        });
      }
      expect(await s.ledger.get({ key: verifiedBefore.key })).toMatchObject({
        status: 'verified',
        lastError: null,
      });
      expect(await s.ledger.get({ key: mismatchedBefore.key })).toMatchObject({
        status: 'verification_failed',
        lastError: 'ContactMismatchError: people/match returns contact contact-7, not contact-2',
      });
    });

    it('keeps the first reason when the failure path runs again for the same batch (a retried task)', async () => {
      // Prepare
      const request = await converted(s, wren());
      await s.verificationFailures.recordFailure({ people: [request], error: { Error: 'States.Timeout' } });

      // Act
      const again = await s.verificationFailures.recordFailure({
        people: [request],
        error: { Error: 'States.TaskFailed' },
      });

      // Assess
      expect(again).toEqual({ failed: 0, decidedBefore: 1, reason: 'States.TaskFailed' });
      expect(await s.ledger.get({ key: request.key })).toMatchObject({
        status: 'verification_failed',
        lastError: 'States.Timeout',
      });
    });

    it('leaves a verified record verified', async () => {
      // Prepare
      const request = await converted(s, wren());
      await s.ledger.markVerified({ key: request.key, nowMs: s.clock.now() });

      // Act
      const report = await s.verificationFailures.recordFailure({
        people: [request],
        error: { Error: 'States.Timeout' },
      });

      // Assess: the verdict a re-driven verification recorded stands, and is what is reported
      expect(report).toEqual({ failed: 0, decidedBefore: 1, reason: 'States.Timeout' });
      expect(await s.ledger.get({ key: request.key })).toMatchObject({ status: 'verified', lastError: null });
    });

    it("takes the records out of the sweep's index when it records the failure", async () => {
      // Prepare
      const people = [await converted(s, wren()), await converted(s, juno())];
      expect(await s.ledger.awaitingVerdict({ olderThanMs: s.clock.now() + 1, limit: 10 })).toHaveLength(2);

      // Act
      await s.verificationFailures.recordFailure({ people, error: { Error: 'States.Timeout' } });

      // Assess
      for (const failed of people) {
        expect(await s.ledger.get({ key: failed.key })).toMatchObject({ awaitingVerdictSinceMs: null });
      }
      expect(await s.ledger.awaitingVerdict({ olderThanMs: s.clock.now() + 1, limit: 10 })).toEqual([]);
    });

    it('throws VerdictNotRecordedError, writing nothing, for a key the ledger does not hold', async () => {
      // Act
      const failure = await rejectionOf(
        s.verificationFailures.recordFailure({
          people: [{ key: 'c_nobodyxxxxxxxxxxxxxxxxx', contact_id: 'contact-1' }],
          error: { Error: 'States.Timeout' },
        }),
      );

      // Assess
      expect(failure).toBeInstanceOf(VerdictNotRecordedError);
      expect((failure as Error).message).toBe(
        'verification failed (States.Timeout), but no verdict could be recorded for 1 of 1 people: the record is missing (1)',
      );
      expect(s.ledger.allItems()).toEqual([]);
    });

    it('records the others, then throws VerdictNotRecordedError for a record not converted yet (creating)', async () => {
      // Prepare: a claim, never completed, next to a converted person
      const key = await s.resolve(wren());
      await s.ledger.claim({
        key,
        token: 'holder',
        lockExpiresAtMs: s.clock.now() + 20_000,
        nowMs: s.clock.now(),
        fingerprint: wren().fingerprint,
        match: wren().match,
        expectedPhoneHashes: [],
      });
      const other = await converted(s, juno());

      // Act
      const failure = await rejectionOf(
        s.verificationFailures.recordFailure({
          people: [{ key, contact_id: 'contact-1' }, other],
          error: { Error: 'States.Timeout' },
        }),
      );

      // Assess
      expect(failure).toBeInstanceOf(VerdictNotRecordedError);
      expect((failure as Error).message).toContain('1 of 2 people: the record is creating (1)');
      expect(await s.ledger.get({ key })).toMatchObject({ status: 'creating', lastError: null });
      expect(await s.ledger.get({ key: other.key })).toMatchObject({
        status: 'verification_failed',
        lastError: 'States.Timeout',
      });
    });
  });
});

describe('Function: verificationExecutionName', () => {
  const hmac = (text: string, secret: string) => createHmac('sha256', secret).update(text).digest('hex');

  it('names a batch by its keys in any order, keyed with the secret, within 80 characters', () => {
    // Act
    const name = verificationExecutionName(['c_b', 'c_a', 'c_c'], 'secret one');

    // Assess
    expect(name).toBe(`verify-${hmac('c_a\nc_b\nc_c', 'secret one')}`);
    expect(verificationExecutionName(['c_c', 'c_a', 'c_b'], 'secret one')).toBe(name);
    expect(verificationExecutionName(['c_a', 'c_b', 'c_c'], 'secret two')).not.toBe(name);
    expect(verificationExecutionName(['c_a', 'c_b'], 'secret one')).not.toBe(name);
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });

  it("names a batch of one as that key's verification always was, and its re-drives apart", () => {
    // Act
    const single = verificationExecutionName(['c_a'], 'secret');

    // Assess
    expect(single).toBe(`verify-${hmac('c_a', 'secret')}`);
    expect(redriveExecutionName('c_a', 1, 'secret')).toMatch(/^verify-[0-9a-f]+-r1$/);
    expect(redriveExecutionName('c_a', 1, 'secret')).toHaveLength(74);
    expect(redriveExecutionName('c_a', 1, 'secret').startsWith(single.slice(0, 60))).toBe(true);
  });
});

describe('Function: checkVerificationRequest', () => {
  const people = (count: number) =>
    Array.from({ length: count }, (_, index) => ({ key: `c_${index}`, contact_id: `contact-${index}` }));

  it('takes 1 to 100 people', () => {
    expect(checkVerificationRequest({ people: people(1) }).people).toHaveLength(1);
    expect(checkVerificationRequest({ people: people(100) }).people).toHaveLength(100);
  });

  it('refuses an empty batch, one over 100 people, and one person with two contact ids', () => {
    expect(() => checkVerificationRequest({ people: [] })).toThrow('1 to 100 people, not 0');
    expect(() => checkVerificationRequest({ people: people(101) })).toThrow('1 to 100 people, not 101');
    expect(() =>
      checkVerificationRequest({ people: [...people(2), { key: 'c_1', contact_id: 'contact-9' }] }),
    ).toThrow('one person with two contact ids');
  });

  it('names each person once, keeping the order of first mention', () => {
    // Act
    const checked = checkVerificationRequest({
      people: [...people(3), ...people(2), ...people(101).slice(100)],
    });

    // Assess
    expect(checked).toEqual({ people: [...people(3), { key: 'c_100', contact_id: 'contact-100' }] });
  });
});
