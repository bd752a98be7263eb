import { errorMessage } from './errors';
import { secretFromEnvironment } from './config';
import { logger, usePersonRefSecret } from './logger';

/**
 * Keys `personRef` with LOG_HASH_SECRET before a handler runs (the value, or the SSM parameter
 * read once and cached like every secret), so log lines name people only by a keyed hash. Used by
 * the handler wrappers. If the secret cannot be read, references stay keyed with this container's
 * random key (still not reversible) and the handler goes on: what needs the secret for good (the
 * execution names) reads it itself and fails as a configuration error.
 */
export async function keyPersonRefs(): Promise<void> {
  try {
    usePersonRefSecret(await secretFromEnvironment('LOG_HASH_SECRET'));
  } catch (error) {
    logger.warn('LOG_HASH_SECRET unreadable: person references use a key of this container only', {
      reason: errorMessage(error),
    });
  }
}
