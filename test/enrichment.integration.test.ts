import { beforeEach, describe, expect, it } from 'vitest';
import type { SandboxPersonSeed } from '../local/apollo-sandbox';
import { SANDBOX_PEOPLE } from '../local/sandbox-people';
import { useServiceHarness } from './support/service-harness';

/** A fictional person in Apollo's directory, not yet a contact of the team (as `npm start` seeds it). */
const ADA = SANDBOX_PEOPLE[0] as SandboxPersonSeed & { email: string };
const ADA_MOBILE = '+15550101815';

describe('Enrichment: enrich on demand, receive the phone reveal, keep one contact', () => {
  // Locally every wait is 0 s, so the fallback polls back to back: allow it enough polls.
  const harness = useServiceHarness({ resetBeforeEach: { MAX_RESULT_POLLS: '500' } });
  let adaId: string;

  beforeEach(() => {
    adaId = harness.apollo.addPerson(ADA).id;
  });

  /** Waits until `check` holds (callbacks and state machines run in the background). */
  async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const mobilesOnContact = () =>
    harness.apollo.contacts()[0]?.phone_numbers.filter((phone) => phone.sanitized_number === ADA_MOBILE) ??
    [];

  it('enriches, creates and verifies the contact, and the callback patches the phones in', async () => {
    // Prepare: Apollo calls back well after it answered (its callback comes minutes later).
    // 3 s: well after the enrichment's answer even on a loaded machine (two cores, tests in parallel).
    harness.apollo.setPhoneCallbacks({ mode: 'once', delayMs: 3000 });

    // Act
    const reply = await harness.enrich({ email: ADA.email, reveal_phone_number: true });
    await eventually(
      async () => (await harness.lookupConversion({ email: ADA.email })).body.phone_reveal === 'applied',
    );
    await harness.verificationsSettled();

    // Assess
    expect(reply.status).toBe(200);
    const [contact, ...others] = harness.apollo.contacts();
    expect(others).toHaveLength(0);
    expect(reply.body).toMatchObject({
      id: await harness.conversionIdOf(ADA.email),
      status: 'created',
      contact_id: contact?.id,
      apollo_person_id: adaId,
      request_id: expect.stringMatching(/^-\d{19}$/) as unknown,
      credits_saved: false,
      phones: 'pending',
    });
    const match = harness.apollo.requests().find((r) => r.path === '/people/match');
    expect(match?.body).toMatchObject({ email: ADA.email, reveal_phone_number: true });
    expect(String((match?.body as { webhook_url: string }).webhook_url)).toBe(
      `${harness.publicApiUrl}/webhooks/apollo/phone-numbers?token=harness-callback-token`,
    );
    expect(mobilesOnContact()).toHaveLength(1);
    expect(harness.apollo.countRequests('PATCH', /^\/contacts\//)).toBe(1);
    const record = await harness.lookupConversion({ email: ADA.email });
    expect(record.body).toMatchObject({
      status: 'verified',
      apollo_person_id: adaId,
      request_id: reply.body.request_id,
      phone_reveal: 'applied',
      credits_consumed: harness.apollo.creditsConsumed(),
    });
    expect(record.body.credits_consumed).toBe(9);
  });

  it('keeps a negative 19-digit request_id digit for digit through JSON, DynamoDB and Step Functions', async () => {
    // A late callback: the fallback state machine is started with the request id before it arrives.
    harness.apollo.setPhoneCallbacks({ mode: 'once', delayMs: 3000 });

    const reply = await harness.enrich({ email: ADA.email, reveal_phone_number: true });
    await eventually(() => harness.apollo.callbacks().length === 1);
    await harness.verificationsSettled();

    const issued = harness.apollo.callbacks()[0]?.requestId as string;
    expect(issued).toMatch(/^-\d{19}$/);
    expect(BigInt(issued) < -(2n ** 53n)).toBe(true);
    expect(reply.body.request_id).toBe(issued);
    expect((await harness.lookupConversion({ email: ADA.email })).body.request_id).toBe(issued);
    const fallback = harness.stepFunctions.executions().find((e) => e.name.startsWith('phones-'));
    expect((fallback?.input as { request_id: string }).request_id).toBe(issued);
  });

  it('changes nothing when Apollo delivers the callback twice', async () => {
    harness.apollo.setPhoneCallbacks({ mode: 'twice', delayMs: 20, secondDelayMs: 300 });

    await harness.enrich({ email: ADA.email, reveal_phone_number: true });
    await eventually(
      () => harness.apollo.callbacks().length === 2 && harness.apollo.callbacks().every((c) => c.status),
    );
    await harness.verificationsSettled();

    expect(harness.apollo.callbacks().map((callback) => callback.status)).toEqual([200, 200]);
    expect(harness.apollo.countRequests('PATCH', /^\/contacts\//)).toBe(1);
    expect(mobilesOnContact()).toHaveLength(1);
    expect((await harness.lookupConversion({ email: ADA.email })).body.credits_consumed).toBe(9);
  });

  it('recovers a callback that never comes by polling webhook_result', async () => {
    harness.apollo.setPhoneCallbacks({ mode: 'never', delayMs: 200 });

    const reply = await harness.enrich({ email: ADA.email, reveal_phone_number: true });
    await harness.verificationsSettled();

    expect(reply.body.phones).toBe('pending');
    expect(harness.apollo.callbacks()).toHaveLength(0);
    expect(harness.apollo.countRequests('GET', /^\/webhook_result\//)).toBeGreaterThanOrEqual(1);
    expect(mobilesOnContact()).toHaveLength(1);
    expect((await harness.lookupConversion({ email: ADA.email })).body.phone_reveal).toBe('applied');
    const fallback = harness.stepFunctions.executions().find((e) => e.name.startsWith('phones-'));
    expect(fallback?.status).toBe('SUCCEEDED');
  });

  it('applies a callback that arrived before the contact existed once the contact is there', async () => {
    harness.apollo.setPhoneCallbacks({ mode: 'never' });
    const early = await harness.phoneCallback({
      status: 'success',
      credits_consumed: 8,
      people: [
        {
          id: adaId,
          status: 'success',
          phone_numbers: [{ raw_number: '+1 555 010 1815', sanitized_number: ADA_MOBILE, type_cd: 'mobile' }],
        },
      ],
    });

    const reply = await harness.enrich({ email: ADA.email, reveal_phone_number: true });
    await harness.verificationsSettled();

    expect(early.body).toEqual({ results: [{ apollo_person_id: adaId, status: 'held' }] });
    expect(reply.body.phones).toBe('applied');
    expect(mobilesOnContact()).toHaveLength(1);
    expect(harness.stepFunctions.executions().filter((e) => e.name.startsWith('phones-'))).toHaveLength(0);
  });

  it('acknowledges a callback for an unknown person without retrying it', async () => {
    const reply = await harness.phoneCallback({
      people: [
        {
          id: 'ffffffffffffffffffffffff',
          phone_numbers: [{ sanitized_number: '+15550100000', type_cd: 'mobile' }],
        },
      ],
    });

    expect(reply).toMatchObject({ status: 200, body: { results: [{ status: 'held' }] } });
    expect(harness.apollo.requests()).toHaveLength(0);
  });

  it('refuses a callback with a wrong or missing token: 401, nothing written', async () => {
    const payload = {
      people: [{ id: adaId, phone_numbers: [{ sanitized_number: ADA_MOBILE, type_cd: 'mobile' }] }],
    };

    const wrong = await harness.phoneCallback(payload, 'not-the-token');
    const missing = await harness.phoneCallback(payload, null);

    expect([wrong.status, missing.status]).toEqual([401, 401]);
    expect(await harness.ledgerItems()).toHaveLength(0);
  });

  it('answers a second request for the same person from the ledger: no Apollo call, credits saved', async () => {
    const first = await harness.enrich({ email: ADA.email });
    await harness.verificationsSettled();
    const callsAfterFirst = harness.apollo.requests().length;

    const byEmail = await harness.enrich({ email: ADA.email.toUpperCase(), reveal_phone_number: true });
    const byPersonId = await harness.enrich({ id: adaId });
    const byLinkedin = await harness.enrich({ linkedin_url: 'linkedin.com/in/ada-lovelace-example/' });
    await harness.verificationsSettled();

    for (const reply of [byEmail, byPersonId, byLinkedin]) {
      expect(reply.body).toMatchObject({
        id: first.body.id,
        status: 'duplicate',
        contact_id: first.body.contact_id,
        credits_saved: true,
        credits_consumed: 0,
      });
    }
    expect(harness.apollo.requests()).toHaveLength(callsAfterFirst);
    expect((await harness.lookupConversion({ email: ADA.email })).body.free_lookups).toBe(3);
    expect(first.body.id).toBe(await harness.conversionIdOf(ADA.email));
    expect((await harness.lookupConversion({ apollo_person_id: adaId })).body.id).toBe(first.body.id);
  });

  it('converts a paid-for enrichment on the retry without paying Apollo again when the create was refused', async () => {
    // Prepare: Apollo rate limits the create right after people/match spent the credits.
    harness.apollo.setPhoneCallbacks({ mode: 'never' });
    harness.apollo.inject({ method: 'POST', path: '/contacts', status: 429, retryAfterSeconds: 60 });

    // Act
    const first = await harness.enrich({ email: ADA.email, reveal_phone_number: true });
    const retry = await harness.enrich({ email: ADA.email, reveal_phone_number: true });
    await harness.verificationsSettled();

    // Assess
    expect(first.status).toBe(503);
    expect(retry.body).toMatchObject({
      status: 'created',
      apollo_person_id: adaId,
      credits_saved: true,
      credits_consumed: 0,
      phones: 'pending',
    });
    const enrichments = harness.apollo
      .requests()
      .filter(
        (r) =>
          r.path === '/people/match' && (r.body as { reveal_phone_number?: boolean }).reveal_phone_number,
      );
    expect(enrichments).toHaveLength(1);
    expect(harness.apollo.contacts()).toHaveLength(1);
    // The reveal the first request paid for still arrives, through the fallback.
    expect((await harness.lookupConversion({ email: ADA.email })).body).toMatchObject({
      phone_reveal: 'applied',
      apollo_person_id: adaId,
    });
  });

  it('answers 404 when Apollo knows no such person, and 400 without an identifier', async () => {
    const unknown = await harness.enrich({ email: 'nobody@nowhere.example' });
    const empty = await harness.enrich({ reveal_phone_number: true });

    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ status: 'not_found', contact_id: null });
    expect(empty.status).toBe(400);
    expect(harness.apollo.contacts()).toHaveLength(0);
  });
});
