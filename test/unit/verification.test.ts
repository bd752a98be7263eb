import { beforeEach, describe, expect, it } from 'vitest';
import { ContactMismatchError, ContactNotVisibleError, VerdictNotRecordedError } from '../../lib/errors';
import type { VerificationFailureInput } from '../../lib/verification-failure';
import { phoneHash, type ContactFields, type Person } from '../../lib/person';
import {
  REQUEST_MS,
  WREN_INPUT,
  WREN_IN_APOLLO,
  fakeServices,
  ottilie,
  person,
  rejectionOf,
  wren,
  type FakeServices,
} from '../support/fakes';

/**
 * The ledger as a conversion leaves it: `converted` claimed and recorded as created with
 * `contactId`. Apollo is prepared by each test.
 */
async function recordConverted(s: FakeServices, converted: Person, contactId: string) {
  const key = await s.resolve(converted);
  await s.ledger.claim({
    key,
    token: 'converter',
    lockExpiresAtMs: s.clock.now() + REQUEST_MS,
    nowMs: s.clock.now(),
    fingerprint: converted.fingerprint,
    match: converted.match,
    expectedPhoneHashes: converted.phones.map(phoneHash),
  });
  await s.ledger.complete({
    key,
    token: 'converter',
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
) {
  const contact = s.apollo.addContact(fields);
  return recordConverted(s, convertedPerson, contact.id);
}

describe('Class: ContactVerification', () => {
  let s: FakeServices;

  beforeEach(() => {
    s = fakeServices();
  });

  describe('verify', () => {
    it('marks the record verified when people/match returns the contact with its email and phones', async () => {
      // Prepare
      const request = await converted(s, wren());
      s.clock.advanceSeconds(30);

      // Act
      const outcome = await s.verification.verify(request, s.request());

      // Assess
      expect(outcome).toEqual({ status: 'verified' });
      expect(s.apollo.received.matchPerson).toEqual([{ email: 'wren.halloway@lanternfish.example' }]);
      expect(await s.ledger.get({ key: request.key })).toMatchObject({
        status: 'verified',
        verifiedAt: s.clock.iso(),
        updatedAt: s.clock.iso(),
      });
    });

    it('verifies a person without email by name and company, comparing no email', async () => {
      // Prepare
      const request = await converted(s, ottilie());

      // Act
      const outcome = await s.verification.verify(request, s.request());

      // Assess
      expect(outcome).toEqual({ status: 'verified' });
      expect(s.apollo.received.matchPerson).toEqual([
        { first_name: 'Ottilie', last_name: 'Fenwick', organization_name: 'Cobblestone Cartography' },
      ]);
      expect(await s.ledger.get({ key: request.key })).toMatchObject({ status: 'verified' });
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
      const outcome = await s.verification.verify(request, s.request());

      // Assess
      expect(outcome).toEqual({ status: 'verified' });
    });

    it('answers verified without calling Apollo when the record is verified already', async () => {
      // Prepare
      const request = await converted(s, wren());
      await s.ledger.markVerified({ key: request.key, nowMs: s.clock.now() });
      const verifiedAt = s.clock.iso();
      s.clock.advanceSeconds(30);

      // Act
      const outcome = await s.verification.verify(request, s.request());

      // Assess
      expect(outcome).toEqual({ status: 'verified' });
      expect(s.apollo.totalCalls).toBe(0);
      expect(await s.ledger.get({ key: request.key })).toMatchObject({ status: 'verified', verifiedAt });
    });

    it('throws ContactNotVisibleError when people/match does not find the person yet', async () => {
      // Prepare
      const request = await recordConverted(s, wren(), 'contact-1');

      // Act
      const failure = await rejectionOf(s.verification.verify(request, s.request()));

      // Assess
      expect(failure).toBeInstanceOf(ContactNotVisibleError);
      expect(failure).toMatchObject({ message: 'people/match does not find the person yet' });
      expect(await s.ledger.get({ key: request.key })).toMatchObject({ status: 'created', verifiedAt: null });
    });

    it('throws ContactNotVisibleError when people/match finds the person, but not as a saved contact', async () => {
      // Prepare
      s.apollo.addPerson(WREN_IN_APOLLO);
      const request = await recordConverted(s, wren(), 'contact-1');

      // Act
      const failure = await rejectionOf(s.verification.verify(request, s.request()));

      // Assess
      expect(failure).toBeInstanceOf(ContactNotVisibleError);
      expect(failure).toMatchObject({
        message: 'people/match finds the person, but not as a saved contact yet',
      });
      expect(await s.ledger.get({ key: request.key })).toMatchObject({ status: 'created' });
    });

    it('throws ContactMismatchError when people/match returns another contact', async () => {
      // Prepare
      const request = await converted(s, wren());

      // Act
      const failure = await rejectionOf(
        s.verification.verify({ ...request, contact_id: 'contact-9' }, s.request()),
      );

      // Assess
      expect(failure).toBeInstanceOf(ContactMismatchError);
      expect(failure).toMatchObject({ message: 'people/match returns contact contact-1, not contact-9' });
      expect(await s.ledger.get({ key: request.key })).toMatchObject({ status: 'created' });
    });

    it('throws ContactMismatchError when people/match returns the contact with a different email', async () => {
      // Prepare: Apollo knows Wren by this email, but her contact shows another one
      s.apollo.addPerson(WREN_IN_APOLLO);
      const contact = s.apollo.addContact(
        { ...wren().fields, email: 'w.halloway@lanternfish-archive.example' },
        { person_id: 'person-wren' },
      );
      const request = await recordConverted(s, wren(), contact.id);

      // Act
      const failure = await rejectionOf(s.verification.verify(request, s.request()));

      // Assess
      expect(failure).toBeInstanceOf(ContactMismatchError);
      expect(failure).toMatchObject({ message: 'people/match returns the contact with a different email' });
      expect(await s.ledger.get({ key: request.key })).toMatchObject({ status: 'created' });
    });

    it('throws ContactNotVisibleError naming how many phones sent Apollo does not show yet', async () => {
      // Prepare
      const twoPhones = person({ ...WREN_INPUT, mobile_phone: '202-555-0122' });
      const { mobile_phone: _mobile, ...withoutMobile } = twoPhones.fields;
      const request = await converted(s, twoPhones, withoutMobile);

      // Act
      const failure = await rejectionOf(s.verification.verify(request, s.request()));

      // Assess
      expect(failure).toBeInstanceOf(ContactNotVisibleError);
      expect(failure).toMatchObject({
        message: 'people/match returns the contact without 1 of the 2 phone numbers sent',
      });
      expect(await s.ledger.get({ key: request.key })).toMatchObject({ status: 'created' });
    });

    it('throws ContactMismatchError, calling no Apollo, when the ledger has no record for the key', async () => {
      // Act
      const failure = await rejectionOf(
        s.verification.verify({ key: 'nobody@lanternfish.example', contact_id: 'contact-1' }, s.request()),
      );

      // Assess
      expect(failure).toBeInstanceOf(ContactMismatchError);
      expect(failure).toMatchObject({ message: 'the ledger has no record for this key' });
      expect(s.apollo.totalCalls).toBe(0);
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
          Error: 'ContactMismatchError',
          Cause: JSON.stringify({
            errorType: 'ContactMismatchError',
            errorMessage: 'people/match returns contact contact-2, not contact-1',
            trace: [],
          }),
        },
        reason: 'ContactMismatchError: people/match returns contact contact-2, not contact-1',
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
        const outcome = await s.verificationFailures.recordFailure({ ...request, error });

        // Assess
        expect(outcome).toEqual({ status: 'verification_failed', reason });
        expect(await s.ledger.get({ key: request.key })).toMatchObject({
          status: 'verification_failed',
          lastError: reason,
          updatedAt: s.clock.iso(),
        });
      });
    }

    it('replaces the reason of an earlier failed verification', async () => {
      // Prepare
      const request = await converted(s, wren());
      await s.verificationFailures.recordFailure({ ...request, error: { Error: 'States.Timeout' } });

      // Act
      await s.verificationFailures.recordFailure({ ...request, error: { Error: 'States.TaskFailed' } });

      // Assess
      expect(await s.ledger.get({ key: request.key })).toMatchObject({
        status: 'verification_failed',
        lastError: 'States.TaskFailed',
      });
    });

    it('leaves a verified record verified', async () => {
      // Prepare
      const request = await converted(s, wren());
      await s.ledger.markVerified({ key: request.key, nowMs: s.clock.now() });

      // Act
      const outcome = await s.verificationFailures.recordFailure({
        ...request,
        error: { Error: 'States.Timeout' },
      });

      // Assess: the verdict a re-driven verification recorded stands, and is what is reported
      expect(outcome).toEqual({ status: 'verified', reason: 'States.Timeout' });
      expect(await s.ledger.get({ key: request.key })).toMatchObject({ status: 'verified', lastError: null });
    });

    it("takes the record out of the sweep's index when it records the failure", async () => {
      // Prepare
      const request = await converted(s, wren());
      expect(await s.ledger.get({ key: request.key })).toMatchObject({
        awaitingVerdictSinceMs: s.clock.now(),
      });

      // Act
      await s.verificationFailures.recordFailure({ ...request, error: { Error: 'States.Timeout' } });

      // Assess
      expect(await s.ledger.get({ key: request.key })).toMatchObject({ awaitingVerdictSinceMs: null });
      expect(await s.ledger.awaitingVerdict({ olderThanMs: s.clock.now() + 1, limit: 10 })).toEqual([]);
    });

    it('throws VerdictNotRecordedError, writing nothing, for a key the ledger does not hold', async () => {
      // Act
      const failure = await rejectionOf(
        s.verificationFailures.recordFailure({
          key: 'c_nobodyxxxxxxxxxxxxxxxxx',
          contact_id: 'contact-1',
          error: { Error: 'States.Timeout' },
        }),
      );

      // Assess
      expect(failure).toBeInstanceOf(VerdictNotRecordedError);
      expect((failure as Error).message).toContain('the record is missing');
      expect(s.ledger.allItems()).toEqual([]);
    });

    it('throws VerdictNotRecordedError, writing nothing, for a record not converted yet (creating)', async () => {
      // Prepare: a claim, never completed
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

      // Act
      const failure = await rejectionOf(
        s.verificationFailures.recordFailure({
          key,
          contact_id: 'contact-1',
          error: { Error: 'States.Timeout' },
        }),
      );

      // Assess
      expect(failure).toBeInstanceOf(VerdictNotRecordedError);
      expect((failure as Error).message).toContain('the record is creating');
      expect(await s.ledger.get({ key })).toMatchObject({ status: 'creating', lastError: null });
    });
  });
});
