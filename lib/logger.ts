import { createHash } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The service's one logger: structured JSON with the Lambda request id (Powertools). Never log an
 * email, phone number, name, key or secret: refer to a person by `personRef(key)`.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'contact-converter' });

/** A short, stable, non-reversible reference to a person key, for logs. */
export function personRef(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}
