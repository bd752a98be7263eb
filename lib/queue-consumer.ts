import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { QueuedMessage } from './bulk-conversion';
import { logger } from './logger';
import { publishingMetrics } from './metrics';
import { keyPersonRefs } from './person-refs';

/**
 * Wraps a queue consumer as a Lambda handler for an SQS event source with
 * `ReportBatchItemFailures`: the messages go in without AWS types, and the ids the consumer
 * reports failed come back as `batchItemFailures` (left on the queue; all others are deleted).
 * An error thrown by the consumer fails the whole batch, as Lambda does.
 */
export function queueConsumer(
  consume: (messages: QueuedMessage[], deadline: number) => Promise<{ failedMessageIds: string[] }>,
) {
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishingMetrics())
    .handler(async (event, context) => {
      await keyPersonRefs();
      const messages = event.Records.map((record) => ({
        messageId: record.messageId,
        receiptHandle: record.receiptHandle,
        body: record.body,
        receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
        sentAtMs: Number(record.attributes.SentTimestamp) || undefined,
      }));
      const { failedMessageIds } = await consume(messages, Date.now() + context.getRemainingTimeInMillis());
      return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
    });
}
