import { getVerificationSweepRoot } from '../lib/roots/verification-sweep';
import { scheduledTask } from '../lib/scheduled-task';

/** Scheduled (every 15 minutes): re-drives verifications of records left `created` without a verdict. */
export const handler = scheduledTask(() => getVerificationSweepRoot().verificationSweep.sweep());
