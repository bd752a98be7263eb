import { StrandedQueueSweep } from '../queued-sweep';
import { compositionRoot } from './shared/composition-root';
import { conversionQueue } from './shared/conversion-queue';
import { dynamoDbLedger } from './shared/dynamodb';

/** sweepQueued: queries the ledger's `by-status` index, sends keys again. No Apollo, no Step Functions. */
export const getQueuedSweepRoot = compositionRoot((config) => ({
  queuedSweep: new StrandedQueueSweep({
    ledger: dynamoDbLedger(config),
    queue: conversionQueue(config),
    staleAfterMs: config.queuedSweepAfterMs,
    batchSize: config.verificationSweepBatch,
  }),
}));
