import { getVerificationRoot } from '../lib/roots/verification';
import { stateMachineTask } from '../lib/state-machine-task';
import type { VerificationRequest } from '../lib/schedulers';

/** State machine task: checks through people/bulk_match that Apollo returns a batch's converted contacts. */
export const handler = stateMachineTask((input: VerificationRequest, deadline) =>
  getVerificationRoot().verification.verify(input, { deadline }),
);
