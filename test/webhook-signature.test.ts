import { Webhook as SvixWebhook } from 'svix';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signedWebhookHeaders, signWebhook, verifyWebhookSignature } from '../lib/webhook-signature';

// The Standard Webhooks specification's published example.
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const OTHER_SECRET = 'whsec_' + Buffer.from('another secret for rotation').toString('base64');

const headersFor = (signature: string, timestamp = SPEC.timestamp, id = SPEC.id) => ({
  'webhook-id': id,
  'webhook-timestamp': String(timestamp),
  'webhook-signature': signature,
});

describe('Function: verifyWebhookSignature', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("accepts the specification's published example with the clock at its timestamp", () => {
    vi.useFakeTimers({ now: SPEC.timestamp * 1000 });

    expect(() => verifyWebhookSignature(SPEC.body, headersFor(SPEC.signature), SPEC.secret)).not.toThrow();
    expect(signWebhook(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
  });

  it('accepts any of several secrets, for rotation, and any of several signatures', () => {
    vi.useFakeTimers({ now: SPEC.timestamp * 1000 });
    const secrets = `${OTHER_SECRET} ${SPEC.secret}`;

    expect(() => verifyWebhookSignature(SPEC.body, headersFor(SPEC.signature), secrets)).not.toThrow();
    expect(() =>
      verifyWebhookSignature(
        SPEC.body,
        headersFor(`v1,bm9wZQ== ${SPEC.signature}`),
        OTHER_SECRET + ' ' + SPEC.secret,
      ),
    ).not.toThrow();
  });

  it.each([
    ['a changed body', '{"test": 2432232315}', headersFor(SPEC.signature)],
    ['a changed id', SPEC.body, headersFor(SPEC.signature, SPEC.timestamp, 'msg_other')],
    ['a wrong version', SPEC.body, headersFor(SPEC.signature.replace('v1,', 'v2,'))],
    ['no signature', SPEC.body, { 'webhook-id': SPEC.id, 'webhook-timestamp': String(SPEC.timestamp) }],
    [
      'a timestamp with junk',
      SPEC.body,
      headersFor(SPEC.signature, `${SPEC.timestamp}abc` as unknown as number),
    ],
  ])('refuses %s', (_case, body, headers) => {
    vi.useFakeTimers({ now: SPEC.timestamp * 1000 });

    expect(() => verifyWebhookSignature(body, headers, SPEC.secret)).toThrow(
      expect.objectContaining({ name: 'UnauthorizedError' }),
    );
  });

  it('refuses the right signature under the wrong secret', () => {
    vi.useFakeTimers({ now: SPEC.timestamp * 1000 });

    expect(() => verifyWebhookSignature(SPEC.body, headersFor(SPEC.signature), OTHER_SECRET)).toThrow(
      'webhook signature rejected',
    );
  });

  it('refuses a captured delivery replayed more than 300 s later, or dated in the future', () => {
    vi.useFakeTimers({ now: (SPEC.timestamp + 301) * 1000 });
    expect(() => verifyWebhookSignature(SPEC.body, headersFor(SPEC.signature), SPEC.secret)).toThrow(
      /too old/,
    );

    vi.setSystemTime((SPEC.timestamp - 301) * 1000);
    expect(() => verifyWebhookSignature(SPEC.body, headersFor(SPEC.signature), SPEC.secret)).toThrow(
      /too new/,
    );

    vi.setSystemTime((SPEC.timestamp + 299) * 1000);
    expect(() => verifyWebhookSignature(SPEC.body, headersFor(SPEC.signature), SPEC.secret)).not.toThrow();
  });

  it('reports a malformed secret as a configuration error, not as a bad request', () => {
    expect(() => verifyWebhookSignature(SPEC.body, headersFor(SPEC.signature), 'whsec_!!!')).toThrow(
      expect.objectContaining({ name: 'ConfigurationError' }),
    );
  });
});

describe('Function: signedWebhookHeaders', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("gives the specification's published example for its id and timestamp", () => {
    const headers = signedWebhookHeaders(SPEC.body, SPEC.secret, {
      id: SPEC.id,
      timestampSeconds: SPEC.timestamp,
    });

    expect(headers).toEqual(headersFor(SPEC.signature));
  });

  it('signs under a fresh msg_ id and the current time by default, which the verifier accepts', () => {
    vi.useFakeTimers({ now: SPEC.timestamp * 1000 + 999 });

    const headers = signedWebhookHeaders(SPEC.body, SPEC.secret);
    const again = signedWebhookHeaders(SPEC.body, SPEC.secret);

    expect(headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(again['webhook-id']).not.toBe(headers['webhook-id']);
    expect(headers['webhook-timestamp']).toBe(String(SPEC.timestamp));
    expect(() => verifyWebhookSignature(SPEC.body, headers, SPEC.secret)).not.toThrow();
  });
});

/** The `svix-*` spelling of the same headers, as every sender built on Svix sends them. */
const svixHeaders = (headers: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name.replace(/^webhook-/, 'svix-'), value]),
  );

describe('Standard Webhooks as Svix senders send them (the svix package as the sender)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("verifies what svix's Webhook.sign signs, under svix-* headers and under webhook-* headers alike", () => {
    vi.useFakeTimers({ now: SPEC.timestamp * 1000 });
    const signature = new SvixWebhook(SPEC.secret).sign(SPEC.id, new Date(SPEC.timestamp * 1000), SPEC.body);

    expect(signature).toBe(SPEC.signature);
    expect(verifyWebhookSignature(SPEC.body, svixHeaders(headersFor(signature)), SPEC.secret)).toBe(SPEC.id);
    expect(verifyWebhookSignature(SPEC.body, headersFor(signature), SPEC.secret)).toBe(SPEC.id);
  });

  it('round-trips against svix: a fresh svix signature verifies here, ours verifies with svix', () => {
    const body = JSON.stringify({ type: 'person.enrichment.completed', data: { ü: 'bücher' } });
    const id = 'msg_2Lq5tNGyJ3qZ9pJ0mV8kB1xR4wS';
    const now = new Date();
    const sent = {
      'svix-id': id,
      'svix-timestamp': String(Math.floor(now.getTime() / 1000)),
      'svix-signature': new SvixWebhook(OTHER_SECRET).sign(id, now, body),
    };

    expect(verifyWebhookSignature(Buffer.from(body), sent, `${SPEC.secret} ${OTHER_SECRET}`)).toBe(id);
    const ours = signedWebhookHeaders(body, OTHER_SECRET, { id });
    expect(new SvixWebhook(OTHER_SECRET).verify(body, svixHeaders(ours))).toEqual(JSON.parse(body));
    expect(new SvixWebhook(OTHER_SECRET).verify(body, ours)).toEqual(JSON.parse(body));
  });

  it('takes each svix- header over its webhook- twin, as svix does, so both verifiers agree', () => {
    vi.useFakeTimers({ now: SPEC.timestamp * 1000 });
    const mixed = {
      ...svixHeaders(headersFor(SPEC.signature)),
      'webhook-id': 'msg_other',
      'webhook-signature': 'v1,bm9wZQ==',
    };
    const forged = {
      ...headersFor(SPEC.signature, SPEC.timestamp, 'msg_other'),
      'svix-signature': 'v1,bm9wZQ==',
    };

    expect(verifyWebhookSignature(SPEC.body, mixed, SPEC.secret)).toBe(SPEC.id);
    expect(() => new SvixWebhook(SPEC.secret).verify(SPEC.body, mixed)).not.toThrow();
    expect(() => verifyWebhookSignature(SPEC.body, forged, SPEC.secret)).toThrow(
      expect.objectContaining({ name: 'UnauthorizedError' }),
    );
    expect(() => new SvixWebhook(SPEC.secret).verify(SPEC.body, forged)).toThrow();
  });

  it.each([
    ['a changed body', '{"test": 2432232315}', svixHeaders(headersFor(SPEC.signature))],
    ['a changed svix-id', SPEC.body, svixHeaders(headersFor(SPEC.signature, SPEC.timestamp, 'msg_x'))],
    ['a missing svix-signature', SPEC.body, { 'svix-id': SPEC.id, 'svix-timestamp': String(SPEC.timestamp) }],
  ])('refuses %s under svix-* headers, as svix does', (_case, body, headers) => {
    vi.useFakeTimers({ now: SPEC.timestamp * 1000 });

    expect(() => verifyWebhookSignature(body, headers, SPEC.secret)).toThrow(
      expect.objectContaining({ name: 'UnauthorizedError' }),
    );
    expect(() => new SvixWebhook(SPEC.secret).verify(body, headers as never)).toThrow();
  });
});
