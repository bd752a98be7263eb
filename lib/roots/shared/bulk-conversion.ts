import type { Apollo } from '../../apollo/apollo';
import { BulkConversion, type Pacer } from '../../bulk-conversion';
import type { Config } from '../../config';
import type { ConversionQueue } from '../../conversion-queue';
import type { QueuedConversionLedger } from '../../ledger';
import type { VerificationScheduler } from '../../schedulers';
import { serviceMetrics } from './metrics';

/** The conversion queue's consumer, pacing itself with `pacer` (fed by the Apollo client's headers). */
export function bulkConversion(
  config: Config,
  ports: {
    ledger: QueuedConversionLedger;
    apollo: Apollo;
    queue: ConversionQueue;
    verifications: VerificationScheduler;
    pacer: Pacer;
  },
): BulkConversion {
  return new BulkConversion({
    ...ports,
    maxReceives: config.conversionMaxReceiveCount,
    rejectedRecordTtlSeconds: config.rejectedRecordTtlSeconds,
    quietPeriodSeconds: config.unavailableRetryAfterSeconds,
    metrics: serviceMetrics(),
  });
}
