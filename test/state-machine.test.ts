import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { loadStateMachineDefinition } from '../local/state-machine-definition';
import { LambdaServiceError, startLocalStepFunctions } from '../local/step-functions-server';
import {
  closeAfterTest,
  closeOpenServers,
  definition,
  fakeLambdas,
  lambdaFunctionNames,
  runToEnd,
  startStepFunctions,
  verifyInput,
} from './support/step-functions';

interface RetrierJson {
  ErrorEquals: string[];
  MaxAttempts?: number;
}
interface StatesJson {
  States: Record<
    string,
    {
      Retry?: RetrierJson[];
      Cause?: string;
      TimeoutSeconds?: number;
      Parameters?: { FunctionName?: unknown };
    }
  >;
}
const states = (definition as StatesJson).States;

function namedError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

afterEach(closeOpenServers);

describe('State machine: verification', () => {
  describe('definition', () => {
    it('loads the states and resolves function names and params from the real serverless.yml', () => {
      // Prepare: nothing; the module loaded the definition with the defaults.

      // Act
      const overridden = loadStateMachineDefinition({ params: { verifyInitialWaitSeconds: 1 } });

      // Assess
      expect(Object.keys(states)).toEqual(
        expect.arrayContaining([
          'WaitForApollo',
          'VerifyContact',
          'RecordVerificationFailure',
          'VerificationFailed',
        ]),
      );
      expect(states['VerifyContact']?.Parameters?.FunctionName).toBe(
        'apollo-contact-converter-dev-verifyContact',
      );
      expect(states['RecordVerificationFailure']?.Parameters?.FunctionName).toBe(
        'apollo-contact-converter-dev-recordVerificationFailure',
      );
      expect(lambdaFunctionNames['verifyContact']).toBe('apollo-contact-converter-dev-verifyContact');
      expect(states['WaitForApollo']).toMatchObject({ Seconds: 10 });
      expect(
        (overridden.definition as { States: StatesJson['States'] }).States['WaitForApollo'],
      ).toMatchObject({
        Seconds: 1,
      });
      expect(JSON.stringify(definition)).not.toContain('${');
    });

    it('throws naming the variable when a variable cannot be resolved', () => {
      // Prepare
      const realYml = readFileSync(join(import.meta.dirname, '..', 'serverless.yml'), 'utf8');
      const brokenYmlPath = join(mkdtempSync(join(tmpdir(), 'sls-')), 'serverless.yml');
      writeFileSync(brokenYmlPath, realYml.replace('${param:verifyMaxAttempts}', '${param:verifyMaxTries}'));

      // Act
      const load = () => loadStateMachineDefinition({ serverlessYmlPath: brokenYmlPath });

      // Assess
      expect(load).toThrow(/\$\{param:verifyMaxTries\}/);
    });

    it('resolves the retrier both state machines share through a YAML alias', () => {
      // Prepare: nothing; serverless.yml writes the Apollo-and-Lambda retrier once.

      // Act
      const phoneReveal = loadStateMachineDefinition({ stateMachine: 'phoneReveal' });

      // Assess: the alias is expanded, and no merge key (which the yaml package keeps as `<<`) slipped in.
      const pollRetry = (phoneReveal.definition as StatesJson).States['PollResult']?.Retry;
      expect(pollRetry).toEqual([
        expect.objectContaining({
          ErrorEquals: expect.arrayContaining(['ApolloAuthError', 'ContactMismatchError']) as unknown,
          MaxAttempts: 0,
        }),
        expect.objectContaining({
          ErrorEquals: expect.arrayContaining(['ApolloRateLimitError', 'Lambda.ServiceException']) as unknown,
          MaxAttempts: 5,
        }),
        expect.objectContaining({
          ErrorEquals: expect.arrayContaining(['States.Timeout', 'States.TaskFailed']) as unknown,
        }),
      ]);
      expect(states['VerifyContact']?.Retry).toContainEqual(pollRetry?.[0]);
      expect(states['VerifyContact']?.Retry).toContainEqual(pollRetry?.[1]);
      expect(states['VerifyContact']?.Retry).toContainEqual(pollRetry?.[2]);
      expect(JSON.stringify([definition, phoneReveal.definition])).not.toContain('<<');
    });
  });

  describe('executions', () => {
    it('succeeds without the failure path when verifyContact succeeds first time', async () => {
      // Prepare
      const verification = { verified: true, apolloContactId: 'contact-1' };
      const lambdas = fakeLambdas({ verifyContact: () => verification });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);

      // Act
      const execution = await runToEnd(sfn, client, verifyInput);

      // Assess
      expect(execution.status).toBe('SUCCEEDED');
      expect(JSON.parse(execution.output ?? 'null')).toEqual({ ...verifyInput, result: { verification } });
      expect(lambdas.payloadsOf('verifyContact')).toEqual([verifyInput]);
      expect(lambdas.payloadsOf('recordVerificationFailure')).toEqual([]);
    });

    it('retries ContactNotVisibleError and succeeds when the contact becomes visible', async () => {
      // Prepare
      let calls = 0;
      const lambdas = fakeLambdas({
        verifyContact: () => {
          calls += 1;
          if (calls <= 2) throw namedError('ContactNotVisibleError', 'people/match does not return it yet');
          return { verified: true };
        },
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);

      // Act
      const execution = await runToEnd(sfn, client, verifyInput);

      // Assess
      expect(execution.status).toBe('SUCCEEDED');
      expect(lambdas.payloadsOf('verifyContact')).toHaveLength(3);
      expect(lambdas.payloadsOf('recordVerificationFailure')).toEqual([]);
    });

    it('records the failure and fails with VerificationFailed when the contact never becomes visible', async () => {
      // Prepare
      const retrier = states['VerifyContact']?.Retry?.find((r) =>
        r.ErrorEquals.includes('ContactNotVisibleError'),
      );
      const maxAttempts = retrier?.MaxAttempts ?? Number.NaN;
      const lambdas = fakeLambdas({
        verifyContact: () => {
          throw namedError('ContactNotVisibleError', 'people/match does not return it');
        },
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);

      // Act
      const execution = await runToEnd(sfn, client, verifyInput);

      // Assess
      expect(maxAttempts).toBeGreaterThan(0);
      expect(lambdas.payloadsOf('verifyContact')).toHaveLength(1 + maxAttempts);
      const failurePayloads = lambdas.payloadsOf('recordVerificationFailure') as Array<{
        error: { Error: string; Cause: string };
      }>;
      expect(failurePayloads).toHaveLength(1);
      expect(failurePayloads[0]).toMatchObject({
        ...verifyInput,
        error: { Error: 'ContactNotVisibleError' },
      });
      expect(JSON.parse(failurePayloads[0]?.error.Cause ?? 'null')).toMatchObject({
        errorType: 'ContactNotVisibleError',
        errorMessage: 'people/match does not return it',
      });
      expect(execution.status).toBe('FAILED');
      expect(execution.error).toBe('VerificationFailed');
      expect(execution.cause).toBe(states['VerificationFailed']?.Cause);
      expect(execution.stopDate).toBeInstanceOf(Date);
    });

    it('gives every task a timeout and retries for Lambda timeouts and service errors', () => {
      // Prepare
      const phoneReveal = loadStateMachineDefinition({ stateMachine: 'phoneReveal' })
        .definition as StatesJson;
      const tasks = {
        VerifyContact: states['VerifyContact'],
        RecordVerificationFailure: states['RecordVerificationFailure'],
        PollResult: phoneReveal.States['PollResult'],
      };
      const lambdaErrors = [
        'Lambda.Unknown',
        'Lambda.ServiceException',
        'Lambda.AWSLambdaException',
        'Lambda.SdkClientException',
        'Lambda.TooManyRequestsException',
        'States.Timeout',
      ];

      // Act
      const retried = Object.fromEntries(
        Object.entries(tasks).map(([name, task]) => [
          name,
          (task?.Retry ?? []).filter((r) => (r.MaxAttempts ?? 3) > 0).flatMap((r) => r.ErrorEquals),
        ]),
      );

      // Assess
      for (const [name, task] of Object.entries(tasks)) {
        expect(task, name).toMatchObject({ TimeoutSeconds: expect.any(Number) as unknown });
        const errors = retried[name] ?? [];
        const covered = errors.includes('States.ALL')
          ? lambdaErrors
          : lambdaErrors.filter((error) => errors.includes(error));
        expect(covered, name).toEqual(lambdaErrors);
      }
    });

    it('retries a verifyContact that timed out, died or failed unexpectedly, and succeeds', async () => {
      // Prepare: how each shows up in Step Functions.
      const failures = [
        () => new LambdaServiceError('Unknown', 'the function ended without an error type'),
        () => namedError('Sandbox.Timedout', 'Task timed out after 20.00 seconds'),
        () => namedError('States.Timeout', 'the task timed out'),
        () => namedError('Runtime.ExitError', 'the runtime exited'),
      ];
      let calls = 0;
      const lambdas = fakeLambdas({
        verifyContact: () => {
          const failure = failures[calls++];
          if (failure) throw failure();
          return { verified: true };
        },
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);

      // Act
      const execution = await runToEnd(sfn, client, verifyInput);

      // Assess
      expect(execution.status).toBe('SUCCEEDED');
      expect(lambdas.payloadsOf('verifyContact')).toHaveLength(failures.length + 1);
      expect(lambdas.payloadsOf('recordVerificationFailure')).toEqual([]);
    });

    it('abandons an invocation that never answers after TimeoutSeconds and retries it', async () => {
      // Prepare: the definition with a one-second task timeout; the first invocation hangs.
      const { definition: quick } = loadStateMachineDefinition({ params: { taskTimeoutSeconds: 1 } });
      let calls = 0;
      const lambdas = fakeLambdas({
        verifyContact: () => {
          calls += 1;
          return calls === 1 ? new Promise(() => undefined) : { verified: true };
        },
      });
      const sfn = await startLocalStepFunctions({
        definition: quick,
        invokeLambda: lambdas.invokeLambda,
        log: () => {},
      });
      const client = new SFNClient({
        endpoint: sfn.url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      closeAfterTest(sfn);
      closeAfterTest({ close: () => client.destroy() });

      // Act
      const { executionArn } = await client.send(
        new StartExecutionCommand({
          stateMachineArn: sfn.stateMachineArn,
          input: JSON.stringify(verifyInput),
        }),
      );
      await sfn.waitForIdle(10_000);
      const execution = await client.send(new DescribeExecutionCommand({ executionArn }));

      // Assess
      expect(execution.status).toBe('SUCCEEDED');
      expect(lambdas.payloadsOf('verifyContact')).toHaveLength(2);
    });

    it('ends a verification that keeps timing out in the failure path, which records the verdict', async () => {
      // Prepare
      const lambdas = fakeLambdas({
        verifyContact: () => {
          throw namedError('Sandbox.Timedout', 'Task timed out after 20.00 seconds');
        },
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);

      // Act
      const execution = await runToEnd(sfn, client, verifyInput);

      // Assess
      expect(lambdas.payloadsOf('recordVerificationFailure')).toEqual([
        expect.objectContaining({ error: expect.objectContaining({ Error: 'Sandbox.Timedout' }) as unknown }),
      ]);
      expect(execution.status).toBe('FAILED');
      expect(execution.error).toBe('VerificationFailed');
    });

    it('fails the execution with VerdictNotRecorded when the failure cannot be recorded, after retrying', async () => {
      // Prepare
      const lambdas = fakeLambdas({
        verifyContact: () => {
          throw namedError('ContactMismatchError', 'Apollo returns another email');
        },
        recordVerificationFailure: () => {
          throw namedError('ProvisionedThroughputExceededException', 'the ledger is throttled');
        },
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);

      // Act
      const execution = await runToEnd(sfn, client, verifyInput);

      // Assess
      const retrier = states['RecordVerificationFailure']?.Retry?.[0];
      expect(retrier?.ErrorEquals).toEqual(['States.ALL']);
      expect(lambdas.payloadsOf('recordVerificationFailure')).toHaveLength(1 + (retrier?.MaxAttempts ?? 0));
      expect(execution.status).toBe('FAILED');
      expect(execution.error).toBe('VerdictNotRecorded');
    });

    it('does not retry ContactMismatchError and takes the failure path', async () => {
      // Prepare
      const lambdas = fakeLambdas({
        verifyContact: () => {
          throw namedError('ContactMismatchError', 'Apollo returns another email');
        },
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);

      // Act
      const execution = await runToEnd(sfn, client, verifyInput);

      // Assess
      expect(lambdas.payloadsOf('verifyContact')).toHaveLength(1);
      expect(lambdas.payloadsOf('recordVerificationFailure')).toEqual([
        expect.objectContaining({
          error: expect.objectContaining({ Error: 'ContactMismatchError' }) as unknown,
        }),
      ]);
      expect(execution.status).toBe('FAILED');
      expect(execution.error).toBe('VerificationFailed');
    });
  });
});
