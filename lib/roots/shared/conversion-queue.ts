import type { Config } from '../../config';
import type { ConversionQueue } from '../../conversion-queue';
import { ConfigurationError } from '../../errors';

/** The queue a test stands in with (`resetServices({ conversionQueue })`); none in production. */
let standIn: ConversionQueue | undefined;

/** Every root built after this call uses `queue` (undefined: the SQS adapter again). */
export function useConversionQueue(queue: ConversionQueue | undefined): void {
  standIn = queue;
}

/**
 * The conversion queue: the SQS adapter, or the stand-in a test set.
 * PIPELINE-STAND-IN: the queue branch's `SqsConversionQueue` (lib/sqs-conversion-queue.ts, from
 * CONVERSION_QUEUE_URL) goes here on merge; until then every send fails as misconfigured.
 */
export function conversionQueue(_config: Config): ConversionQueue {
  if (standIn !== undefined) return standIn;
  const missing = () =>
    Promise.reject(new ConfigurationError('the SQS conversion queue is not wired on this branch'));
  return { enqueue: missing, postpone: missing };
}
