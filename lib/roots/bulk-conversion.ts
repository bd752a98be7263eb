import { RateLimitPacer } from '../rate-limit-pacer';
import { compositionRoot } from './shared/composition-root';
import { apolloClient } from './shared/apollo';
import { bulkConversion } from './shared/bulk-conversion';
import { conversionQueue } from './shared/conversion-queue';
import { dynamoDbLedger } from './shared/dynamodb';
import { stateMachineStarts } from './shared/step-functions';

/**
 * convertQueued: claims queued people, converts them in bulk through Apollo, starts one
 * verification per batch. Parses no phone number (the queued person holds them in E.164).
 */
export const getBulkConversionRoot = compositionRoot((config) => {
  // One per container: the consumer paces its calls from what Apollo's replies said.
  const pacer = new RateLimitPacer();
  return {
    bulkConversion: bulkConversion(config, {
      ledger: dynamoDbLedger(config),
      apollo: apolloClient(config, pacer),
      queue: conversionQueue(config),
      verifications: stateMachineStarts(config).verifications,
      pacer,
    }),
  };
});
