import type { Config } from '../../config';
import type { VerificationSweepLedger } from '../../ledger';
import { VerificationSweep, type VerificationRedriver } from '../../verification-sweep';

/** The sweep of verifications left without a verdict, with its settings from the config. */
export function verificationSweep(
  config: Config,
  ports: { ledger: VerificationSweepLedger; redrives: VerificationRedriver },
): VerificationSweep {
  return new VerificationSweep({
    ledger: ports.ledger,
    verifications: ports.redrives,
    staleAfterMs: config.verificationSweepAfterMs,
    maxRedrives: config.verificationMaxRedrives,
    batchSize: config.verificationSweepBatch,
  });
}
