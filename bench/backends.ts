/**
 * The warm-path backends, in a process of their own: dynalite, the Apollo sandbox (no latency, no
 * rate limit) and the StartExecution stub. On Lambda, DynamoDB, Apollo and Step Functions run
 * elsewhere; here they get the second core, so the measuring process times the handler's own work
 * and not the backends'. Prints one JSON line with the endpoints. Reads commands on stdin:
 * `reset` empties Apollo (its search scans every contact, so a growing sandbox would slow later
 * phases) and answers `reset`; end of stdin stops everything.
 */
import { createInterface } from 'node:readline';
import { startApolloSandbox } from '../local/apollo-sandbox';
import { startLocalDynamoDb } from '../local/dynamodb';
import { startLocalSqs } from '../local/sqs-server';
import { NO_RATE_LIMIT } from './people';
import { startStartExecutionStub } from './start-execution-stub';
import type { BackendEndpoints } from './warm-path';

async function main(): Promise<void> {
  const dynamo = await startLocalDynamoDb();
  const apollo = await startApolloSandbox({ latencyMs: 0, rateLimitPerMinute: NO_RATE_LIMIT });
  const stepFunctions = await startStartExecutionStub();
  // The conversion queue the webhook sends to; nothing consumes it here (the warm path is the door's).
  const sqs = await startLocalSqs({ queues: [{ QueueName: 'bench-warm-path-conversions' }] });
  const endpoints: BackendEndpoints = {
    dynamoDbEndpoint: dynamo.endpoint,
    apolloBaseUrl: apollo.url,
    apolloApiKey: apollo.apiKey,
    stepFunctionsEndpoint: stepFunctions.url,
    stateMachineArn: stepFunctions.stateMachineArn,
    sqsEndpoint: sqs.endpoint,
    conversionQueueUrl: sqs.queueUrl('bench-warm-path-conversions'),
  };
  process.stdout.write(`${JSON.stringify(endpoints)}\n`);
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (command) => {
    if (command === 'reset') {
      apollo.reset();
      process.stdout.write('reset\n');
    }
  });
  commands.on('close', () => {
    void Promise.all([sqs.close(), stepFunctions.close(), apollo.close(), dynamo.close()]).finally(() =>
      process.exit(0),
    );
  });
}

void main();
