import { ConversionRetry } from '../conversion-retry';
import { compositionRoot } from './shared/composition-root';
import { conversionQueue } from './shared/conversion-queue';
import { dynamoDbLedger } from './shared/dynamodb';
import { stateMachineStarts } from './shared/step-functions';

/** retryConversion: the ledger's retry writes, the conversion queue, verification re-drives. No Apollo. */
export const getConversionRetryRoot = compositionRoot((config) => ({
  config,
  retry: new ConversionRetry({
    ledger: dynamoDbLedger(config),
    queue: conversionQueue(config),
    redrives: stateMachineStarts(config).redrives,
  }),
}));
