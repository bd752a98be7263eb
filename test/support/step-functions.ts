import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { loadStateMachineDefinition } from '../../local/state-machine-definition';
import {
  startLocalStepFunctions,
  type InvokeLambda,
  type LocalStepFunctions,
} from '../../local/step-functions-server';

/**
 * The verification state machine from serverless.yml on the local Step Functions server, with
 * fake Lambdas: for the state machine's tests and the local server's own.
 */
export const { definition, lambdaFunctionNames } = loadStateMachineDefinition();

/** A converted batch of two, as the consumer starts its verification. */
export const verifyInput = {
  people: [
    { key: 'c_AAAAAAAAAAAAAAAAAAAAAA', contact_id: 'contact-1' },
    { key: 'c_BBBBBBBBBBBBBBBBBBBBBB', contact_id: 'contact-2' },
  ],
};

type FunctionKey = 'verifyContact' | 'recordVerificationFailure';
type FakeHandler = (payload: unknown) => unknown;

/** Fake Lambdas keyed by serverless function key; records every invocation. */
export function fakeLambdas(handlers: Partial<Record<FunctionKey, FakeHandler>>) {
  const invocations: Array<{ functionKey: string; payload: unknown }> = [];
  const functionKeysByName = new Map(Object.entries(lambdaFunctionNames).map(([key, name]) => [name, key]));
  const invokeLambda: InvokeLambda = async (functionName, payload) => {
    const functionKey = functionKeysByName.get(functionName) ?? `unknown function ${functionName}`;
    invocations.push({ functionKey, payload });
    const handler = handlers[functionKey as FunctionKey] ?? (() => ({ recorded: true }));
    // A fake may answer with a promise, and its throw becomes a rejection, as a failed invocation's.
    return await handler(payload);
  };
  const payloadsOf = (functionKey: FunctionKey) =>
    invocations.filter((invocation) => invocation.functionKey === functionKey).map(({ payload }) => payload);
  return { invokeLambda, payloadsOf };
}

const openServers: Array<{ close(): unknown }> = [];

/** Closes `server` when the test ends (`afterEach(closeOpenServers)`). */
export function closeAfterTest(server: { close(): unknown }): void {
  openServers.push(server);
}

/** Closes everything the test opened; for `afterEach`. */
export async function closeOpenServers(): Promise<void> {
  await Promise.all(openServers.splice(0).map((server) => server.close()));
}

export async function startStepFunctions(
  invokeLambda: InvokeLambda,
): Promise<{ sfn: LocalStepFunctions; client: SFNClient }> {
  const sfn = await startLocalStepFunctions({ definition, invokeLambda, log: () => {} });
  const client = new SFNClient({
    endpoint: sfn.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  closeAfterTest(sfn);
  closeAfterTest({ close: () => client.destroy() });
  return { sfn, client };
}

export async function runToEnd(sfn: LocalStepFunctions, client: SFNClient, input: unknown) {
  const { executionArn } = await client.send(
    new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, input: JSON.stringify(input) }),
  );
  await sfn.waitForIdle();
  return client.send(new DescribeExecutionCommand({ executionArn }));
}
