import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidName,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { loadStateMachineDefinition } from '../lib/local/state-machine-definition';
import {
  invokeLambdaOverHttp,
  LambdaFunctionError,
  startLocalStepFunctions,
  type InvokeLambda,
  type LocalStepFunctions,
} from '../lib/local/step-functions-server';

const { definition, lambdaFunctionNames } = loadStateMachineDefinition();

interface RetrierJson {
  ErrorEquals: string[];
  MaxAttempts?: number;
}
interface StatesJson {
  States: Record<string, { Retry?: RetrierJson[]; Cause?: string; Parameters?: { FunctionName?: unknown } }>;
}
const states = (definition as StatesJson).States;

const verifyInput = { key: 'conv_123', contactId: 'contact-1', email: 'ada@example.com' };

function namedError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

type FunctionKey = 'verifyContact' | 'recordVerificationFailure';
type FakeHandler = (payload: unknown) => unknown;

/** Fake Lambdas keyed by serverless function key; records every invocation. */
function fakeLambdas(handlers: Partial<Record<FunctionKey, FakeHandler>>) {
  const invocations: Array<{ functionKey: string; payload: unknown }> = [];
  const functionKeysByName = new Map(Object.entries(lambdaFunctionNames).map(([key, name]) => [name, key]));
  const invokeLambda: InvokeLambda = async (functionName, payload) => {
    const functionKey = functionKeysByName.get(functionName) ?? `unknown function ${functionName}`;
    invocations.push({ functionKey, payload });
    const handler = handlers[functionKey as FunctionKey] ?? (() => ({ recorded: true }));
    return handler(payload);
  };
  const payloadsOf = (functionKey: FunctionKey) =>
    invocations.filter((invocation) => invocation.functionKey === functionKey).map(({ payload }) => payload);
  return { invokeLambda, payloadsOf };
}

const openServers: Array<{ close(): unknown }> = [];
afterEach(async () => {
  await Promise.all(openServers.splice(0).map((server) => server.close()));
});

async function startStepFunctions(
  invokeLambda: InvokeLambda,
): Promise<{ sfn: LocalStepFunctions; client: SFNClient }> {
  const sfn = await startLocalStepFunctions({ definition, invokeLambda, log: () => {} });
  const client = new SFNClient({
    endpoint: sfn.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  openServers.push(sfn, { close: () => client.destroy() });
  return { sfn, client };
}

async function runToEnd(sfn: LocalStepFunctions, client: SFNClient, input: unknown) {
  const { executionArn } = await client.send(
    new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, input: JSON.stringify(input) }),
  );
  await sfn.waitForIdle();
  return client.send(new DescribeExecutionCommand({ executionArn }));
}

/** Resolves when `release()` is called: keeps an execution RUNNING for as long as a test needs. */
function gate() {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { opened, release };
}

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
          ErrorEquals: expect.arrayContaining(['ApolloRateLimitError', 'Lambda.ServiceException']),
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
        expect.objectContaining({ error: expect.objectContaining({ Error: 'ContactMismatchError' }) }),
      ]);
      expect(execution.status).toBe('FAILED');
      expect(execution.error).toBe('VerificationFailed');
    });
  });

  describe('StartExecution idempotency', () => {
    it('returns the same execution when the same name and input are started while it runs', async () => {
      // Prepare
      const verifyMayAnswer = gate();
      const lambdas = fakeLambdas({
        verifyContact: () => verifyMayAnswer.opened.then(() => ({ verified: true })),
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);
      const start = () =>
        client.send(
          new StartExecutionCommand({
            stateMachineArn: sfn.stateMachineArn,
            name: 'conv_123',
            input: JSON.stringify(verifyInput),
          }),
        );

      // Act
      const first = await start();
      const second = await start();
      verifyMayAnswer.release();
      await sfn.waitForIdle();

      // Assess
      expect(second.executionArn).toBe(first.executionArn);
      expect(second.startDate).toEqual(first.startDate);
      expect(first.executionArn).toMatch(/:execution:apollo-contact-converter-dev-verification:conv_123$/);
      expect(sfn.executions()).toHaveLength(1);
      expect(lambdas.payloadsOf('verifyContact')).toHaveLength(1);
    });

    it('rejects the name with ExecutionAlreadyExists for another input, or once the execution has closed', async () => {
      // Prepare
      const verifyMayAnswer = gate();
      const lambdas = fakeLambdas({
        verifyContact: () => verifyMayAnswer.opened.then(() => ({ verified: true })),
      });
      const { sfn, client } = await startStepFunctions(lambdas.invokeLambda);
      const start = (input: unknown) =>
        client.send(
          new StartExecutionCommand({
            stateMachineArn: sfn.stateMachineArn,
            name: 'conv_123',
            input: JSON.stringify(input),
          }),
        );
      await start(verifyInput);

      // Act
      const otherInputWhileRunning = start({ ...verifyInput, contactId: 'contact-2' });
      await expect(otherInputWhileRunning).rejects.toBeInstanceOf(ExecutionAlreadyExists);
      verifyMayAnswer.release();
      await sfn.waitForIdle();
      const sameInputAfterClose = start(verifyInput);

      // Assess
      await expect(sameInputAfterClose).rejects.toMatchObject({
        name: 'ExecutionAlreadyExists',
        $metadata: { httpStatusCode: 400 },
      });
      expect(sfn.executions()).toHaveLength(1);
      expect(lambdas.payloadsOf('verifyContact')).toHaveLength(1);
    });

    it('rejects invalid names and unknown state machines', async () => {
      // Prepare
      const { sfn, client } = await startStepFunctions(fakeLambdas({}).invokeLambda);

      // Act
      const badName = client.send(
        new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, name: 'conv 123', input: '{}' }),
      );
      const unknownStateMachine = client.send(
        new StartExecutionCommand({ stateMachineArn: `${sfn.stateMachineArn}-other`, input: '{}' }),
      );

      // Assess
      await expect(badName).rejects.toBeInstanceOf(InvalidName);
      await expect(unknownStateMachine).rejects.toBeInstanceOf(StateMachineDoesNotExist);
      expect(sfn.executions()).toEqual([]);
    });
  });

  describe('DescribeExecution', () => {
    it('answers ExecutionDoesNotExist for an unknown execution', async () => {
      // Prepare
      const { sfn, client } = await startStepFunctions(fakeLambdas({}).invokeLambda);
      const unknownArn = `${sfn.stateMachineArn.replace(':stateMachine:', ':execution:')}:never-started`;

      // Act
      const describing = client.send(new DescribeExecutionCommand({ executionArn: unknownArn }));

      // Assess
      await expect(describing).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    });
  });

  describe('invokeLambdaOverHttp', () => {
    interface OfflineReply {
      status: number;
      headers?: OutgoingHttpHeaders;
      body: unknown;
    }

    /** Answers like serverless-offline 14's Lambda Invoke API; records each request. */
    async function startFakeServerlessOffline(
      replyFor: (functionName: string, event: unknown) => OfflineReply,
    ) {
      const requests: Array<{ method?: string; url?: string; event: unknown }> = [];
      const server: Server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const event: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          requests.push({ method: request.method, url: request.url, event });
          const functionName = decodeURIComponent(
            /\/functions\/([^/]+)\/invocations$/.exec(request.url ?? '')?.[1] ?? '',
          );
          const reply = replyFor(functionName, event);
          response.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
          response.end(JSON.stringify(reply.body));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      openServers.push({ close: () => new Promise((resolve) => server.close(resolve)) });
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
    }

    const contactNotVisibleTrace = [
      'ContactNotVisibleError: people/match does not return it',
      '    at verify (verify-contact.ts:10:11)',
    ];
    // What serverless-offline sends when the handler throws a ContactNotVisibleError.
    const unhandledContactNotVisible: OfflineReply = {
      status: 200,
      headers: { 'x-amz-function-error': 'Unhandled' },
      body: {
        errorMessage: 'people/match does not return it',
        errorType: 'Error',
        trace: contactNotVisibleTrace,
      },
    };

    it('posts the payload to the Invoke API and returns the function result', async () => {
      // Prepare
      const offline = await startFakeServerlessOffline(() => ({ status: 200, body: { verified: true } }));
      const invokeLambda = invokeLambdaOverHttp(`${offline.url}/`);

      // Act
      const result = await invokeLambda('apollo-contact-converter-dev-verifyContact', verifyInput);

      // Assess
      expect(result).toEqual({ verified: true });
      expect(offline.requests).toEqual([
        {
          method: 'POST',
          url: '/2015-03-31/functions/apollo-contact-converter-dev-verifyContact/invocations',
          event: verifyInput,
        },
      ]);
    });

    it('throws the error type that serverless-offline only keeps in the trace', async () => {
      // Prepare
      const offline = await startFakeServerlessOffline(() => unhandledContactNotVisible);

      // Act
      const invoking = invokeLambdaOverHttp(offline.url)(
        'apollo-contact-converter-dev-verifyContact',
        verifyInput,
      );

      // Assess
      await expect(invoking).rejects.toBeInstanceOf(LambdaFunctionError);
      await expect(invoking).rejects.toMatchObject({
        name: 'ContactNotVisibleError',
        message: 'people/match does not return it',
        trace: contactNotVisibleTrace,
      });
    });

    it('throws Lambda.ResourceNotFoundException for a function serverless-offline does not know', async () => {
      // Prepare
      const offline = await startFakeServerlessOffline((functionName) => ({
        status: 404,
        headers: { 'x-amzn-errortype': 'ResourceNotFoundException' },
        body: { Message: `Function not found: ${functionName}`, Type: 'User' },
      }));

      // Act
      const invoking = invokeLambdaOverHttp(offline.url)('nope', {});

      // Assess
      await expect(invoking).rejects.toMatchObject({ name: 'Lambda.ResourceNotFoundException' });
    });

    it('lets the state machine retry and catch the errors serverless-offline reports', async () => {
      // Prepare
      const offline = await startFakeServerlessOffline((functionName) =>
        functionName === lambdaFunctionNames['verifyContact']
          ? unhandledContactNotVisible
          : { status: 200, body: { recorded: true } },
      );
      const { sfn, client } = await startStepFunctions(invokeLambdaOverHttp(offline.url));

      // Act
      const execution = await runToEnd(sfn, client, verifyInput);

      // Assess
      const recordedEvents = offline.requests
        .filter((request) => request.url?.includes('recordVerificationFailure'))
        .map((request) => request.event as { error: { Error: string; Cause: string } });
      expect(offline.requests.length - recordedEvents.length).toBeGreaterThan(1);
      expect(recordedEvents).toHaveLength(1);
      expect(recordedEvents[0]?.error.Error).toBe('ContactNotVisibleError');
      expect(JSON.parse(recordedEvents[0]?.error.Cause ?? 'null')).toEqual({
        errorType: 'ContactNotVisibleError',
        errorMessage: 'people/match does not return it',
        trace: contactNotVisibleTrace,
      });
      expect(execution.status).toBe('FAILED');
    });
  });
});
