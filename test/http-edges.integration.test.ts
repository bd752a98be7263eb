import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pathParameter, type HttpRequest } from '../lib/http/api';
import { CONVERSION_ID_PATTERN } from '../lib/identity';
import { personRef, usePersonRefSecret } from '../lib/logger';
import { phoneRevealExecutionName, verificationExecutionName } from '../lib/schedulers';
import { signedWebhookHeaders, signWebhook } from '../lib/webhook-signature';
import { MARK_TWAIN, WALT } from './support/people';
import { WEBHOOK_SECRET, enrichmentCompleted, useServiceHarness } from './support/service-harness';

/**
 * The edges of the HTTP API, through the real handlers (dynalite, the Apollo sandbox and the local
 * state machine behind them): batches with invalid people, path parameters, signatures over raw
 * bytes, Apollo's request ids in any JSON spelling, replayed webhook ids, and keyed references.
 */

const harness = useServiceHarness();

const ledgerKeys = async () =>
  (await harness.ledgerItems()).map((item) => (item.pk as { S: string }).S).sort();
/** The keys of the conversion records (not identity links, not webhook ids). */
const recordKeys = async () => (await ledgerKeys()).filter((key) => CONVERSION_ID_PATTERN.test(key));
const idOf = (email: string) => harness.conversionIdOf(email);
/** What bulk_create received, contact by contact. */
const created = () =>
  harness.apollo
    .requests()
    .filter((request) => request.path === '/contacts/bulk_create')
    .flatMap((request) => (request.body as { contacts: Array<Record<string, unknown>> }).contacts);

describe('Partial acceptance: a batch with invalid people', () => {
  it('converts the valid people and answers each invalid one at its index, writing nothing for it', async () => {
    const reply = await harness.webhook(
      enrichmentCompleted({
        people: [MARK_TWAIN, { ...WALT, email: 'walt at leaves' }, WALT, { first_name: 'Nobody' }],
      }),
    );
    await harness.settled();

    expect(reply.status).toBe(202);
    expect(reply.body.results).toEqual([
      { id: await idOf(MARK_TWAIN.email), status: 'queued', contact_id: null },
      {
        id: null,
        status: 'invalid',
        contact_id: null,
        field: 'body.data.people[1].email',
        reason: 'not an email address',
      },
      { id: await idOf(WALT.email), status: 'queued', contact_id: null },
      {
        id: null,
        status: 'invalid',
        contact_id: null,
        field: 'body.data.people[3]',
        reason: expect.stringMatching(/^no identity/) as unknown,
      },
    ]);
    expect(harness.apollo.contacts()).toHaveLength(2);
    expect(await recordKeys()).toEqual([await idOf(MARK_TWAIN.email), await idOf(WALT.email)].sort());
  });

  it('does the same for POST /contacts', async () => {
    const reply = await harness.createContacts(
      { people: [{ email: 'x@@y.example' }, MARK_TWAIN] },
      undefined,
      15,
    );

    expect(reply.status).toBe(200);
    expect(reply.body.results).toEqual([
      expect.objectContaining({ status: 'invalid', field: 'body.people[0].email' }),
      expect.objectContaining({ id: await idOf(MARK_TWAIN.email), status: 'created' }),
    ]);
    expect(await recordKeys()).toEqual([await idOf(MARK_TWAIN.email)]);
  });

  it('refuses a delivery without one usable person with 400 naming the field and reason, writing nothing', async () => {
    const reply = await harness.webhook(
      enrichmentCompleted({ people: [{ email: 'not-an-email' }, { email: 'bad\ud800@b.example' }] }),
    );

    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({
      error: 'invalid_request',
      message: 'body.data.people[0].email: not an email address',
      field: 'body.data.people[0].email',
      reason: 'not an email address',
    });
    expect(await ledgerKeys()).toEqual([]);
    expect(harness.apollo.requests()).toEqual([]);
  });

  it('converts an email with an internationalised domain, sending the domain to Apollo in punycode', async () => {
    const reply = await harness.createContacts({ ...WALT, email: 'walt@bücher.example' }, undefined, 15);

    expect(reply.status).toBe(200);
    expect(reply.body.results[0]).toMatchObject({
      id: await idOf('walt@xn--bcher-kva.example'),
      status: 'created',
    });
    expect(created()[0]).toMatchObject({ email: 'walt@xn--bcher-kva.example' });
  });
});

describe('Path parameters: decoded once, by the gateway', () => {
  it('keeps an escaped percent sign that the gateway decoded (%2540 stays %40)', () => {
    const request = { pathParameters: { key: 'a%40b.example' } } as unknown as HttpRequest;

    expect(pathParameter(request, 'key')).toBe('a%40b.example');
  });

  it('finds a person whose identity holds a percent sign', async () => {
    const person = { first_name: 'Pat', last_name: 'Percent', organization_name: 'Per%40cent Co' };
    const created = await harness.createContacts(person);
    const id = created.body.results[0]?.id ?? null;
    expect(id).not.toBeNull();

    const found = await harness.getConversion(id as string);

    expect(found.status).toBe(200);
    expect(found.body.id).toBe(id);
    expect(await harness.conversionIdOf(person)).toBe(id);
  });
});

describe('Webhook signature: over the raw bytes of the body', () => {
  // A body that is not UTF-8: 0xFF cannot appear in UTF-8.
  const invalidUtf8 = Buffer.concat([
    Buffer.from('{"type":"person.updated","timestamp":"2026-11-26T10:00:00Z","note":"'),
    Buffer.from([0xff]),
    Buffer.from('"}'),
  ]);

  it('accepts the signature of the raw bytes, then refuses the body as not JSON', async () => {
    const reply = await harness.webhook(invalidUtf8);

    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: 'invalid_request', field: 'body' });
  });

  it('refuses a signature computed over the text with U+FFFD in place of the invalid byte', async () => {
    const id = 'msg_replaced_text';
    const timestamp = Math.floor(Date.now() / 1000);
    const overText = signWebhook(WEBHOOK_SECRET, id, timestamp, invalidUtf8.toString('utf8'));

    const reply = await harness.webhook(invalidUtf8, {
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': overText,
      },
    });

    expect(reply.status).toBe(401);
  });

  it('accepts a UTF-8 body that arrives base64-encoded', async () => {
    const body = Buffer.from(JSON.stringify(enrichmentCompleted({ person: MARK_TWAIN })), 'utf8');

    const reply = await harness.webhook(body);

    expect(reply.status).toBe(202);
    expect(reply.body.results[0]).toMatchObject({ id: await idOf(MARK_TWAIN.email), status: 'queued' });
  });
});

describe("Apollo's phone callback: request_id in any JSON spelling of an integer", () => {
  it.each(['1500', '1.5e3', '1500.0', '15E2', '9.223372036854775807e18'])(
    'accepts "request_id": %s',
    async (spelling) => {
      const reply = await harness.phoneCallback(`{"status":"success","request_id":${spelling},"people":[]}`);

      expect(reply.status).toBe(200);
    },
  );
});

describe('Webhook replays: one webhook-id, one answer', () => {
  // One body for every delivery: a replay is the same id with the same bytes.
  const body = JSON.stringify(enrichmentCompleted({ person: MARK_TWAIN }));
  const deliver = (id: string) => harness.webhook(body, { id });

  it('answers a replayed webhook-id as the first time, without Apollo and without counting a free lookup', async () => {
    const first = await deliver('msg_replayed');
    await harness.settled();
    const apolloCalls = harness.apollo.requests().length;

    const replays = await Promise.all([deliver('msg_replayed'), deliver('msg_replayed')]);
    const again = await deliver('msg_replayed');

    expect(first.status).toBe(202);
    for (const reply of [...replays, again]) {
      expect(reply.status).toBe(202);
      expect(reply.body).toEqual(first.body);
    }
    expect(harness.apollo.requests()).toHaveLength(apolloCalls);
    expect(harness.queue.sent).toHaveLength(1);
    expect((await harness.lookupConversion({ email: MARK_TWAIN.email })).body.free_lookups).toBe(0);

    // Another delivery (another id) of the same person is a duplicate, counted once.
    const other = await deliver('msg_other');
    expect(other.body.results[0]).toMatchObject({ status: 'duplicate' });
    expect((await harness.lookupConversion({ email: MARK_TWAIN.email })).body.free_lookups).toBe(1);
  });

  it('processes the retry of a delivery that failed (503), under the same webhook-id', async () => {
    harness.queue.refuseNext({ error: new Error('SQS is unavailable') });

    const failed = await deliver('msg_retried');
    const retried = await deliver('msg_retried');
    await harness.settled();

    expect(failed.status).toBe(503);
    expect(retried.status).toBe(202);
    expect(retried.body.results[0]).toMatchObject({ status: 'queued' });
    expect(harness.apollo.contacts()).toHaveLength(1);
  });

  it('treats the same webhook-id with another body as a new delivery', async () => {
    await deliver('msg_reused');
    const reply = await harness.webhook(JSON.stringify(enrichmentCompleted({ person: WALT })), {
      id: 'msg_reused',
    });

    expect(reply.body.results[0]).toMatchObject({ id: await idOf(WALT.email), status: 'queued' });
  });

  it('remembers any webhook-id, however long', async () => {
    const id = `msg_${'x'.repeat(5000)}`;
    const raw = JSON.stringify(enrichmentCompleted({ person: MARK_TWAIN }));
    const headers = {
      'content-type': 'application/json',
      ...signedWebhookHeaders(raw, WEBHOOK_SECRET, { id }),
    };

    const first = await harness.webhook(raw, { headers });
    const again = await harness.webhook(raw, { headers });

    expect(first.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(harness.queue.sent).toHaveLength(1);
  });
});

describe('Keyed references: person references and execution names', () => {
  const unkeyed = (text: string) => createHash('sha256').update(text).digest('hex');

  it('keys person references with LOG_HASH_SECRET: stable under one secret, different under another', () => {
    usePersonRefSecret('secret one');
    const one = personRef(MARK_TWAIN.email);
    expect(personRef(MARK_TWAIN.email)).toBe(one);
    usePersonRefSecret('secret two');
    const two = personRef(MARK_TWAIN.email);

    expect(two).not.toBe(one);
    expect([one, two]).not.toContain(unkeyed(MARK_TWAIN.email).slice(0, 16));
  });

  it('derives execution names from the key and the secret, deterministically', () => {
    const name = verificationExecutionName([MARK_TWAIN.email], 'secret one');

    expect(verificationExecutionName([MARK_TWAIN.email], 'secret one')).toBe(name);
    expect(verificationExecutionName([MARK_TWAIN.email], 'secret two')).not.toBe(name);
    expect(name).not.toContain(unkeyed(MARK_TWAIN.email));
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(phoneRevealExecutionName(MARK_TWAIN.email, '1', 's')).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });

  it('names the verification execution of a conversion with the keyed hash', async () => {
    await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
    await harness.settled();
    const id = await idOf(MARK_TWAIN.email);

    // One execution for the batch, named from its sorted keys (HMAC with LOG_HASH_SECRET).
    const names = harness.stepFunctions.executions().map((execution) => execution.name);
    expect(names).toEqual([verificationExecutionName([id], process.env.LOG_HASH_SECRET as string)]);
    expect(names[0]).not.toContain(unkeyed(MARK_TWAIN.email));
    expect(names[0]).not.toContain(unkeyed(id));
  });
});
