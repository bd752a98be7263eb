import { compositionRoot } from './shared/composition-root';
import { dynamoDbLedger } from './shared/dynamodb';
import { stateMachineStarts } from './shared/step-functions';
import { verificationSweep } from './shared/verification-sweep';

/** sweepVerifications: queries the ledger, re-drives verifications. No Apollo, no libphonenumber. */
export const getVerificationSweepRoot = compositionRoot((config) => ({
  verificationSweep: verificationSweep(config, {
    ledger: dynamoDbLedger(config),
    redrives: stateMachineStarts(config).redrives,
  }),
}));
