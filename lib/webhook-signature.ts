import { Webhook } from 'standardwebhooks';
import { ConfigurationError, UnauthorizedError } from './errors';

const verifiersBySecrets = new Map<string, Webhook[]>();

/** One verifier per `whsec_...` secret; several space-separated secrets allow rotation. */
function verifiersFor(secrets: string): Webhook[] {
  let verifiers = verifiersBySecrets.get(secrets);
  if (verifiers === undefined) {
    verifiers = secrets
      .split(/\s+/)
      .filter((secret) => secret !== '')
      .map((secret) => {
        try {
          return new Webhook(secret);
        } catch {
          throw new ConfigurationError('WEBHOOK_SECRET: each secret must be whsec_ followed by base64');
        }
      });
    verifiersBySecrets.set(secrets, verifiers);
  }
  return verifiers;
}

/**
 * Verifies a Standard Webhooks v1 signature over the raw body, before anything parses it:
 * HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${body}`, compared in constant time by the
 * reference implementation (`standardwebhooks`), which also refuses timestamps more than 300 s from now.
 * Throws UnauthorizedError; the reason is logged, never told to the sender.
 */
export function verifyWebhookSignature(
  rawBody: string,
  headers: Record<string, string | undefined>,
  secrets: string,
): void {
  const signed = {
    'webhook-id': headers['webhook-id'] ?? '',
    'webhook-timestamp': headers['webhook-timestamp'] ?? '',
    'webhook-signature': headers['webhook-signature'] ?? '',
  };
  if (!signed['webhook-id'] || !signed['webhook-timestamp'] || !signed['webhook-signature']) {
    throw new UnauthorizedError('missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  // The reference library accepts "12abc" as 12: insist on plain digits.
  if (!/^\d{1,12}$/.test(signed['webhook-timestamp'])) {
    throw new UnauthorizedError('webhook-timestamp is not a unix time in seconds');
  }
  let lastProblem = 'no webhook secret configured';
  for (const verifier of verifiersFor(secrets)) {
    try {
      verifier.verify(rawBody, signed, { jsonParse: false });
      return;
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
  }
  throw new UnauthorizedError(`webhook signature rejected: ${lastProblem}`);
}

/** Signs a body the way senders must: for `npm run send`, the demo and tests. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, rawBody: string): string {
  return new Webhook(secret).sign(id, new Date(timestampSeconds * 1000), rawBody);
}

/**
 * The Standard Webhooks headers for `rawBody` signed with one `whsec_...` secret, as a sender
 * sends them: for `npm run send`, `sign-event`, the tests and the bench. The id defaults to a
 * fresh `msg_...`, the timestamp to now.
 */
export function signedWebhookHeaders(
  rawBody: string,
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
