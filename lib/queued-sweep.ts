import type { ConversionQueue } from './conversion-queue';
import { errorMessage } from './errors';
import type { StrandedQueueLedger } from './ledger';
import { logger, personRef } from './logger';

export interface StrandedQueueSweepDependencies {
  ledger: StrandedQueueLedger;
  queue: ConversionQueue;
  /** A record `queued` and unchanged for this long has lost its message (or waits on a long one). */
  staleAfterMs: number;
  /** Records sent again per sweep at most; the next sweep takes the rest. */
  batchSize: number;
  now?: () => number;
}

/**
 * Sends again the keys of people left `queued` too long: a send that failed after the ledger
 * write whose sender never retried, or a message lost with a crash. Found through the ledger's
 * `by-status` index, never a scan. A person whose message is only slow gets a second one, which
 * is harmless: the consumer's claim converts the person once.
 */
export class StrandedQueueSweep {
  private readonly now: () => number;

  constructor(private readonly deps: StrandedQueueSweepDependencies) {
    this.now = deps.now ?? Date.now;
  }

  /** Throws, after sending what it could, if the queue refused any key. */
  async sweep(): Promise<{ found: number; sent: number }> {
    const { ledger, queue } = this.deps;
    const keys = await ledger.queuedBefore({
      olderThanMs: this.now() - this.deps.staleAfterMs,
      limit: this.deps.batchSize,
    });
    if (keys.length === 0) return { found: 0, sent: 0 };
    const { failedKeys } = await queue.enqueue(keys);
    const refused = new Set(failedKeys);
    const sent = keys.filter((key) => !refused.has(key));
    const nowMs = this.now();
    await Promise.all(
      sent.map((key) =>
        // Best effort: unmarked, the record is only sent again by the next sweep.
        ledger.markSent({ key, nowMs }).catch((error: unknown) => {
          logger.warn('could not mark a send on the ledger', {
            person: personRef(key),
            error: errorMessage(error),
          });
        }),
      ),
    );
    logger.info('stranded queued people sent again', { found: keys.length, sent: sent.length });
    if (refused.size > 0)
      throw new Error(`the conversion queue refused ${refused.size} of ${keys.length} keys`);
    return { found: keys.length, sent: sent.length };
  }
}
