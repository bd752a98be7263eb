import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApolloSandbox, type ApolloSandbox } from './apollo-sandbox';
import { SANDBOX_PEOPLE } from './sandbox-people';
import { createLedgerTable, startLocalDynamoDb, type LocalDynamoDb } from './dynamodb';
import { Limiter, startLocalGateway } from './gateway';
import { exampleCustomSources } from './senders';
import { serviceEnv } from './service-env';
import { loadSqsEventSource } from './sqs-event-source';
import { startSqsPoller } from './sqs-poller';
import { startLocalSqs, type LocalSqs } from './sqs-server';
import { loadStateMachineDefinition } from './state-machine-definition';
import {
  invokeLambdaOverHttp,
  startLocalStepFunctions,
  type LocalStepFunctions,
} from './step-functions-server';

/** The serverless.yml stage the local stack runs: its params spell the state machine ARN out. */
const LOCAL_STAGE = 'local';
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Local defaults for the secrets, used when the variables are unset. They protect nothing: the
 * stack listens on 127.0.0.1 only.
 */
export const LOCAL_DEFAULTS = {
  WEBHOOK_SECRET: 'whsec_' + Buffer.from('local-webhook-secret-not-for-production').toString('base64'),
  API_KEY: 'local-api-key',
  APOLLO_SANDBOX_KEY: 'sandbox-apollo-key',
  APOLLO_CALLBACK_TOKEN: 'local-callback-token',
  HUBSPOT_CLIENT_SECRET: 'local-hubspot-client-secret-not-for-production',
  HUBSPOT_API_KEY: 'local-hubspot-api-key-not-for-production',
  /** The README's ready-made maps (Clay, Zapier, Make, n8n), with local secrets. */
  CUSTOM_SOURCES: exampleCustomSources(PROJECT_ROOT),
  /** The Salesforce door's path secret (`/webhooks/salesforce/{secret}`) and the org it accepts. */
  SALESFORCE_ENDPOINT_SECRET: 'local-salesforce-endpoint-secret',
  SALESFORCE_ORG_IDS: '00D000000000001EAA',
  /** The Pipedrive door's Basic credentials. */
  PIPEDRIVE_BASIC_AUTH: 'pipedrive:local-pipedrive-password',
};

export interface LocalStackPorts {
  http: number;
  dynamoDb: number;
  apollo: number;
  stepFunctions: number;
  sqs: number;
}

/** The conversion queue as the local stack runs it, with the consumer settings read from serverless.yml. */
export interface LocalConversionQueue {
  url: string;
  deadLetterQueueUrl?: string;
  functionName: string;
  batchSize: number;
  maximumBatchingWindowSeconds: number;
  maximumConcurrency: number;
}

export interface LocalStack {
  host: string;
  ports: LocalStackPorts;
  apiUrl: string;
  apolloUrl: string;
  /** True when the service talks to the local sandbox, false for a real (or other) Apollo. */
  apolloIsSandbox: boolean;
  conversionQueue: LocalConversionQueue;
  env: Record<string, string>;
  /** Resolves once, when serverless-offline exits (or is stopped). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

type Log = (line: string) => void;

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = Number(env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`${name} must be a TCP port`);
  return value;
}

export function localPorts(env: NodeJS.ProcessEnv = process.env): LocalStackPorts {
  return {
    http: port(env, 'PORT', 3000),
    dynamoDb: port(env, 'DYNAMODB_PORT', 8000),
    apollo: port(env, 'APOLLO_SANDBOX_PORT', 4010),
    stepFunctions: port(env, 'STEP_FUNCTIONS_PORT', 8083),
    // ElasticMQ's port, which SQS tools expect locally.
    sqs: port(env, 'SQS_PORT', 9324),
  };
}

/** The environment the handlers get locally: read by the same `lib/config.ts` as in AWS. */
function handlerEnvironment(
  stack: {
    dynamo: LocalDynamoDb;
    apolloUrl: string;
    apolloApiKey: string;
    stepFunctions: LocalStepFunctions;
    sqs: LocalSqs;
    conversionQueueUrl: string;
  },
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  return serviceEnv(
    {
      dynamoDbEndpoint: stack.dynamo.endpoint,
      stepFunctionsEndpoint: stack.stepFunctions.url,
      sqsEndpoint: stack.sqs.endpoint,
      // serverless.yml's `local` params read it back for the functions (`${env:CONVERSION_QUEUE_URL}`).
      conversionQueueUrl: stack.conversionQueueUrl,
      apolloBaseUrl: stack.apolloUrl,
      apolloApiKey: stack.apolloApiKey,
      webhookSecret: env.WEBHOOK_SECRET?.trim() || LOCAL_DEFAULTS.WEBHOOK_SECRET,
      apiKey: env.API_KEY?.trim() || LOCAL_DEFAULTS.API_KEY,
      apolloCallbackToken: env.APOLLO_CALLBACK_TOKEN?.trim() || LOCAL_DEFAULTS.APOLLO_CALLBACK_TOKEN,
      hubspotClientSecret: env.HUBSPOT_CLIENT_SECRET?.trim() || LOCAL_DEFAULTS.HUBSPOT_CLIENT_SECRET,
      hubspotApiKey: env.HUBSPOT_API_KEY?.trim() || LOCAL_DEFAULTS.HUBSPOT_API_KEY,
      customSources: env.CUSTOM_SOURCES?.trim() || LOCAL_DEFAULTS.CUSTOM_SOURCES,
      salesforceEndpointSecret:
        env.SALESFORCE_ENDPOINT_SECRET?.trim() || LOCAL_DEFAULTS.SALESFORCE_ENDPOINT_SECRET,
      salesforceOrgIds: env.SALESFORCE_ORG_IDS?.trim() || LOCAL_DEFAULTS.SALESFORCE_ORG_IDS,
      pipedriveBasicAuth: env.PIPEDRIVE_BASIC_AUTH?.trim() || LOCAL_DEFAULTS.PIPEDRIVE_BASIC_AUTH,
      logLevel: env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
    },
    { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  );
}

/** Handler invocations in flight at once, through the HTTP API and from the state machines each. */
function localConcurrency(env: NodeJS.ProcessEnv): number {
  const value = Number(env.LOCAL_CONCURRENCY ?? 4);
  if (!Number.isInteger(value) || value < 1 || value > 64) {
    throw new Error('LOCAL_CONCURRENCY must be an integer from 1 to 64');
  }
  return value;
}

function serverlessBin(): string {
  return createRequire(import.meta.url).resolve('osls/bin/serverless.js');
}

/** Waits until the HTTP server on the Unix socket `socketPath` answers at all, or fails after `timeoutMs`. */
async function waitForSocket(socketPath: string, timeoutMs: number, exited: Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stopped = false;
  void exited.then(() => {
    stopped = true;
  });
  while (Date.now() < deadline) {
    if (stopped) throw new Error('serverless-offline exited before it was ready');
    const answered = await new Promise<boolean>((resolveAnswer) => {
      const probe = httpRequest({ socketPath, path: '/', timeout: 1000 }, (response) => {
        response.resume();
        resolveAnswer(true);
      });
      probe.on('error', () => resolveAnswer(false));
      probe.on('timeout', () => probe.destroy());
      probe.end();
    });
    if (answered) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`serverless-offline did not answer within ${timeoutMs} ms`);
}

/**
 * Starts the whole service on this machine: dynalite with the ledger table, the Apollo sandbox
 * (unless APOLLO_BASE_URL names another Apollo), the verification state machine from
 * serverless.yml on a local Step Functions endpoint, the conversion queue and its dead-letter
 * queue on an SQS server with a poller that feeds them to the consumer as Lambda would, and the
 * HTTP API through serverless-offline, which runs the same bundled handlers as AWS.
 */
export async function startLocalStack(
  options: { env?: NodeJS.ProcessEnv; log?: Log } = {},
): Promise<LocalStack> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line) => console.log(line));
  const host = '127.0.0.1';
  const ports = localPorts(env);
  const started: Array<() => Promise<void>> = [];
  const stopStarted = async () => {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
  };

  try {
    const serverless = loadStateMachineDefinition({ stage: LOCAL_STAGE });
    const phoneReveal = loadStateMachineDefinition({ stage: LOCAL_STAGE, stateMachine: 'phoneReveal' });
    const tableName = String(serverless.resolve('${self:custom.ledgerTable}'));
    const stateMachineArn = String(serverless.resolve('${param:verificationStateMachineArn}'));
    const phoneRevealArn = String(serverless.resolve('${param:phoneRevealStateMachineArn}'));

    const dynamo = await startLocalDynamoDb({ host, port: ports.dynamoDb });
    started.push(() => dynamo.close());
    await createLedgerTable(dynamo.client, tableName);

    // The queues of serverless.yml (visibility timeout, retention, redrive policy), created as AWS
    // would create them, and the consumer's event source settings.
    const conversions = loadSqsEventSource({ functionKey: 'convertQueued', stage: LOCAL_STAGE });
    const sqs = await startLocalSqs({ host, port: ports.sqs, queues: conversions.queues });
    started.push(() => sqs.close());
    const conversionQueueUrl = sqs.queueUrl(conversions.queueName);
    const deadLetterQueue = conversions.queues.find((queue) => queue.QueueName !== conversions.queueName);

    let sandbox: ApolloSandbox | undefined;
    const externalApollo = env.APOLLO_BASE_URL?.trim();
    if (!externalApollo) {
      sandbox = await startApolloSandbox({
        host,
        port: ports.apollo,
        apiKey: LOCAL_DEFAULTS.APOLLO_SANDBOX_KEY,
        log: (line) => log(`[apollo-sandbox] ${line}`),
      });
      started.push(() => (sandbox as ApolloSandbox).close());
      for (const person of SANDBOX_PEOPLE) sandbox.addPerson(person);
    } else if (!env.APOLLO_API_KEY) {
      throw new Error('APOLLO_BASE_URL is set, so APOLLO_API_KEY must be set too');
    }
    const apolloUrl = externalApollo || (sandbox as ApolloSandbox).url;

    // serverless-offline listens on Unix sockets in a directory only this user can enter (mkdtemp
    // makes it 0700): its Lambda Invoke API is not exposed at all, its HTTP API only through the
    // gateway below. (Given ports, it would listen on every interface: the CLI passes them as
    // strings, which hapi takes for socket names and Node for ports without a host.)
    const socketDir = mkdtempSync(join(tmpdir(), 'converter-local-stack-'));
    started.push(() => Promise.resolve(rmSync(socketDir, { recursive: true, force: true })));
    const httpSocket = join(socketDir, 'http.sock');
    const lambdaSocket = join(socketDir, 'lambda.sock');
    const concurrency = localConcurrency(env);

    const stepFunctions = await startLocalStepFunctions({
      definition: serverless.definition,
      stateMachineArn,
      additionalStateMachines: [{ stateMachineArn: phoneRevealArn, definition: phoneReveal.definition }],
      host,
      port: ports.stepFunctions,
      // Every Wait and retry interval becomes one second, so verification ends within seconds.
      waitSeconds: 1,
      invokeLambda: invokeLambdaOverHttp('http://serverless-offline', {
        socketPath: lambdaSocket,
        limiter: new Limiter(concurrency),
      }),
      log: (line) => log(line),
    });
    started.push(() => stepFunctions.close());

    const handlerEnv = handlerEnvironment(
      {
        dynamo,
        apolloUrl,
        apolloApiKey: env.APOLLO_API_KEY?.trim() || LOCAL_DEFAULTS.APOLLO_SANDBOX_KEY,
        stepFunctions,
        sqs,
        conversionQueueUrl,
      },
      env,
    );
    const offline = spawn(
      process.execPath,
      [
        serverlessBin(),
        'offline',
        'start',
        '--stage',
        LOCAL_STAGE,
        '--host',
        host,
        '--httpPort',
        httpSocket,
        '--lambdaPort',
        lambdaSocket,
        '--localEnvironment',
        '--noPrependStageInUrl',
        // Handlers run in serverless-offline's own process, one module instance per function,
        // instead of a worker thread (with its own copy of every module) per request in flight.
        '--useInProcess',
      ],
      {
        cwd: PROJECT_ROOT,
        env: { ...env, ...handlerEnv, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so stopping it stops everything it started.
        detached: true,
      },
    );
    const exited = new Promise<number | null>((resolveExit) =>
      offline.once('exit', (code) => resolveExit(code)),
    );
    pipeLines(offline, (line) => log(`[offline] ${line}`));
    started.push(() => stopChild(offline, exited));

    // Any answer will do (404 for `/`): it means serverless-offline is listening.
    await waitForSocket(httpSocket, 60_000, exited);
    const gateway = await startLocalGateway({
      host,
      port: ports.http,
      upstreamSocket: httpSocket,
      maxConcurrent: concurrency,
      maxQueued: 1000,
      log,
    });
    started.push(() => gateway.close());
    const apiUrl = gateway.url;

    // Lambda's event source mapping: real SQSEvents to the bundled consumer, through the same
    // Invoke API as the state machines' tasks; its own concurrency bound (maximumConcurrency).
    const poller = startSqsPoller({
      client: sqs.client,
      queueUrl: conversionQueueUrl,
      queueArn: sqs.queueArn(conversions.queueName),
      region: sqs.region,
      functionName: conversions.functionName,
      invokeLambda: invokeLambdaOverHttp('http://serverless-offline', { socketPath: lambdaSocket }),
      batchSize: conversions.batchSize,
      maximumBatchingWindowSeconds: conversions.maximumBatchingWindowSeconds,
      maximumConcurrency: conversions.maximumConcurrency,
      reportBatchItemFailures: conversions.reportBatchItemFailures,
      log,
    });
    started.push(() => poller.stop());

    let stopping: Promise<void> | undefined;
    return {
      host,
      ports,
      apiUrl,
      apolloUrl,
      apolloIsSandbox: sandbox !== undefined,
      conversionQueue: {
        url: conversionQueueUrl,
        deadLetterQueueUrl: deadLetterQueue && sqs.queueUrl(deadLetterQueue.QueueName),
        functionName: conversions.functionName,
        batchSize: conversions.batchSize,
        maximumBatchingWindowSeconds: conversions.maximumBatchingWindowSeconds,
        maximumConcurrency: conversions.maximumConcurrency,
      },
      env: handlerEnv,
      exited,
      stop: () => (stopping ??= stopStarted()),
    };
  } catch (error) {
    await stopStarted();
    throw error;
  }
}

function pipeLines(child: ChildProcess, write: Log): void {
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') write(line);
    });
  }
}

/** SIGTERM to the child's process group, SIGKILL if it lingers. */
async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // Already gone.
    }
  };
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  signalGroup('SIGKILL'); // workers the framework left behind, if any
}
