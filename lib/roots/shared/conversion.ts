import type { Apollo } from '../../apollo/apollo';
import type { Config } from '../../config';
import { ContactConversion } from '../../conversion';
import type { ConversionLedger, PersonIdentities, VerificationSweepLedger } from '../../ledger';
import type { VerificationScheduler } from '../../schedulers';
import type { VerificationRedriver } from '../../verification-sweep';
import { serviceMetrics } from './metrics';
import { verificationSweep } from './verification-sweep';

/**
 * The conversion, with its settings from the config. A redelivery that finds a verification
 * waiting too long for its verdict re-drives it, as the sweep would.
 */
export function contactConversion(
  config: Config,
  ports: {
    ledger: ConversionLedger & PersonIdentities & VerificationSweepLedger;
    apollo: Apollo;
    verifications: VerificationScheduler;
    redrives: VerificationRedriver;
  },
): ContactConversion {
  const { ledger, apollo, verifications, redrives } = ports;
  return new ContactConversion({
    ledger,
    apollo,
    verifications,
    concurrency: config.conversionConcurrency,
    rejectedRecordTtlSeconds: config.rejectedRecordTtlSeconds,
    unavailableRetryAfterSeconds: config.unavailableRetryAfterSeconds,
    maxAttempts: config.maxConversionAttempts,
    staleVerifications: verificationSweep(config, { ledger, redrives }),
    inProgressRetryAfterSeconds: config.inProgressRetryAfterSeconds,
    metrics: serviceMetrics(),
  });
}
