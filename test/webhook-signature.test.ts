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
