import { VerificationFailureRecorder } from '../verification-failure';
import { compositionRoot } from './shared/composition-root';
import { dynamoDbLedger } from './shared/dynamodb';
import { serviceMetrics } from './shared/metrics';

/** recordVerificationFailure: ledger reads and writes. No Apollo, no Step Functions, no libphonenumber. */
export const getVerificationFailureRoot = compositionRoot((config) => ({
  failures: new VerificationFailureRecorder({ ledger: dynamoDbLedger(config), metrics: serviceMetrics() }),
}));
