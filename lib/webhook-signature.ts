import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { ConfigurationError, UnauthorizedError } from './errors';

/** The reference library's tolerance: timestamps further than this from now are refused. */
const TOLERANCE_SECONDS = 5 * 60;

const keysBySecrets = new Map<string, Buffer[]>();

/**
 * The HMAC key of each `whsec_...` secret (several, space-separated, allow rotation). The
 * reference library checks each secret's form; the key is its base64 part, decoded.
 */
function keysFor(secrets: string): Buffer[] {
  let keys = keysBySecrets.get(secrets);
  if (keys === undefined) {
    keys = secrets
      .split(/\s+/)
      .filter((secret) => secret !== '')
      .map((secret) => {
        try {
          new Webhook(secret);
        } catch {
          throw new ConfigurationError('WEBHOOK_SECRET: each secret must be whsec_ followed by base64');
        }
        return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
      });
    keysBySecrets.set(secrets, keys);
  }
  return keys;
}

/** Constant-time comparison of two base64 signatures. */
function sameSignature(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A Standard Webhooks header in either spelling: `svix-*` (every sender built on Svix: Clerk,
 * Resend, ...) or `webhook-*`. As Svix's own verifier does, each `svix-` header wins over its
 * `webhook-` twin, so a delivery verifies here exactly when it verifies with Svix.
 */
function standardHeader(
  headers: Record<string, string | undefined>,
  name: 'id' | 'timestamp' | 'signature',
): string {
  return headers[`svix-${name}`] ?? headers[`webhook-${name}`] ?? '';
}

/**
 * Verifies a Standard Webhooks v1 signature over the raw body bytes, before anything parses them:
 * HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.` followed by the body exactly as received
 * (never its decoded text, which would turn invalid UTF-8 into U+FFFD), compared in constant
 * time; timestamps more than 300 s from now are refused, as the reference implementation does.
 * The headers may be spelled `webhook-*` or `svix-*`. Returns the verified message id (the
 * delivery's id for replays). Throws UnauthorizedError; the reason is logged, never told to the
 * sender.
 */
export function verifyWebhookSignature(
  rawBody: Buffer | string,
  headers: Record<string, string | undefined>,
  secrets: string,
): string {
  const id = standardHeader(headers, 'id');
  const timestamp = standardHeader(headers, 'timestamp');
  const signatures = standardHeader(headers, 'signature');
  if (!id || !timestamp || !signatures) {
    throw new UnauthorizedError('missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  // The reference library accepts "12abc" as 12: insist on plain digits.
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new UnauthorizedError('webhook-timestamp is not a unix time in seconds');
  }
  const keys = keysFor(secrets);
  const nowSeconds = Math.floor(Date.now() / 1000);
  const seconds = Number(timestamp);
  if (nowSeconds - seconds > TOLERANCE_SECONDS) throw new UnauthorizedError('Message timestamp too old');
  if (seconds > nowSeconds + TOLERANCE_SECONDS) throw new UnauthorizedError('Message timestamp too new');

  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const given = signatures
    .split(' ')
    .map((versioned) => versioned.split(','))
    .filter(([version, signature]) => version === 'v1' && signature !== undefined)
    .map(([, signature]) => signature as string);
  if (keys.length === 0)
    throw new UnauthorizedError('webhook signature rejected: no webhook secret configured');
  for (const key of keys) {
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
    if (given.some((signature) => sameSignature(signature, expected))) return id;
  }
  throw new UnauthorizedError('webhook signature rejected: No matching signature found');
}

/** Signs a body (text as UTF-8, or raw bytes) the way senders must: for `npm run send`, the demo and tests. */
export function signWebhook(
  secret: string,
  id: string,
  timestampSeconds: number,
  rawBody: string | Buffer,
): string {
  const [key] = keysFor(secret);
  if (key === undefined) throw new ConfigurationError('no webhook secret to sign with');
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const signature = createHmac('sha256', key)
    .update(`${id}.${timestampSeconds}.`)
    .update(body)
    .digest('base64');
  return `v1,${signature}`;
}

/**
 * The Standard Webhooks headers for `rawBody` signed with one `whsec_...` secret, as a sender
 * sends them: for `npm run send`, `sign-event`, the tests and the bench. The id defaults to a
 * fresh `msg_...`, the timestamp to now.
 */
export function signedWebhookHeaders(
  rawBody: string | Buffer,
  secret: string,
  options: { id?: string; timestampSeconds?: number } = {},
): Record<string, string> {
  const id = options.id ?? `msg_${crypto.randomUUID().replaceAll('-', '')}`;
  const timestampSeconds = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signWebhook(secret, id, timestampSeconds, rawBody),
  };
}
