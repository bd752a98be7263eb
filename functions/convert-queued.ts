import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

/**
 * The conversion queue's consumer (serverless.yml `convertQueued`).
 *
 * Placeholder, replaced by the pipeline helper with the bulk conversion (lib/bulk-conversion.ts):
 * it converts nothing and reports every record as a batch item failure, so no message is ever
 * deleted unconverted; each comes back after the visibility timeout and ends in the dead-letter
 * queue after maxReceiveCount receives.
 */
export const handler = (event: SQSEvent): Promise<SQSBatchResponse> =>
  Promise.resolve({
    batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })),
  });
