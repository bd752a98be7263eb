import { getServices } from '../lib/services';
import { stateMachineTask } from '../lib/state-machine-task';
import type { VerificationFailureInput } from '../lib/verification';

/** State machine failure path: records on the ledger why verification failed, for the batch's people still without a verdict. */
export const handler = stateMachineTask((input: VerificationFailureInput) =>
  getServices().verification.recordFailure(input),
);
