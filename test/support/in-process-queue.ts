import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { QueuedMessage } from '../../lib/bulk-conversion';
import type { ConversionQueue } from '../../lib/conversion-queue';
import { FakeConversionQueue } from './fakes/queue';

/** Waits up to this long are sat out in real time by `drain`; longer ones are skipped. */
const SHORT_WAIT_MS = 5000;

export interface InProcessQueueOptions {
  /** The consumer's event source: most messages per invocation. */
  batchSize: number;
  /** How long the first message waits for more before the consumer is invoked. */
  batchingWindowMs: number;
  /** The redrive policy's maxReceiveCount. */
  maxReceives: number;
  visibilityTimeoutMs: number;
}

/** A message as Lambda's SQS event source hands it over. */
function sqsRecord(message: QueuedMessage): SQSEvent['Records'][number] {
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(Date.now()),
      SenderId: 'in-process',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:conversion-queue',
    awsRegion: 'us-east-1',
  };
}

/**
 * The conversion queue in this process, for the in-process service harness: the doors send to it
 * (it stands in for the SQS adapter), and it invokes the real consumer handler with `SQSEvent`s
 * the way Lambda's event source does (batch size, batching window, partial batch failures,
 * visibility timeout, postponing, the dead-letter queue after `maxReceives`). Its clock can skip
 * ahead (`drain`), so a test need not sit out a retry-after or a visibility timeout; the service's
 * own clock is real time.
 */
export class InProcessConversionQueue implements ConversionQueue {
  private skippedMs = 0;
  private readonly store: FakeConversionQueue;
  private pump: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private paused = false;
  /** Errors the consumer handler threw (a whole batch failing), for the test to see. */
  readonly consumerErrors: unknown[] = [];
  /** The consumer's remaining time per invocation (its Lambda timeout); the harness's default when unset. */
  consumerRemainingMs: number | undefined;
  /** Every invocation's batch size and the messages it reported failed. */
  readonly invocations: Array<{ messages: number; failed: number }> = [];

  constructor(
    private readonly consume: (event: SQSEvent) => Promise<SQSBatchResponse>,
    private readonly options: InProcessQueueOptions,
  ) {
    this.store = new FakeConversionQueue(() => Date.now() + this.skippedMs, {
      maxReceives: options.maxReceives,
      visibilityTimeoutMs: options.visibilityTimeoutMs,
    });
  }

  /** Keys sent, in order; keys moved to the dead-letter queue. */
  get sent(): readonly string[] {
    return this.store.sent;
  }
  get deadLetters(): readonly string[] {
    return this.store.deadLetters;
  }
  get depth(): number {
    return this.store.depth;
  }

  /** The next send refuses `keys` (all by default), or throws `error`. */
  refuseNext(options: { keys?: readonly string[]; error?: Error } = {}): void {
    this.store.refuseNext(options);
  }

  async enqueue(keys: readonly string[]): Promise<{ failedKeys: string[] }> {
    const result = await this.store.enqueue(keys);
    this.wake(this.options.batchingWindowMs);
    return result;
  }

  async postpone(receiptHandles: readonly string[], delaySeconds: number): Promise<void> {
    await this.store.postpone(receiptHandles, delaySeconds);
  }

  /** Holds the consumer back (messages stay on the queue) until `resume`. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake(0);
  }

  /**
   * Until the queue is empty: invokes the consumer on what is visible; when only hidden messages
   * are left (failed, postponed), waits for the next one: a short wait in real time (the consumer
   * checks retry-afters and quiet periods on the real clock), a long one (a visibility timeout) by
   * skipping the queue's clock ahead. At most `maxRounds`.
   */
  async drain(maxRounds = 200): Promise<void> {
    this.resume();
    for (let round = 0; round < maxRounds; round++) {
      await this.idle();
      const next = this.store.nextVisibleAtMs();
      if (next === undefined) return;
      const waitMs = next - (Date.now() + this.skippedMs);
      if (waitMs > SHORT_WAIT_MS) {
        // A visibility timeout or a long retry-after: skipped, with a little real time.
        this.skippedMs += waitMs;
        await new Promise((resolve) => setTimeout(resolve, 100));
      } else if (waitMs > 0) {
        // A short wait (a retry-after, a quiet period) is sat out: the consumer's own clock is real.
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
      this.wake(0);
    }
    throw new Error(`the conversion queue did not drain in ${maxRounds} rounds (${this.store.depth} left)`);
  }

  /** Waits until no invocation runs and none is due (hidden messages may remain). */
  async idle(): Promise<void> {
    while (this.pump !== undefined || this.timer !== undefined) {
      if (this.pump !== undefined) await this.pump;
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Stops invoking the consumer (the harness's reset), and waits for a running invocation to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.pump;
  }

  private wake(afterMs: number): void {
    if (this.stopped || this.paused || this.pump !== undefined || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump = this.run().finally(() => {
        this.pump = undefined;
      });
    }, afterMs);
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.stopped || this.paused) return;
      const batch = this.store.receive(this.options.batchSize);
      if (batch.length === 0) break;
      let failed: string[];
      try {
        const response = await this.consume({ Records: batch.map(sqsRecord) });
        failed = response.batchItemFailures.map((failure) => failure.itemIdentifier);
      } catch (error) {
        // A handler that throws fails its whole batch, as with Lambda.
        this.consumerErrors.push(error);
        failed = batch.map((message) => message.messageId);
      }
      this.invocations.push({ messages: batch.length, failed: failed.length });
      this.store.settle(batch, failed);
    }
    // Hidden messages come back on their own when their time comes.
    const next = this.store.nextVisibleAtMs();
    if (next !== undefined) {
      const waitMs = Math.max(0, next - (Date.now() + this.skippedMs));
      // Long waits are left to `drain`, which skips them.
      if (waitMs <= 2000) setImmediate(() => this.wake(waitMs));
    }
  }
}
