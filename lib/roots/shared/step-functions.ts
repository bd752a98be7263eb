import { SFNClient } from '@aws-sdk/client-sfn';
import type { Config } from '../../config';
import {
  checkVerificationRequest,
  phoneRevealExecutionName,
  verificationExecutionName,
  type PhoneRevealScheduler,
  type VerificationScheduler,
} from '../../schedulers';
import { StepFunctionsExecutions } from '../../step-functions-executions';
import { redriveExecutionName, type VerificationRedriver } from '../../verification-sweep';

/** Every way the service starts a state machine; a root hands out those its functions use. */
export interface StateMachineStarts {
  /**
   * A converted batch's verification, once per batch (the execution name is an HMAC keyed by
   * LOG_HASH_SECRET of the batch's sorted keys).
   */
  verifications: VerificationScheduler;
  /** A re-driven verification (a batch of one), once per re-drive. */
  redrives: VerificationRedriver;
  /** The phone-reveal fallback, once per enrichment request. */
  phoneReveals: PhoneRevealScheduler;
}

/** The starts of both state machines, on one Step Functions client. */
export function stateMachineStarts(config: Config): StateMachineStarts {
  const client = new SFNClient({ region: config.region, endpoint: config.stepFunctionsEndpoint });
  const verifications = new StepFunctionsExecutions(
    client,
    config.verificationStateMachineArn,
    'VERIFICATION_STATE_MACHINE_ARN',
  );
  const phoneReveals = new StepFunctionsExecutions(
    client,
    config.phoneRevealStateMachineArn,
    'PHONE_REVEAL_STATE_MACHINE_ARN',
  );
  const nameKey = () => config.secret('LOG_HASH_SECRET');
  return {
    verifications: {
      start: async (request) => {
        const { people } = checkVerificationRequest(request);
        const keys = people.map((person) => person.key);
        await verifications.start(verificationExecutionName(keys, await nameKey()), { people });
      },
    },
    redrives: {
      redrive: async (person, redrive) =>
        verifications.start(redriveExecutionName(person.key, redrive, await nameKey()), {
          people: [person],
        }),
    },
    phoneReveals: {
      start: async (poll) =>
        phoneReveals.start(phoneRevealExecutionName(poll.key, poll.request_id, await nameKey()), poll),
    },
  };
}
