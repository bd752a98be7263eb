import { beforeEach, describe, expect, it } from 'vitest';
import type { SandboxPersonSeed } from '../local/apollo-sandbox';
import { SANDBOX_PEOPLE } from '../local/sandbox-people';
import type { EnrichmentResult } from '../lib/enrichment';
import { useServiceHarness, type HttpReply } from './support/service-harness';

/** A fictional person in Apollo's directory, not yet a contact of the team, with one mobile phone. */
const ADA = SANDBOX_PEOPLE[0] as SandboxPersonSeed & { email: string };
/** A fictional person Apollo knows but has no phone for: a reveal finds nothing. */
const GRACE: SandboxPersonSeed & { email: string } = {
  first_name: 'Grace',
  last_name: 'Phoneless',
  email: 'grace.phoneless@compilers.example',
  title: 'Rear Admiral of Compilers',
  organization_name: 'Compilers Example Inc',
  website_url: 'https://compilers.example',
};

/** people/match requests that paid for a phone reveal (the verification's own match never reveals). */
function paidMatches(harness: ReturnType<typeof useServiceHarness>) {
  return harness.apollo
    .requests()
    .filter(
      (r) =>
        r.method === 'POST' &&
        r.path === '/people/match' &&
        (r.body as { reveal_phone_number?: boolean }).reveal_phone_number === true,
    );
}

/** Waits until `check` holds (callbacks and state machines run in the background). */
async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Enrichment pays Apollo once: claim before paying, credits counted once, every reveal ends', () => {
  const harness = useServiceHarness({ resetBeforeEach: { MAX_RESULT_POLLS: '500' } });
  let adaId: string;
  let graceId: string;

  beforeEach(() => {
    adaId = harness.apollo.addPerson(ADA).id;
    graceId = harness.apollo.addPerson(GRACE).id;
  });

  const isRetryLater = (reply: HttpReply<EnrichmentResult>) =>
    reply.status === 409 &&
    reply.body.error === 'in_progress' &&
    reply.body.status === 'in_progress' &&
    Number(reply.headers['retry-after']) >= 1 &&
    reply.body.retry_after_seconds === Number(reply.headers['retry-after']);

  it('makes exactly one people/match for 20 concurrent enrichments of one new person', async () => {
    // Prepare
    harness.apollo.setPhoneCallbacks({ mode: 'once', delayMs: 300 });

    // Act
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => harness.enrich({ email: ADA.email, reveal_phone_number: true })),
    );
    await harness.verificationsSettled();

    // Assess: one payment, one contact; every answer the result or "retry later".
    expect(paidMatches(harness)).toHaveLength(1);
    expect(harness.apollo.contacts()).toHaveLength(1);
    const contactId = harness.apollo.contacts()[0]?.id;
    const id = await harness.conversionIdOf(ADA.email);
    for (const reply of replies) {
      if (reply.status === 200) {
        expect(reply.body).toMatchObject({ id, contact_id: contactId, apollo_person_id: adaId });
      } else {
        expect(isRetryLater(reply), JSON.stringify(reply)).toBe(true);
      }
    }
    const paying = replies.filter((reply) => reply.status === 200 && reply.body.credits_saved === false);
    expect(paying).toHaveLength(1);
    // 1 for the person; 9 when the phones (a mobile: 8) came back before the answer did.
    expect(paying[0]?.body.status).toBe('created');
    expect(paying[0]?.body.credits_consumed).toBe(paying[0]?.body.phones === 'applied' ? 9 : 1);

    // The ones told to retry are answered from the ledger, still without paying.
    const retried = await Promise.all(
      replies
        .filter((reply) => reply.status !== 200)
        .map(() => harness.enrich({ email: ADA.email, reveal_phone_number: true })),
    );
    for (const reply of retried) {
      expect(reply.body).toMatchObject({ status: 'duplicate', contact_id: contactId, credits_consumed: 0 });
    }
    expect(paidMatches(harness)).toHaveLength(1);
    const record = (await harness.lookupConversion({ email: ADA.email })).body;
    expect(record.credits_consumed).toBe(harness.apollo.creditsConsumed());
  });

  it('pays once for concurrent enrichments without phones too', async () => {
    const replies = await Promise.all(Array.from({ length: 20 }, () => harness.enrich({ email: ADA.email })));
    await harness.verificationsSettled();

    // Without the reveal flag a paid match looks like the verification's free one: the answers tell.
    expect(
      replies.filter((reply) => reply.status === 200 && reply.body.credits_saved === false),
    ).toHaveLength(1);
    expect(replies.every((reply) => reply.status === 200 || isRetryLater(reply))).toBe(true);
    expect(harness.apollo.creditsConsumed()).toBe(1);
    expect(harness.apollo.contacts()).toHaveLength(1);
  });

  it('reports credits the same in the answer and the record, from Apollo price list, counted once', async () => {
    // Prepare: the phones come well after the answer.
    harness.apollo.setPhoneCallbacks({ mode: 'once', delayMs: 3000 });

    // Act
    const reply = await harness.enrich({ email: ADA.email, reveal_phone_number: true });
    const atAnswer = (await harness.lookupConversion({ email: ADA.email })).body;

    // Assess: charged so far 1 (the person), pending up to 8 (a mobile phone); record agrees.
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ credits_consumed: 1, credits_pending: 8, phones: 'pending' });
    expect(atAnswer).toMatchObject({
      phone_reveal: 'pending',
      credits_consumed: reply.body.credits_consumed,
      credits_pending: reply.body.credits_pending,
    });
    expect(harness.apollo.creditsConsumed()).toBe(9); // the sandbox charged the reveal up front

    await eventually(
      async () => (await harness.lookupConversion({ email: ADA.email })).body.phone_reveal === 'applied',
    );
    await eventually(() => harness.apollo.callbacks().length === 1);
    const callback = harness.apollo.callbacks()[0]?.body;
    // Apollo may retry: a replayed callback counts nothing again.
    const replay = await harness.phoneCallback(callback);
    await harness.verificationsSettled();

    expect(replay.status).toBe(200);
    const settled = (await harness.lookupConversion({ email: ADA.email })).body;
    expect(settled).toMatchObject({ credits_consumed: 9, credits_pending: 0, phone_reveal: 'applied' });
    expect(settled.credits_consumed).toBe(harness.apollo.creditsConsumed());
  });

  it('keeps a finished reveal and its request_id when a known person is enriched again', async () => {
    // Prepare: Ada enriched with phones, and the phones applied.
    const first = await harness.enrich({ email: ADA.email, reveal_phone_number: true });
    await eventually(
      async () => (await harness.lookupConversion({ email: ADA.email })).body.phone_reveal === 'applied',
    );
    await harness.verificationsSettled();

    // Act: the same person, asked for by name and company (a lookup the ledger does not hold yet).
    const again = await harness.enrich({
      first_name: ADA.first_name,
      last_name: ADA.last_name,
      organization_name: ADA.organization_name,
      reveal_phone_number: true,
    });
    const record = (await harness.lookupConversion({ email: ADA.email })).body;
    await harness.verificationsSettled();

    // Assess: the record still says applied, under the first request's id; the answer agrees.
    expect(record).toMatchObject({ phone_reveal: 'applied', request_id: first.body.request_id });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      id: await harness.conversionIdOf(ADA.email),
      contact_id: first.body.contact_id,
      phones: 'applied',
    });
    expect(again.body.credits_pending).toBe(0);
    expect((await harness.lookupConversion({ email: ADA.email })).body).toMatchObject({
      phone_reveal: 'applied',
      request_id: first.body.request_id,
    });
    expect(harness.apollo.contacts()).toHaveLength(1);
  });

  it('ends a reveal whose callback brings no phone as unavailable, with a note', async () => {
    // Prepare: Grace has no phone; the callback says so and the fallback must not keep waiting.
    harness.apollo.setPhoneCallbacks({ mode: 'once', delayMs: 200 });

    // Act
    const reply = await harness.enrich({ email: GRACE.email, reveal_phone_number: true });
    await eventually(() => harness.apollo.callbacks().length === 1);
    await harness.verificationsSettled();

    // Assess
    // 'unavailable' already when the callback beat the contact (held, then applied at once).
    expect(reply.body).toMatchObject({
      apollo_person_id: graceId,
      phones: expect.stringMatching(/^(pending|unavailable)$/) as unknown,
    });
    expect(harness.apollo.callbacks()[0]?.body.people).toEqual([
      expect.objectContaining({ id: graceId, phone_numbers: [] }),
    ]);
    expect((await harness.lookupConversion({ email: GRACE.email })).body).toMatchObject({
      phone_reveal: 'unavailable',
      phone_reveal_note: expect.stringContaining('no phone found') as unknown,
      credits_consumed: 1,
      credits_pending: 0,
    });
    expect(harness.apollo.countRequests('PATCH', /^\/contacts\//)).toBe(0);
  });

  it('answers a callback with no phones "unavailable", and a replay of it changes nothing', async () => {
    harness.apollo.setPhoneCallbacks({ mode: 'never', delayMs: 60_000 });
    await harness.enrich({ email: GRACE.email, reveal_phone_number: true });
    const payload = {
      status: 'success',
      credits_consumed: 1,
      people: [{ id: graceId, status: 'not_found', phone_numbers: [] }],
    };

    const first = await harness.phoneCallback(payload);
    const replay = await harness.phoneCallback(payload);

    expect(first.body).toEqual({ results: [{ apollo_person_id: graceId, status: 'unavailable' }] });
    expect(replay.body).toEqual({ results: [{ apollo_person_id: graceId, status: 'unchanged' }] });
    expect((await harness.lookupConversion({ email: GRACE.email })).body).toMatchObject({
      phone_reveal: 'unavailable',
      phone_reveal_note: 'no phone found',
      credits_consumed: 1,
    });
  });

  it('ends a reveal as unavailable when the polled webhook_result is ready without phones', async () => {
    // Prepare: no callback ever; webhook_result is ready at once, with no phone for Grace.
    harness.apollo.setPhoneCallbacks({ mode: 'never', delayMs: 0 });

    // Act
    const reply = await harness.enrich({ email: GRACE.email, reveal_phone_number: true });
    await harness.verificationsSettled();

    // Assess
    expect(reply.body.phones).toBe('pending');
    expect(harness.apollo.callbacks()).toHaveLength(0);
    expect(harness.apollo.countRequests('GET', /^\/webhook_result\//)).toBeGreaterThanOrEqual(1);
    expect((await harness.lookupConversion({ email: GRACE.email })).body).toMatchObject({
      phone_reveal: 'unavailable',
      phone_reveal_note: expect.stringContaining('no phone found') as unknown,
    });
    const fallback = harness.stepFunctions.executions().find((e) => e.name.startsWith('phones-'));
    expect(fallback?.status).toBe('SUCCEEDED');
  });
});
