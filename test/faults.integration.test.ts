import { setTimeout as sleep } from 'node:timers/promises';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultRule, SandboxRequest } from '../local/apollo-sandbox';
import { seededRandom } from '../local/seeded-random';
import { EMILY, EMILY_LOOKUP, HERMAN, HERMAN_LOOKUP, MARK_TWAIN, WALT } from './support/people';
import {
  enrichmentCompleted,
  useServiceHarness,
  type ConversionViewBody,
  type HttpReply,
  type ServiceHarness,
} from './support/service-harness';
import { send, sendStorm, stormDeliveries, stormPopulation } from './support/storm-sender';

/**
 * Fault injection: every way Apollo fails (as the sandbox scripts it), seen from the outside. The
 * sender behaves like a real webhook sender: on any 5xx it re-delivers the same body under the same
 * webhook-id, and every status it sees is recorded. Each case checks the three things a fault must
 * not break: one contact per person in Apollo, the ledger's final word, and what the sender saw.
 */

const KEY = MARK_TWAIN.email;

/**
 * The harness, with Retry-After for an unavailable Apollo (and so the quiet period after a create
 * of unknown outcome) at 1 s instead of 30, so senders can honour it in a test.
 */
const quick = (env: Record<string, string> = {}) => ({ UNAVAILABLE_RETRY_AFTER_SECONDS: '1', ...env });

function requestsTo(harness: ServiceHarness, method: string, path: string): SandboxRequest[] {
  return harness.apollo.requests().filter((request) => request.method === method && request.path === path);
}

const creates = (harness: ServiceHarness) => requestsTo(harness, 'POST', '/contacts');
const searches = (harness: ServiceHarness) => requestsTo(harness, 'POST', '/contacts/search');
const matches = (harness: ServiceHarness) => requestsTo(harness, 'POST', '/people/match');
/** The verification's calls: people/bulk_match, 10 people per call. */
const verifications = (harness: ServiceHarness) => requestsTo(harness, 'POST', '/people/bulk_match');

/** Whether each create asked Apollo to deduplicate (`run_dedupe: true`). */
function runDedupeFlags(harness: ServiceHarness): boolean[] {
  return creates(harness).map((request) => (request.body as { run_dedupe?: unknown }).run_dedupe === true);
}

/** Waits until the sandbox has answered every request to `path` (a delayed one keeps working after the client gave up). */
async function untilApolloAnswered(harness: ServiceHarness, method: string, path: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (requestsTo(harness, method, path).some((request) => request.status === 0)) {
    if (Date.now() > deadline) throw new Error(`Apollo still working on ${method} ${path} after 10 s`);
    await sleep(10);
  }
}

/** Puts process.env back to `baseline`: removes what was added, restores what was changed. */
function restoreEnv(baseline: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(process.env)) if (!(name in baseline)) delete process.env[name];
  Object.assign(process.env, baseline);
}

describe('Faults: Apollo failing in every scripted way still makes exactly one contact per person', () => {
  const harness = useServiceHarness({ resetBeforeEach: false });
  let baselineEnv: NodeJS.ProcessEnv;

  beforeAll(() => {
    // The environment as the harness, started just before, left it.
    baselineEnv = { ...process.env };
  });
  afterAll(() => {
    restoreEnv(baselineEnv);
  });
  beforeEach(async () => {
    // harness.reset(quick(env)) writes its overrides into process.env and never takes them back.
    restoreEnv(baselineEnv);
    await harness.reset(quick());
  });

  describe('Faults: rate limiting (429) on create', () => {
    it('waits out a retry-after within APOLLO_MAX_RETRY_WAIT_SECONDS in place: one 200, two creates, one contact', async () => {
      // Prepare
      harness.apollo.inject({ method: 'POST', path: '/contacts', status: 429, retryAfterSeconds: 1 });
      const started = Date.now();

      // Act
      const sent = await send(harness, enrichmentCompleted({ person: MARK_TWAIN }));
      const elapsedMs = Date.now() - started;
      await harness.verificationsSettled();

      // Assess
      const [contact, ...others] = harness.apollo.contacts();
      expect(others).toHaveLength(0);
      expect(sent.statuses).toEqual([200]);
      expect(sent.last.body.results).toEqual([
        { id: await harness.conversionIdOf(KEY), status: 'created', contact_id: contact?.id },
      ]);
      expect(elapsedMs).toBeGreaterThanOrEqual(1000);
      expect(creates(harness).map((request) => request.status)).toEqual([429, 200]);
      // A 429 means Apollo did nothing: the repeat is a plain create, not an upsert.
      expect(runDedupeFlags(harness)).toEqual([false, false]);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        outcome: 'created',
        contact_id: contact?.id,
        attempts: 1,
        last_error: null,
      });
    });

    it('passes a long retry-after on as 503 + Retry-After, releases the claim, and the re-delivery creates', async () => {
      // Prepare
      harness.apollo.inject({ method: 'POST', path: '/contacts', status: 429, retryAfterSeconds: 120 });
      const between: HttpReply<ConversionViewBody>[] = [];

      // Act
      const sent = await send(harness, enrichmentCompleted({ person: MARK_TWAIN }), {
        beforeRetry: async () => {
          between.push(await harness.lookupConversion({ email: KEY }));
        },
      });
      await harness.verificationsSettled();

      // Assess
      expect(sent.statuses).toEqual([503, 200]);
      expect(sent.replies[0]?.headers['retry-after']).toBe('120');
      expect(sent.replies[0]?.body).toMatchObject({
        error: 'retry_later',
        retry_after_seconds: 120,
        results: [],
      });
      expect(between[0]?.body).toMatchObject({
        status: 'creating',
        attempts: 1,
        last_error: expect.stringMatching(/^POST \/contacts: rate limited/) as unknown,
      });
      const [contact, ...others] = harness.apollo.contacts();
      expect(others).toHaveLength(0);
      expect(sent.last.body.results).toEqual([
        { id: await harness.conversionIdOf(KEY), status: 'created', contact_id: contact?.id },
      ]);
      expect(creates(harness).map((request) => request.status)).toEqual([429, 200]);
      expect(runDedupeFlags(harness)).toEqual([false, false]);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        attempts: 2,
        last_error: null,
      });
    });
  });

  describe('Faults: search (idempotent) is retried inside the client', () => {
    const cases: Array<[string, FaultRule, Record<string, string>, number[]]> = [
      ['a 503 once', { method: 'POST', path: '/contacts/search', status: 503 }, {}, [503, 200]],
      [
        'a connection reset once',
        { method: 'POST', path: '/contacts/search', action: 'reset' },
        {},
        [0, 200],
      ],
      [
        'a reply slower than APOLLO_TIMEOUT_MS once',
        { method: 'POST', path: '/contacts/search', action: 'delay', delayMs: 900 },
        { APOLLO_TIMEOUT_MS: '500' },
        // The sandbox finishes the slow search (200) although the client stopped waiting.
        [200, 200],
      ],
    ];

    it.each(cases)('%s: one 200, one contact', async (_case, fault, env, searchStatuses) => {
      // Prepare
      await harness.reset(quick(env));
      harness.apollo.inject(fault);

      // Act
      const sent = await send(harness, enrichmentCompleted({ person: MARK_TWAIN }));
      if (fault.action === 'delay') await untilApolloAnswered(harness, 'POST', '/contacts/search');
      await harness.verificationsSettled();

      // Assess
      expect(sent.statuses).toEqual([200]);
      expect(sent.last.body.results[0]?.status).toBe('created');
      expect(searches(harness).map((request) => request.status)).toEqual(searchStatuses);
      expect(creates(harness)).toHaveLength(1);
      expect(harness.apollo.contacts()).toHaveLength(1);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        attempts: 1,
      });
    });
  });

  describe('Faults: a create whose outcome is unknown is never repeated blindly', () => {
    it('500 (nothing created): 503, then the re-delivery creates with run_dedupe', async () => {
      // Prepare
      harness.apollo.inject({ method: 'POST', path: '/contacts', status: 500 });
      const between: HttpReply<ConversionViewBody>[] = [];

      // Act
      const sent = await send(harness, enrichmentCompleted({ person: MARK_TWAIN }), {
        beforeRetry: async () => {
          between.push(await harness.lookupConversion({ email: KEY }));
        },
      });
      await harness.verificationsSettled();

      // Assess
      expect(sent.statuses).toEqual([503, 200]);
      expect(sent.replies[0]?.headers['retry-after']).toBe('1');
      expect(sent.replies[0]?.body).toMatchObject({ error: 'retry_later', retry_after_seconds: 1 });
      expect(between[0]?.body).toMatchObject({ status: 'creating', last_error: 'POST /contacts: 500' });
      const [contact, ...others] = harness.apollo.contacts();
      expect(others).toHaveLength(0);
      expect(sent.last.body.results).toEqual([
        { id: await harness.conversionIdOf(KEY), status: 'created', contact_id: contact?.id },
      ]);
      expect(creates(harness).map((request) => request.status)).toEqual([500, 200]);
      expect(runDedupeFlags(harness)).toEqual([false, true]);
      // The re-delivery looked for the contact before creating again.
      expect(searches(harness)).toHaveLength(2);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        outcome: 'created',
        contact_id: contact?.id,
        attempts: 2,
        last_error: null,
      });
    });

    it('a create slower than APOLLO_TIMEOUT_MS: the re-delivery, after Apollo finished, finds the contact by email and does not create again', async () => {
      // Prepare
      await harness.reset(quick({ APOLLO_TIMEOUT_MS: '500' }));
      harness.apollo.inject({ method: 'POST', path: '/contacts', action: 'delay', delayMs: 900 });

      // Act: Retry-After (30 s) outlasts the in-flight create; the sender waits until Apollo finished it.
      const sent = await send(harness, enrichmentCompleted({ person: MARK_TWAIN }), {
        beforeRetry: () => untilApolloAnswered(harness, 'POST', '/contacts'),
      });
      await harness.verificationsSettled();

      // Assess
      expect(sent.statuses).toEqual([503, 200]);
      expect(sent.replies[0]?.headers['retry-after']).toBe('1');
      const [contact, ...others] = harness.apollo.contacts();
      expect(others).toHaveLength(0);
      expect(sent.last.body.results).toEqual([
        { id: await harness.conversionIdOf(KEY), status: 'created', contact_id: contact?.id },
      ]);
      // Which way it went: found by the email search; the slow create is the only one.
      expect(creates(harness).map((request) => request.status)).toEqual([200]);
      expect(searches(harness)).toHaveLength(2);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        outcome: 'created',
        contact_id: contact?.id,
        attempts: 2,
      });
    });

    it('a connection reset: 503, then the re-delivery creates with run_dedupe', async () => {
      // Prepare
      harness.apollo.inject({ method: 'POST', path: '/contacts', action: 'reset' });

      // Act
      const sent = await send(harness, enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.verificationsSettled();

      // Assess
      expect(sent.statuses).toEqual([503, 200]);
      expect(sent.replies[0]?.headers['retry-after']).toBe('1');
      const [contact, ...others] = harness.apollo.contacts();
      expect(others).toHaveLength(0);
      expect(sent.last.body.results).toEqual([
        { id: await harness.conversionIdOf(KEY), status: 'created', contact_id: contact?.id },
      ]);
      // 0: the sandbox dropped the connection without answering (and without creating).
      expect(creates(harness).map((request) => request.status)).toEqual([0, 200]);
      expect(runDedupeFlags(harness)).toEqual([false, true]);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        outcome: 'created',
        attempts: 2,
      });
    });

    it('created, then 502, for a person without email: the re-delivery finds it by name and company (contacts search, not people/match), no second create', async () => {
      // Prepare
      harness.apollo.inject({ method: 'POST', path: '/contacts', action: 'create-then-fail', status: 502 });
      let createdBeforeRetry: string[] = [];

      // Act
      const sent = await send(harness, enrichmentCompleted({ person: EMILY }), {
        beforeRetry: () => {
          createdBeforeRetry = harness.apollo.contacts().map((contact) => contact.id);
        },
      });
      await harness.verificationsSettled();

      // Assess
      expect(sent.statuses).toEqual([503, 200]);
      const [contact, ...others] = harness.apollo.contacts();
      expect(others).toHaveLength(0);
      // The contact the failed create made is the one the re-delivery reports.
      expect(createdBeforeRetry).toEqual([contact?.id]);
      expect(sent.last.body.results).toEqual([
        { id: await harness.conversionIdOf(EMILY_LOOKUP), status: 'created', contact_id: contact?.id },
      ]);
      expect(creates(harness).map((request) => request.status)).toEqual([502]);
      // Searched by name (free) before each create and to verify, never through people/match (a
      // credit for anyone Apollo knows who is not a contact yet).
      const byName = { q_keywords: `${EMILY.first_name} ${EMILY.last_name}`, page: 1, per_page: 100 };
      expect(searches(harness).map((request) => request.body)).toEqual([byName, byName, byName]);
      expect(matches(harness)).toEqual([]);
      expect((await harness.lookupConversion(EMILY_LOOKUP)).body).toMatchObject({
        status: 'verified',
        outcome: 'created',
        contact_id: contact?.id,
        attempts: 2,
      });
    });
  });

  describe("Faults: Apollo refusing the service's own key is an operator problem", () => {
    const cases: Array<[string, FaultRule & { path: string; status: number }, RegExp]> = [
      [
        '401 on POST /contacts/search',
        { method: 'POST', path: '/contacts/search', status: 401 },
        /^POST \/contacts\/search: Apollo rejected the API key \(401\)$/,
      ],
      [
        '403 API_INACCESSIBLE on POST /contacts',
        { method: 'POST', path: '/contacts', status: 403 },
        /^POST \/contacts: .*\(403 API_INACCESSIBLE\)/,
      ],
    ];

    it.each(cases)(
      '%s: 503 upstream_configuration (not rejected), claim released, the re-delivery creates',
      async (_case, fault, lastError) => {
        // Prepare
        harness.apollo.inject(fault);
        const between: HttpReply<ConversionViewBody>[] = [];

        // Act
        const sent = await send(harness, enrichmentCompleted({ person: MARK_TWAIN }), {
          beforeRetry: async () => {
            between.push(await harness.lookupConversion({ email: KEY }));
          },
        });
        await harness.verificationsSettled();

        // Assess
        expect(sent.statuses).toEqual([503, 200]);
        expect(sent.replies[0]?.headers['retry-after']).toBe('300');
        expect(sent.replies[0]?.body).toEqual({
          error: 'upstream_configuration',
          message: expect.any(String) as unknown,
          retry_after_seconds: 300,
        });
        expect(between[0]?.body).toMatchObject({
          status: 'creating',
          attempts: 1,
          last_error: expect.stringMatching(lastError) as unknown,
        });
        // Refused once, not retried in the client: an operator must act.
        expect(requestsTo(harness, 'POST', fault.path).map((request) => request.status)).toEqual([
          fault.status,
          200,
        ]);
        const [contact, ...others] = harness.apollo.contacts();
        expect(others).toHaveLength(0);
        expect(sent.last.body.results).toEqual([
          { id: await harness.conversionIdOf(KEY), status: 'created', contact_id: contact?.id },
        ]);
        // A refused request did nothing: no upsert needed.
        expect(runDedupeFlags(harness)).toEqual(fault.path === '/contacts' ? [false, false] : [false]);
        expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
          status: 'verified',
          attempts: 2,
          last_error: null,
        });
      },
    );
  });

  describe('Faults: verification (people/bulk_match)', () => {
    const cases: Array<[string, FaultRule, number[]]> = [
      [
        '503 twice, retried in the client',
        { method: 'POST', path: '/people/bulk_match', status: 503, times: 2 },
        [503, 503, 200],
      ],
      [
        '503 three times, past the client: retried by the state machine',
        { method: 'POST', path: '/people/bulk_match', status: 503, times: 3 },
        [503, 503, 503, 200],
      ],
      [
        '429 without retry-after (60 s assumed), retried by the state machine',
        { method: 'POST', path: '/people/bulk_match', status: 429 },
        [429, 200],
      ],
      [
        '429 with retry-after 1, waited out in the client',
        { method: 'POST', path: '/people/bulk_match', status: 429, retryAfterSeconds: 1 },
        [429, 200],
      ],
      ['a connection reset', { method: 'POST', path: '/people/bulk_match', action: 'reset' }, [0, 200]],
      [
        '{matches: [null]} once (not visible yet), retried by the state machine',
        { method: 'POST', path: '/people/bulk_match', status: 200, body: { matches: [null] } },
        [200, 200],
      ],
    ];

    it.each(cases)('%s: ends verified', async (_case, fault, matchStatuses) => {
      // Prepare
      harness.apollo.inject(fault);

      // Act
      const sent = await send(harness, enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.verificationsSettled();

      // Assess
      expect(sent.statuses).toEqual([200]);
      expect(verifications(harness).map((request) => request.status)).toEqual(matchStatuses);
      expect(harness.apollo.contacts()).toHaveLength(1);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        last_error: null,
      });
      expect(harness.stepFunctions.executions()).toEqual([expect.objectContaining({ status: 'SUCCEEDED' })]);
    });

    it('an outage outlasting every retry ends visibly as verification_failed, bounded at 6 x 3 calls', async () => {
      // Prepare
      harness.apollo.inject({ method: 'POST', path: '/people/bulk_match', status: 503, times: 100 });

      // Act
      const sent = await send(harness, enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.verificationsSettled();

      // Assess
      expect(sent.statuses).toEqual([200]);
      // The state machine tries 1 + 5 times; the client tries each 3 times.
      expect(verifications(harness)).toHaveLength(18);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verification_failed',
        last_error: 'ApolloUnavailableError: POST /people/bulk_match: 503',
      });
      expect(harness.apollo.contacts()).toHaveLength(1);
    });

    it('Apollo refusing the key during verification ends as verification_failed naming the 401, not retried', async () => {
      // Prepare
      harness.apollo.inject({ method: 'POST', path: '/people/bulk_match', status: 401 });

      // Act
      await send(harness, enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.verificationsSettled();

      // Assess
      expect(verifications(harness).map((request) => request.status)).toEqual([401]);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verification_failed',
        last_error: 'ApolloAuthError: POST /people/bulk_match: Apollo rejected the API key (401)',
      });
    });
  });

  describe('Faults: bounded attempts (MAX_CONVERSION_ATTEMPTS)', () => {
    const delivery = enrichmentCompleted({ person: MARK_TWAIN });
    const reason = 'gave up after 3 attempts; last error: POST /contacts: 500';

    it('gives up after 3 failed attempts with 200 failed, answers later deliveries from the ledger', async () => {
      // Prepare
      await harness.reset(quick({ MAX_CONVERSION_ATTEMPTS: '3' }));
      harness.apollo.inject({ method: 'POST', path: '/contacts', status: 500, times: 100 });

      // Act
      const sent = await send(harness, delivery);
      const callsBefore = harness.apollo.requests().length;
      const fifth = await harness.webhook(delivery);
      const record = await harness.lookupConversion({ email: KEY });

      // Assess
      expect(sent.statuses).toEqual([503, 503, 503, 200]);
      expect(sent.last.body.results).toEqual([
        { id: await harness.conversionIdOf(KEY), status: 'failed', contact_id: null, reason },
      ]);
      expect(creates(harness).map((request) => request.status)).toEqual([500, 500, 500]);
      expect(runDedupeFlags(harness)).toEqual([false, true, true]);
      expect(fifth.status).toBe(200);
      expect(fifth.body.results).toEqual([
        { id: await harness.conversionIdOf(KEY), status: 'failed', contact_id: null, reason },
      ]);
      expect(harness.apollo.requests()).toHaveLength(callsBefore);
      expect(record.body).toMatchObject({ status: 'failed', contact_id: null, last_error: reason });
      expect(harness.apollo.contacts()).toHaveLength(0);
      expect(harness.stepFunctions.executions()).toHaveLength(0);
    });

    it('does not give up as "failed, no contact" when an earlier create did make the contact', async () => {
      // Prepare: Emily (no email) is created although Apollo answers 500; every later create fails.
      await harness.reset(quick({ MAX_CONVERSION_ATTEMPTS: '2' }));
      harness.apollo.inject({ method: 'POST', path: '/contacts', action: 'create-then-fail' });
      harness.apollo.inject({ method: 'POST', path: '/contacts', status: 500, times: 100 });

      // Act
      const sent = await send(harness, enrichmentCompleted({ person: EMILY }));
      await harness.verificationsSettled();

      // Assess: the re-delivery finds the contact the failed create made, before any give-up.
      expect(sent.statuses).toEqual([503, 200]);
      const [contact, ...others] = harness.apollo.contacts();
      expect(others).toHaveLength(0);
      expect(contact).toMatchObject({ first_name: 'Emily', last_name: 'Dickinson' });
      // Apollo holds the contact this service made: the ledger must know it (found, e.g. by people/match).
      expect((await harness.lookupConversion(EMILY_LOOKUP)).body).toMatchObject({ contact_id: contact?.id });
      expect(sent.last.body.results[0]).toMatchObject({ contact_id: contact?.id });
    });

    it('re-opens a failed record for changed data: Apollo is tried again and the contact is made', async () => {
      // Prepare: the person failed for good, then Apollo recovers and the person arrives with another title.
      await harness.reset(quick({ MAX_CONVERSION_ATTEMPTS: '3' }));
      harness.apollo.inject({ method: 'POST', path: '/contacts', status: 500, times: 100 });
      const failed = await send(harness, delivery);
      harness.apollo.clearFaults();
      const callsBefore = harness.apollo.requests().length;

      // Act
      const changed = await send(
        harness,
        enrichmentCompleted({ person: { ...MARK_TWAIN, title: 'Humorist' } }),
      );
      await harness.verificationsSettled();

      // Assess
      expect(failed.last.body.results[0]?.status).toBe('failed');
      expect(changed.statuses).toEqual([200]);
      expect(harness.apollo.requests().length).toBeGreaterThan(callsBefore);
      const [contact, ...others] = harness.apollo.contacts();
      expect(others).toHaveLength(0);
      expect(contact?.title).toBe('Humorist');
      expect(changed.last.body.results).toEqual([
        { id: await harness.conversionIdOf(KEY), status: 'created', contact_id: contact?.id },
      ]);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({ status: 'verified' });
    });
  });

  describe('Faults: batches, order and concurrency', () => {
    it('a batch cut short by a fault: the 503 carries what finished, the re-delivery converts the rest once', async () => {
      // Prepare: one person at a time; Ishmael (no email, a website: looked for by name, then
      // people/match, and verified through people/match) converts, Walt's search keeps failing.
      await harness.reset(quick({ CONVERSION_CONCURRENCY: '1' }));
      const ishmael = { first_name: 'Ishmael', last_name: 'Sailor', website_url: 'https://pequod.example' };
      const ishmaelLookup = { first_name: 'Ishmael', last_name: 'Sailor', website_url: 'pequod.example' };
      // Ishmael's search by name goes through (a rule that changes nothing takes it), Walt's fails.
      harness.apollo.inject({ method: 'POST', path: '/contacts/search', action: 'delay', delayMs: 0 });
      harness.apollo.inject({ method: 'POST', path: '/contacts/search', status: 503, times: 3 });

      // Act
      const sent = await send(harness, enrichmentCompleted({ people: [ishmael, WALT] }));
      await harness.verificationsSettled();

      // Assess
      expect(sent.statuses).toEqual([503, 200]);
      const ishmaelContact = harness.apollo.contacts().find((contact) => contact.last_name === 'Sailor');
      const walt = harness.apollo.contacts().find((contact) => contact.last_name === 'Whitman');
      expect(harness.apollo.contacts()).toHaveLength(2);
      expect(sent.replies[0]?.body.results).toEqual([
        {
          id: await harness.conversionIdOf(ishmaelLookup),
          status: 'created',
          contact_id: ishmaelContact?.id,
        },
      ]);
      expect(sent.last.body.results).toEqual([
        {
          id: await harness.conversionIdOf(ishmaelLookup),
          status: 'duplicate',
          contact_id: ishmaelContact?.id,
        },
        { id: await harness.conversionIdOf(WALT.email), status: 'created', contact_id: walt?.id },
      ]);
      expect(creates(harness)).toHaveLength(2);
      // Only a failed create makes the next one an upsert; a failed search does not.
      expect(runDedupeFlags(harness)).toEqual([false, false]);
      expect((await harness.lookupConversion(ishmaelLookup)).body).toMatchObject({
        status: 'verified',
        attempts: 1,
      });
      expect((await harness.lookupConversion({ email: WALT.email })).body).toMatchObject({
        status: 'verified',
        attempts: 2,
      });
    });

    it('a batch hit by a 429 (retry-after 120) and a 500 at once answers the longer Retry-After', async () => {
      // Prepare: both people are converted at once (CONVERSION_CONCURRENCY 4); neither has an email.
      harness.apollo.inject({ method: 'POST', path: '/contacts', status: 429, retryAfterSeconds: 120 });
      harness.apollo.inject({ method: 'POST', path: '/contacts', status: 500 });

      // Act
      const sent = await send(harness, enrichmentCompleted({ people: [EMILY, HERMAN] }));
      await harness.verificationsSettled();

      // Assess
      // The 500 person's create may still land: its re-delivery waits out the 1 s quiet period first.
      expect(sent.statuses).toEqual([503, 503, 200]);
      expect(sent.replies[1]?.headers['retry-after']).toBe('1');
      expect(sent.replies[0]?.headers['retry-after']).toBe('120');
      expect(sent.replies[0]?.body).toMatchObject({ retry_after_seconds: 120, results: [] });
      // The 429 person was created by the second delivery (answered 503 for the other person).
      expect(sent.last.body.results.map((r: { status: string }) => r.status).sort()).toEqual([
        'created',
        'duplicate',
      ]);
      expect(harness.apollo.contacts()).toHaveLength(2);
      expect(creates(harness).map((request) => request.status)).toEqual([429, 500, 200, 200]);
      // Whichever person got the 500 is upserted on the re-delivery; the 429 one is created plainly.
      expect(runDedupeFlags(harness).slice(2).sort()).toEqual([false, true]);
      for (const lookup of [EMILY_LOOKUP, HERMAN_LOOKUP]) {
        expect((await harness.lookupConversion(lookup)).body).toMatchObject({
          status: 'verified',
          attempts: 2,
        });
      }
    });

    it('an older delivery arriving after a newer one for the same person changes nothing', async () => {
      // Prepare
      const newer = {
        type: 'person.enrichment.completed',
        timestamp: '2026-11-26T10:05:00Z',
        data: { person: { ...MARK_TWAIN, title: 'Humorist' } },
      };
      const older = { ...newer, timestamp: '2026-11-26T10:00:00Z', data: { person: MARK_TWAIN } };
      const first = await send(harness, newer);
      await harness.verificationsSettled();
      const contactsBefore = harness.apollo.contacts();
      const callsBefore = harness.apollo.requests().length;

      // Act
      const late = await send(harness, older);
      await harness.verificationsSettled();

      // Assess
      expect(first.statuses).toEqual([200]);
      expect(late.statuses).toEqual([200]);
      expect(late.last.body.results).toEqual([
        { id: await harness.conversionIdOf(KEY), status: 'duplicate', contact_id: contactsBefore[0]?.id },
      ]);
      expect(harness.apollo.requests()).toHaveLength(callsBefore);
      expect(harness.apollo.contacts()).toEqual(contactsBefore);
      expect(contactsBefore).toEqual([expect.objectContaining({ title: 'Humorist' })]);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        attempts: 1,
      });
    });

    it('created, then 500, for a person identified by name and website only: the re-delivery makes no second contact', async () => {
      // Prepare: no email and no organization_name: name + website domain identify him.
      const person = {
        first_name: 'Herman',
        last_name: 'Melville',
        website_url: 'https://pequod.example',
        mobile_phone: '555-010-1851',
      };
      const lookup = { first_name: 'Herman', last_name: 'Melville', website_url: 'pequod.example' };
      harness.apollo.inject({ method: 'POST', path: '/contacts', action: 'create-then-fail', status: 500 });

      // Act
      const sent = await send(harness, enrichmentCompleted({ person }));
      await harness.verificationsSettled();

      // Assess
      expect(sent.statuses).toEqual([503, 200]);
      // Found by people/match on name + domain after the search by name (whose results show a
      // company's domain only when Apollo resolved its organisation); run_dedupe would not have
      // matched a website.
      expect(runDedupeFlags(harness)).toEqual([false]);
      const [contact, ...others] = harness.apollo.contacts();
      expect(others).toHaveLength(0);
      const id = await harness.conversionIdOf(lookup);
      expect(sent.last.body.results).toEqual([{ id, status: 'created', contact_id: contact?.id }]);
      expect((await harness.getConversion(id)).body).toMatchObject({ status: 'verified' });
    });

    it('another caller converting the person while a timed-out create still runs at Apollo makes no second contact', async () => {
      // Prepare: the webhook's create outlives the client's timeout; the 503 asks the sender to wait 30 s.
      await harness.reset(quick({ APOLLO_TIMEOUT_MS: '500' }));
      harness.apollo.inject({ method: 'POST', path: '/contacts', action: 'delay', delayMs: 900 });
      const webhook = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));

      // Act: the on-demand API never saw that Retry-After, and asks at once.
      const onDemand = await harness.createContacts(MARK_TWAIN);
      await untilApolloAnswered(harness, 'POST', '/contacts');
      await harness.verificationsSettled();

      // Assess
      expect(webhook.status).toBe(503);
      expect(onDemand.status).toBeOneOf([200, 503]);
      expect(harness.apollo.contacts().map((contact) => contact.email)).toEqual([KEY]);
    });
  });

  describe('Faults: a storm', () => {
    it('500 deliveries of 100 people, 32 in flight, ~10% after an injected fault: 100 contacts, all verified', async () => {
      const seed = Number(process.env.FAULTS_SEED ?? 20_261_126);
      try {
        // Prepare
        const random = seededRandom(seed);
        const population = stormPopulation();
        const deliveries = stormDeliveries(random, 500);

        // Act
        const { outcomes, injected } = await sendStorm(harness, population, deliveries, 32);
        await harness.stepFunctions.waitForIdle(60_000);

        // Assess
        const unfinished = outcomes.flatMap((sent, index) =>
          sent.last.status === 200
            ? []
            : [`#${index}: ${sent.statuses.join(',')} ${JSON.stringify(sent.last.body).slice(0, 300)}`],
        );
        expect(unfinished.slice(0, 5), `${unfinished.length} deliveries never got a 200`).toEqual([]);
        expect(outcomes).toHaveLength(500);

        const contacts = harness.apollo.contacts();
        expect(contacts).toHaveLength(100);
        expect(new Set(contacts.map((contact) => contact.name))).toEqual(
          new Set(population.map((person) => person.name)),
        );
        const emails = contacts.flatMap((contact) => (contact.email ? [contact.email] : []));
        expect(emails).toHaveLength(80);
        expect(new Set(emails)).toEqual(
          new Set(
            population.flatMap((person) => (person.input.email ? [person.input.email.toLowerCase()] : [])),
          ),
        );

        // Person records (with a status); the other items are identities naming them.
        const records = (await harness.ledgerItems())
          .map((item) => unmarshall(item as Record<string, AttributeValue>) as Record<string, unknown>)
          .filter((item) => item.status !== undefined);
        expect(records).toHaveLength(100);
        const ids: string[] = [];
        for (const person of population) ids.push(await harness.conversionIdOf(person.lookup));
        expect(new Set(records.map((record) => record.pk))).toEqual(new Set(ids));
        const notVerified = records.filter((record) => record.status !== 'verified');
        expect(notVerified, 'ledger records not verified').toEqual([]);
        expect(new Set(records.map((record) => record.contact_id))).toEqual(
          new Set(contacts.map((contact) => contact.id)),
        );

        // Each person was reported `created` by exactly one reply (a 200, or a 503's finished results);
        // a delivery listing a person twice repeats its result, so keys are counted once per reply.
        const createdKeys = outcomes
          .flatMap((sent) => sent.replies)
          .flatMap((reply) => {
            const results = (reply.body?.results ?? []) as Array<{ id: string; status: string }>;
            return [...new Set(results.filter((r) => r.status === 'created').map((r) => r.id))];
          })
          .sort();
        expect(createdKeys).toEqual([...ids].sort());
        // Senders saw only 200 and 503 (never a 500), and the faults did reach some of them.
        const statuses = outcomes.flatMap((sent) => sent.statuses);
        expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([]);
        expect(
          statuses.filter((status) => status === 503).length,
          'no fault reached a sender',
        ).toBeGreaterThan(0);
        expect(injected).toBeGreaterThan(0);
      } catch (error) {
        if (error instanceof Error)
          error.message = `[storm seed ${seed}, replay with FAULTS_SEED=${seed}] ${error.message}`;
        throw error;
      }
    }, 180_000);
  });
});
