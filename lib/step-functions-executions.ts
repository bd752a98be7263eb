import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { ConfigurationError } from './errors';

/** Starts executions of one state machine, each under a name that makes a second start a no-op. */
export class StepFunctionsExecutions {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string | undefined,
    /** The variable that should have held the ARN, for the error when it is missing. */
    private readonly arnVariable: string,
  ) {}

  async start(name: string, input: object): Promise<void> {
    if (!this.stateMachineArn) throw new ConfigurationError(`${this.arnVariable} must be set`);
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
    } catch (error) {
      // Standard workflows: the same name with the same input while running succeeds; once it has
      // ended, Step Functions answers ExecutionAlreadyExists. Either way this work was started.
      if (error instanceof Error && error.name === 'ExecutionAlreadyExists') return;
      throw error;
    }
  }
}
