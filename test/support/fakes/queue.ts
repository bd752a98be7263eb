import type { QueuedMessage } from '../../../lib/bulk-conversion';
import type { ConversionQueue } from '../../../lib/conversion-queue';

/** A message as the fake queue keeps it. */
interface StoredMessage {
  messageId: string;
  key: string;
  receiveCount: number;
  /** Epoch ms when it was sent (SentTimestamp). */
  sentAtMs: number;
  /** Epoch ms from when it can be received (again). */
  visibleAtMs: number;
  receiptHandle: string | null;
}

export interface FakeQueueSettings {
  /** The redrive policy's maxReceiveCount: a message failed on this receive goes to `deadLetters`. */
  maxReceives: number;
  /** How long a received message stays hidden unless deleted or postponed. */
  visibilityTimeoutMs: number;
}

/**
 * The conversion queue in memory, with what SQS does to a consumer's messages: receive counts, a
 * visibility timeout, partial batch failures (a failed message comes back; after `maxReceives` it
 * goes to the dead-letter queue), and `postpone` (ChangeMessageVisibility). `refuseNext` makes the
 * next send refuse keys (as SendMessageBatch reports failed entries), or throw.
 */
export class FakeConversionQueue implements ConversionQueue {
  /** Every key sent, in order (a key sent twice is here twice). */
  readonly sent: string[] = [];
  /** Every `postpone`, in order. */
  readonly postponed: Array<{ receiptHandles: string[]; delaySeconds: number }> = [];
  /** Keys of the messages moved to the dead-letter queue. */
  readonly deadLetters: string[] = [];
  private readonly messages: StoredMessage[] = [];
  private readonly refusals: Array<{ keys: readonly string[] | 'all'; error?: Error }> = [];
  private count = 0;

  constructor(
    private readonly now: () => number,
    private readonly settings: FakeQueueSettings = { maxReceives: 5, visibilityTimeoutMs: 360_000 },
  ) {}

  /** The next send refuses `keys` (all of them by default), or throws `error` when one is given. */
  refuseNext(options: { keys?: readonly string[]; error?: Error } = {}): void {
    this.refusals.push({ keys: options.keys ?? 'all', error: options.error });
  }

  enqueue(keys: readonly string[]): Promise<{ failedKeys: string[] }> {
    return new Promise((resolve) => {
      const refusal = this.refusals.shift();
      if (refusal?.error !== undefined) throw refusal.error;
      const refused = refusal === undefined ? [] : refusal.keys === 'all' ? [...keys] : [...refusal.keys];
      for (const key of keys.filter((k) => !refused.includes(k))) {
        this.sent.push(key);
        this.messages.push({
          messageId: `message-${++this.count}`,
          key,
          receiveCount: 0,
          sentAtMs: this.now(),
          visibleAtMs: this.now(),
          receiptHandle: null,
        });
      }
      resolve({ failedKeys: keys.filter((key) => refused.includes(key)) });
    });
  }

  postpone(receiptHandles: readonly string[], delaySeconds: number): Promise<void> {
    this.postponed.push({ receiptHandles: [...receiptHandles], delaySeconds });
    for (const message of this.messages) {
      if (message.receiptHandle !== null && receiptHandles.includes(message.receiptHandle)) {
        message.visibleAtMs = this.now() + delaySeconds * 1000;
      }
    }
    return Promise.resolve();
  }

  /** Messages on the queue (received or not), oldest first. */
  get depth(): number {
    return this.messages.length;
  }

  /** Keys of the messages on the queue, in order. */
  keys(): string[] {
    return this.messages.map((message) => message.key);
  }

  /** Epoch ms when the next message becomes receivable; undefined when the queue is empty. */
  nextVisibleAtMs(): number | undefined {
    const times = this.messages.map((message) => message.visibleAtMs);
    return times.length === 0 ? undefined : Math.min(...times);
  }

  /** Receives up to `max` visible messages, as Lambda's event source hands them to the consumer. */
  receive(max: number): QueuedMessage[] {
    const nowMs = this.now();
    const visible = this.messages.filter((message) => message.visibleAtMs <= nowMs).slice(0, max);
    return visible.map((message) => {
      message.receiveCount += 1;
      message.receiptHandle = `${message.messageId}#${message.receiveCount}`;
      message.visibleAtMs = nowMs + this.settings.visibilityTimeoutMs;
      return {
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: JSON.stringify({ key: message.key }),
        receiveCount: message.receiveCount,
        sentAtMs: message.sentAtMs,
      };
    });
  }

  /**
   * What Lambda does with the consumer's answer: deletes every received message not reported
   * failed; a failed one stays (hidden until its visibility ends), or goes to the dead-letter queue
   * once it has been received `maxReceives` times.
   */
  settle(received: readonly QueuedMessage[], failedMessageIds: readonly string[]): void {
    for (const { messageId } of received) {
      const index = this.messages.findIndex((message) => message.messageId === messageId);
      if (index < 0) continue;
      const message = this.messages[index] as StoredMessage;
      if (!failedMessageIds.includes(messageId)) {
        this.messages.splice(index, 1);
      } else if (message.receiveCount >= this.settings.maxReceives) {
        this.messages.splice(index, 1);
        this.deadLetters.push(message.key);
      }
    }
  }

  /** Puts a message with any body on the queue (a poison message, say); returns its id. */
  injectRaw(body: string): QueuedMessage {
    const messageId = `message-${++this.count}`;
    return { messageId, receiptHandle: `${messageId}#1`, body, receiveCount: 1 };
  }
}
