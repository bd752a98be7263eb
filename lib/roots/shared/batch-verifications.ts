import type { BatchVerificationScheduler, VerificationScheduler } from '../../schedulers';

/**
 * One verification start for a batch of converted people.
 * PIPELINE-STAND-IN: until the batch verification lands (one execution per batch), one execution
 * per person of the batch, on the verification state machine as it is.
 */
export function batchVerifications(verifications: VerificationScheduler): BatchVerificationScheduler {
  return {
    start: async ({ people }) => {
      await Promise.all(people.map((person) => verifications.start(person)));
    },
  };
}
