import { beforeEach, describe, expect, it } from 'vitest';
import { EMILY, EMILY_LOOKUP, MARK_TWAIN, WALT } from './support/people';
import { CONVERSION_ID_PATTERN } from '../lib/identity';
import { API_KEY, enrichmentCompleted, useServiceHarness } from './support/service-harness';

const KEY = MARK_TWAIN.email;

describe('Service: enriched people become exactly one Apollo contact (real handlers, dynalite, Apollo sandbox)', () => {
  const harness = useServiceHarness();

  it("turns the seed's Mark Twain into exactly one verified contact", async () => {
    // Act
    const reply = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    await harness.settled();

    // Assess: queued at once (202), converted and verified without the sender.
    expect(reply.status).toBe(202);
    const [contact, ...others] = harness.apollo.contacts();
    expect(others).toHaveLength(0);
    expect(reply.body).toEqual({
      results: [{ id: await harness.conversionIdOf(KEY), status: 'queued', contact_id: null }],
    });
    expect(contact).toMatchObject({
      first_name: 'Mark',
      last_name: 'Twain',
      email: KEY,
      organization_name: 'Great American Writers Co.',
      title: 'Author',
    });
    expect(contact?.phone_numbers.map((phone) => [phone.sanitized_number, phone.type]).sort()).toEqual([
      ['+15551234567', 'work_direct'],
      ['+15557654321', 'mobile'],
    ]);
    const id = reply.body.results[0]?.id;
    expect(id).toMatch(CONVERSION_ID_PATTERN);
    if (typeof id !== 'string') throw new Error('the result carries no conversion id');
    // The result's id reads the record back, and the email finds the same record.
    expect((await harness.lookupConversion({ email: KEY })).body).toEqual(
      (await harness.getConversion(id)).body,
    );
    const record = await harness.getConversion(id);
    expect(record.status).toBe(200);
    expect(record.body).toMatchObject({
      id,
      status: 'verified',
      outcome: 'created',
      contact_id: contact?.id,
      attempts: 1,
      last_error: null,
    });
    expect(record.body.verified_at).toEqual(expect.any(String));
    // Verification used people/bulk_match without any reveal flag (no credits).
    const matches = harness.apollo.requests().filter((request) => request.path === '/people/bulk_match');
    expect(matches).toHaveLength(1);
    expect(matches[0]?.body).toEqual({ details: [{ email: KEY }] });
    expect(harness.apollo.countRequests('POST', '/people/match')).toBe(0);
  });

  it('answers a re-delivery from the ledger as a duplicate, without calling Apollo', async () => {
    await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    await harness.settled();
    const apolloCallsBefore = harness.apollo.requests().length;

    const again = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));

    expect(again.status).toBe(200);
    expect(again.body.results).toEqual([
      {
        id: await harness.conversionIdOf(KEY),
        status: 'duplicate',
        contact_id: harness.apollo.contacts()[0]?.id,
      },
    ]);
    expect(harness.apollo.requests()).toHaveLength(apolloCallsBefore);
    expect(harness.apollo.contacts()).toHaveLength(1);
    expect((await harness.lookupConversion({ email: KEY })).body.free_lookups).toBe(1);
  });

  it('creates exactly one contact from 50 concurrent deliveries of one person', async () => {
    const replies = await Promise.all(
      Array.from({ length: 50 }, () => harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }))),
    );
    await harness.settled();

    expect(harness.apollo.contacts()).toHaveLength(1);
    expect(harness.apollo.countRequests('POST', '/contacts/bulk_create')).toBe(1);
    expect(harness.queue.sent).toHaveLength(1);
    const statuses = replies.map((reply) => reply.body.results[0]?.status);
    expect(statuses.filter((status) => status === 'queued').length).toBeGreaterThan(0);
    expect(
      statuses.every(
        (status) => status !== undefined && ['queued', 'duplicate', 'in_progress'].includes(status),
      ),
    ).toBe(true);
    // Queued: 202, converted without the sender. A person whose identity another delivery is
    // deciding right now is never a 200 (a sender drops a 200): 503 + Retry-After.
    for (const reply of replies) {
      const status = reply.body.results[0]?.status;
      expect(reply.status).toBe({ queued: 202, duplicate: 200, in_progress: 503 }[status as string]);
      if (status === 'in_progress') expect(Number(reply.headers['retry-after'])).toBeGreaterThan(0);
    }
    const retries = await Promise.all(
      replies
        .filter((reply) => reply.status === 503)
        .map(() => harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }))),
    );
    expect(retries.map((reply) => [reply.status, reply.body.results[0]?.status])).toEqual(
      retries.map(() => [200, 'duplicate']),
    );
    expect((await harness.lookupConversion({ email: KEY })).body.status).toBe('verified');
    expect(harness.stepFunctions.executions()).toHaveLength(1);
  });

  it('links a contact Apollo already has with the same email instead of creating one', async () => {
    const existing = harness.apollo.addContact({
      first_name: 'Mark',
      last_name: 'Twain',
      email: 'Mark.Twain@GreatAmericanWriters.example',
    });
    // A fuzzy search hit with a different email must not count as the same person.
    harness.apollo.addContact({
      first_name: 'Mark',
      last_name: 'Twain',
      email: 'mark.twain@greatamericanwriters.example.org',
    });

    const reply = await harness.createContacts(
      { ...MARK_TWAIN, direct_phone: null, mobile_phone: null },
      undefined,
      15,
    );
    await harness.settled();

    expect(reply.body.results).toEqual([
      { id: await harness.conversionIdOf(KEY), status: 'existing', contact_id: existing.id },
    ]);
    expect(harness.apollo.countRequests('POST', '/contacts')).toBe(0);
    expect(harness.apollo.contacts()).toHaveLength(2);
    expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
      status: 'verified',
      outcome: 'existing',
      contact_id: existing.id,
    });
  });

  it('converts a batch in input order, one result per person, and a person listed twice once', async () => {
    const people = [MARK_TWAIN, EMILY, WALT, MARK_TWAIN];

    const reply = await harness.webhook(enrichmentCompleted({ people }));
    await harness.settled();

    expect(reply.status).toBe(202);
    const [mark, emily, walt] = [
      await harness.conversionIdOf(KEY),
      await harness.conversionIdOf(EMILY_LOOKUP),
      await harness.conversionIdOf(WALT.email),
    ];
    expect(new Set([mark, emily, walt]).size).toBe(3);
    expect(reply.body.results.map((r) => [r.id, r.status])).toEqual([
      [mark, 'queued'],
      [emily, 'queued'],
      [walt, 'queued'],
      [mark, 'queued'],
    ]);
    expect(harness.queue.sent).toEqual([mark, emily, walt]);
    expect(harness.apollo.contacts()).toHaveLength(3);
  });

  it('acknowledges other event types and writes nothing', async () => {
    const reply = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }, 'person.updated'));

    expect(reply).toMatchObject({ status: 200, body: { ignored: 'person.updated', results: [] } });
    expect(await harness.ledgerItems()).toHaveLength(0);
    expect(harness.apollo.requests()).toHaveLength(0);
  });

  describe('refused requests write nothing and call nothing', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const body = () => enrichmentCompleted({ person: MARK_TWAIN });
    const cases: Array<[string, () => Promise<{ status: number }>, number]> = [
      [
        'no signature headers',
        () => harness.webhook(body(), { headers: { 'content-type': 'application/json' } }),
        401,
      ],
      [
        'a signature under another secret',
        () => harness.webhook(body(), { secret: 'whsec_' + Buffer.from('wrong').toString('base64') }),
        401,
      ],
      ['a stale timestamp', () => harness.webhook(body(), { timestamp: now() - 301 }), 401],
      ['a timestamp from the future', () => harness.webhook(body(), { timestamp: now() + 301 }), 401],
      ['malformed JSON', () => harness.webhook('{"type": "person.enrichment.completed", '), 400],
      [
        'a schema violation',
        // Alone: beside a valid person it would get its own `invalid` result (test/http-edges...).
        () => harness.webhook(enrichmentCompleted({ people: [{ email: ['x'] }] })),
        400,
      ],
      [
        'a person with no identity',
        () => harness.webhook(enrichmentCompleted({ people: [{ first_name: 'Nobody' }] })),
        400,
      ],
      [
        'an email that is not an email',
        () => harness.webhook(enrichmentCompleted({ person: { email: 'mark at twain' } })),
        400,
      ],
      [
        'a body over 1 MB',
        () =>
          harness.webhook(
            enrichmentCompleted({ person: { ...MARK_TWAIN, padding: 'x'.repeat(1024 * 1024) } }),
          ),
        413,
      ],
      ['POST /contacts without x-api-key', () => harness.createContacts(MARK_TWAIN, null), 401],
      ['POST /contacts with a wrong x-api-key', () => harness.createContacts(MARK_TWAIN, 'wrong-key'), 401],
      ['POST /contacts with no identity', () => harness.createContacts({ title: 'Author' }), 400],
    ];

    it.each(cases)('%s', async (_case, send, status) => {
      const reply = await send();

      expect(reply.status).toBe(status);
      expect(await harness.ledgerItems()).toHaveLength(0);
      expect(harness.apollo.requests()).toHaveLength(0);
    });

    it('names the field and the person index in a 400', async () => {
      const reply = await harness.webhook(
        enrichmentCompleted({ people: [{ email: 'mark at twain' }, { first_name: 'Nobody' }] }),
      );

      expect(reply.body).toEqual({
        error: 'invalid_request',
        message: 'body.data.people[0].email: not an email address',
        field: 'body.data.people[0].email',
        reason: 'not an email address',
      });
    });
  });

  describe('when Apollo is unavailable', () => {
    // The quiet period after a create of unknown outcome, shortened: the tests' clock is real.
    beforeEach(async () => {
      await harness.reset({ UNAVAILABLE_RETRY_AFTER_SECONDS: '1' });
    });

    it('never answers a sender 503 because Apollo rate limits: the batch waits out retry-after on the queue', async () => {
      harness.apollo.inject({
        method: 'POST',
        path: '/contacts/bulk_create',
        status: 429,
        retryAfterSeconds: 2,
      });

      const first = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.settled();

      expect(first.status).toBe(202);
      expect(harness.apollo.countRequests('POST', '/contacts/bulk_create')).toBe(2);
      expect(harness.apollo.contacts()).toHaveLength(1);
      // The rate-limited attempt is not counted against the attempts.
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        attempts: 1,
      });
    });

    it('never creates twice after a create whose outcome is unknown (Apollo created, then failed)', async () => {
      harness.apollo.inject({
        method: 'POST',
        path: '/contacts/bulk_create',
        action: 'create-then-fail',
        status: 502,
      });

      const first = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.settled();

      expect(first.status).toBe(202);
      expect(harness.apollo.contacts()).toHaveLength(1);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        outcome: 'created',
        contact_id: harness.apollo.contacts()[0]?.id,
      });
      // The retry's dedupe returned what the first try made.
      const creates = harness.apollo.requests().filter((r) => r.path === '/contacts/bulk_create');
      expect(creates.map((r) => (r.body as { run_dedupe?: boolean }).run_dedupe)).toEqual([true, true]);
    });

    it('finds the contact by name and company after an unknown outcome for a person without email', async () => {
      harness.apollo.inject({
        method: 'POST',
        path: '/contacts/bulk_create',
        action: 'create-then-fail',
        status: 500,
      });

      await harness.webhook(enrichmentCompleted({ person: EMILY }));
      await harness.settled();

      expect(harness.apollo.contacts()).toHaveLength(1);
      expect(harness.apollo.countRequests('POST', '/contacts/bulk_create')).toBe(2);
      expect(harness.apollo.countRequests('POST', '/contacts')).toBe(0);
      expect((await harness.lookupConversion(EMILY_LOOKUP)).body).toMatchObject({
        status: 'verified',
        outcome: 'created',
      });
    });

    it('waits out a quiet period before creating again when the earlier create may still land', async () => {
      harness.apollo.inject({ method: 'POST', path: '/contacts/bulk_create', status: 500 });

      await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.queue.idle();
      const failedAt = Date.now();
      await harness.settled();

      const creates = harness.apollo.requests().filter((r) => r.path === '/contacts/bulk_create');
      expect(creates).toHaveLength(2);
      expect((creates[1]?.at ?? 0) - failedAt).toBeGreaterThanOrEqual(900);
      expect(harness.apollo.contacts()).toHaveLength(1);
      // Attempts held back by the quiet period are not counted against the attempts.
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verified',
        attempts: 2,
      });
    });

    it('keeps the reason when Apollo rejects the data (422), and answers a replay from the ledger', async () => {
      // The batch is refused, then the person on their own.
      harness.apollo.inject({
        method: 'POST',
        path: '/contacts/bulk_create',
        status: 422,
        body: { error: 'Parameters misconfigured.' },
        times: 2,
      });

      const first = await harness.createContacts(MARK_TWAIN, undefined, 15);
      const callsAfterFirst = harness.apollo.requests().length;
      const replay = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));

      expect(first.status).toBe(200);
      expect(first.body.results).toEqual([
        {
          id: await harness.conversionIdOf(KEY),
          status: 'rejected',
          contact_id: null,
          reason: 'Parameters misconfigured. (422)',
        },
      ]);
      expect(replay.status).toBe(200);
      expect(replay.body.results[0]).toMatchObject({
        status: 'rejected',
        reason: 'Parameters misconfigured. (422)',
      });
      expect(harness.apollo.requests()).toHaveLength(callsAfterFirst);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'rejected',
        last_error: 'Parameters misconfigured. (422)',
      });
    });

    it("keeps a person queued, with the reason, while Apollo refuses the service's key (an operator problem)", async () => {
      harness.apollo.inject({ method: 'POST', path: '/contacts/bulk_create', status: 403, times: 1 });

      const reply = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.queue.idle();
      const record = await harness.lookupConversion({ email: KEY });

      expect(reply.status).toBe(202);
      expect(record.body.status).toBe('queued');
      expect(record.body.last_error).toMatch(/403/);
    });
  });

  describe('verification', () => {
    it('records verification_failed with the reason when Apollo never returns the contact', async () => {
      harness.apollo.inject({
        method: 'POST',
        path: '/people/bulk_match',
        status: 200,
        body: { matches: [null] },
        times: 100,
      });

      await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.settled();

      const record = await harness.lookupConversion({ email: KEY });
      expect(record.body.status).toBe('verification_failed');
      expect(record.body.last_error).toBe(
        'ContactsNotVisibleYetError: 1 of 1 people not visible through Apollo yet: people/match does not find the person yet (1)',
      );
      const [execution] = harness.stepFunctions.executions();
      expect(execution).toMatchObject({ status: 'FAILED', error: 'VerificationFailed' });
    });

    it('fails verification at once when Apollo returns another contact for the email', async () => {
      harness.apollo.inject({
        method: 'POST',
        path: '/people/bulk_match',
        status: 200,
        body: {
          matches: [
            {
              id: 'p1',
              email: KEY,
              contact_id: 'someone-else',
              contact: { id: 'someone-else', email: KEY },
            },
          ],
        },
      });

      await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.settled();
      const contactId = harness.apollo.contacts()[0]?.id;

      expect(harness.apollo.countRequests('POST', '/people/bulk_match')).toBe(1);
      expect((await harness.lookupConversion({ email: KEY })).body).toMatchObject({
        status: 'verification_failed',
        last_error: `ContactMismatchError: people/match returns contact someone-else, not ${contactId}`,
      });
    });
  });

  describe('on-demand API', () => {
    it('converts one person or a list with the same results as the webhook, final with ?wait', async () => {
      const one = await harness.createContacts(MARK_TWAIN, undefined, 15);
      const list = await harness.createContacts({ people: [MARK_TWAIN, WALT] }, undefined, 15);

      expect([one.status, list.status]).toEqual([200, 200]);
      expect(one.body.results).toEqual([
        {
          id: await harness.conversionIdOf(KEY),
          status: 'created',
          contact_id: expect.any(String) as unknown,
        },
      ]);
      expect(list.body.results.map((r) => r.status)).toEqual(['duplicate', 'created']);
      expect(harness.apollo.contacts()).toHaveLength(2);
    });

    it('shows a ledger record by id, 404 for an unknown id, 400 for a malformed or over-long one, behind the API key', async () => {
      const reply = await harness.createContacts(MARK_TWAIN);
      const id = reply.body.results[0]?.id;
      expect(id).toMatch(CONVERSION_ID_PATTERN);
      if (typeof id !== 'string') throw new Error('the result carries no conversion id');

      expect((await harness.getConversion(id)).status).toBe(200);
      expect((await harness.lookupConversion({ email: KEY })).status).toBe(200);
      expect((await harness.getConversion('c_AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
      expect((await harness.lookupConversion({ email: 'nobody@nowhere.example' })).status).toBe(404);
      expect((await harness.getConversion(KEY)).status).toBe(400);
      expect((await harness.getConversion(`c_${'é'.repeat(3000)}`)).status).toBe(400);
      expect((await harness.getConversion('x'.repeat(3000))).status).toBe(400);
      expect((await harness.lookupConversion({ email: `${'a'.repeat(3000)}@b.example` })).status).toBe(400);
      expect((await harness.lookupConversion({ first_name: 'Mark' })).status).toBe(400);
      expect((await harness.getConversion(id, null)).status).toBe(401);
      expect((await harness.getConversion(id, `${API_KEY}x`)).status).toBe(401);
      expect((await harness.lookupConversion({ email: KEY }, null)).status).toBe(401);
    });
  });
});
