import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { Limiter } from './gateway';
import type { InvokeLambda } from './step-functions-server';

/**
 * Lambda's SQS event source mapping, locally: polls a queue and invokes a function with real
 * `SQSEvent`s, as AWS does for an `sqs` event in serverless.yml (serverless-offline-sqs ignores
 * partial batch failures and the concurrency limit, hence this).
 *
 * - A batch holds up to `batchSize` messages, gathered with several ReceiveMessage calls of at most
 *   10 each, for at most `maximumBatchingWindowSeconds` after its first message (AWS's window).
 * - At most `maximumConcurrency` invocations at once; no message is received while every slot is
 *   busy, so waiting messages stay visible in the queue (and batches fill up).
 * - The function's answer decides what is deleted: everything when it succeeds; with
 *   `ReportBatchItemFailures`, everything but the `batchItemFailures`; nothing when it throws or
 *   Lambda reports an error. What is not deleted comes back when its visibility timeout lapses,
 *   and the server moves it to the dead-letter queue after `maxReceiveCount` receives: the
 *   queue's redrive policy, applied by the SQS server itself, as in AWS.
 */
export interface SqsPollerOptions {
  client: SQSClient;
  queueUrl: string;
  /** The `eventSourceARN` of the records. */
  queueArn: string;
  region: string;
  functionName: string;
  invokeLambda: InvokeLambda;
  batchSize: number;
  maximumBatchingWindowSeconds: number;
  maximumConcurrency: number;
  reportBatchItemFailures: boolean;
  /** Pause between two empty receives while idle (the poller short-polls, see `receive`). */
  idlePollMs?: number;
  log?: (line: string) => void;
}

export interface SqsPoller {
  /** Invocations so far, finished or not, and the most that ran at once. */
  stats(): { invocations: number; maxConcurrent: number };
  /** Stops receiving and waits (up to `timeoutMs`) for the invocations in flight to settle. */
  stop(timeoutMs?: number): Promise<void>;
}

/** ReceiveMessage, SendMessageBatch and DeleteMessageBatch take at most 10 messages per call. */
const SQS_BATCH_LIMIT = 10;
const DEFAULT_IDLE_POLL_MS = 100;
/** Pause between empty receives inside a batching window: the window's end is honoured to this. */
const WINDOW_POLL_MS = 50;
/** After a failed ReceiveMessage (the server restarting, say), wait this long before the next. */
const RECEIVE_ERROR_PAUSE_MS = 1000;

export function startSqsPoller(options: SqsPollerOptions): SqsPoller {
  const log = options.log ?? ((line: string) => console.log(line));
  const idlePollMs = options.idlePollMs ?? DEFAULT_IDLE_POLL_MS;
  const slots = new Limiter(options.maximumConcurrency);
  const inFlight = new Set<Promise<void>>();
  let invocations = 0;
  let stopping = false;
  let wake: (() => void) | undefined;

  /** Waits `ms`, or less when the poller stops. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopping) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  /**
   * One short poll (WaitTimeSeconds 0). local-aws-sqs answers a long poll only when it ends (or
   * holds MaxNumberOfMessages), and within one long poll hands a message out again each time its
   * visibility lapses; short polls paced here have neither problem.
   */
  const receive = async (maxMessages: number): Promise<Message[]> => {
    const reply = await options.client.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: maxMessages,
        WaitTimeSeconds: 0,
        // local-aws-sqs reads the older AttributeNames; SQS takes both.
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return reply.Messages ?? [];
  };

  /** Gathers one batch: waits for a first message, then fills up to batchSize within the window. */
  const gather = async (): Promise<Message[]> => {
    const batch: Message[] = [];
    let windowEndsAtMs: number | undefined;
    while (!stopping && batch.length < options.batchSize) {
      const received = await receive(Math.min(SQS_BATCH_LIMIT, options.batchSize - batch.length));
      if (received.length > 0) {
        batch.push(...received);
        windowEndsAtMs ??= Date.now() + options.maximumBatchingWindowSeconds * 1000;
      }
      if (windowEndsAtMs !== undefined && Date.now() >= windowEndsAtMs) break;
      // Messages may be waiting still: ask again at once while the last receive came back full.
      if (received.length === SQS_BATCH_LIMIT) continue;
      const pauseMs =
        windowEndsAtMs === undefined ? idlePollMs : Math.min(WINDOW_POLL_MS, windowEndsAtMs - Date.now());
      await pause(Math.max(pauseMs, 0));
    }
    return batch;
  };

  const invoke = async (batch: Message[]): Promise<void> => {
    const event = sqsEvent(batch, options);
    let succeeded: Message[];
    let outcome: string;
    try {
      const result = await options.invokeLambda(options.functionName, event);
      const failedIds = options.reportBatchItemFailures ? failedMessageIds(result, batch) : new Set<string>();
      succeeded = batch.filter((message) => !failedIds.has(message.MessageId ?? ''));
      outcome = failedIds.size === 0 ? 'done' : `${succeeded.length} done, ${failedIds.size} failed`;
    } catch (error) {
      succeeded = [];
      outcome = `failed (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`;
    }
    const notDeleted = await deleteMessages(succeeded);
    const back = batch.length - succeeded.length + notDeleted;
    log(
      `[sqs] ${options.functionName}: ${batch.length} messages, ${outcome}` +
        (back > 0 ? `; ${back} back after the visibility timeout` : ''),
    );
  };

  /** Deletes the messages in chunks of 10; returns how many could not be deleted. */
  const deleteMessages = async (messages: Message[]): Promise<number> => {
    let notDeleted = 0;
    for (let start = 0; start < messages.length; start += SQS_BATCH_LIMIT) {
      const chunk = messages.slice(start, start + SQS_BATCH_LIMIT);
      try {
        const reply = await options.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: chunk.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
            })),
          }),
        );
        notDeleted += (reply.Failed ?? []).length;
      } catch (error) {
        notDeleted += chunk.length;
        log(`[sqs] DeleteMessageBatch failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return notDeleted;
  };

  const run = async (): Promise<void> => {
    while (!stopping) {
      // A free invocation slot first: messages are only taken off the queue when they can run.
      const release = await slots.acquire();
      let batch: Message[];
      try {
        batch = await gather();
      } catch (error) {
        release();
        if (stopping) break;
        log(`[sqs] ReceiveMessage failed: ${error instanceof Error ? error.message : String(error)}`);
        await pause(RECEIVE_ERROR_PAUSE_MS);
        continue;
      }
      if (batch.length === 0) {
        release();
        continue;
      }
      invocations += 1;
      const invocation = invoke(batch)
        .catch((error: unknown) => log(`[sqs] invocation failed: ${String(error)}`))
        .finally(() => {
          release();
          inFlight.delete(invocation);
        });
      inFlight.add(invocation);
    }
  };
  const running = run();

  return {
    stats: () => ({ invocations, maxConcurrent: slots.maxActive }),
    stop: async (timeoutMs = 10_000) => {
      stopping = true;
      wake?.();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      // A batch gathered but not yet invoked is left alone: its messages come back by themselves.
      await Promise.race([Promise.all([running, ...inFlight]), timedOut]);
      clearTimeout(timer);
    },
  };
}

/** The event Lambda hands a function for a batch of SQS messages. */
export function sqsEvent(messages: Message[], source: { queueArn: string; region: string }): SQSEvent {
  return {
    Records: messages.map((message): SQSRecord => ({
      messageId: message.MessageId ?? '',
      receiptHandle: message.ReceiptHandle ?? '',
      body: message.Body ?? '',
      attributes: {
        ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: message.Attributes?.SentTimestamp ?? '',
        SenderId: message.Attributes?.SenderId ?? '',
        ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? '',
        ...message.Attributes,
      },
      messageAttributes: lambdaMessageAttributes(message.MessageAttributes),
      md5OfBody: message.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: source.queueArn,
      awsRegion: source.region,
    })),
  };
}

/** SQS's `MessageAttributes` as Lambda spells them in a record (camel case, binary as base64). */
function lambdaMessageAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  return Object.fromEntries(
    Object.entries(attributes ?? {}).map(([name, value]) => [
      name,
      {
        dataType: value.DataType ?? 'String',
        ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
        ...(value.BinaryValue !== undefined && { binaryValue: base64(value.BinaryValue) }),
        stringListValues: value.StringListValues ?? [],
        binaryListValues: (value.BinaryListValues ?? []).map(base64),
      },
    ]),
  );
}

/**
 * The messages a `ReportBatchItemFailures` answer names as failed, read as Lambda reads it: no
 * answer, no `batchItemFailures` or an empty list is complete success; an answer that is not an
 * object, or a failure whose `itemIdentifier` is missing, empty or not a message of the batch,
 * fails the whole batch.
 */
export function failedMessageIds(result: unknown, batch: Message[]): Set<string> {
  const all = new Set(batch.map((message) => message.MessageId ?? ''));
  if (result === null || result === undefined) return new Set();
  if (typeof result !== 'object' || Array.isArray(result)) return all;
  const failures = (result as Partial<SQSBatchResponse>).batchItemFailures as unknown;
  if (failures === null || failures === undefined) return new Set();
  if (!Array.isArray(failures)) return all;
  const failed = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id =
      typeof failure === 'object' && failure !== null
        ? (failure as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof id !== 'string' || id === '' || !all.has(id)) return all;
    failed.add(id);
  }
  return failed;
}
