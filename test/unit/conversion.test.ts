import { beforeEach, describe, expect, it } from 'vitest';
import {
  ApolloAuthError,
  ApolloForbiddenError,
  ApolloRateLimitError,
  ApolloRejectedError,
  ApolloUnavailableError,
  RetryLaterError,
} from '../../lib/errors';
import { identityKey, isNameIdentity } from '../../lib/identity';
import type { ConversionRecord } from '../../lib/ledger';
import { phoneHash, type Person } from '../../lib/person';
import {
  FAKE_SETTINGS,
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

const rateLimited = (retryAfterSeconds: number) =>
  new ApolloRateLimitError('POST /contacts: 429', retryAfterSeconds);
/** Apollo was not reached: nothing can have happened. */
const unreachable = () => new ApolloUnavailableError('POST /contacts: connection refused', false);
/** Apollo may have carried the request out: a create may have created. */
const unknownOutcome = () => new ApolloUnavailableError('POST /contacts: 502', true);

/** How long a rejected or failed record is kept (its TTL): a week in these tests. */
const REJECTED_TTL_SECONDS = FAKE_SETTINGS.rejectedRecordTtlSeconds;
/**
 * After a create of unknown outcome, nothing is created again for this long: the Retry-After of an
 * outage (`unavailableRetryAfterSeconds`), 30 s in these tests.
 */
const QUIET_SECONDS = FAKE_SETTINGS.unavailableRetryAfterSeconds;

/** What the conversion asks Apollo's contacts search for a person without email. */
const byName = (searched: Person) => ({
  first_name: searched.fields.first_name,
  last_name: searched.fields.last_name,
  identities: searched.identities.filter(isNameIdentity),
});

/** Another request resolves and claims `person` now, as `ContactConversion` would. */
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

describe('Class: ContactConversion', () => {
  let s: FakeServices;

  beforeEach(() => {
    s = fakeServices();
  });

  describe('convert', () => {
    describe('a person the ledger does not hold', () => {
      it('creates the contact, records it as created and starts its verification when Apollo has none', async () => {
        // Prepare
        const wrenPerson = wren();

        // Act
        const results = await s.conversion.convert([wrenPerson], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wrenPerson), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.received.findContactsByEmail).toEqual(['wren.halloway@lanternfish.example']);
        expect(s.apollo.received.createContact).toEqual([{ fields: wrenPerson.fields, runDedupe: false }]);
        expect(s.apollo.contacts.map((contact) => contact.fields)).toEqual([wrenPerson.fields]);
        expect(await s.ledger.get({ key: s.keyOf(wrenPerson) })).toEqual<ConversionRecord>({
          key: s.keyOf(wrenPerson),
          status: 'created',
          contactId: 'contact-1',
          outcome: 'created',
          attempts: 1,
          lastError: null,
          createUncertain: false,
          createUncertainSinceMs: null,
          fingerprint: wrenPerson.fingerprint,
          match: { email: 'wren.halloway@lanternfish.example' },
          expectedPhoneHashes: [phoneHash('+12025550143')],
          lockToken: null,
          lockExpiresAtMs: null,
          createdAt: s.clock.iso(),
          updatedAt: s.clock.iso(),
          convertedAt: s.clock.iso(),
          verificationStartedAt: s.clock.iso(),
          verifiedAt: null,
          apolloPersonId: null,
          requestId: null,
          creditsConsumed: 0,
          requestCredits: 0,
          freeLookups: 0,
          phoneReveal: null,
          phoneRevealNote: null,
          appliedPhoneHashes: [],
          awaitingVerdictSinceMs: s.clock.now(),
          verificationRedrives: 0,
        });
        expect(s.verifications.started).toEqual([{ key: s.keyOf(wrenPerson), contact_id: 'contact-1' }]);
      });

      it('holds the claim, with its token, until the request deadline while it calls Apollo', async () => {
        // Prepare
        const wrenPerson = wren();
        const seenDuringCreate: Array<ConversionRecord | null> = [];
        s.apollo.beforeNext('createContact', async () => {
          seenDuringCreate.push(await s.ledger.get({ key: s.keyOf(wrenPerson) }));
        });
        const { deadline } = s.request();

        // Act
        await s.conversion.convert([wrenPerson], { deadline });

        // Assess
        expect(seenDuringCreate).toEqual([
          expect.objectContaining({
            status: 'creating',
            lockToken: 'token-1',
            lockExpiresAtMs: deadline,
            attempts: 1,
          }),
        ]);
      });

      it('links the contact Apollo already holds with the email as existing, without creating one', async () => {
        // Prepare
        const wrenPerson = wren();
        s.apollo.addContact({ ...wrenPerson.fields, email: 'Wren.Halloway@Lanternfish.example' });

        // Act
        const results = await s.conversion.convert([wrenPerson], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wrenPerson), status: 'existing', contact_id: 'contact-1' }]);
        expect(s.apollo.calls.createContact).toBe(0);
        expect(s.apollo.contacts).toHaveLength(1);
        expect(await s.ledger.get({ key: s.keyOf(wrenPerson) })).toMatchObject({
          status: 'created',
          outcome: 'existing',
          contactId: 'contact-1',
        });
        expect(s.verifications.started).toEqual([{ key: s.keyOf(wrenPerson), contact_id: 'contact-1' }]);
      });

      it('links the first contact when Apollo holds several with the email', async () => {
        // Prepare
        const wrenPerson = wren();
        s.apollo.addContact(wrenPerson.fields);
        s.apollo.addContact(wrenPerson.fields);

        // Act
        const results = await s.conversion.convert([wrenPerson], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wrenPerson), status: 'existing', contact_id: 'contact-1' }]);
        expect(s.apollo.calls.createContact).toBe(0);
      });

      it('looks a person without email up by name and company (contacts search, never people/match, which charges for anyone Apollo knows), then creates it without runDedupe', async () => {
        // Prepare
        const ottiliePerson = ottilie();

        // Act
        const results = await s.conversion.convert([ottiliePerson], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(ottiliePerson), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.calls.findContactsByEmail).toBe(0);
        expect(s.apollo.received.findContactsByName).toEqual([byName(ottiliePerson)]);
        expect(s.apollo.received.matchPerson).toEqual([]);
        expect(s.apollo.received.createContact).toEqual([{ fields: ottiliePerson.fields, runDedupe: false }]);
        expect(await s.ledger.get({ key: s.keyOf(ottiliePerson) })).toMatchObject({
          status: 'created',
          outcome: 'created',
          match: {
            first_name: 'Ottilie',
            last_name: 'Fenwick',
            organization_name: 'Cobblestone Cartography',
          },
        });
      });

      it('links the contact people/match finds for a person without email as existing, creating nothing', async () => {
        // Prepare: someone else saved her under another spelling of the company
        const ottiliePerson = ottilie();
        s.apollo.addContact({
          first_name: 'Ottilie',
          last_name: 'Fenwick',
          organization_name: 'cobblestone cartography',
        });

        // Act
        const results = await s.conversion.convert([ottiliePerson], s.request());

        // Assess
        expect(results).toEqual([
          { id: s.keyOf(ottiliePerson), status: 'existing', contact_id: 'contact-1' },
        ]);
        expect(s.apollo.calls.createContact).toBe(0);
        expect(await s.ledger.get({ key: s.keyOf(ottiliePerson) })).toMatchObject({
          status: 'created',
          outcome: 'existing',
          contactId: 'contact-1',
        });
      });

      it('reports the phone fields it left out as dropped_fields, and sends the readable ones', async () => {
        // Prepare
        const junoPerson = person({
          ...JUNO_INPUT,
          direct_phone: '202 555 0110',
          mobile_phone: 'ask at the front desk',
        });

        // Act
        const results = await s.conversion.convert([junoPerson], s.request());

        // Assess
        expect(results).toEqual([
          {
            id: s.keyOf(junoPerson),
            status: 'created',
            contact_id: 'contact-1',
            dropped_fields: ['mobile_phone'],
          },
        ]);
        expect(s.apollo.received.createContact[0]?.fields).toMatchObject({ direct_phone: '+12025550110' });
        expect(s.apollo.received.createContact[0]?.fields).not.toHaveProperty('mobile_phone');
      });
    });

    describe('a person the ledger holds', () => {
      it.each(['created', 'verified', 'verification_failed'] as const)(
        'answers a %s person as duplicate from the ledger, calls no Apollo and counts a free lookup',
        async (status) => {
          // Prepare
          const wrenPerson = wren();
          await s.conversion.convert([wrenPerson], s.request());
          if (status === 'verified')
            await s.ledger.markVerified({ key: s.keyOf(wrenPerson), nowMs: s.clock.now() });
          if (status === 'verification_failed') {
            await s.ledger.markVerificationFailed({
              key: s.keyOf(wrenPerson),
              reason: 'x',
              nowMs: s.clock.now(),
            });
          }
          const apolloCallsBefore = s.apollo.totalCalls;
          s.clock.advanceSeconds(60);

          // Act
          const results = await s.conversion.convert([wrenPerson], s.request());

          // Assess
          expect(results).toEqual([
            { id: s.keyOf(wrenPerson), status: 'duplicate', contact_id: 'contact-1' },
          ]);
          expect(s.apollo.totalCalls).toBe(apolloCallsBefore);
          expect(await s.ledger.get({ key: s.keyOf(wrenPerson) })).toMatchObject({
            status,
            attempts: 1,
            freeLookups: 1,
            updatedAt: s.clock.iso(),
          });
          expect(s.verifications.started).toHaveLength(1);
        },
      );

      it('answers in_progress, calling no Apollo, while another request holds the claim', async () => {
        // Prepare
        const wrenPerson = wren();
        await claimElsewhere(s, wrenPerson);

        // Act
        const results = await s.conversion.convert([wrenPerson], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wrenPerson), status: 'in_progress', contact_id: null }]);
        expect(s.apollo.totalCalls).toBe(0);
        expect(await s.ledger.get({ key: s.keyOf(wrenPerson) })).toMatchObject({
          status: 'creating',
          lockToken: 'rival',
          attempts: 1,
        });
      });
    });

    describe('a batch', () => {
      it('converts a person named twice once, answering every position in input order', async () => {
        // Prepare
        const people = [
          wren(),
          juno(),
          person({ ...WREN_INPUT, email: ' WREN.HALLOWAY@lanternfish.example ' }),
        ];

        // Act
        const results = await s.conversion.convert(people, s.request());

        // Assess
        expect(results).toEqual([
          { id: s.keyOf(wren()), status: 'created', contact_id: 'contact-1' },
          { id: s.keyOf(juno()), status: 'created', contact_id: 'contact-2' },
          { id: s.keyOf(wren()), status: 'created', contact_id: 'contact-1' },
        ]);
        expect(s.apollo.calls.createContact).toBe(2);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          attempts: 1,
        });
        expect(s.verifications.started).toHaveLength(2);
      });

      it('starts no other person after one fails, and the retried request converts each once', async () => {
        // Prepare
        s = fakeServices({ concurrency: 1 });
        const people = [wren(), juno(), tobin()];
        s.apollo.failNext('createContact', rateLimited(120));

        // Act
        const failure = await rejectionOf(s.conversion.convert(people, s.request()));
        const startedBeforeRetry = s.ledger.records().map((record) => record.key);
        const resolvedBeforeRetry = people.map((who) => s.keyOf(who));
        const retried = await s.conversion.convert(people, s.request());

        // Assess
        expect(failure).toBeInstanceOf(RetryLaterError);
        expect(failure).toMatchObject({ retryAfterSeconds: 120, results: [] });
        expect(startedBeforeRetry).toEqual([resolvedBeforeRetry[0]]);
        // Nobody after the failed one was even resolved to a record.
        expect(resolvedBeforeRetry.slice(1)).toEqual([
          `unresolved:${juno().key}`,
          `unresolved:${tobin().key}`,
        ]);
        expect(retried.map((result) => result.status)).toEqual(['created', 'created', 'created']);
        expect(s.apollo.calls.createContact).toBe(4);
        expect(s.apollo.contacts).toHaveLength(3);
        expect(await s.ledger.get({ key: s.keyOf(juno()) })).toMatchObject({ attempts: 1 });
      });

      it('lets a person in flight finish after another fails, and carries its result in RetryLaterError', async () => {
        // Prepare
        s = fakeServices({ concurrency: 2 });
        const [wrenPerson, junoPerson, tobinPerson] = [wren(), juno(), tobin()];
        s.apollo.failNext('findContactsByEmail', rateLimited(45)); // Wren's search, the first call
        s.apollo.beforeNext('createContact', () => new Promise((resolve) => setImmediate(resolve)));

        // Act
        const failure = await rejectionOf(
          s.conversion.convert([wrenPerson, junoPerson, tobinPerson], s.request()),
        );

        // Assess
        expect(failure).toBeInstanceOf(RetryLaterError);
        expect(failure).toMatchObject({
          retryAfterSeconds: 45,
          results: [{ id: s.keyOf(junoPerson), status: 'created', contact_id: 'contact-1' }],
        });
        expect(await s.ledger.get({ key: s.keyOf(tobinPerson) })).toBeNull();
        expect(await s.ledger.get({ key: s.keyOf(wrenPerson) })).toMatchObject({
          status: 'creating',
          lockToken: null,
          lockExpiresAtMs: 0,
          lastError: 'POST /contacts: 429',
        });
      });
    });

    describe('when Apollo refuses the person', () => {
      async function rejectWren() {
        s.apollo.failNext('createContact', new ApolloRejectedError('title: is too long (422)'));
        return s.conversion.convert([wren()], s.request());
      }

      it('answers rejected with the reason and keeps the record, with a TTL, when Apollo refuses the data (422)', async () => {
        // Act
        const results = await rejectWren();

        // Assess
        expect(results).toEqual([
          {
            id: s.keyOf(wren()),
            status: 'rejected',
            contact_id: null,
            reason: 'title: is too long (422)',
          },
        ]);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'rejected',
          lastError: 'title: is too long (422)',
          contactId: null,
          attempts: 1,
          lockToken: null,
          lockExpiresAtMs: null,
        });
        expect(s.ledger.item(s.keyOf(wren()))?.expiresAtSeconds).toBe(
          s.clock.epochSeconds() + REJECTED_TTL_SECONDS,
        );
        expect(s.verifications.started).toEqual([]);
      });

      it('answers a re-delivery of the same data as rejected from the ledger, calling no Apollo', async () => {
        // Prepare
        await rejectWren();
        const apolloCallsBefore = s.apollo.totalCalls;
        s.clock.advanceSeconds(60);

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        expect(results).toEqual([
          { id: s.keyOf(wren()), status: 'rejected', contact_id: null, reason: 'title: is too long (422)' },
        ]);
        expect(s.apollo.totalCalls).toBe(apolloCallsBefore);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'rejected',
          attempts: 1,
          freeLookups: 0,
        });
      });

      it('re-opens a rejected person when the data changed, counting its attempts afresh', async () => {
        // Prepare: two 429s, then the 422, use up all three attempts
        s.apollo.failNext('createContact', rateLimited(1));
        s.apollo.failNext('createContact', rateLimited(1));
        await rejectionOf(s.conversion.convert([wren()], s.request()));
        await rejectionOf(s.conversion.convert([wren()], s.request()));
        await rejectWren();
        const changed = person({ ...WREN_INPUT, title: 'Keeper of Tides' });

        // Act
        const results = await s.conversion.convert([changed], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(changed), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.received.createContact.at(-1)).toEqual({ fields: changed.fields, runDedupe: false });
        expect(await s.ledger.get({ key: s.keyOf(changed) })).toMatchObject({
          status: 'created',
          attempts: 1,
          fingerprint: changed.fingerprint,
        });
        expect(s.ledger.item(s.keyOf(changed))?.expiresAtSeconds).toBeUndefined();
      });
    });

    describe('when Apollo or the ledger fails', () => {
      it("throws RetryLaterError with the finished results and Apollo's retry-after (429), leaving no lock", async () => {
        // Prepare
        const [junoPerson, wrenPerson] = [juno(), wren()];
        s.apollo.addContact(junoPerson.fields);
        s.apollo.failNext('createContact', rateLimited(120)); // Wren's: Juno's contact exists

        // Act
        const failure = await rejectionOf(s.conversion.convert([junoPerson, wrenPerson], s.request()));
        const retried = await s.conversion.convert([junoPerson, wrenPerson], s.request());

        // Assess
        expect(failure).toBeInstanceOf(RetryLaterError);
        expect(failure).toMatchObject({
          message: 'Apollo is rate limiting or unavailable: POST /contacts: 429',
          retryAfterSeconds: 120,
          results: [{ id: s.keyOf(junoPerson), status: 'existing', contact_id: 'contact-1' }],
        });
        expect(retried).toEqual([
          { id: s.keyOf(junoPerson), status: 'duplicate', contact_id: 'contact-1' },
          { id: s.keyOf(wrenPerson), status: 'created', contact_id: 'contact-2' },
        ]);
        expect(await s.ledger.get({ key: s.keyOf(wrenPerson) })).toMatchObject({
          status: 'created',
          attempts: 2,
          lastError: 'POST /contacts: 429',
        });
      });

      it('releases the claim at once, keeping the error, when Apollo cannot be reached', async () => {
        // Prepare
        s.apollo.failNext('createContact', unreachable());

        // Act
        const failure = await rejectionOf(s.conversion.convert([wren()], s.request()));

        // Assess
        expect(failure).toMatchObject({ name: 'RetryLaterError', retryAfterSeconds: 30, results: [] });
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'creating',
          attempts: 1,
          lockToken: null,
          lockExpiresAtMs: 0,
          lastError: 'POST /contacts: connection refused',
          createUncertain: false,
          createUncertainSinceMs: null,
          updatedAt: s.clock.iso(),
        });
      });

      it.each([
        { first: rateLimited(10), second: unreachable(), retryAfterSeconds: 30 },
        { first: rateLimited(120), second: unreachable(), retryAfterSeconds: 120 },
        { first: rateLimited(90), second: rateLimited(15), retryAfterSeconds: 90 },
      ])(
        'asks to retry after the longest wait ($retryAfterSeconds s) when several people fail at once',
        async ({ first, second, retryAfterSeconds }) => {
          // Prepare
          s.apollo.failNext('createContact', first);
          s.apollo.failNext('createContact', second);

          // Act
          const failure = await rejectionOf(s.conversion.convert([wren(), juno()], s.request()));

          // Assess
          expect(failure).toBeInstanceOf(RetryLaterError);
          expect(failure).toMatchObject({ retryAfterSeconds, results: [] });
        },
      );

      for (const { configuration, beside } of [
        { configuration: new ApolloAuthError('Apollo refused the API key (401)'), beside: unreachable() },
        { configuration: new ApolloForbiddenError('API_INACCESSIBLE (403)'), beside: rateLimited(120) },
        {
          configuration: new ApolloAuthError('Apollo refused the API key (401)'),
          beside: new TypeError('cannot read properties of undefined'),
        },
      ]) {
        it(`throws Apollo's configuration error itself (${configuration.name}), even beside ${beside.name}`, async () => {
          // Prepare
          s.apollo.failNext('createContact', beside);
          s.apollo.failNext('createContact', configuration);

          // Act
          const failure = await rejectionOf(s.conversion.convert([wren(), juno()], s.request()));

          // Assess
          expect(failure).toBe(configuration);
          expect(await s.ledger.get({ key: s.keyOf(juno()) })).toMatchObject({
            status: 'creating',
            lockToken: null,
            lastError: configuration.message,
            createUncertain: false,
          });
        });
      }

      it('throws an unexpected error itself, not RetryLaterError, even beside a rate limit', async () => {
        // Prepare
        const unexpected = new TypeError('cannot read properties of undefined');
        s.apollo.failNext('createContact', rateLimited(120));
        s.apollo.failNext('createContact', unexpected);

        // Act
        const failure = await rejectionOf(s.conversion.convert([wren(), juno()], s.request()));

        // Assess
        expect(failure).toBe(unexpected);
      });

      it('answers in_progress and records nothing when its claim lapsed and another request took it over', async () => {
        // Prepare
        const wrenPerson = wren();
        s.apollo.beforeNext('createContact', async () => {
          s.clock.advance(REQUEST_MS + 1);
          await claimElsewhere(s, wrenPerson);
        });

        // Act
        const results = await s.conversion.convert([wrenPerson], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wrenPerson), status: 'in_progress', contact_id: null }]);
        expect(await s.ledger.get({ key: s.keyOf(wrenPerson) })).toMatchObject({
          status: 'creating',
          lockToken: 'rival',
          attempts: 2,
          contactId: null,
        });
        expect(s.apollo.contacts).toHaveLength(1); // made, for the rival to find
        expect(s.verifications.started).toEqual([]);
      });

      it("reports Apollo's failure, not the lost claim, when a failing call outlived its claim", async () => {
        // Prepare
        const wrenPerson = wren();
        s.apollo.failNext('createContact', rateLimited(120), {
          before: async () => {
            s.clock.advance(REQUEST_MS + 1);
            await claimElsewhere(s, wrenPerson);
          },
        });

        // Act
        const failure = await rejectionOf(s.conversion.convert([wrenPerson], s.request()));

        // Assess
        expect(failure).toMatchObject({ name: 'RetryLaterError', retryAfterSeconds: 120 });
        expect(await s.ledger.get({ key: s.keyOf(wrenPerson) })).toMatchObject({
          status: 'creating',
          lockToken: 'rival',
          lastError: null,
        });
      });
    });

    describe('after a create whose outcome is unknown', () => {
      it('releases the claim marked createUncertain, dated, and asks for a retry', async () => {
        // Prepare
        s.apollo.failNext('createContact', unknownOutcome(), { afterEffect: true });

        // Act
        const failure = await rejectionOf(s.conversion.convert([wren()], s.request()));

        // Assess
        expect(failure).toMatchObject({ name: 'RetryLaterError', retryAfterSeconds: 30, results: [] });
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'creating',
          attempts: 1,
          lockToken: null,
          lockExpiresAtMs: 0,
          lastError: 'POST /contacts: 502',
          createUncertain: true,
          createUncertainSinceMs: s.clock.now(),
        });
        expect(s.apollo.contacts).toHaveLength(1);
      });

      it('keeps createUncertain dated from the first unknown outcome when a later attempt fails too', async () => {
        // Prepare
        const firstUncertainAt = s.clock.now();
        s.apollo.failNext('createContact', unknownOutcome());
        await rejectionOf(s.conversion.convert([wren()], s.request()));
        s.clock.advanceSeconds(QUIET_SECONDS + 10);
        s.apollo.failNext('findContactsByEmail', unreachable());

        // Act
        await rejectionOf(s.conversion.convert([wren()], s.request()));

        // Assess
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'creating',
          attempts: 2,
          createUncertain: true,
          createUncertainSinceMs: firstUncertainAt,
          lastError: 'POST /contacts: connection refused',
        });
        expect(s.apollo.calls.createContact).toBe(1);
      });

      it('records the contact that create made as created, not existing, when the next attempt finds it', async () => {
        // Prepare
        s.apollo.failNext('createContact', unknownOutcome(), { afterEffect: true });
        await rejectionOf(s.conversion.convert([wren()], s.request()));
        s.clock.advanceSeconds(5);

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wren()), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.calls.createContact).toBe(1);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'created',
          outcome: 'created',
          contactId: 'contact-1',
          attempts: 2,
          createUncertain: false,
          createUncertainSinceMs: null,
        });
        expect(s.verifications.started).toEqual([{ key: s.keyOf(wren()), contact_id: 'contact-1' }]);
      });

      it('creates with runDedupe once the quiet period has passed and the contact is not found', async () => {
        // Prepare
        s.apollo.failNext('createContact', unknownOutcome());
        await rejectionOf(s.conversion.convert([wren()], s.request()));
        s.clock.advanceSeconds(QUIET_SECONDS + 1);

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wren()), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.received.createContact).toEqual([
          { fields: wren().fields, runDedupe: false },
          { fields: wren().fields, runDedupe: true },
        ]);
        expect(s.apollo.contacts).toHaveLength(1);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'created',
          outcome: 'created',
        });
      });

      it('creates nothing inside the quiet period: a retry after the time left, and the attempt refunded', async () => {
        // Prepare
        const firstUncertainAt = s.clock.now();
        s.apollo.failNext('createContact', unknownOutcome());
        await rejectionOf(s.conversion.convert([wren()], s.request()));
        s.clock.advanceSeconds(10);

        // Act
        const failure = await rejectionOf(s.conversion.convert([wren()], s.request()));

        // Assess
        expect(failure).toBeInstanceOf(RetryLaterError);
        expect(failure).toMatchObject({
          retryAfterSeconds: QUIET_SECONDS - 10,
          message:
            'Apollo is rate limiting or unavailable: an earlier create of this person may still reach Apollo; not creating again yet',
        });
        expect(s.apollo.calls.findContactsByEmail).toBe(2);
        expect(s.apollo.calls.createContact).toBe(1);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'creating',
          attempts: 1,
          lockToken: null,
          createUncertain: true,
          createUncertainSinceMs: firstUncertainAt,
        });
      });

      it('finds a person without email by name and company (contacts search) and records it as created', async () => {
        // Prepare
        const ottiliePerson = ottilie();
        s.apollo.failNext('createContact', unknownOutcome(), { afterEffect: true });
        await rejectionOf(s.conversion.convert([ottiliePerson], s.request()));
        s.clock.advanceSeconds(5);

        // Act
        const results = await s.conversion.convert([ottiliePerson], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(ottiliePerson), status: 'created', contact_id: 'contact-1' }]);
        // The first attempt looked too, before its create.
        expect(s.apollo.received.findContactsByName).toEqual([byName(ottiliePerson), byName(ottiliePerson)]);
        expect(s.apollo.calls.findContactsByEmail).toBe(0);
        expect(s.apollo.calls.createContact).toBe(1);
        expect(await s.ledger.get({ key: s.keyOf(ottiliePerson) })).toMatchObject({ outcome: 'created' });
      });

      it('creates a person without email with runDedupe when the contacts search does not find it after the quiet period', async () => {
        // Prepare
        const ottiliePerson = ottilie();
        s.apollo.failNext('createContact', unknownOutcome());
        await rejectionOf(s.conversion.convert([ottiliePerson], s.request()));
        s.clock.advanceSeconds(QUIET_SECONDS + 1);

        // Act
        const results = await s.conversion.convert([ottiliePerson], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(ottiliePerson), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.received.findContactsByName).toEqual([byName(ottiliePerson), byName(ottiliePerson)]);
        expect(s.apollo.received.createContact.at(-1)).toEqual({
          fields: ottiliePerson.fields,
          runDedupe: true,
        });
      });

      it('treats a claim that lapsed (its invocation died) as a create that may have happened', async () => {
        // Prepare: the dead invocation created the contact but never recorded it
        await claimElsewhere(s, wren(), 'dead');
        s.apollo.addContact(wren().fields);
        s.clock.advance(REQUEST_MS + 1);

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wren()), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.calls.createContact).toBe(0);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'created',
          outcome: 'created',
          attempts: 2,
        });
      });

      it('keeps in the ledger that a lapsed claim may have created when the next attempt fails before creating', async () => {
        // Prepare
        await claimElsewhere(s, wren(), 'dead');
        s.clock.advance(REQUEST_MS + 1);
        s.apollo.failNext('findContactsByEmail', unreachable());

        // Act
        await rejectionOf(s.conversion.convert([wren()], s.request()));

        // Assess
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'creating',
          lockToken: null,
          createUncertain: true,
          createUncertainSinceMs: s.clock.now(),
        });
        expect(s.apollo.calls.createContact).toBe(0);
      });

      it('creates with runDedupe at once after a lapsed claim that left no contact: no dated uncertainty, no quiet period', async () => {
        // Prepare
        await claimElsewhere(s, wren(), 'dead');
        s.clock.advance(REQUEST_MS + 1);

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wren()), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.received.createContact).toEqual([{ fields: wren().fields, runDedupe: true }]);
      });
    });

    describe('after maxAttempts', () => {
      it('gives up as failed, naming the attempts and the last error, without calling Apollo again', async () => {
        // Prepare
        for (let attempt = 0; attempt < 3; attempt++) {
          s.apollo.failNext('createContact', rateLimited(1));
          await rejectionOf(s.conversion.convert([wren()], s.request()));
        }
        const apolloCallsBefore = s.apollo.totalCalls;

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        const reason = 'gave up after 3 attempts; last error: POST /contacts: 429';
        expect(results).toEqual([{ id: s.keyOf(wren()), status: 'failed', contact_id: null, reason }]);
        expect(s.apollo.totalCalls).toBe(apolloCallsBefore);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'failed',
          lastError: reason,
          attempts: 4,
          lockToken: null,
          lockExpiresAtMs: null,
        });
        expect(s.ledger.item(s.keyOf(wren()))?.expiresAtSeconds).toBe(
          s.clock.epochSeconds() + REJECTED_TTL_SECONDS,
        );
        expect(s.verifications.started).toEqual([]);
      });

      it('answers later deliveries of a failed person from the ledger, calling no Apollo', async () => {
        // Prepare
        s = fakeServices({ maxAttempts: 1 });
        s.apollo.failNext('createContact', rateLimited(1));
        await rejectionOf(s.conversion.convert([wren()], s.request()));
        await s.conversion.convert([wren()], s.request());
        const apolloCallsBefore = s.apollo.totalCalls;

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        expect(results).toEqual([
          {
            id: s.keyOf(wren()),
            status: 'failed',
            contact_id: null,
            reason: 'gave up after 1 attempts; last error: POST /contacts: 429',
          },
        ]);
        expect(s.apollo.totalCalls).toBe(apolloCallsBefore);
      });

      it('re-opens a failed person when the data changed, counting its attempts afresh', async () => {
        // Prepare
        s = fakeServices({ maxAttempts: 1 });
        s.apollo.failNext('createContact', rateLimited(1));
        await rejectionOf(s.conversion.convert([wren()], s.request()));
        await s.conversion.convert([wren()], s.request());
        const changed = person({ ...WREN_INPUT, title: 'Keeper of Tides' });

        // Act
        const results = await s.conversion.convert([changed], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(changed), status: 'created', contact_id: 'contact-1' }]);
        expect(await s.ledger.get({ key: s.keyOf(changed) })).toMatchObject({
          status: 'created',
          attempts: 1,
        });
      });

      it('takes a last look when an earlier create may have happened, and records the contact it finds as created', async () => {
        // Prepare
        s = fakeServices({ maxAttempts: 1 });
        s.apollo.failNext('createContact', unknownOutcome(), { afterEffect: true });
        await rejectionOf(s.conversion.convert([wren()], s.request()));

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wren()), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.calls.findContactsByEmail).toBe(2);
        expect(s.apollo.calls.createContact).toBe(1);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'created',
          outcome: 'created',
          contactId: 'contact-1',
          createUncertain: false,
        });
        expect(s.verifications.started).toEqual([{ key: s.keyOf(wren()), contact_id: 'contact-1' }]);
      });

      it('takes the last look for a person without email through the contacts search', async () => {
        // Prepare
        s = fakeServices({ maxAttempts: 1 });
        s.apollo.failNext('createContact', unknownOutcome(), { afterEffect: true });
        await rejectionOf(s.conversion.convert([ottilie()], s.request()));

        // Act
        const results = await s.conversion.convert([ottilie()], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(ottilie()), status: 'created', contact_id: 'contact-1' }]);
        // The first attempt's look before creating, then the last look.
        expect(s.apollo.received.findContactsByName).toEqual([byName(ottilie()), byName(ottilie())]);
        expect(s.apollo.calls.createContact).toBe(1);
      });

      it('gives up as failed when the last look finds no contact', async () => {
        // Prepare
        s = fakeServices({ maxAttempts: 1 });
        s.apollo.failNext('createContact', unknownOutcome());
        await rejectionOf(s.conversion.convert([wren()], s.request()));

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        const reason = 'gave up after 1 attempts; last error: POST /contacts: 502';
        expect(results).toEqual([{ id: s.keyOf(wren()), status: 'failed', contact_id: null, reason }]);
        expect(s.apollo.calls.findContactsByEmail).toBe(2);
        expect(s.apollo.calls.createContact).toBe(1);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'failed',
          lastError: reason,
        });
      });

      it('gives up as failed when the last look itself fails', async () => {
        // Prepare
        s = fakeServices({ maxAttempts: 1 });
        s.apollo.failNext('createContact', unknownOutcome());
        await rejectionOf(s.conversion.convert([wren()], s.request()));
        s.apollo.failNext('findContactsByEmail', rateLimited(60));

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        expect(results).toEqual([
          {
            id: s.keyOf(wren()),
            status: 'failed',
            contact_id: null,
            reason: 'gave up after 1 attempts; last error: POST /contacts: 502',
          },
        ]);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({ status: 'failed' });
      });
    });

    describe("Apollo's answer of a moment ago (apolloContact, from a paid enrichment)", () => {
      it('takes it instead of asking Apollo again', async () => {
        // Act
        const results = await s.conversion.convert(
          [{ ...ottilie(), apolloContact: { id: null } }],
          s.request(),
        );

        // Assess
        expect(results).toEqual([{ id: s.keyOf(ottilie()), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.totalCalls).toBe(1); // the create
      });

      it('looks again when an earlier create of this person may have happened since', async () => {
        // Prepare
        s.apollo.failNext('createContact', unknownOutcome(), { afterEffect: true });
        await rejectionOf(s.conversion.convert([ottilie()], s.request()));
        s.clock.advance(QUIET_SECONDS * 1000 + 1);

        // Act
        const results = await s.conversion.convert(
          [{ ...ottilie(), apolloContact: { id: null } }],
          s.request(),
        );

        // Assess
        expect(results).toEqual([{ id: s.keyOf(ottilie()), status: 'created', contact_id: 'contact-1' }]);
        expect(s.apollo.received.findContactsByName).toEqual([byName(ottilie()), byName(ottilie())]);
        expect(s.apollo.calls.createContact).toBe(1);
      });
    });

    describe('a claim lost while recording the end (failed, rejected, or found by the last look)', () => {
      /** Before the next `method` call, this request's claim lapses and another request takes wren. */
      const takeOverBefore = (method: 'createContact' | 'findContactsByEmail') => ({
        before: async () => {
          s.clock.advance(REQUEST_MS + 1);
          await claimElsewhere(s, wren());
        },
        method,
      });

      it.each([
        ['the last look finds the contact (complete)', { afterEffect: true }],
        ['the last look finds nothing (fail)', { afterEffect: false }],
      ])(
        'answers in_progress for that person and converts the rest of the batch when %s',
        async (_, { afterEffect }) => {
          // Prepare
          s = fakeServices({ maxAttempts: 1 });
          s.apollo.failNext('createContact', unknownOutcome(), { afterEffect });
          await rejectionOf(s.conversion.convert([wren()], s.request()));
          const { before, method } = takeOverBefore('findContactsByEmail');
          s.apollo.beforeNext(method, before);

          // Act
          const results = await s.conversion.convert([wren(), juno()], s.request());

          // Assess
          expect(results).toEqual([
            { id: s.keyOf(wren()), status: 'in_progress', contact_id: null },
            { id: s.keyOf(juno()), status: 'created', contact_id: expect.any(String) as unknown },
          ]);
          expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
            status: 'creating',
            lockToken: 'rival',
          });
        },
      );

      it('answers in_progress for that person and converts the rest of the batch when Apollo rejects it', async () => {
        // Prepare
        const { before } = takeOverBefore('createContact');
        s.apollo.failNext('createContact', new ApolloRejectedError('title: is too long (422)'), { before });

        // Act
        const results = await s.conversion.convert([wren(), juno()], s.request());

        // Assess
        expect(results).toEqual([
          { id: s.keyOf(wren()), status: 'in_progress', contact_id: null },
          { id: s.keyOf(juno()), status: 'created', contact_id: expect.any(String) as unknown },
        ]);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'creating',
          lockToken: 'rival',
        });
      });
    });

    describe('starting the verification', () => {
      it('leaves the record created without verificationStartedAt, and fails the request, when the start fails', async () => {
        // Prepare
        const unavailable = new Error('Step Functions is unavailable');
        s.verifications.failNext(unavailable);

        // Act
        const failure = await rejectionOf(s.conversion.convert([wren()], s.request()));

        // Assess
        expect(failure).toBe(unavailable);
        expect(s.verifications.started).toEqual([]);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          status: 'created',
          contactId: 'contact-1',
          verificationStartedAt: null,
        });
      });

      it('starts a verification that never started on the next delivery, from the ledger, calling no Apollo', async () => {
        // Prepare
        s.verifications.failNext();
        await rejectionOf(s.conversion.convert([wren()], s.request()));
        const apolloCallsBefore = s.apollo.totalCalls;
        s.clock.advanceSeconds(60);

        // Act
        const results = await s.conversion.convert([wren()], s.request());

        // Assess
        expect(results).toEqual([{ id: s.keyOf(wren()), status: 'duplicate', contact_id: 'contact-1' }]);
        expect(s.verifications.started).toEqual([{ key: s.keyOf(wren()), contact_id: 'contact-1' }]);
        expect(s.apollo.totalCalls).toBe(apolloCallsBefore);
        expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
          verificationStartedAt: s.clock.iso(),
          freeLookups: 1,
        });
      });
    });
  });

  describe('identity resolution', () => {
    it('converts a person without email into the record of the same person converted with email', async () => {
      // Prepare
      const [first] = await s.conversion.convert([wren()], s.request());
      const withoutEmail = person({ ...WREN_INPUT, email: undefined });

      // Act
      const results = await s.conversion.convert([withoutEmail], s.request());

      // Assess
      expect(results).toEqual([{ id: first?.id, status: 'duplicate', contact_id: 'contact-1' }]);
      expect(s.keyOf(withoutEmail)).toBe(first?.id);
      expect(s.ledger.records()).toHaveLength(1);
      expect(s.apollo.calls.createContact).toBe(1);
    });

    it('adopts the record of a person converted without email when the same name comes with an email', async () => {
      // Prepare
      const withoutEmail = person({ ...WREN_INPUT, email: undefined });
      const [first] = await s.conversion.convert([withoutEmail], s.request());

      // Act
      const results = await s.conversion.convert([wren()], s.request());

      // Assess
      expect(results).toEqual([{ id: first?.id, status: 'duplicate', contact_id: 'contact-1' }]);
      expect(await s.ledger.recordOwner({ key: first?.id as string })).toBe(
        identityKey(['email', WREN_INPUT.email]),
      );
      expect(s.ledger.records()).toHaveLength(1);
    });

    it('never merges two different emails with one name and company, and refuses the name alone after', async () => {
      // Prepare
      const other = person({ ...WREN_INPUT, email: 'wren@elsewhere.example' });

      // Act
      const [first] = await s.conversion.convert([wren()], s.request());
      const [second] = await s.conversion.convert([other], s.request());
      const [nameOnly] = await s.conversion.convert(
        [person({ ...WREN_INPUT, email: undefined })],
        s.request(),
      );

      // Assess
      expect(first?.status).toBe('created');
      expect(second?.status).toBe('created');
      expect(second?.id).not.toBe(first?.id);
      expect(s.apollo.contacts).toHaveLength(2);
      expect(nameOnly).toEqual({
        id: null,
        status: 'rejected',
        contact_id: null,
        reason: 'several people with this name at this company: send an email',
      });
      expect(s.ledger.records()).toHaveLength(2);
    });

    it('finds the record of a CRM record converted with email when it comes back without email, whatever its company now says', async () => {
      // Prepare
      const [first] = await s.conversion.convert([person({ ...WREN_INPUT, hubspot_id: '101' })], s.request());
      const moved = person({
        first_name: 'Wren',
        last_name: 'Halloway',
        organization_name: 'Kelp Co',
        hubspot_id: '101',
      });

      // Act
      const [again] = await s.conversion.convert([moved], s.request());

      // Assess
      expect(again).toEqual({ id: first?.id, status: 'duplicate', contact_id: 'contact-1' });
      expect(s.ledger.records()).toHaveLength(1);
      expect(s.apollo.calls.createContact).toBe(1);
    });

    it('adopts the record of a CRM record converted without email when its email arrives', async () => {
      // Prepare
      const [first] = await s.conversion.convert(
        [
          person({
            first_name: 'Wren',
            last_name: 'Halloway',
            organization_name: 'Kelp Co',
            hubspot_id: '102',
          }),
        ],
        s.request(),
      );

      // Act
      const [withEmail] = await s.conversion.convert(
        [person({ ...WREN_INPUT, hubspot_id: '102' })],
        s.request(),
      );

      // Assess
      expect(withEmail).toEqual({ id: first?.id, status: 'duplicate', contact_id: 'contact-1' });
      expect(await s.ledger.recordOwner({ key: first?.id as string })).toBe(
        identityKey(['email', WREN_INPUT.email]),
      );
    });

    it('never merges two emails that share a CRM record id (a record reused for a successor), and such an id refuses nobody after', async () => {
      // Prepare
      const successor = person({ ...JUNO_INPUT, hubspot_id: '103' });

      // Act
      const [first] = await s.conversion.convert([person({ ...WREN_INPUT, hubspot_id: '103' })], s.request());
      const [second] = await s.conversion.convert([successor], s.request());
      const [withoutEmail] = await s.conversion.convert(
        [person({ first_name: 'Ada', last_name: 'Quill', organization_name: 'Seq Co', hubspot_id: '103' })],
        s.request(),
      );

      // Assess
      expect([first?.status, second?.status, withoutEmail?.status]).toEqual([
        'created',
        'created',
        'created',
      ]);
      expect(new Set([first?.id, second?.id, withoutEmail?.id]).size).toBe(3);
      expect(s.apollo.contacts).toHaveLength(3);
    });

    it('gives each new record a conversion id', async () => {
      // Act
      const [result] = await s.conversion.convert([wren()], s.request());

      // Assess
      expect(result?.id).toMatch(/^c_[A-Za-z0-9_-]{22}$/);
    });
  });

  describe('deliver', () => {
    it('answers as convert when nobody is in progress', async () => {
      // Act
      const results = await s.conversion.deliver([wren()], s.request());

      // Assess
      expect(results).toEqual([{ id: s.keyOf(wren()), status: 'created', contact_id: 'contact-1' }]);
    });

    it('throws RetryLaterError (in_progress) with every result while another request holds a person', async () => {
      // Prepare
      await claimElsewhere(s, wren());

      // Act
      const failure = await rejectionOf(s.conversion.deliver([wren(), juno()], s.request()));

      // Assess
      expect(failure).toBeInstanceOf(RetryLaterError);
      expect(failure).toMatchObject({
        reason: 'in_progress',
        retryAfterSeconds: FAKE_SETTINGS.inProgressRetryAfterSeconds,
        results: [
          { id: s.keyOf(wren()), status: 'in_progress', contact_id: null },
          { id: s.keyOf(juno()), status: 'created', contact_id: 'contact-1' },
        ],
      });
      expect(s.apollo.contacts).toHaveLength(1);
    });
  });

  describe('a redelivery of a person waiting too long for its verdict', () => {
    it('re-drives the verification once it has waited longer than the sweep allows', async () => {
      // Prepare
      await s.conversion.convert([wren()], s.request());
      s.clock.advance(FAKE_SETTINGS.verificationSweepAfterMs);

      // Act
      const results = await s.conversion.convert([wren()], s.request());

      // Assess
      expect(results).toEqual([{ id: s.keyOf(wren()), status: 'duplicate', contact_id: 'contact-1' }]);
      expect(s.redrives.redriven).toEqual([
        { request: { key: s.keyOf(wren()), contact_id: 'contact-1' }, redrive: 1 },
      ]);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        verificationRedrives: 1,
        awaitingVerdictSinceMs: s.clock.now(),
        freeLookups: 1,
      });
    });

    it('re-drives nothing before then', async () => {
      // Prepare
      await s.conversion.convert([wren()], s.request());
      s.clock.advance(FAKE_SETTINGS.verificationSweepAfterMs - 1);

      // Act
      await s.conversion.convert([wren()], s.request());

      // Assess
      expect(s.redrives.redriven).toEqual([]);
    });

    it('still answers duplicate when the re-drive fails', async () => {
      // Prepare
      await s.conversion.convert([wren()], s.request());
      s.clock.advance(FAKE_SETTINGS.verificationSweepAfterMs);
      s.redrives.failNext();

      // Act
      const results = await s.conversion.convert([wren()], s.request());

      // Assess
      expect(results).toEqual([{ id: s.keyOf(wren()), status: 'duplicate', contact_id: 'contact-1' }]);
      expect(s.redrives.redriven).toEqual([]);
    });
  });
});
