import { getVerificationFailureRoot } from '../lib/roots/verification-failure';
import { stateMachineTask } from '../lib/state-machine-task';
import type { VerificationFailureInput } from '../lib/verification-failure';

/** State machine failure path: records on the ledger why verification failed, for the batch's people still without a verdict. */
export const handler = stateMachineTask((input: VerificationFailureInput) =>
  getVerificationFailureRoot().failures.recordFailure(input),
);
