import { createHmac, randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The service's one logger: structured JSON with the Lambda request id (Powertools). Never log an
 * email, phone number, name, key or secret: refer to a person by `personRef(key)`.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'contact-converter' });

/**
 * The key of `personRef`, from LOG_HASH_SECRET (`usePersonRefSecret`, called by the handler
 * wrappers once the secret is read). Until then a random key of this container: its references
 * are still keyed, so never reversible by hashing guessed emails, only not comparable across
 * containers.
 */
let personRefKey: Buffer = randomBytes(32);
let personRefSecret: string | undefined;

/** Keys `personRef` with the service's LOG_HASH_SECRET. Cheap to call on every invocation. */
export function usePersonRefSecret(secret: string): void {
  if (secret === personRefSecret) return;
  personRefSecret = secret;
  personRefKey = Buffer.from(secret, 'utf8');
}

/**
 * A short, stable reference to a person key, for logs: HMAC-SHA256 keyed with LOG_HASH_SECRET, so
 * nobody without the secret can test a guessed email against it (an unkeyed hash of an email is
 * reversible by hashing candidate emails).
 */
export function personRef(key: string): string {
  return createHmac('sha256', personRefKey).update(key).digest('hex').slice(0, 16);
}
