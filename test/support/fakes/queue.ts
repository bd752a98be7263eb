import type { ConversionQueue } from '../../../lib/conversion-queue';

/**
 * The conversion queue in memory: records what was sent and postponed. `refuseNext` makes the next
 * send refuse some keys (as SendMessageBatch reports failed entries), or throw for all of them.
 */
export class FakeConversionQueue implements ConversionQueue {
  /** Every key sent, in order (a key sent twice is here twice). */
  readonly sent: string[] = [];
  /** Every `postpone`, in order. */
  readonly postponed: Array<{ receiptHandles: string[]; delaySeconds: number }> = [];
  private readonly refusals: Array<{ keys: readonly string[] | 'all'; error?: Error }> = [];

  /**
   * The next send refuses `keys` (all of them by default): reported back as failed, or thrown as
   * `error` when one is given.
   */
  refuseNext(options: { keys?: readonly string[]; error?: Error } = {}): void {
    this.refusals.push({ keys: options.keys ?? 'all', error: options.error });
  }

  enqueue(keys: readonly string[]): Promise<{ failedKeys: string[] }> {
    return new Promise((resolve) => {
      const refusal = this.refusals.shift();
      if (refusal?.error !== undefined) throw refusal.error;
      const refused = refusal === undefined ? [] : refusal.keys === 'all' ? [...keys] : [...refusal.keys];
      this.sent.push(...keys.filter((key) => !refused.includes(key)));
      resolve({ failedKeys: keys.filter((key) => refused.includes(key)) });
    });
  }

  postpone(receiptHandles: readonly string[], delaySeconds: number): Promise<void> {
    this.postponed.push({ receiptHandles: [...receiptHandles], delaySeconds });
    return Promise.resolve();
  }
}
