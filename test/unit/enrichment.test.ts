import { beforeEach, describe, expect, it } from 'vitest';
import type { EnrichmentQuery, PhoneRevealPayload } from '../../lib/apollo/apollo';
import type { EnrichmentRequest } from '../../lib/enrichment';
import {
  ApolloRateLimitError,
  ApolloRejectedError,
  ApolloUnavailableError,
  EnrichmentInProgressError,
  InvalidRequestError,
  RetryLaterError,
} from '../../lib/errors';
import { identityKey } from '../../lib/identity';
import { phoneHash } from '../../lib/person';
import type { PhoneRevealPoll } from '../../lib/schedulers';
import {
  FAKE_SETTINGS,
  WREN_IN_APOLLO,
  fakeServices,
  rejectionOf,
  wren,
  type FakeServices,
} from '../support/fakes';

const WREN_EMAIL = 'wren.halloway@lanternfish.example';
const BY_EMAIL: EnrichmentQuery = { email: WREN_EMAIL };
/** The lookup of an enrichment by email: the email identity's key, under which it is paid once. */
const EMAIL_LOOKUP = identityKey(['email', WREN_EMAIL]);
/** The alias Wren's LinkedIn URL gets: its identity key. */
const LINKEDIN_ALIAS = identityKey(['linkedin', 'linkedin.com/in/wren-halloway']);
/** What a pending reveal may still cost: one mobile phone (`MAX_REVEAL_CREDITS`). */
const PENDING_CREDITS = 8;
/** The request id the fake Apollo gives its first enrichment: negative, 19 digits, beyond 2^53. */
const FIRST_REQUEST_ID = '-7301000000000000001';
const REVEALED_MOBILE = '+12025550188';
/** How long phones held for an unknown person, and a kept enrichment, are kept: a day here. */
const HELD_TTL_SECONDS = FAKE_SETTINGS.heldPhonesTtlSeconds;

const rateLimited = () => new ApolloRateLimitError('POST /contacts: 429', 120);

function enrichWren(s: FakeServices, request: Partial<EnrichmentRequest> = {}) {
  return s.enrichment.enrich({ identity: BY_EMAIL, revealPhoneNumber: false, ...request }, s.request());
}

/** A callback revealing `phones` for one Apollo person. */
function callbackFor(
  personId: string,
  phones: NonNullable<PhoneRevealPayload['people'][number]['phone_numbers']>,
  creditsConsumed = 2,
): PhoneRevealPayload {
  // `credits_consumed` is the whole request's: the reveal adds what is beyond the match's 1 credit.
  return {
    status: 'success',
    credits_consumed: creditsConsumed,
    people: [{ id: personId, status: 'success', phone_numbers: phones }],
  };
}

describe('Class: PersonEnrichment', () => {
  let s: FakeServices;

  /** Wren's record key (conversion id), as her email identity names it. */
  const wrenKey = () => s.keyOf(wren());

  beforeEach(() => {
    s = fakeServices();
    s.apollo.addPerson(WREN_IN_APOLLO);
  });

  describe('enrich', () => {
    it('enriches a new person, converts them into one contact, links their aliases and keeps what was paid for', async () => {
      // Act
      const result = await enrichWren(s);

      // Assess
      expect(result).toEqual({
        id: wrenKey(),
        status: 'created',
        contact_id: 'contact-1',
        apollo_person_id: 'person-wren',
        request_id: FIRST_REQUEST_ID,
        credits_consumed: 1,
        credits_pending: 0,
        credits_saved: false,
        phones: 'not_requested',
      });
      expect(s.apollo.received.enrichPerson).toEqual([{ query: BY_EMAIL, webhookUrl: undefined }]);
      expect(s.apollo.received.createContact).toEqual([
        {
          fields: {
            first_name: 'Wren',
            last_name: 'Halloway',
            email: WREN_EMAIL,
            organization_name: 'Lanternfish Labs',
            website_url: 'https://www.lanternfish.example',
            title: 'Keeper of Tide Tables',
          },
          runDedupe: false,
        },
      ]);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        status: 'created',
        contactId: 'contact-1',
        apolloPersonId: 'person-wren',
        requestId: FIRST_REQUEST_ID,
        creditsConsumed: 1,
        phoneReveal: 'not_requested',
      });
      expect(s.ledger.item('person:person-wren')).toMatchObject({ aliasOf: wrenKey() });
      expect(s.ledger.item(LINKEDIN_ALIAS)).toMatchObject({ aliasOf: wrenKey() });
      expect(s.metrics.creditsSpentTotal).toBe(1);
      expect(s.metrics.creditsSavedTotal).toBe(0);
      expect(s.metrics.conversionsByOutcome).toEqual({ created: 1 });
      expect(s.ledger.item(`enrichment:${EMAIL_LOOKUP}`)).toMatchObject({
        keptEnrichment: {
          person: {
            id: 'person-wren',
            first_name: 'Wren',
            last_name: 'Halloway',
            email: WREN_EMAIL,
            title: 'Keeper of Tide Tables',
            linkedin_url: 'https://www.linkedin.com/in/wren-halloway',
            organization: {
              name: 'Lanternfish Labs',
              website_url: 'https://www.lanternfish.example',
              primary_domain: 'lanternfish.example',
            },
          },
          requestId: FIRST_REQUEST_ID,
          creditsConsumed: 1,
          phonesRequested: false,
        },
        expiresAtSeconds: s.clock.epochSeconds() + HELD_TTL_SECONDS,
      });
      expect(s.verifications.started).toEqual([{ key: wrenKey(), contact_id: 'contact-1' }]);
      expect(s.phoneReveals.started).toEqual([]);
    });

    const lookups: Array<{ lookup: string; first: EnrichmentQuery; again: EnrichmentQuery }> = [
      { lookup: 'email', first: BY_EMAIL, again: { email: 'Wren.Halloway@Lanternfish.example' } },
      { lookup: 'Apollo person id', first: BY_EMAIL, again: { id: 'person-wren' } },
      {
        lookup: 'LinkedIn URL',
        first: BY_EMAIL,
        again: { linkedin_url: 'http://LinkedIn.com/in/Wren-Halloway/' },
      },
      {
        lookup: 'name and company',
        first: { first_name: 'Wren', last_name: 'Halloway', organization_name: 'Lanternfish Labs' },
        again: { first_name: 'WREN', last_name: 'halloway', organization_name: 'Lanternfish  Labs' },
      },
      {
        lookup: 'name and domain',
        first: { first_name: 'Wren', last_name: 'Halloway', domain: 'lanternfish.example' },
        again: { first_name: 'Wren', last_name: 'Halloway', domain: 'LANTERNFISH.example' },
      },
    ];
    for (const { lookup, first, again } of lookups) {
      it(`answers a person the ledger holds, found by ${lookup}, with no Apollo call and credits saved`, async () => {
        // Prepare
        await enrichWren(s, { identity: first });
        const apolloCallsBefore = s.apollo.totalCalls;

        // Act
        const result = await enrichWren(s, { identity: again });

        // Assess
        expect(result).toEqual({
          id: wrenKey(),
          status: 'duplicate',
          contact_id: 'contact-1',
          apollo_person_id: 'person-wren',
          request_id: FIRST_REQUEST_ID,
          credits_consumed: 0,
          credits_pending: 0,
          credits_saved: true,
          phones: 'not_requested',
        });
        expect(s.apollo.totalCalls).toBe(apolloCallsBefore);
        expect(s.apollo.calls.enrichPerson).toBe(1);
        expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({ freeLookups: 1, creditsConsumed: 1 });
        expect(s.metrics.creditsSpentTotal).toBe(1);
        expect(s.metrics.creditsSavedTotal).toBe(1);
      });
    }

    it('answers a person the ledger holds with the phone reveal as the ledger has it', async () => {
      // Prepare
      await enrichWren(s, { revealPhoneNumber: true });
      await s.enrichment.applyPhoneCallback(s.apollo.phoneRevealPayload(FIRST_REQUEST_ID), s.request());

      // Act
      const result = await enrichWren(s, { identity: { id: 'person-wren' }, revealPhoneNumber: true });

      // Assess
      expect(result).toMatchObject({ status: 'duplicate', credits_saved: true, phones: 'applied' });
      expect(s.apollo.calls.enrichPerson).toBe(1);
    });

    it('answers not_found, keeping and converting nothing, when Apollo knows no such person', async () => {
      // Act
      const result = await enrichWren(s, { identity: { email: 'nobody@lanternfish.example' } });

      // Assess
      expect(result).toEqual({
        id: null,
        status: 'not_found',
        contact_id: null,
        apollo_person_id: null,
        request_id: FIRST_REQUEST_ID,
        credits_consumed: 0,
        credits_pending: 0,
        credits_saved: false,
        phones: 'not_requested',
      });
      expect(s.ledger.allItems()).toEqual([]);
      expect(s.apollo.calls.createContact).toBe(0);
    });

    it('asks Apollo to reveal phones to the callback URL and schedules the fallback poll, answering pending', async () => {
      // Act
      const result = await enrichWren(s, { revealPhoneNumber: true });

      // Assess
      expect(result).toMatchObject({ status: 'created', contact_id: 'contact-1', phones: 'pending' });
      expect(s.apollo.received.enrichPerson).toEqual([
        { query: BY_EMAIL, webhookUrl: FAKE_SETTINGS.callbackUrl },
      ]);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({ phoneReveal: 'pending' });
      expect(s.phoneReveals.started).toEqual([{ key: wrenKey(), request_id: FIRST_REQUEST_ID, attempt: 0 }]);
      expect(s.ledger.item(`enrichment:${EMAIL_LOOKUP}`)?.keptEnrichment?.phonesRequested).toBe(true);
    });

    it('schedules no fallback poll when Apollo gave no request id to poll with', async () => {
      // Prepare
      s.apollo.issueRequestIds = false;

      // Act
      const result = await enrichWren(s, { revealPhoneNumber: true });

      // Assess
      expect(result).toMatchObject({ status: 'created', request_id: null, phones: 'pending' });
      expect(s.phoneReveals.started).toEqual([]);
    });

    it('applies phones that a callback held before the contact existed when it links the person, polling nothing', async () => {
      // Prepare
      const early = await s.enrichment.applyPhoneCallback(
        callbackFor('person-wren', [{ sanitized_number: REVEALED_MOBILE, type_cd: 'mobile' }]),
        s.request(),
      );

      // Act
      const result = await enrichWren(s, { revealPhoneNumber: true });

      // Assess
      expect(early).toEqual([{ apollo_person_id: 'person-wren', status: 'held' }]);
      // The match (1) and what the callback reported beyond it (2 - 1): nothing left pending.
      expect(result).toMatchObject({
        status: 'created',
        contact_id: 'contact-1',
        phones: 'applied',
        credits_consumed: 2,
        credits_pending: 0,
      });
      expect(s.apollo.received.updateContact).toEqual([
        { contactId: 'contact-1', fields: { mobile_phone: REVEALED_MOBILE } },
      ]);
      expect(s.apollo.contact('contact-1')?.fields.mobile_phone).toBe(REVEALED_MOBILE);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        phoneReveal: 'applied',
        appliedPhoneHashes: [phoneHash(REVEALED_MOBILE)],
        creditsConsumed: 2,
      });
      expect(s.ledger.item('person:person-wren')).toEqual({
        pk: 'person:person-wren',
        aliasOf: wrenKey(),
        updatedAt: s.clock.iso(),
      });
      expect(s.phoneReveals.started).toEqual([]);
    });

    it('converts the kept enrichment on the retry, without paying Apollo again, when the conversion could not finish', async () => {
      // Prepare
      s.apollo.failNext('createContact', rateLimited());
      const failure = await rejectionOf(enrichWren(s));

      // Act
      const result = await enrichWren(s);

      // Assess
      expect(failure).toBeInstanceOf(RetryLaterError);
      expect(result).toEqual({
        id: wrenKey(),
        status: 'created',
        contact_id: 'contact-1',
        apollo_person_id: 'person-wren',
        request_id: FIRST_REQUEST_ID,
        credits_consumed: 0,
        credits_pending: 0,
        credits_saved: true,
        phones: 'not_requested',
      });
      expect(s.apollo.calls.enrichPerson).toBe(1);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        status: 'created',
        requestId: FIRST_REQUEST_ID,
        creditsConsumed: 1,
      });
    });

    it('keeps asking for phones when it reuses a kept enrichment that asked for them', async () => {
      // Prepare
      s.apollo.failNext('createContact', rateLimited());
      await rejectionOf(enrichWren(s, { revealPhoneNumber: true }));

      // Act
      const result = await enrichWren(s, { revealPhoneNumber: false });

      // Assess
      expect(result).toMatchObject({ status: 'created', credits_saved: true, phones: 'pending' });
      expect(s.apollo.calls.enrichPerson).toBe(1);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({ phoneReveal: 'pending' });
      expect(s.phoneReveals.started).toEqual([{ key: wrenKey(), request_id: FIRST_REQUEST_ID, attempt: 0 }]);
    });

    it('converts the kept enrichment without paying again when phones are asked for now but were not then, saying so', async () => {
      // Prepare
      s.apollo.failNext('createContact', rateLimited());
      await rejectionOf(enrichWren(s, { revealPhoneNumber: false }));

      // Act
      const result = await enrichWren(s, { revealPhoneNumber: true });

      // Assess: a known person is never paid again, phones or not
      expect(result).toEqual({
        id: wrenKey(),
        status: 'created',
        contact_id: 'contact-1',
        apollo_person_id: 'person-wren',
        request_id: FIRST_REQUEST_ID,
        credits_consumed: 0,
        credits_pending: 0,
        credits_saved: true,
        phones: 'not_requested',
        reason: 'phones were not requested when this person was paid for; Apollo is not paid again',
      });
      expect(s.apollo.received.enrichPerson).toEqual([{ query: BY_EMAIL, webhookUrl: undefined }]);
      expect(s.ledger.item(`enrichment:${EMAIL_LOOKUP}`)?.keptEnrichment).toMatchObject({
        requestId: FIRST_REQUEST_ID,
        phonesRequested: false,
      });
      expect(s.phoneReveals.started).toEqual([]);
    });

    it("answers the conversion's status and reason, linking nothing, when the person was not converted", async () => {
      // Prepare
      s.apollo.failNext('createContact', new ApolloRejectedError('title: is too long (422)'));

      // Act
      const result = await enrichWren(s, { revealPhoneNumber: true });

      // Assess
      expect(result).toEqual({
        id: wrenKey(),
        status: 'rejected',
        contact_id: null,
        apollo_person_id: 'person-wren',
        request_id: FIRST_REQUEST_ID,
        credits_consumed: 1,
        credits_pending: PENDING_CREDITS,
        credits_saved: false,
        phones: 'pending',
        reason: 'title: is too long (422)',
      });
      expect(s.ledger.item('person:person-wren')).toBeUndefined();
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        status: 'rejected',
        apolloPersonId: null,
        creditsConsumed: 0,
      });
      expect(s.phoneReveals.started).toEqual([]);
    });

    it('refuses an Apollo person it cannot convert, keeping the enrichment so a retry does not pay again', async () => {
      // Prepare
      s.apollo.addPerson({ id: 'person-pell', first_name: 'Pell', last_name: null, email: null });
      const byId = { identity: { id: 'person-pell' } };

      // Act
      const failure = await rejectionOf(enrichWren(s, byId));
      const retried = await rejectionOf(enrichWren(s, byId));

      // Assess
      expect(failure).toBeInstanceOf(InvalidRequestError);
      expect((failure as Error).message).toMatch(
        /^Apollo's person cannot be converted: apollo\.person: no identity/,
      );
      expect(retried).toBeInstanceOf(InvalidRequestError);
      expect(s.apollo.calls.enrichPerson).toBe(1);
      expect(s.ledger.allItems().map((item) => item.pk)).toEqual(['enrichment:person:person-pell']);
    });
  });

  describe('enrich: a person without email', () => {
    /** Ottilie as Apollo's database knows her: no email, so the conversion would look her up by name. */
    const OTTILIE_IN_APOLLO = {
      id: 'person-ottilie',
      first_name: 'Ottilie',
      last_name: 'Fenwick',
      email: null,
      organization: { name: 'Cobblestone Cartography', website_url: null, primary_domain: null },
    };
    const BY_NAME: EnrichmentQuery = {
      first_name: 'Ottilie',
      last_name: 'Fenwick',
      organization_name: 'Cobblestone Cartography',
    };

    it('converts on what the paid people/match said (not a contact yet): no second people/match, which Apollo would charge again', async () => {
      // Prepare
      s.apollo.addPerson(OTTILIE_IN_APOLLO);

      // Act
      const result = await s.enrichment.enrich({ identity: BY_NAME, revealPhoneNumber: false }, s.request());

      // Assess
      expect(result).toMatchObject({ status: 'created', contact_id: 'contact-1', credits_consumed: 1 });
      expect(s.apollo.received.enrichPerson).toHaveLength(1);
      expect(s.apollo.received.matchPerson).toEqual([]);
      expect(s.apollo.received.createContact).toHaveLength(1);
    });

    it('links the saved contact the paid people/match returned, creating nothing', async () => {
      // Prepare
      s.apollo.addPerson(OTTILIE_IN_APOLLO);
      const saved = s.apollo.addContact(
        { first_name: 'Ottilie', last_name: 'Fenwick', organization_name: 'Cobblestone Cartography' },
        { person_id: 'person-ottilie' },
      );

      // Act
      const result = await s.enrichment.enrich({ identity: BY_NAME, revealPhoneNumber: false }, s.request());

      // Assess
      expect(result).toMatchObject({ status: 'existing', contact_id: saved.id, credits_consumed: 0 });
      expect(s.apollo.received.matchPerson).toEqual([]);
      expect(s.apollo.received.createContact).toEqual([]);
    });
  });

  describe('enrich: the claim on paying', () => {
    it('refuses a concurrent enrichment of the same lookup with EnrichmentInProgressError, paying nothing', async () => {
      // Prepare: a second request arrives while the first is paying Apollo
      let concurrent: unknown;
      s.apollo.beforeNext('enrichPerson', async () => {
        concurrent = await rejectionOf(enrichWren(s));
      });

      // Act
      const first = await enrichWren(s);

      // Assess
      expect(first).toMatchObject({ status: 'created', credits_consumed: 1 });
      expect(concurrent).toBeInstanceOf(EnrichmentInProgressError);
      // Retry-After: the time left on the claim (the deadline), at most 5 s.
      expect(concurrent).toMatchObject({ retryAfterSeconds: 5 });
      expect(s.apollo.calls.enrichPerson).toBe(1);
      expect(s.apollo.contacts).toHaveLength(1);
    });

    it('claims the lookup before paying, and ends the claim by keeping what was paid for', async () => {
      // Prepare
      const seenDuringPayment: unknown[] = [];
      s.apollo.beforeNext('enrichPerson', () => {
        seenDuringPayment.push(s.ledger.item(`enrichment:${EMAIL_LOOKUP}`));
      });
      const { deadline } = s.request();

      // Act
      await s.enrichment.enrich({ identity: BY_EMAIL, revealPhoneNumber: false }, { deadline });

      // Assess
      expect(seenDuringPayment).toEqual([
        expect.objectContaining({ lockToken: 'enrichment-1', lockExpiresAtMs: deadline }),
      ]);
      const item = s.ledger.item(`enrichment:${EMAIL_LOOKUP}`);
      expect(item?.keptEnrichment).toBeDefined();
      expect(item?.lockToken).toBeUndefined();
      expect(item?.lockExpiresAtMs).toBeUndefined();
    });

    it('gives the claim back when Apollo fails the payment, so the retry pays at once', async () => {
      // Prepare
      const outage = new ApolloUnavailableError('POST /people/match: 503', false);
      s.apollo.failNext('enrichPerson', outage);

      // Act
      const failure = await rejectionOf(enrichWren(s));
      const claimAfterFailure = s.ledger.item(`enrichment:${EMAIL_LOOKUP}`);
      const retried = await enrichWren(s);

      // Assess
      expect(failure).toBe(outage);
      expect(claimAfterFailure).toBeUndefined();
      expect(retried).toMatchObject({ status: 'created', credits_consumed: 1, credits_saved: false });
      expect(s.apollo.calls.enrichPerson).toBe(2);
    });

    it('converts the enrichment another request paid for and kept, without paying; a keep without the claim writes nothing', async () => {
      // Prepare: a keep by no claim holder, then another request's claim and keep
      await s.ledger.keepEnrichment({
        lookup: EMAIL_LOOKUP,
        token: 'nobody',
        kept: { person: {}, requestId: null, creditsConsumed: 1, phonesRequested: false },
        nowMs: s.clock.now(),
        expiresAtSeconds: s.clock.epochSeconds() + HELD_TTL_SECONDS,
      });
      const claim = await s.ledger.claimEnrichment({
        lookup: EMAIL_LOOKUP,
        token: 'rival',
        lockExpiresAtMs: s.clock.now() + 1000,
        nowMs: s.clock.now(),
        expiresAtSeconds: s.clock.epochSeconds() + HELD_TTL_SECONDS,
      });
      await s.ledger.keepEnrichment({
        lookup: EMAIL_LOOKUP,
        token: 'rival',
        kept: {
          person: { id: 'person-wren', first_name: 'Wren', last_name: 'Halloway', email: WREN_EMAIL },
          requestId: FIRST_REQUEST_ID,
          creditsConsumed: 1,
          phonesRequested: false,
        },
        nowMs: s.clock.now(),
        expiresAtSeconds: s.clock.epochSeconds() + HELD_TTL_SECONDS,
      });
      // While the rival still holds the lookup (converting its payment), this request must wait.
      const whileHeld = await enrichWren(s).catch((error: unknown) => error);
      await s.ledger.releaseEnrichment({ lookup: EMAIL_LOOKUP, token: 'rival' });

      // Act
      const result = await enrichWren(s);

      // Assess: a keep without the claim wrote nothing; the rival's kept enrichment is converted
      expect(whileHeld).toBeInstanceOf(EnrichmentInProgressError);
      expect(claim).toEqual({ claimed: true });
      expect(result).toMatchObject({
        status: 'created',
        apollo_person_id: 'person-wren',
        request_id: FIRST_REQUEST_ID,
        credits_consumed: 0,
        credits_saved: true,
      });
      expect(s.apollo.calls.enrichPerson).toBe(0);
    });

    it('counts the people/match credits of one request once, however often it is recorded', async () => {
      // Prepare
      s.apollo.failNext('createContact', rateLimited());
      await rejectionOf(enrichWren(s));
      await enrichWren(s);

      // Act
      const key = wrenKey();
      await s.ledger.recordEnrichment({
        key,
        apolloPersonId: 'person-wren',
        requestId: FIRST_REQUEST_ID,
        creditsConsumed: 1,
        phoneReveal: 'not_requested',
        nowMs: s.clock.now(),
      });

      // Assess
      expect(await s.ledger.get({ key })).toMatchObject({ creditsConsumed: 1, requestCredits: 1 });
    });
  });

  describe('a phone reveal that brings no phone', () => {
    it('ends the reveal unavailable when the callback carries no phone, counting its cost', async () => {
      // Prepare
      await enrichWren(s, { revealPhoneNumber: true });

      // Act
      const results = await s.enrichment.applyPhoneCallback(callbackFor('person-wren', [], 1), s.request());

      // Assess
      expect(results).toEqual([{ apollo_person_id: 'person-wren', status: 'unavailable' }]);
      expect(s.apollo.calls.updateContact).toBe(0);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        phoneReveal: 'unavailable',
        phoneRevealNote: 'no phone found',
        creditsConsumed: 1,
      });
    });

    it('ends the reveal unavailable when a ready webhook_result names nobody', async () => {
      // Prepare
      await enrichWren(s, { revealPhoneNumber: true });
      s.apollo.setWebhookResult(FIRST_REQUEST_ID, {
        state: 'ready',
        payload: { status: 'success', credits_consumed: 1, people: [] },
      });

      // Act
      const outcome = await s.enrichment.pollPhoneResult(
        { key: wrenKey(), request_id: FIRST_REQUEST_ID, attempt: 0 },
        s.request(),
      );

      // Assess
      expect(outcome).toEqual({ state: 'done' });
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        phoneReveal: 'unavailable',
        phoneRevealNote: 'webhook_result: no phone found for this person',
        creditsConsumed: 1,
      });
    });

    it('never reopens an ended reveal when the person is enriched again with phones', async () => {
      // Prepare
      await enrichWren(s, { revealPhoneNumber: true });
      await s.enrichment.applyPhoneCallback(callbackFor('person-wren', [], 1), s.request());

      // Act
      const again = await enrichWren(s, { identity: { id: 'person-wren' }, revealPhoneNumber: true });

      // Assess
      expect(again).toMatchObject({ status: 'duplicate', phones: 'unavailable', credits_consumed: 0 });
      expect(s.apollo.calls.enrichPerson).toBe(1);
      expect(s.phoneReveals.started).toHaveLength(1);
    });
  });

  describe('applyPhoneCallback', () => {
    it('writes revealed phones to the contact once, and answers unchanged to the same callback again', async () => {
      // Prepare
      await enrichWren(s, { revealPhoneNumber: true });
      const payload = s.apollo.phoneRevealPayload(FIRST_REQUEST_ID);

      // Act
      const first = await s.enrichment.applyPhoneCallback(payload, s.request());
      const second = await s.enrichment.applyPhoneCallback(payload, s.request());

      // Assess
      expect(first).toEqual([{ apollo_person_id: 'person-wren', status: 'applied' }]);
      expect(second).toEqual([{ apollo_person_id: 'person-wren', status: 'unchanged' }]);
      expect(s.apollo.received.updateContact).toEqual([
        { contactId: 'contact-1', fields: { mobile_phone: REVEALED_MOBILE } },
      ]);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        phoneReveal: 'applied',
        appliedPhoneHashes: [phoneHash(REVEALED_MOBILE)],
        // The match's 1, and the reveal's 8 (the payload's 9 beyond the match), counted once.
        creditsConsumed: 9,
      });
      expect(s.ledger.item('person:person-wren')?.heldPhones).toBeUndefined();
      expect(s.ledger.item(wrenKey())?.phonesLockedUntilMs).toBeUndefined();
    });

    it('holds the phones of an Apollo person the ledger does not know, writing nothing to Apollo', async () => {
      // Act
      const results = await s.enrichment.applyPhoneCallback(
        callbackFor('person-stranger', [{ raw_number: '(202) 555-0199', type_cd: 'work_hq' }]),
        s.request(),
      );

      // Assess
      expect(results).toEqual([{ apollo_person_id: 'person-stranger', status: 'held' }]);
      expect(s.ledger.item('person:person-stranger')).toEqual({
        pk: 'person:person-stranger',
        heldPhones: { phones: [{ e164: '+12025550199', type: 'work_hq' }], creditsConsumed: 2 },
        updatedAt: s.clock.iso(),
        expiresAtSeconds: s.clock.epochSeconds() + HELD_TTL_SECONDS,
      });
      expect(s.apollo.totalCalls).toBe(0);
    });

    it('writes each phone type to its contact field, and skips unreadable and repeated numbers', async () => {
      // Prepare
      await enrichWren(s, { revealPhoneNumber: true });

      // Act
      await s.enrichment.applyPhoneCallback(
        callbackFor('person-wren', [
          { sanitized_number: REVEALED_MOBILE, type_cd: 'mobile' },
          { raw_number: '202-555-0166', type_cd: 'work_direct' },
          { sanitized_number: '+12025550155', type_cd: 'work_hq' },
          { sanitized_number: '+12025550144', type_cd: 'home' },
          { sanitized_number: '+12025550133', type_cd: 'pager' },
          { raw_number: 'ask reception', type_cd: 'home' },
          { raw_number: '(202) 555-0188', type_cd: 'other' },
        ]),
        s.request(),
      );

      // Assess
      expect(s.apollo.received.updateContact).toEqual([
        {
          contactId: 'contact-1',
          fields: {
            mobile_phone: REVEALED_MOBILE,
            direct_phone: '+12025550166',
            corporate_phone: '+12025550155',
            home_phone: '+12025550144',
            other_phone: '+12025550133',
          },
        },
      ]);
      expect((await s.ledger.get({ key: wrenKey() }))?.appliedPhoneHashes).toHaveLength(5);
    });

    it('writes a second number of one type to other_phone', async () => {
      // Prepare
      await enrichWren(s, { revealPhoneNumber: true });

      // Act
      await s.enrichment.applyPhoneCallback(
        callbackFor('person-wren', [
          { sanitized_number: REVEALED_MOBILE, type_cd: 'mobile' },
          { sanitized_number: '+12025550177', type_cd: 'mobile' },
        ]),
        s.request(),
      );

      // Assess
      expect(s.apollo.received.updateContact[0]?.fields).toEqual({
        mobile_phone: REVEALED_MOBILE,
        other_phone: '+12025550177',
      });
    });

    it("counts the price list's reveal cost, not the callback's total, when a callback carries several people", async () => {
      // Prepare
      await enrichWren(s, { revealPhoneNumber: true });
      const payload: PhoneRevealPayload = {
        credits_consumed: 4,
        people: [
          { id: 'person-wren', phone_numbers: [{ sanitized_number: REVEALED_MOBILE, type_cd: 'mobile' }] },
          { id: 'person-stranger', phone_numbers: [{ sanitized_number: '+12025550199', type_cd: 'mobile' }] },
        ],
      };

      // Act
      const results = await s.enrichment.applyPhoneCallback(payload, s.request());

      // Assess
      expect(results).toEqual([
        { apollo_person_id: 'person-wren', status: 'applied' },
        { apollo_person_id: 'person-stranger', status: 'held' },
      ]);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        phoneReveal: 'applied',
        // 1 for the match, 8 for the mobile phone revealed: the callback's 4 is not hers alone.
        creditsConsumed: 9,
      });
      expect(s.ledger.item('person:person-stranger')?.heldPhones?.creditsConsumed).toBeNull();
    });

    it('leaves the phones to the delivery that is writing them already, and writes nothing', async () => {
      // Prepare
      await enrichWren(s, { revealPhoneNumber: true });
      await s.ledger.claimPhoneApplication({
        key: wrenKey(),
        untilMs: s.request().deadline,
        nowMs: s.clock.now(),
      });

      // Act
      const results = await s.enrichment.applyPhoneCallback(
        s.apollo.phoneRevealPayload(FIRST_REQUEST_ID),
        s.request(),
      );

      // Assess
      expect(results).toEqual([{ apollo_person_id: 'person-wren', status: 'unchanged' }]);
      expect(s.apollo.calls.updateContact).toBe(0);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        phoneReveal: 'pending',
        appliedPhoneHashes: [],
        // The reveal's cost is counted all the same: Apollo charged for it.
        creditsConsumed: 9,
      });
    });

    it('gives the right to write back when Apollo fails the write, so the next delivery writes the phones', async () => {
      // Prepare
      await enrichWren(s, { revealPhoneNumber: true });
      const payload = s.apollo.phoneRevealPayload(FIRST_REQUEST_ID);
      const outage = new ApolloUnavailableError('PATCH /contacts/{id}: 503', true);
      s.apollo.failNext('updateContact', outage);

      // Act
      const failure = await rejectionOf(s.enrichment.applyPhoneCallback(payload, s.request()));
      const lockAfterFailure = s.ledger.item(wrenKey())?.phonesLockedUntilMs;
      const retried = await s.enrichment.applyPhoneCallback(payload, s.request());

      // Assess
      expect(failure).toBe(outage);
      expect(lockAfterFailure).toBeUndefined();
      expect(retried).toEqual([{ apollo_person_id: 'person-wren', status: 'applied' }]);
      expect(s.apollo.calls.updateContact).toBe(2);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        phoneReveal: 'applied',
        creditsConsumed: 9,
      });
    });
  });

  describe('pollPhoneResult', () => {
    let poll: PhoneRevealPoll;

    beforeEach(async () => {
      await enrichWren(s, { revealPhoneNumber: true });
      poll = { key: wrenKey(), request_id: FIRST_REQUEST_ID, attempt: 0 };
    });

    it('applies a ready webhook_result like a callback, and is done', async () => {
      // Prepare
      s.apollo.setWebhookResult(FIRST_REQUEST_ID, {
        state: 'ready',
        payload: s.apollo.phoneRevealPayload(FIRST_REQUEST_ID),
      });

      // Act
      const outcome = await s.enrichment.pollPhoneResult(poll, s.request());

      // Assess
      expect(outcome).toEqual({ state: 'done' });
      expect(s.apollo.received.getWebhookResult).toEqual([FIRST_REQUEST_ID]);
      expect(s.apollo.received.updateContact).toEqual([
        { contactId: 'contact-1', fields: { mobile_phone: REVEALED_MOBILE } },
      ]);
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({ phoneReveal: 'applied' });
    });

    it("asks to be called again after Apollo's retry_after_seconds while the result is pending", async () => {
      // Act
      const outcome = await s.enrichment.pollPhoneResult(poll, s.request());

      // Assess
      expect(outcome).toEqual({ state: 'pending', wait_seconds: 60, poll: { ...poll, attempt: 1 } });
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({ phoneReveal: 'pending' });
    });

    it('records the phones as unavailable, with why, when the request is gone', async () => {
      // Prepare
      s.apollo.setWebhookResult(FIRST_REQUEST_ID, { state: 'gone', reason: 'request_id_expired' });

      // Act
      const outcome = await s.enrichment.pollPhoneResult(poll, s.request());

      // Assess
      expect(outcome).toEqual({ state: 'done' });
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        phoneReveal: 'unavailable',
        phoneRevealNote: 'webhook_result: request_id_expired',
      });
    });

    it('records the phones as unavailable when the ready payload is unreadable', async () => {
      // Prepare
      s.apollo.setWebhookResult(FIRST_REQUEST_ID, { state: 'unreadable' });

      // Act
      const outcome = await s.enrichment.pollPhoneResult(poll, s.request());

      // Assess
      expect(outcome).toEqual({ state: 'done' });
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        phoneReveal: 'unavailable',
        phoneRevealNote: 'webhook_result payload unreadable',
      });
    });

    it('gives up as unavailable when the result is still pending at the last of maxResultPolls', async () => {
      // Act
      const beforeLast = await s.enrichment.pollPhoneResult({ ...poll, attempt: 3 }, s.request());
      const last = await s.enrichment.pollPhoneResult({ ...poll, attempt: 4 }, s.request());

      // Assess
      expect(beforeLast).toEqual({ state: 'pending', wait_seconds: 60, poll: { ...poll, attempt: 4 } });
      expect(last).toEqual({ state: 'done' });
      expect(await s.ledger.get({ key: wrenKey() })).toMatchObject({
        phoneReveal: 'unavailable',
        phoneRevealNote: 'webhook_result still pending after 5 polls',
      });
    });

    it('is done without calling Apollo when the phones are applied already', async () => {
      // Prepare
      await s.enrichment.applyPhoneCallback(s.apollo.phoneRevealPayload(FIRST_REQUEST_ID), s.request());

      // Act
      const outcome = await s.enrichment.pollPhoneResult(poll, s.request());

      // Assess
      expect(outcome).toEqual({ state: 'done' });
      expect(s.apollo.calls.getWebhookResult).toBe(0);
    });

    it('is done without calling Apollo when the ledger holds no contact for the key', async () => {
      // Act
      const outcome = await s.enrichment.pollPhoneResult(
        { ...poll, key: 'c_nobodyxxxxxxxxxxxxxxxxx' },
        s.request(),
      );

      // Assess
      expect(outcome).toEqual({ state: 'done' });
      expect(s.apollo.calls.getWebhookResult).toBe(0);
      expect(await s.ledger.get({ key: 'c_nobodyxxxxxxxxxxxxxxxxx' })).toBeNull();
    });
  });
});
