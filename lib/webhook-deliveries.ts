import { createHash, randomUUID } from 'node:crypto';
import { RetryLaterError } from './errors';
import type { WebhookDeliveries } from './ledger';
import { logger } from './logger';

/** What the webhook answers a delivery of people: one result per person, in order. */
export interface WebhookAnswer {
  results: ReadonlyArray<{ status: string }>;
}

export interface WebhookDeliveryMemoryDependencies {
  ledger: WebhookDeliveries;
  /** How long an answered delivery is remembered: replays within it get the same answer. */
  rememberSeconds: number;
  now?: () => number;
  newToken?: () => string;
}

/** An answer larger than this is not remembered (a DynamoDB item holds 400 KB). */
const MAX_REMEMBERED_ANSWER_BYTES = 300_000;

/**
 * Answers each webhook delivery (by its `webhook-id`) once. The first delivery of an id is
 * processed and its answer remembered; a replay of the same id and body gets that answer from the
 * ledger without converting again, so it neither calls Apollo nor counts as a free lookup. A
 * delivery that was not answered for good (an error, a person still in progress) is forgotten, so
 * the sender's retry is processed afresh. A replay arriving while the first is still being
 * processed is asked to retry later (503).
 */
export class WebhookDeliveryMemory {
  private readonly now: () => number;
  private readonly newToken: () => string;

  constructor(private readonly deps: WebhookDeliveryMemoryDependencies) {
    this.now = deps.now ?? Date.now;
    this.newToken = deps.newToken ?? randomUUID;
  }

  async answerOnce<A extends WebhookAnswer>(
    delivery: { id: string; body: Buffer; deadline: number },
    answer: () => Promise<A>,
  ): Promise<A> {
    const { ledger } = this.deps;
    const token = this.newToken();
    const bodyHash = createHash('sha256').update(delivery.body).digest('base64url');
    const claim = await ledger.claimDelivery({
      id: delivery.id,
      bodyHash,
      token,
      lockExpiresAtMs: delivery.deadline,
      nowMs: this.now(),
      expiresAtSeconds: this.expiry(),
    });
    if (!claim.claimed) {
      const remembered = claim.delivery;
      // The same id with another body is the sender's mistake, not a replay: processed as new.
      if (remembered.bodyHash !== bodyHash) return answer();
      if (remembered.answer !== null) {
        logger.info('webhook delivery replayed: answered as before');
        return JSON.parse(remembered.answer) as A;
      }
      const waitMs = (remembered.lockExpiresAtMs ?? this.now()) - this.now();
      throw new RetryLaterError(
        'this webhook delivery is being processed by another request',
        Math.max(1, Math.ceil(waitMs / 1000)),
      );
    }

    let result: A;
    try {
      result = await answer();
    } catch (error) {
      await this.forget(delivery.id, token);
      throw error;
    }
    const text = JSON.stringify(result);
    const final = result.results.every((r) => r.status !== 'in_progress');
    if (final && Buffer.byteLength(text) <= MAX_REMEMBERED_ANSWER_BYTES) {
      await ledger
        .rememberAnswer({
          id: delivery.id,
          token,
          answer: text,
          nowMs: this.now(),
          expiresAtSeconds: this.expiry(),
        })
        .catch((error: unknown) => this.forgetAfter(delivery.id, token, error));
    } else {
      await this.forget(delivery.id, token);
    }
    return result;
  }

  private expiry(): number {
    return Math.floor(this.now() / 1000) + this.deps.rememberSeconds;
  }

  private async forgetAfter(id: string, token: string, error: unknown): Promise<void> {
    logger.warn('could not remember a webhook answer', {
      error: error instanceof Error ? error.message : String(error),
    });
    await this.forget(id, token);
  }

  /** Never fails the request: at worst the item's lock lapses by itself at the deadline. */
  private async forget(id: string, token: string): Promise<void> {
    await this.deps.ledger.forgetDelivery({ id, token }).catch((error: unknown) => {
      logger.warn('could not forget a webhook delivery', {
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }
}
