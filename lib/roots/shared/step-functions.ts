import { SFNClient } from '@aws-sdk/client-sfn';
import type { Config } from '../../config';
import {
  phoneRevealExecutionName,
  verificationExecutionName,
  type PhoneRevealScheduler,
  type VerificationScheduler,
} from '../../schedulers';
import { StepFunctionsExecutions } from '../../step-functions-executions';
import { redriveExecutionName, type VerificationRedriver } from '../../verification-sweep';

/** Every way the service starts a state machine; a root hands out those its functions use. */
export interface StateMachineStarts {
  /** A person's verification, once per person (the execution name is keyed by LOG_HASH_SECRET). */
  verifications: VerificationScheduler;
  /** A re-driven verification, once per re-drive. */
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
      start: async (request) =>
        verifications.start(verificationExecutionName(request.key, await nameKey()), request),
    },
    redrives: {
      redrive: async (request, redrive) =>
        verifications.start(redriveExecutionName(request.key, redrive, await nameKey()), request),
    },
    phoneReveals: {
      start: async (poll) =>
        phoneReveals.start(phoneRevealExecutionName(poll.key, poll.request_id, await nameKey()), poll),
    },
  };
}
