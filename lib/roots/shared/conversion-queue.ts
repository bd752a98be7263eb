import type { Config } from '../../config';
import type { ConversionQueue } from '../../conversion-queue';
import { conversionQueueFromConfig } from '../../sqs-conversion-queue';

/** The queue a test stands in with (`resetServices({ conversionQueue })`); none in production. */
let standIn: ConversionQueue | undefined;

/** Every root built after this call uses `queue` (undefined: the SQS adapter again). */
export function useConversionQueue(queue: ConversionQueue | undefined): void {
  standIn = queue;
}

/** The conversion queue: the SQS adapter (CONVERSION_QUEUE_URL), or the stand-in a test set. */
export function conversionQueue(config: Config): ConversionQueue {
  return standIn ?? conversionQueueFromConfig(config);
}
