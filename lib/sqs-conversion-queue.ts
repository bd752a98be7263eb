import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  SQSClient,
  type BatchResultErrorEntry,
} from '@aws-sdk/client-sqs';
import { chunks } from './bounded';
import type { Config } from './config';
import { conversionMessageBody, type ConversionQueue } from './conversion-queue';
import { ConfigurationError } from './errors';
import { logger, personRef } from './logger';

/** SendMessageBatch and ChangeMessageVisibilityBatch take at most 10 entries per call. */
export const SQS_BATCH_LIMIT = 10;

/**
 * The longest visibility timeout SQS accepts (12 hours). SQS counts it from the message's receive,
 * so a message received long ago may still refuse a long postpone: that entry is reported failed
 * and the message comes back after the queue's own visibility timeout, which is harmless.
 */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 12 * 60 * 60;

/** The conversion queue on SQS (standard queue). */
export class SqsConversionQueue implements ConversionQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string | undefined,
  ) {}

  async enqueue(keys: readonly string[]): Promise<{ failedKeys: string[] }> {
    const queueUrl = this.url();
    // A key twice in one call would be two messages for one record: harmless, but paid for.
    const distinct = [...new Set(keys)];
    const failedChunks = await Promise.all(
      chunks(distinct, SQS_BATCH_LIMIT).map((chunk) => this.sendChunk(queueUrl, chunk)),
    );
    const failedKeys = failedChunks.flat();
    if (failedKeys.length > 0) {
      logger.warn('conversion messages not sent', {
        failed: failedKeys.length,
        sent: distinct.length - failedKeys.length,
        people: failedKeys.map((key) => personRef(key)),
      });
    }
    return { failedKeys };
  }

  async postpone(receiptHandles: readonly string[], delaySeconds: number): Promise<void> {
    const queueUrl = this.url();
    const visibilityTimeout = clampVisibilitySeconds(delaySeconds);
    const failures = await Promise.all(
      chunks(receiptHandles, SQS_BATCH_LIMIT).map(async (chunk) => {
        const reply = await this.client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((receiptHandle, index) => ({
              Id: String(index),
              ReceiptHandle: receiptHandle,
              VisibilityTimeout: visibilityTimeout,
            })),
          }),
        );
        return reply.Failed ?? [];
      }),
    );
    const failed = failures.flat();
    if (failed.length > 0) {
      // Those messages come back after the queue's visibility timeout instead: earlier than asked.
      logger.warn('conversion messages not postponed', {
        failed: failed.length,
        delaySeconds: visibilityTimeout,
        codes: errorCodes(failed),
      });
    }
  }

  private url(): string {
    if (!this.queueUrl) throw new ConfigurationError('CONVERSION_QUEUE_URL must be set');
    return this.queueUrl;
  }

  /** Sends one chunk (≤ 10 keys); returns the keys whose message SQS did not accept. */
  private async sendChunk(queueUrl: string, keys: string[]): Promise<string[]> {
    // Entry ids are positions in the chunk: keys are unique here, but ids have their own alphabet.
    const entries = keys.map((key, index) => ({
      Id: String(index),
      MessageBody: conversionMessageBody(key),
    }));
    try {
      const reply = await this.client.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
      );
      const accepted = new Set((reply.Successful ?? []).map((entry) => entry.Id));
      if ((reply.Failed ?? []).length > 0) {
        logger.warn('SQS refused conversion messages', { codes: errorCodes(reply.Failed ?? []) });
      }
      // An entry SQS names in neither list was not confirmed: counted as failed, never as sent.
      return keys.filter((_, index) => !accepted.has(String(index)));
    } catch (error) {
      // The whole call failed after the SDK's own retries: none of these keys is known to be sent.
      logger.warn('SendMessageBatch failed', {
        errorName: error instanceof Error ? error.name : typeof error,
        keys: keys.length,
      });
      return keys;
    }
  }
}

/** Builds the adapter from the config (the composition root wires it). */
export function conversionQueueFromConfig(config: Config): SqsConversionQueue {
  return new SqsConversionQueue(
    new SQSClient({ region: config.region, endpoint: config.sqsEndpoint }),
    config.conversionQueueUrl,
  );
}

/** A delay SQS accepts: whole seconds from 0 to 12 hours (a fraction is rounded up, never shortened). */
export function clampVisibilitySeconds(delaySeconds: number): number {
  if (!Number.isFinite(delaySeconds)) {
    return Number.isNaN(delaySeconds) ? 0 : delaySeconds > 0 ? MAX_VISIBILITY_TIMEOUT_SECONDS : 0;
  }
  return Math.min(Math.max(Math.ceil(delaySeconds), 0), MAX_VISIBILITY_TIMEOUT_SECONDS);
}

/** How many entries failed with each code, e.g. `{ "InternalError": 2 }`. */
function errorCodes(failed: BatchResultErrorEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of failed) {
    const code = entry.Code ?? 'unknown';
    counts[code] = (counts[code] ?? 0) + 1;
  }
  return counts;
}
