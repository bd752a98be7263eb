import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { STEP_FUNCTIONS_STANDARD_PER_TRANSITION } from '../bench/prices';
import type { VerificationRequest } from '../lib/schedulers';
import type { VerificationFailureInput } from '../lib/verification-failure';
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
import { REQUEST_MS, fakeServices, person } from './support/fakes';

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
    it('succeeds without the failure path when verifyContact verifies the batch first time', async () => {
      // Prepare
      const verification = { verified: 2, failed: 0, decidedBefore: 0 };
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

    it('retries ContactsNotVisibleYetError with the whole batch and succeeds when the contacts become visible', async () => {
      // Prepare
      let calls = 0;
      const lambdas = fakeLambdas({
        verifyContact: () => {
          calls += 1;
          if (calls <= 2) throw namedError('ContactsNotVisibleYetError', '1 of 2 people not visible yet');
          return { verified: 1, failed: 0, decidedBefore: 1 };
        },
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);

      // Act
      const execution = await runToEnd(sfn, client, verifyInput);

      // Assess
      expect(execution.status).toBe('SUCCEEDED');
      expect(lambdas.payloadsOf('verifyContact')).toEqual([verifyInput, verifyInput, verifyInput]);
      expect(lambdas.payloadsOf('recordVerificationFailure')).toEqual([]);
    });

    it('records the failure and fails with VerificationFailed when the contact never becomes visible', async () => {
      // Prepare
      const retrier = states['VerifyContact']?.Retry?.find((r) =>
        r.ErrorEquals.includes('ContactsNotVisibleYetError'),
      );
      const maxAttempts = retrier?.MaxAttempts ?? Number.NaN;
      const lambdas = fakeLambdas({
        verifyContact: () => {
          throw namedError('ContactsNotVisibleYetError', '1 of 2 people not visible through Apollo yet');
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
        error: { Error: 'ContactsNotVisibleYetError' },
      });
      expect(JSON.parse(failurePayloads[0]?.error.Cause ?? 'null')).toMatchObject({
        errorType: 'ContactsNotVisibleYetError',
        errorMessage: '1 of 2 people not visible through Apollo yet',
      });
      expect(execution.status).toBe('FAILED');
      expect(execution.error).toBe('VerificationFailed');
      expect(execution.cause).toBe(states['VerificationFailed']?.Cause);
      expect(execution.stopDate).toBeInstanceOf(Date);
    });

    it('waits out Apollo rate-limiting verifyContact for longer than other Apollo errors, and succeeds', async () => {
      // Prepare: a burst keeps people/bulk_match limited for about 10 minutes (BENCHMARKS.md, burst).
      const retriers = states['VerifyContact']?.Retry ?? [];
      const rateLimitAt = retriers.findIndex((r) => r.ErrorEquals.includes('ApolloRateLimitError'));
      const sharedAt = retriers.findIndex((r) => r.ErrorEquals.includes('ApolloUnavailableError'));
      const rateLimitRetrier = retriers[rateLimitAt];
      const sharedRetrier = retriers[sharedAt];
      const rateLimitedPasses = (sharedRetrier?.MaxAttempts ?? Number.NaN) + 3;
      let calls = 0;
      const lambdas = fakeLambdas({
        verifyContact: () => {
          calls += 1;
          if (calls <= rateLimitedPasses) throw namedError('ApolloRateLimitError', 'Apollo answered 429');
          return { verified: 2, failed: 0, decidedBefore: 0 };
        },
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);

      // Act
      const execution = await runToEnd(sfn, client, verifyInput);

      // Assess: its own retrier comes first (the first that matches decides), once a minute, and
      // outlasts 10 minutes; the execution ends verified, without the failure path.
      expect(rateLimitAt).toBeGreaterThanOrEqual(0);
      expect(rateLimitAt).toBeLessThan(sharedAt);
      expect(rateLimitRetrier).toMatchObject({ IntervalSeconds: 60, BackoffRate: 1 });
      expect((rateLimitRetrier?.MaxAttempts ?? 0) * 60).toBeGreaterThanOrEqual(15 * 60);
      expect(execution.status).toBe('SUCCEEDED');
      expect(lambdas.payloadsOf('verifyContact')).toHaveLength(rateLimitedPasses + 1);
      expect(lambdas.payloadsOf('recordVerificationFailure')).toEqual([]);
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
          return { verified: 2, failed: 0, decidedBefore: 0 };
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
          return calls === 1 ? new Promise(() => undefined) : { verified: 2, failed: 0, decidedBefore: 0 };
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

  describe('transitions (what Standard bills)', () => {
    /**
     * Runs the definition and counts the transitions Step Functions Standard bills: every state
     * entered and every retry, plus the start (counted as bench/cost.ts counts it, to be safe).
     */
    async function transitions(verifyPasses: Array<'verified' | 'notVisible'>): Promise<number> {
      let pass = 0;
      const run = new StateMachine(definition as StateMachineDefinition).run(verifyInput, {
        overrides: {
          taskResourceLocalHandlers: {
            VerifyContact: () => {
              if (verifyPasses[pass++] === 'notVisible') {
                throw namedError('ContactsNotVisibleYetError', '1 of 2 people not visible yet');
              }
              return { Payload: { verified: 2, failed: 0, decidedBefore: 0 } };
            },
            RecordVerificationFailure: () => ({ Payload: { failed: 2, decidedBefore: 0 } }),
          },
          waitTimeOverrides: { WaitForApollo: 0 },
          retryIntervalOverrides: { VerifyContact: 0, RecordVerificationFailure: 0 },
        },
      });
      const ended = run.result.then(
        () => 'SUCCEEDED',
        () => 'FAILED',
      );
      const billed: string[] = [];
      for await (const event of run.eventLogs) {
        if (['ExecutionStarted', 'StateEntered', 'StateRetried'].includes(event.type))
          billed.push(event.type);
      }
      expect(await ended).toBe('SUCCEEDED');
      expect(pass).toBe(verifyPasses.length);
      return billed.length;
    }

    it('bills 3 transitions per batch on the happy path and 4 with one retry: at most $1 per million conversions', async () => {
      // Act
      const happy = await transitions(['verified']);
      const oneRetry = await transitions(['notVisible', 'verified']);

      // Assess: at 100 people per batch, a million conversions are 10,000 executions.
      const perMillionConversions = (perExecution: number) =>
        perExecution * (1_000_000 / 100) * STEP_FUNCTIONS_STANDARD_PER_TRANSITION;
      expect([happy, oneRetry]).toEqual([3, 4]);
      expect(perMillionConversions(happy)).toBeCloseTo(0.75, 6);
      expect(perMillionConversions(oneRetry)).toBeLessThanOrEqual(1);
    });
  });

  describe('with the verification use case behind the tasks (in-memory ledger and Apollo)', () => {
    const timedOut = () => namedError('Sandbox.Timedout', 'Task timed out after 50.00 seconds');

    /**
     * A converted batch of `count` people, each with a contact in Apollo unless listed in
     * `unseen`, and the state machine whose tasks run the real use case, failing the calls that
     * `verifyFault` picks (by call number, from 1).
     */
    async function batchOnTheStateMachine(options: {
      count: number;
      unseen?: number[];
      verifyFault?: (call: number) => Error | undefined;
      recordFault?: (call: number) => Error | undefined;
    }) {
      const s = fakeServices();
      const people: Array<{ key: string; contact_id: string }> = [];
      for (let index = 0; index < options.count; index++) {
        const member = person({
          first_name: `Member${index}`,
          last_name: 'Crowd',
          email: `member${index}@crowd.example`,
          organization_name: 'Crowd Cooperative',
        });
        const contactId = options.unseen?.includes(index)
          ? `contact-unseen-${index}`
          : s.apollo.addContact(member.fields).id;
        const key = await s.resolve(member);
        await s.ledger.claim({
          key,
          token: 'converter',
          lockExpiresAtMs: s.clock.now() + REQUEST_MS,
          nowMs: s.clock.now(),
          fingerprint: member.fingerprint,
          match: member.match,
          expectedPhoneHashes: [],
        });
        await s.ledger.complete({
          key,
          token: 'converter',
          outcome: 'created',
          contactId,
          nowMs: s.clock.now(),
        });
        people.push({ key, contact_id: contactId });
      }
      let verifyCalls = 0;
      let recordCalls = 0;
      const lambdas = fakeLambdas({
        verifyContact: (payload) => {
          const fault = options.verifyFault?.(++verifyCalls);
          if (fault) throw fault;
          return s.verification.verify(payload as VerificationRequest, s.request());
        },
        recordVerificationFailure: (payload) => {
          const fault = options.recordFault?.(++recordCalls);
          if (fault) throw fault;
          return s.verificationFailures.recordFailure(payload as VerificationFailureInput);
        },
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);
      const execution = await runToEnd(sfn, client, { people });
      const statuses = await Promise.all(
        people.map(async ({ key }) => (await s.ledger.get({ key }))?.status),
      );
      return { s, people, lambdas, execution, statuses };
    }

    it('ends every person verified when the first passes time out or die', async () => {
      // Act
      const { execution, statuses, lambdas, s } = await batchOnTheStateMachine({
        count: 12,
        verifyFault: (call) =>
          call === 1
            ? timedOut()
            : call === 2
              ? new LambdaServiceError('Unknown', 'no error type')
              : undefined,
      });

      // Assess
      expect(execution.status).toBe('SUCCEEDED');
      expect(statuses).toEqual(Array(12).fill('verified'));
      expect(lambdas.payloadsOf('verifyContact')).toHaveLength(3);
      expect(s.apollo.received.matchPeople.map((call) => call.length)).toEqual([10, 2]);
    });

    it('ends the people Apollo never shows verification_failed with the reason, the others verified, none stuck', async () => {
      // Act: the second pass also times out.
      const { execution, statuses, s, people, lambdas } = await batchOnTheStateMachine({
        count: 3,
        unseen: [1],
        verifyFault: (call) => (call === 2 ? timedOut() : undefined),
      });

      // Assess: 1 + verifyMaxAttempts passes found her missing, one more timed out.
      const notVisibleRetries = states['VerifyContact']?.Retry?.find((r) =>
        r.ErrorEquals.includes('ContactsNotVisibleYetError'),
      )?.MaxAttempts;
      expect(lambdas.payloadsOf('verifyContact')).toHaveLength(1 + (notVisibleRetries ?? Number.NaN) + 1);
      expect(statuses).toEqual(['verified', 'verification_failed', 'verified']);
      expect(await s.ledger.get({ key: people[1]?.key ?? '' })).toMatchObject({
        lastError:
          'ContactsNotVisibleYetError: 1 of 3 people not visible through Apollo yet: people/match does not find the person yet (1)',
      });
      expect(s.apollo.received.matchPeople.slice(1).every((call) => call.length === 1)).toBe(true);
      expect(execution).toMatchObject({ status: 'FAILED', error: 'VerificationFailed' });
      expect(await s.ledger.awaitingVerdict({ olderThanMs: s.clock.now() + 1, limit: 10 })).toEqual([]);
    });

    it('ends a batch whose every pass times out verification_failed for everyone, with the reason', async () => {
      // Act
      const { execution, statuses, s, people } = await batchOnTheStateMachine({
        count: 2,
        verifyFault: timedOut,
      });

      // Assess
      expect(statuses).toEqual(['verification_failed', 'verification_failed']);
      for (const { key } of people) {
        expect(await s.ledger.get({ key })).toMatchObject({
          lastError: 'Sandbox.Timedout: Task timed out after 50.00 seconds',
        });
      }
      expect(execution).toMatchObject({ status: 'FAILED', error: 'VerificationFailed' });
    });

    it('fails loudly (VerdictNotRecorded) when the failure path cannot write, leaving the records where the sweep looks', async () => {
      // Act
      const { execution, statuses, s } = await batchOnTheStateMachine({
        count: 2,
        verifyFault: timedOut,
        recordFault: timedOut,
      });

      // Assess
      expect(execution).toMatchObject({ status: 'FAILED', error: 'VerdictNotRecorded' });
      expect(statuses).toEqual(['created', 'created']);
      expect(await s.ledger.awaitingVerdict({ olderThanMs: s.clock.now() + 1, limit: 10 })).toHaveLength(2);
    });
  });
});
