import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadStateMachineDefinition } from '../local/state-machine-definition';
import {
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
  States: Record<string, { Retry?: RetrierJson[]; Cause?: string; Parameters?: { FunctionName?: unknown } }>;
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
          ErrorEquals: expect.arrayContaining(['ApolloRateLimitError', 'Lambda.ServiceException']) as unknown,
          MaxAttempts: 5,
        }),
      ]);
      expect(states['VerifyContact']?.Retry).toContainEqual(pollRetry?.[0]);
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
