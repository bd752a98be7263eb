import { createServer, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidName,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { invokeLambdaOverHttp, LambdaFunctionError } from '../../local/step-functions-server';
import {
  closeAfterTest,
  closeOpenServers,
  fakeLambdas,
  lambdaFunctionNames,
  runToEnd,
  startStepFunctions,
  verifyInput,
} from '../support/step-functions';

/**
 * The local Step Functions server behaves like the AWS API the service calls (StartExecution's
 * idempotency, DescribeExecution's errors), and reaches serverless-offline's Lambdas over HTTP.
 * The state machine's own retry and failure paths are tested in test/state-machine.test.ts.
 */

afterEach(closeOpenServers);

/** Resolves when `release()` is called: keeps an execution RUNNING for as long as a test needs. */
function gate() {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { opened, release };
}

describe('Local Step Functions server', () => {
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
      closeAfterTest({ close: () => new Promise((resolve) => server.close(resolve)) });
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
