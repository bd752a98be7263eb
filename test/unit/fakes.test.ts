/**
 * The fakes the unit tests stand on, held to what they stand in for: `InMemoryLedger` to
 * `DynamoDbLedger` (the same cases as test/ledger.test.ts runs against dynalite), `FakeApollo` to
 * Apollo as the HTTP adapter presents it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ApolloUnavailableError } from '../../lib/errors';
import type { ClaimRequest } from '../../lib/ledger';
import {
  FakeApollo,
  InMemoryLedger,
  JUNO_INPUT,
  WREN_IN_APOLLO,
  juno,
  ottilie,
  wren,
} from '../support/fakes';

const NOW = Date.parse('2026-11-26T10:00:00Z');
const KEY = 'wren.halloway@lanternfish.example';
const CALL = { deadline: NOW + 20_000 };

function claimRequest(overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    key: KEY,
    token: 'token-a',
    lockExpiresAtMs: NOW + 20_000,
    nowMs: NOW,
    fingerprint: 'fp-1',
    match: { email: KEY },
    expectedPhoneHashes: ['hash-1'],
    ...overrides,
  };
}

describe('Class: InMemoryLedger', () => {
  let ledger: InMemoryLedger;

  beforeEach(() => {
    ledger = new InMemoryLedger();
  });

  describe('claim', () => {
    it('claims a new key, and refuses a second claim while the lock holds', async () => {
      // Act
      const first = await ledger.claim(claimRequest());
      const second = await ledger.claim(claimRequest({ token: 'token-b', nowMs: NOW + 1000 }));

      // Assess
      expect(first).toEqual({ claimed: true, previous: null });
      expect(second).toMatchObject({
        claimed: false,
        record: {
          status: 'creating',
          lockToken: 'token-a',
          attempts: 1,
          createdAt: '2026-11-26T10:00:00.000Z',
        },
      });
    });

    it('hands a lapsed claim to the next claimer, showing it was never released', async () => {
      // Prepare
      await ledger.claim(claimRequest());

      // Act
      const takeover = await ledger.claim(claimRequest({ token: 'token-b', nowMs: NOW + 20_001 }));

      // Assess
      expect(takeover).toMatchObject({
        claimed: true,
        previous: { status: 'creating', lockToken: 'token-a' },
      });
      expect(await ledger.get({ key: KEY })).toMatchObject({ lockToken: 'token-b', attempts: 2 });
    });

    it('never hands out a converted key again', async () => {
      // Prepare
      await ledger.claim(claimRequest());
      await ledger.complete({ key: KEY, token: 'token-a', outcome: 'existing', contactId: 'c1', nowMs: NOW });

      // Act
      const later = await ledger.claim(claimRequest({ token: 'token-b', nowMs: NOW + 10 * 86_400_000 }));

      // Assess
      expect(later).toMatchObject({ claimed: false, record: { status: 'created', contactId: 'c1' } });
    });

    it('keeps a rejected person rejected for the same data, and claimable, without its TTL, for changed data', async () => {
      // Prepare
      await ledger.claim(claimRequest());
      await ledger.reject({
        key: KEY,
        token: 'token-a',
        reason: 'bad stage',
        nowMs: NOW,
        expiresAtSeconds: 1_900_000_000,
      });

      // Act
      const replay = await ledger.claim(claimRequest({ token: 'token-b' }));
      const expiresBefore = ledger.item(KEY)?.expiresAtSeconds;
      const changed = await ledger.claim(claimRequest({ token: 'token-c', fingerprint: 'fp-2' }));

      // Assess
      expect(replay).toMatchObject({
        claimed: false,
        record: { status: 'rejected', lastError: 'bad stage' },
      });
      expect(expiresBefore).toBe(1_900_000_000);
      expect(changed).toMatchObject({ claimed: true, previous: { status: 'rejected' } });
      expect(ledger.item(KEY)?.expiresAtSeconds).toBeUndefined();
    });

    it('claims a placeholder ownRecord made (an item without a status), keeping its owner and dropping its TTL', async () => {
      // Prepare
      await ledger.ownRecord({
        key: KEY,
        owner: 'id_owner',
        nowMs: NOW,
        placeholderExpiresAtSeconds: 1_900_000_000,
      });

      // Act
      const claim = await ledger.claim(claimRequest());

      // Assess
      expect(claim).toEqual({ claimed: true, previous: null });
      expect(await ledger.recordOwner({ key: KEY })).toBe('id_owner');
      expect(ledger.item(KEY)).toMatchObject({ status: 'creating', emailOwner: 'id_owner' });
      expect(ledger.item(KEY)?.expiresAtSeconds).toBeUndefined();
    });
  });

  describe('writes as the claim holder', () => {
    it('lets only the current claim holder complete (fencing token)', async () => {
      // Prepare
      await ledger.claim(claimRequest());
      await ledger.claim(claimRequest({ token: 'token-b', nowMs: NOW + 20_001 }));

      // Act
      const stale = ledger.complete({
        key: KEY,
        token: 'token-a',
        outcome: 'created',
        contactId: 'c-old',
        nowMs: NOW,
      });
      await ledger.complete({
        key: KEY,
        token: 'token-b',
        outcome: 'created',
        contactId: 'c-new',
        nowMs: NOW + 3,
      });

      // Assess
      await expect(stale).rejects.toMatchObject({ name: 'LockLostError' });
      expect(await ledger.get({ key: KEY })).toMatchObject({
        status: 'created',
        contactId: 'c-new',
        lockToken: null,
        lockExpiresAtMs: null,
      });
    });

    it('makes a released claim claimable at once, keeps "a create may have happened" sticky and refunds on request', async () => {
      // Prepare
      await ledger.claim(claimRequest());
      await ledger.release({
        key: KEY,
        token: 'token-a',
        error: '502',
        createUncertain: true,
        nowMs: NOW + 1,
      });

      // Act
      const second = await ledger.claim(claimRequest({ token: 'token-b', nowMs: NOW + 2 }));
      await ledger.release({
        key: KEY,
        token: 'token-b',
        error: 'quiet',
        createUncertain: false,
        nowMs: NOW + 3,
        refundAttempt: true,
      });

      // Assess
      expect(second).toMatchObject({ claimed: true, previous: { lockToken: null, createUncertain: true } });
      expect(await ledger.get({ key: KEY })).toMatchObject({
        status: 'creating',
        attempts: 1,
        createUncertain: true,
        createUncertainSinceMs: NOW + 1,
        lastError: 'quiet',
        lockExpiresAtMs: 0,
      });
    });
  });

  describe('verification', () => {
    it('moves created to verified, and never a verified record to verification_failed', async () => {
      // Prepare
      await ledger.claim(claimRequest());
      await ledger.complete({ key: KEY, token: 'token-a', outcome: 'created', contactId: 'c1', nowMs: NOW });

      // Act
      await ledger.markVerified({ key: KEY, nowMs: NOW + 2 });
      const failed = await ledger.markVerificationFailed({ key: KEY, reason: 'late', nowMs: NOW + 3 });

      // Assess
      expect(failed).toBe(false);
      expect(await ledger.get({ key: KEY })).toMatchObject({ status: 'verified', lastError: null });
    });
  });

  describe('aliases and phones', () => {
    it('points an alias at one person for good, and hands over the phones held there', async () => {
      // Prepare
      const held = { phones: [{ e164: '+12025550188', type: 'mobile' }], creditsConsumed: 2 };
      const pointsAt = await ledger.holdRevealedPhones({
        alias: 'person:p1',
        held,
        nowMs: NOW,
        expiresAtSeconds: 99,
      });

      // Act
      const handedOver = await ledger.link({ alias: 'person:p1', key: KEY, nowMs: NOW });
      const relinked = await ledger.link({
        alias: 'person:p1',
        key: 'other@lanternfish.example',
        nowMs: NOW,
      });

      // Assess
      expect(pointsAt).toBeNull();
      expect(handedOver).toEqual(held);
      expect(relinked).toBeNull();
      expect(ledger.item('person:p1')).toMatchObject({ aliasOf: KEY });
      expect(ledger.item('person:p1')?.expiresAtSeconds).toBeUndefined();
    });

    it('keeps phones held under a linked alias without an expiry, and those held for nobody with one', async () => {
      // Prepare
      const held = { phones: [{ e164: '+12025550188', type: 'mobile' }], creditsConsumed: 8 };
      await ledger.link({ alias: 'person:p1', key: KEY, nowMs: NOW });

      // Act
      const linked = await ledger.holdRevealedPhones({
        alias: 'person:p1',
        held,
        nowMs: NOW,
        expiresAtSeconds: 99,
      });
      const unknown = await ledger.holdRevealedPhones({
        alias: 'person:p2',
        held,
        nowMs: NOW,
        expiresAtSeconds: 99,
      });

      // Assess
      expect([linked, unknown]).toEqual([KEY, null]);
      expect(ledger.item('person:p1')?.expiresAtSeconds).toBeUndefined();
      expect(ledger.item('person:p2')?.expiresAtSeconds).toBe(99);
    });

    it('throws, as DynamoDB does, when phones are held under a person key', async () => {
      // Prepare
      await ledger.claim(claimRequest());

      // Act
      const failure = ledger.holdRevealedPhones({
        alias: KEY,
        held: { phones: [], creditsConsumed: null },
        nowMs: NOW,
        expiresAtSeconds: 99,
      });

      // Assess
      await expect(failure).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    });

    it('gives the right to write phones to one writer at a time, and to none once they are applied', async () => {
      // Prepare
      await ledger.claim(claimRequest());
      await ledger.complete({ key: KEY, token: 'token-a', outcome: 'created', contactId: 'c1', nowMs: NOW });

      // Act
      const first = await ledger.claimPhoneApplication({ key: KEY, untilMs: NOW + 10_000, nowMs: NOW });
      const second = await ledger.claimPhoneApplication({ key: KEY, untilMs: NOW + 10_000, nowMs: NOW + 1 });
      const afterLapse = await ledger.claimPhoneApplication({
        key: KEY,
        untilMs: NOW + 30_000,
        nowMs: NOW + 10_001,
      });
      const applied = await ledger.recordPhonesApplied({ key: KEY, phoneHashes: ['h'], nowMs: NOW });
      const appliedAgain = await ledger.recordPhonesApplied({ key: KEY, phoneHashes: ['h2'], nowMs: NOW });
      const afterApplied = await ledger.claimPhoneApplication({
        key: KEY,
        untilMs: NOW + 99_000,
        nowMs: NOW + 50_000,
      });

      // Assess
      expect([first, second, afterLapse, applied, appliedAgain, afterApplied]).toEqual([
        true,
        false,
        true,
        true,
        false,
        false,
      ]);
      expect(await ledger.get({ key: KEY })).toMatchObject({
        phoneReveal: 'applied',
        appliedPhoneHashes: ['h'],
        creditsConsumed: 0,
      });
    });

    it("counts a reveal's credits once per record, however often its result is delivered", async () => {
      // Prepare
      await ledger.claim(claimRequest());
      await ledger.complete({ key: KEY, token: 'token-a', outcome: 'created', contactId: 'c1', nowMs: NOW });

      // Act
      const first = await ledger.countRevealCredits({ key: KEY, credits: 8, nowMs: NOW });
      const again = await ledger.countRevealCredits({ key: KEY, credits: 8, nowMs: NOW + 1 });
      const nobody = await ledger.countRevealCredits({ key: 'c_nobody', credits: 8, nowMs: NOW });

      // Assess
      expect([first, again, nobody]).toEqual([true, false, false]);
      expect(await ledger.get({ key: KEY })).toMatchObject({ creditsConsumed: 8 });
      expect(ledger.item('c_nobody')).toBeUndefined();
    });
  });
});

describe('Class: FakeApollo', () => {
  let apollo: FakeApollo;

  beforeEach(() => {
    apollo = new FakeApollo();
  });

  describe('createContact', () => {
    it('creates a duplicate without runDedupe, as Apollo does', async () => {
      // Act
      await apollo.createContact(wren().fields, CALL);
      await apollo.createContact(wren().fields, CALL);

      // Assess
      expect(apollo.contacts.map((contact) => contact.id)).toEqual(['contact-1', 'contact-2']);
      expect(apollo.calls.createContact).toBe(2);
    });

    it('updates the contact with the same email, or the same name and company, with runDedupe', async () => {
      // Prepare
      await apollo.createContact(wren().fields, CALL);
      await apollo.createContact(ottilie().fields, CALL);

      // Act
      const byEmail = await apollo.createContact(
        { ...wren().fields, title: 'Tide Warden' },
        { ...CALL, runDedupe: true },
      );
      const byName = await apollo.createContact(
        { ...ottilie().fields, title: 'Surveyor' },
        { ...CALL, runDedupe: true },
      );

      // Assess
      expect([byEmail.id, byName.id]).toEqual(['contact-1', 'contact-2']);
      expect(apollo.contacts.map((contact) => contact.fields.title)).toEqual(['Tide Warden', 'Surveyor']);
    });

    it('creates the contact and then throws when a failure is scripted after the effect', async () => {
      // Prepare
      const unknown = new ApolloUnavailableError('POST /contacts: 502', true);
      apollo.failNext('createContact', unknown, { afterEffect: true });
      apollo.failNext('createContact', unknown);

      // Act
      const first = await apollo.createContact(wren().fields, CALL).catch((error: unknown) => error);
      const second = await apollo.createContact(juno().fields, CALL).catch((error: unknown) => error);

      // Assess
      expect([first, second]).toEqual([unknown, unknown]);
      expect(apollo.contacts.map((contact) => contact.fields.email)).toEqual([wren().fields.email]);
    });
  });

  describe('findContactsByEmail, findContactsByName and matchPerson', () => {
    it('finds saved contacts by exact email, in any case, and by name and company', async () => {
      // Prepare
      apollo.addContact({ ...JUNO_INPUT, email: 'juno.marshall@brackenridge.example' });
      apollo.addContact(juno().fields);
      apollo.addContact(ottilie().fields);

      // Act
      const byEmail = await apollo.findContactsByEmail('JUNO.MARSH@brackenridge.example', CALL);
      const byName = await apollo.matchPerson(ottilie().match, CALL);

      // Assess
      expect(byEmail.map((contact) => contact.id)).toEqual(['contact-2']);
      expect(byName).toMatchObject({ contact_id: 'contact-3', contact: { id: 'contact-3' } });
    });

    it('finds saved contacts by name with their organisation or website, as folded identities, and no others', async () => {
      // Prepare
      apollo.addContact({
        ...ottilie().fields,
        first_name: 'OTTILIE',
        organization_name: 'Cobblestone Cartography Ltd',
      });
      apollo.addContact({ ...ottilie().fields, organization_name: 'Another Atlas' });
      apollo.addContact(juno().fields);

      // Act
      const found = await apollo.findContactsByName(
        { first_name: 'Ottilie', last_name: 'Fenwick', identities: ottilie().identities },
        CALL,
      );

      // Assess
      expect(found.map((contact) => contact.id)).toEqual(['contact-1']);
      expect(apollo.received.findContactsByName).toHaveLength(1);
    });

    it('matches a directory person to the contact linked by person_id, and to no contact without one', async () => {
      // Prepare
      apollo.addPerson(WREN_IN_APOLLO);
      const unsaved = await apollo.matchPerson({ email: KEY }, CALL);
      apollo.addContact(
        { ...wren().fields, email: 'w.halloway@elsewhere.example' },
        { person_id: 'person-wren' },
      );

      // Act
      const saved = await apollo.matchPerson({ email: KEY }, CALL);

      // Assess
      expect(unsaved).toMatchObject({ id: 'person-wren', contact_id: null, contact: null });
      expect(saved).toMatchObject({
        id: 'person-wren',
        email: KEY,
        contact_id: 'contact-1',
        contact: { email: 'w.halloway@elsewhere.example' },
      });
    });
  });

  describe('bulkCreateContacts, bulkUpdateContacts and matchPeople', () => {
    it('creates duplicates without runDedupe, and with it returns matches unchanged, namesakes included, keeping the truth', async () => {
      // Prepare
      apollo.addContact({ ...wren().fields, title: 'Original' });
      const otherWren = {
        ...JUNO_INPUT,
        first_name: 'Wren',
        last_name: 'Halloway',
        organization_name: 'Lanternfish Labs',
      };

      // Act
      const plain = await apollo.bulkCreateContacts([{ email: KEY }], { ...CALL, runDedupe: false });
      const deduped = await apollo.bulkCreateContacts(
        [
          { email: KEY, title: 'New' },
          otherWren,
          { email: 'new@x.example', hubspot_id: '7' },
          { first_name: 'N', hubspot_id: '7' },
        ],
        { ...CALL, runDedupe: true },
      );

      // Assess
      expect(plain.created.map((contact) => contact.id)).toEqual(['contact-2']);
      expect(deduped.existing.map((contact) => contact.id)).toEqual(['contact-1', 'contact-1', 'contact-3']);
      expect(deduped.created).toMatchObject([{ id: 'contact-3', email: 'new@x.example', hubspot_vid: '7' }]);
      expect(apollo.contact('contact-1')?.fields.title).toBe('Original');
      expect(apollo.received.bulkCreateContacts[1]?.results).toEqual([
        { contactId: 'contact-1', outcome: 'existing' },
        { contactId: 'contact-1', outcome: 'existing' },
        { contactId: 'contact-3', outcome: 'created' },
        { contactId: 'contact-3', outcome: 'existing' },
      ]);
      expect(apollo.calls.bulkCreateContacts).toBe(2);
    });

    it('refuses batches over the maxima with a RangeError, as the HTTP client does', async () => {
      // Act
      const errors = await Promise.all([
        apollo
          .bulkCreateContacts(
            Array.from({ length: 101 }, () => ({ email: KEY })),
            { ...CALL, runDedupe: true },
          )
          .catch((error: unknown) => error),
        apollo
          .bulkUpdateContacts(
            Array.from({ length: 101 }, () => ({ id: 'contact-1' })),
            CALL,
          )
          .catch((error: unknown) => error),
        apollo
          .matchPeople(
            Array.from({ length: 11 }, () => ({ email: KEY })),
            CALL,
          )
          .catch((error: unknown) => error),
      ]);

      // Assess
      for (const error of errors) expect(error).toBeInstanceOf(RangeError);
      expect(apollo.contacts).toEqual([]);
    });

    it('sets typed phones with bulkUpdateContacts, skipping unknown ids, and matchPeople answers in order with null', async () => {
      // Prepare
      const { created } = await apollo.bulkCreateContacts([{ email: KEY }], { ...CALL, runDedupe: true });

      // Act
      await apollo.bulkUpdateContacts(
        [
          { id: created[0]?.id ?? '', mobile_phone: '+12025550188' },
          { id: 'contact-404', title: 'Nobody' },
        ],
        CALL,
      );
      const matches = await apollo.matchPeople([{ email: 'nobody@x.example' }, { email: KEY }], CALL);

      // Assess
      expect(matches[0]).toBeNull();
      expect(matches[1]?.contact?.phone_numbers).toEqual([
        { raw_number: '+12025550188', sanitized_number: '+12025550188', type: 'mobile' },
      ]);
    });

    it('creates the contacts and then throws when a failure is scripted after the effect', async () => {
      // Prepare
      const unknown = new ApolloUnavailableError('POST /contacts/bulk_create: 500', true);
      apollo.failNext('bulkCreateContacts', unknown, { afterEffect: true });

      // Act
      const error = await apollo
        .bulkCreateContacts([{ email: KEY }, { email: 'juno@x.example' }], { ...CALL, runDedupe: true })
        .catch((failure: unknown) => failure);

      // Assess
      expect(error).toBe(unknown);
      expect(apollo.contacts).toHaveLength(2);
      expect(apollo.received.bulkCreateContacts[0]?.results).toHaveLength(2);
    });
  });

  describe('matchPeople', () => {
    it('answers one entry per identity, in order, null for nobody, as people/match would each', async () => {
      // Prepare
      apollo.addContact(juno().fields);
      apollo.addPerson(WREN_IN_APOLLO);
      const identities = [juno().match, { email: 'nobody@lanternfish.example' }, { email: KEY }];

      // Act
      const matches = await apollo.matchPeople(identities, CALL);
      const oneByOne = await Promise.all(identities.map((identity) => apollo.matchPerson(identity, CALL)));

      // Assess
      expect(matches).toEqual(oneByOne);
      expect(matches.map((match) => match?.contact_id ?? match?.id ?? null)).toEqual([
        'contact-1',
        null,
        'person-wren',
      ]);
      expect(apollo.received.matchPeople).toEqual([identities]);
      expect(apollo.calls.matchPeople).toBe(1);
    });

    it('refuses more than 10 identities, as Apollo does, without counting a call', async () => {
      // Act
      const refused = await apollo
        .matchPeople(
          Array.from({ length: 11 }, (_, index) => ({ email: `p${index}@lanternfish.example` })),
          CALL,
        )
        .catch((error: unknown) => error);

      // Assess
      expect(refused).toBeInstanceOf(RangeError);
      expect(apollo.calls.matchPeople).toBe(0);
    });
  });

  describe('enrichPerson and getWebhookResult', () => {
    it('enriches a directory person with a request id, and answers webhook_result pending until told otherwise', async () => {
      // Prepare
      apollo.addPerson(WREN_IN_APOLLO);

      // Act
      const enrichment = await apollo.enrichPerson(
        { id: 'person-wren' },
        { ...CALL, webhookUrl: 'https://hook' },
      );
      const pending = await apollo.getWebhookResult(enrichment.requestId as string, CALL);
      const unknown = await apollo.getWebhookResult('42', CALL);

      // Assess
      expect(enrichment).toEqual({
        person: expect.objectContaining({ id: 'person-wren', contact_id: null, contact: null }) as unknown,
        requestId: '-7301000000000000001',
      });
      expect(enrichment.person).not.toHaveProperty('revealedPhones');
      expect(pending).toEqual({ state: 'pending', retryAfterSeconds: 60 });
      expect(unknown).toEqual({ state: 'gone', reason: 'request_id_unknown' });
      expect(apollo.phoneRevealPayload('-7301000000000000001').people).toEqual([
        { id: 'person-wren', status: 'success', phone_numbers: WREN_IN_APOLLO.revealedPhones },
      ]);
    });
  });
});
