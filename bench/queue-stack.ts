import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { startApolloSandbox, type ApolloSandbox, type ApolloSandboxOptions } from '../local/apollo-sandbox';
import { loadSqsEventSource } from '../local/sqs-event-source';
import { startSqsPoller, type SqsPoller } from '../local/sqs-poller';
import { startLocalSqs, type LocalSqs } from '../local/sqs-server';
import { loadStateMachineDefinition } from '../local/state-machine-definition';
import { startLocalStepFunctions, type LocalStepFunctions } from '../local/step-functions-server';
import { loadFreshBundle, type Bundle } from './bundles';
import { startCountingDynamoDb, type CountingDynamoDb } from './counting-dynamodb';
import { lambdaContext, type HttpHandler, type TaskHandler } from './lambda-events';
import { configureService, createTable } from './service-env';
import type { DeployedService } from './serverless-config';

/**
 * The service's queue path as `npm start` runs it, in this process: the bundled front door, the
 * conversion queue and its dead-letter queue on the local SQS server (local-aws-sqs, the queues of
 * serverless.yml), the local poller (local/sqs-poller.ts, the same one `npm start` runs) feeding
 * real SQSEvents to the bundled `convertQueued` with the event source settings of serverless.yml
 * (batch size, window, maximumConcurrency, ReportBatchItemFailures), dynalite counting its
 * operations, the Apollo sandbox, and the verification state machine of serverless.yml on the
 * local Step Functions endpoint, whose tasks call the bundled `verifyContact` and
 * `recordVerificationFailure`. The only difference from `npm start`: the handlers are called in
 * this process instead of through serverless-offline's Invoke API (one process to measure, no
 * HTTP hop that Lambda does not have either).
 */
export interface QueueStack {
  dynamo: CountingDynamoDb;
  apollo: ApolloSandbox;
  sqs: LocalSqs;
  stepFunctions: LocalStepFunctions;
  tableName: string;
  webhook: HttpHandler;
  webhookContext: () => ReturnType<typeof lambdaContext>;
  /** SQS requests by operation (and ReceiveMessage calls that returned no message, apart). */
  sqsRequests(): Record<string, number>;
  /** Each consumer invocation: its batch size and wall ms. */
  consumerInvocations(): Array<{ messages: number; ms: number }>;
  /** Each verifyContact invocation's wall ms. */
  verifyInvocations(): number[];
  /** recordVerificationFailure invocations so far. */
  recordFailureInvocations(): number;
  /** The consumer's settings, read from serverless.yml. */
  consumer: { batchSize: number; maximumBatchingWindowSeconds: number; maximumConcurrency: number };
  /** Resolves when the queue is empty and no consumer runs (checked every 250 ms), false after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface QueueStackOptions {
  tableName: string;
  apollo: ApolloSandboxOptions;
  /** Local Step Functions waits: a constant, or the definition's own. */
  stepFunctionsWaitSeconds: number | 'as-defined';
  /** More environment for the functions (scaled-down intervals, say). */
  env?: Record<string, string>;
  /**
   * The conversion queue's visibility timeout instead of serverless.yml's (370 s): how long a
   * message the consumer reported failed stays away. Scaled down where faults make messages fail
   * and the run must end within minutes.
   */
  visibilityTimeoutSeconds?: number;
}

function bundleFile(bundles: Map<string, Bundle>, name: string): string {
  const found = bundles.get(name);
  if (found === undefined) throw new Error(`no bundle for ${name}`);
  return found.file;
}

/** A proxy in front of the SQS server counting requests by `X-Amz-Target` (as dynalite's are counted). */
async function countingProxy(
  upstream: string,
): Promise<{ endpoint: string; counts: Map<string, number>; server: Server }> {
  const target = new URL(upstream);
  const counts = new Map<string, number>();
  const count = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);
  const server = createServer((request, response) => {
    const operation =
      String(request.headers['x-amz-target'] ?? 'unknown')
        .split('.')
        .pop() ?? 'unknown';
    count(operation);
    const forward = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
      },
      (reply) => {
        const chunks: Buffer[] = [];
        reply.on('data', (chunk: Buffer) => chunks.push(chunk));
        reply.on('end', () => {
          const body = Buffer.concat(chunks);
          if (operation === 'ReceiveMessage' && !body.includes('"Messages"')) count('ReceiveMessage (empty)');
          response.writeHead(reply.statusCode ?? 500, reply.headers);
          response.end(body);
        });
      },
    );
    forward.on('error', (error) => {
      response.writeHead(502);
      response.end(String(error));
    });
    request.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, counts, server };
}

/** The redrive policy's maxReceiveCount of the queue, which serverless.yml also hands the consumer. */
function maxReceiveCount(
  queues: ReadonlyArray<{ QueueName: string; Attributes?: Record<string, string> }>,
  name: string,
): number {
  const policy = queues.find((queue) => queue.QueueName === name)?.Attributes?.RedrivePolicy;
  const parsed = policy === undefined ? {} : (JSON.parse(policy) as { maxReceiveCount?: number | string });
  return Number(parsed.maxReceiveCount ?? 5);
}

export async function startQueueStack(
  service: DeployedService,
  bundles: Map<string, Bundle>,
  options: QueueStackOptions,
): Promise<QueueStack> {
  const stops: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const dynamo = await startCountingDynamoDb();
    stops.push(() => dynamo.close());
    const apollo = await startApolloSandbox(options.apollo);
    stops.push(() => apollo.close());
    const source = loadSqsEventSource({ functionKey: 'convertQueued', stage: 'local' });
    const queues = source.queues.map((queue) =>
      queue.QueueName === source.queueName && options.visibilityTimeoutSeconds !== undefined
        ? {
            ...queue,
            Attributes: { ...queue.Attributes, VisibilityTimeout: String(options.visibilityTimeoutSeconds) },
          }
        : queue,
    );
    const sqs = await startLocalSqs({ queues });
    stops.push(() => sqs.close());
    const proxy = await countingProxy(sqs.endpoint);
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          proxy.server.closeAllConnections();
          proxy.server.close(() => resolve());
        }),
    );
    const queueUrl = sqs.queueUrl(source.queueName);

    const verifyMs: number[] = [];
    let recordFailures = 0;
    /** Task invocations in flight: awaited before dynalite closes (a closed dynalite throws uncaught). */
    const tasksInFlight = new Set<Promise<unknown>>();
    const { definition, lambdaFunctionNames } = loadStateMachineDefinition();
    const taskHandlers = new Map<string, () => TaskHandler>();
    for (const name of ['verifyContact', 'recordVerificationFailure']) {
      let handler: TaskHandler | undefined;
      // Loaded on the first task, after configureService: a new container's first invocation.
      taskHandlers.set(
        name,
        () => (handler ??= loadFreshBundle<{ handler: TaskHandler }>(bundleFile(bundles, name)).handler),
      );
    }
    const stepFunctions = await startLocalStepFunctions({
      definition,
      waitSeconds: options.stepFunctionsWaitSeconds,
      log: () => undefined,
      invokeLambda: async (functionName, payload) => {
        const key = Object.keys(lambdaFunctionNames).find(
          (k) => functionName.endsWith(`-${k}`) || functionName.endsWith(`:${k}`),
        );
        const load = key === undefined ? undefined : taskHandlers.get(key);
        if (key === undefined || load === undefined) throw new Error(`no handler for ${functionName}`);
        const fn = service.fn(key);
        const start = performance.now();
        const invocation = load()(payload, lambdaContext(fn.name, fn.timeoutSeconds, fn.memoryMb));
        tasksInFlight.add(invocation);
        try {
          return await invocation;
        } finally {
          tasksInFlight.delete(invocation);
          if (key === 'verifyContact') verifyMs.push(performance.now() - start);
          else recordFailures += 1;
        }
      },
    });
    // Runs after stepFunctions.close() (the list runs backwards): tasks still running end first.
    stops.push(() =>
      Promise.race([
        Promise.allSettled([...tasksInFlight]),
        new Promise((resolve) => setTimeout(resolve, 30_000)),
      ]),
    );
    stops.push(() => stepFunctions.close());

    await createTable(dynamo.endpoint, options.tableName);
    configureService(
      {
        dynamoDbEndpoint: dynamo.endpoint,
        tableName: options.tableName,
        apolloBaseUrl: apollo.url,
        apolloApiKey: apollo.apiKey,
        stepFunctionsEndpoint: stepFunctions.url,
        stateMachineArn: stepFunctions.stateMachineArn,
      },
      {
        SQS_ENDPOINT: proxy.endpoint,
        CONVERSION_QUEUE_URL: queueUrl,
        CONVERSION_MAX_RECEIVE_COUNT: String(maxReceiveCount(source.queues, source.queueName)),
        ...options.env,
      },
    );
    const webhookFn = service.fn('enrichmentWebhook');
    const webhook = loadFreshBundle<{ handler: HttpHandler }>(bundleFile(bundles, webhookFn.name)).handler;
    const consumerFn = service.fn('convertQueued');
    const consumer = loadFreshBundle<{ handler: (event: SQSEvent, context: unknown) => Promise<unknown> }>(
      bundleFile(bundles, consumerFn.name),
    ).handler;

    const invocations: Array<{ messages: number; ms: number }> = [];
    let running = 0;
    // The poller's own client goes through the proxy too: its receives and deletes are counted.
    const { SQSClient } = await import('@aws-sdk/client-sqs');
    const pollerClient = new SQSClient({
      endpoint: proxy.endpoint,
      region: sqs.region,
      credentials: await sqs.client.config.credentials(),
    });
    stops.push(() => Promise.resolve(pollerClient.destroy()));
    const poller: SqsPoller = startSqsPoller({
      client: pollerClient,
      queueUrl,
      queueArn: sqs.queueArn(source.queueName),
      region: sqs.region,
      functionName: consumerFn.name,
      invokeLambda: async (_name, event) => {
        running += 1;
        const start = performance.now();
        try {
          return await consumer(
            event as SQSEvent,
            lambdaContext(consumerFn.name, consumerFn.timeoutSeconds, consumerFn.memoryMb),
          );
        } finally {
          running -= 1;
          invocations.push({ messages: (event as SQSEvent).Records.length, ms: performance.now() - start });
        }
      },
      batchSize: source.batchSize,
      maximumBatchingWindowSeconds: source.maximumBatchingWindowSeconds,
      maximumConcurrency: source.maximumConcurrency,
      reportBatchItemFailures: source.reportBatchItemFailures,
      log: () => undefined,
    });
    // Stopped first (the list runs backwards): no consumer runs while the servers close.
    stops.push(() => poller.stop());

    const queueDepth = async () => {
      const reply = await sqs.client.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      const attributes = reply.Attributes ?? {};
      return (
        Number(attributes.ApproximateNumberOfMessages ?? 0) +
        Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
      );
    };

    return {
      dynamo,
      apollo,
      sqs,
      stepFunctions,
      tableName: options.tableName,
      webhook,
      webhookContext: () => lambdaContext(webhookFn.name, webhookFn.timeoutSeconds, webhookFn.memoryMb),
      sqsRequests: () => Object.fromEntries(proxy.counts),
      consumerInvocations: () => [...invocations],
      verifyInvocations: () => [...verifyMs],
      recordFailureInvocations: () => recordFailures,
      consumer: {
        batchSize: source.batchSize,
        maximumBatchingWindowSeconds: source.maximumBatchingWindowSeconds,
        maximumConcurrency: source.maximumConcurrency,
      },
      drained: async (timeoutMs) => {
        const deadline = performance.now() + timeoutMs;
        while (performance.now() < deadline) {
          if (running === 0 && (await queueDepth()) === 0) return true;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        return false;
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
