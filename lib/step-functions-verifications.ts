import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { ConfigurationError } from './errors';
import {
  verificationExecutionName,
  type VerificationRequest,
  type VerificationScheduler,
} from './verifications';

/** Starts the verification state machine, one execution per person key. */
export class StepFunctionsVerifications implements VerificationScheduler {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string | undefined,
  ) {}

  async start(request: VerificationRequest): Promise<void> {
    if (!this.stateMachineArn) throw new ConfigurationError('VERIFICATION_STATE_MACHINE_ARN must be set');
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: verificationExecutionName(request.key),
          input: JSON.stringify(request),
        }),
      );
    } catch (error) {
      // The same name with the same input while running succeeds; after it ended (or with another
      // contact id) Step Functions answers ExecutionAlreadyExists: this person was verified already.
      if (error instanceof Error && error.name === 'ExecutionAlreadyExists') return;
      throw error;
    }
  }
}
