import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startApolloSandbox, type ApolloSandbox } from '../../local/apollo-sandbox';
import { createLedgerTable, startLocalDynamoDb, type LocalDynamoDb } from '../../local/dynamodb';
import { exampleCustomSources, requestAs, type SenderKind, type SenderSecrets } from '../../local/senders';
import { serviceEnv } from '../../local/service-env';
import { PROJECT_ROOT } from '../../local/stack';
import { loadStateMachineDefinition } from '../../local/state-machine-definition';
import { startLocalStepFunctions, type LocalStepFunctions } from '../../local/step-functions-server';
import {
  httpEvent,
  lambdaContext,
  toHttpReply,
  type HttpReply as LambdaReply,
} from '../../local/lambda-events';
import type { ConversionResult } from '../../lib/conversion';
import type { ConversionOverview } from '../../lib/conversion-overview';
import type { RetryResult } from '../../lib/conversion-retry';
import type { conversionView } from '../../lib/conversion-view';
import type { EnrichmentResult, PhoneCallbackResult } from '../../lib/enrichment';
import { CONVERSION_ID_PATTERN } from '../../lib/identity';
import { resetServices } from '../../lib/services';
import { signedWebhookHeaders } from '../../lib/webhook-signature';
import { InProcessConversionQueue } from './in-process-queue';
import { ORG_ID, PIPEDRIVE_BASIC_AUTH, SALESFORCE_SECRET, basicAuthorization } from './crm-messages';

/**
 * The real Lambda handlers, run in this process against real local parts: dynalite for the
 * ledger, the Apollo sandbox over HTTP, and the state machine from serverless.yml on the local
 * Step Functions endpoint, whose Lambda tasks call the real verification handlers.
 */
export const WEBHOOK_SECRET =
  'whsec_' + Buffer.from('harness webhook secret, not a real one').toString('base64');
export const API_KEY = 'harness-api-key';
export const CALLBACK_TOKEN = 'harness-callback-token';
export const HUBSPOT_CLIENT_SECRET = 'harness-hubspot-client-secret';
export const HUBSPOT_API_KEY = 'harness-hubspot-api-key';
/** The README's ready-made custom sources (Clay, Zapier, Make, n8n), with their local secrets. */
export const CUSTOM_SOURCES = exampleCustomSources(PROJECT_ROOT);
/** What the harness's senders sign with (`local/senders.ts`, as `npm run send` does). */
export const SENDER_SECRETS: SenderSecrets = {
  webhookSecret: WEBHOOK_SECRET,
  hubspotClientSecret: HUBSPOT_CLIENT_SECRET,
  hubspotApiKey: HUBSPOT_API_KEY,
  hubspotApiKeyIn: 'header',
  hubspotApiKeyName: 'x-hubspot-key',
  customSources: CUSTOM_SOURCES,
  salesforceEndpointSecret: SALESFORCE_SECRET,
  pipedriveBasicAuth: PIPEDRIVE_BASIC_AUTH,
};
const PHONE_REVEAL_ARN =
  'arn:aws:states:us-east-1:000000000000:stateMachine:apollo-contact-converter-dev-phone-reveal';

/**
 * The fields of an error reply (lib/http/responses.ts). A 503 `retry_later` from the conversion
 * routes also carries the `results` that did finish; other error replies carry no route fields.
 */
export interface ErrorBody {
  error?: string;
  message?: string;
  retry_after_seconds?: number;
}
/** What the conversion routes (the webhook, POST /contacts) answer. */
export interface ConversionsBody {
  results: ConversionResult[];
  /** The event type of a webhook delivery that converts nobody. */
  ignored?: string;
}
/** What GET /conversions/{id} and POST /conversions/lookup answer: the ledger record as `conversionView` shows it. */
export type ConversionViewBody = ReturnType<typeof conversionView>;
/** What GET /conversions answers. */
export type ConversionListBody = Awaited<ReturnType<ConversionOverview['list']>>;
/** What GET /conversions/summary answers. */
export type ConversionSummaryBody = Awaited<ReturnType<ConversionOverview['summary']>>;
/** A route's reply, its body as the handler writes it, or an error reply's fields. */
export type HttpReply<Body = ConversionsBody> = LambdaReply<Body & ErrorBody>;

type Handler<E, R> = (event: E, context: Context) => Promise<R>;

const handlers = {
  enrichmentWebhook: () => import('../../functions/enrichment-webhook').then((m) => m.handler),
  hubspotWebhook: () => import('../../functions/hubspot-webhook').then((m) => m.handler),
  customWebhook: () => import('../../functions/custom-webhook').then((m) => m.handler),
  createContacts: () => import('../../functions/create-contacts').then((m) => m.handler),
  getConversion: () => import('../../functions/get-conversion').then((m) => m.handler),
  lookupConversion: () => import('../../functions/lookup-conversion').then((m) => m.handler),
  enrichPerson: () => import('../../functions/enrich-person').then((m) => m.handler),
  apolloPhoneCallback: () => import('../../functions/apollo-phone-callback').then((m) => m.handler),
  pollPhoneResult: () => import('../../functions/poll-phone-result').then((m) => m.handler),
  verifyContact: () => import('../../functions/verify-contact').then((m) => m.handler),
  recordVerificationFailure: () =>
    import('../../functions/record-verification-failure').then((m) => m.handler),
  sweepVerifications: () => import('../../functions/sweep-verifications').then((m) => m.handler),
  convertQueued: () => import('../../functions/convert-queued').then((m) => m.handler),
  sweepQueued: () => import('../../functions/sweep-queued').then((m) => m.handler),
  listConversions: () => import('../../functions/list-conversions').then((m) => m.handler),
  conversionSummary: () => import('../../functions/conversion-summary').then((m) => m.handler),
  retryConversion: () => import('../../functions/retry-conversion').then((m) => m.handler),
  salesforceWebhook: () => import('../../functions/salesforce-webhook').then((m) => m.handler),
  pipedriveWebhook: () => import('../../functions/pipedrive-webhook').then((m) => m.handler),
};

/**
 * The consumer's event source as serverless.yml sets it up (batch size, a short batching window
 * here), its timeout, and the queue's redrive policy and visibility timeout (6x the timeout).
 */
export const CONSUMER_TIMEOUT_MS = 60_000;
export const QUEUE_SETTINGS = {
  batchSize: 100,
  batchingWindowMs: 20,
  maxReceives: 5,
  visibilityTimeoutMs: 6 * CONSUMER_TIMEOUT_MS,
};

/** The state machines' Lambda tasks, by serverless function key. */
export type TaskFunction = 'verifyContact' | 'recordVerificationFailure' | 'pollPhoneResult';

/**
 * Decides the fate of a state machine task's invocation, before the real handler runs: an error
 * to report instead (as Lambda or Step Functions would, e.g. `Sandbox.Timedout`), or undefined to
 * run the handler. `call` counts this function's invocations from 1.
 */
export type TaskFault = (call: number, payload: unknown) => Error | undefined;

// The routes always answer with a JSON body: no empty body to stand in for.
const toReply = <Body>(result: APIGatewayProxyStructuredResultV2): HttpReply<Body> =>
  toHttpReply(result, undefined as never);

export interface SignOptions {
  secret?: string;
  id?: string;
  timestamp?: number;
  headers?: Record<string, string>;
}

export class ServiceHarness {
  private tableCount = 0;
  tableName = '';

  private stepFunctionsServer: LocalStepFunctions | undefined;
  /** Receives what Apollo posts back (the phone-reveal callback) and hands it to the real handler. */
  private callbackServer: Server | undefined;
  publicApiUrl = '';
  private overridden: string[] = [];
  private conversionQueue: InProcessConversionQueue | undefined;
  private taskFaults = new Map<TaskFunction, { fault: TaskFault; calls: number }>();

  private constructor(
    readonly dynamo: LocalDynamoDb,
    readonly apollo: ApolloSandbox,
  ) {}

  static async start(): Promise<ServiceHarness> {
    const harness = new ServiceHarness(await startLocalDynamoDb(), await startApolloSandbox());
    await harness.startCallbackServer();
    await harness.reset();
    return harness;
  }

  private async startCallbackServer(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const url = new URL(request.url ?? '/', 'http://127.0.0.1');
        void this.phoneCallback(Buffer.concat(chunks).toString('utf8'), url.searchParams.get('token')).then(
          (reply) => {
            response.writeHead(reply.status, { 'content-type': 'application/json' });
            response.end(JSON.stringify(reply.body));
          },
          () => {
            response.writeHead(500);
            response.end();
          },
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.callbackServer = server;
    this.publicApiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  get stepFunctions(): LocalStepFunctions {
    if (this.stepFunctionsServer === undefined) throw new Error('harness not started');
    return this.stepFunctionsServer;
  }

  /**
   * A fresh table, an empty Apollo, a fresh state machine (execution names repeat across tests,
   * since they derive from person keys), and services rebuilt from the environment.
   */
  async reset(env: Record<string, string> = {}): Promise<void> {
    // The previous test's consumer invocation ends first: it must not call the next test's Apollo.
    await this.conversionQueue?.stop();
    // Overrides hold for one test only: the previous test's are dropped first.
    for (const name of this.overridden) delete process.env[name];
    this.overridden = Object.keys(env);
    this.tableName = `ledger-${++this.tableCount}`;
    await createLedgerTable(this.dynamo.client, this.tableName);
    this.apollo.reset();
    this.taskFaults.clear();
    this.conversionQueue = new InProcessConversionQueue(
      async (event) => this.convertQueued(event, this.conversionQueue?.consumerRemainingMs),
      QUEUE_SETTINGS,
    );
    await this.stepFunctionsServer?.close();
    this.stepFunctionsServer = await startLocalStepFunctions({
      definition: loadStateMachineDefinition().definition,
      additionalStateMachines: [
        {
          stateMachineArn: PHONE_REVEAL_ARN,
          definition: loadStateMachineDefinition({ stateMachine: 'phoneReveal' }).definition,
        },
      ],
      waitSeconds: 0,
      log: () => undefined,
      invokeLambda: async (functionName, payload) => {
        const key = functionName.split('-').pop() as TaskFunction;
        const faulty = this.taskFaults.get(key);
        if (faulty !== undefined) {
          const error = faulty.fault(++faulty.calls, payload);
          if (error !== undefined) throw error;
        }
        const handler = (await handlers[key]()) as Handler<unknown, unknown>;
        return handler(payload, lambdaContext(functionName));
      },
    });
    Object.assign(
      process.env,
      serviceEnv(
        {
          ledgerTable: this.tableName,
          dynamoDbEndpoint: this.dynamo.endpoint,
          apolloBaseUrl: this.apollo.url,
          apolloApiKey: this.apollo.apiKey,
          webhookSecret: WEBHOOK_SECRET,
          apiKey: API_KEY,
          verificationStateMachineArn: this.stepFunctions.stateMachineArn,
          phoneRevealStateMachineArn: PHONE_REVEAL_ARN,
          apolloCallbackToken: CALLBACK_TOKEN,
          publicApiUrl: this.publicApiUrl,
          stepFunctionsEndpoint: this.stepFunctions.url,
          hubspotClientSecret: HUBSPOT_CLIENT_SECRET,
          hubspotApiKey: HUBSPOT_API_KEY,
          customSources: CUSTOM_SOURCES,
          salesforceEndpointSecret: SALESFORCE_SECRET,
          salesforceOrgIds: ORG_ID,
          pipedriveBasicAuth: PIPEDRIVE_BASIC_AUTH,
        },
        { APOLLO_TIMEOUT_MS: '2000', ...env },
      ),
    );
    resetServices({ conversionQueue: this.conversionQueue });
  }

  /** The conversion queue the doors send to, and the consumer handler reads (in process). */
  get queue(): InProcessConversionQueue {
    if (this.conversionQueue === undefined) throw new Error('harness not started');
    return this.conversionQueue;
  }

  /** The real consumer handler, on one batch, as Lambda's SQS event source invokes it. */
  async convertQueued(event: SQSEvent, remainingMs = CONSUMER_TIMEOUT_MS): Promise<SQSBatchResponse> {
    const handler = (await handlers.convertQueued()) as Handler<SQSEvent, SQSBatchResponse>;
    return handler(event, lambdaContext('convertQueued', { remainingMs }));
  }

  /** Runs the scheduled stranded-send sweep once. */
  async sweepQueued(): Promise<unknown> {
    const handler = (await handlers.sweepQueued()) as Handler<unknown, unknown>;
    return handler(
      { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
      lambdaContext('sweepQueued', { remainingMs: 60_000 }),
    );
  }

  /**
   * Waits until the queue is empty (the consumer has converted or given up on everyone, skipping
   * retry-afters and visibility timeouts) and every verification started has ended.
   */
  async settled(): Promise<void> {
    await this.queue.drain();
    await this.verificationsSettled();
  }

  async stop(): Promise<void> {
    await this.conversionQueue?.stop();
    await this.stepFunctionsServer?.close();
    this.callbackServer?.closeAllConnections();
    await new Promise((resolve) => this.callbackServer?.close(resolve));
    await this.apollo.close();
    await this.dynamo.close();
  }

  /** Sends a body to the webhook handler, signed unless `headers` replace the signature. */
  async webhook(body: unknown, options: SignOptions = {}): Promise<HttpReply<ConversionsBody>> {
    const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const headers = options.headers ?? {
      'content-type': 'application/json',
      ...signedWebhookHeaders(raw, options.secret ?? WEBHOOK_SECRET, {
        id: options.id ?? `msg_${randomUUID()}`,
        timestampSeconds: options.timestamp,
      }),
    };
    const handler = await handlers.enrichmentWebhook();
    // Raw bytes travel as API Gateway sends a body it cannot pass as text: base64.
    const event = Buffer.isBuffer(raw)
      ? {
          ...httpEvent('POST', '/webhooks/enrichment-completed', raw.toString('base64'), headers),
          isBase64Encoded: true,
        }
      : httpEvent('POST', '/webhooks/enrichment-completed', raw, headers);
    return toReply(await handler(event, lambdaContext('enrichmentWebhook')));
  }

  /**
   * Sends a body to the door `kind` would send it to (`local/senders.ts`: a HubSpot workflow, a
   * Svix-based sender, a custom source), addressed and signed as that sender does over the
   * harness's public URL, unless `headers` replace the signature. `path` replaces the path (and
   * query) a sender would call.
   */
  async sendAs(
    kind: SenderKind,
    body: unknown,
    options: {
      headers?: Record<string, string>;
      nowMs?: number;
      id?: string;
      secrets?: Partial<SenderSecrets>;
    } = {},
  ): Promise<HttpReply<ConversionsBody>> {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const source = kind.startsWith('custom:') ? kind.slice('custom:'.length) : undefined;
    const signed =
      options.headers === undefined
        ? requestAs(kind, raw, this.publicApiUrl, { ...SENDER_SECRETS, ...options.secrets }, options)
        : {
            path: source
              ? `/webhooks/custom/${encodeURIComponent(source)}`
              : kind.startsWith('hubspot')
                ? '/webhooks/hubspot'
                : '/webhooks/enrichment-completed',
            headers: options.headers,
          };
    const [rawPath = '', rawQueryString = ''] = signed.path.split('?');
    const event = httpEvent('POST', rawPath, raw, signed.headers, source ? { source } : undefined);
    event.rawQueryString = rawQueryString;
    event.queryStringParameters = Object.fromEntries(new URLSearchParams(rawQueryString));
    const handler = await (source
      ? handlers.customWebhook()
      : kind.startsWith('hubspot')
        ? handlers.hubspotWebhook()
        : handlers.enrichmentWebhook());
    return toReply(await handler(event, lambdaContext(source ? 'customWebhook' : 'hubspotWebhook')));
  }

  /**
   * An Outbound Message, as Salesforce posts it to `/webhooks/salesforce/{secret}` (the secret as
   * API Gateway hands the path parameter over). The SOAP answer's body is returned as text.
   */
  async salesforce(
    xml: string | Buffer,
    options: { secret?: string; headers?: Record<string, string> } = {},
  ): Promise<LambdaReply<string>> {
    const secret = options.secret ?? SALESFORCE_SECRET;
    const headers = options.headers ?? { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' };
    const path = `/webhooks/salesforce/${encodeURIComponent(secret)}`;
    const event = Buffer.isBuffer(xml)
      ? { ...httpEvent('POST', path, xml.toString('base64'), headers, { secret }), isBase64Encoded: true }
      : httpEvent('POST', path, xml, headers, { secret });
    const handler = await handlers.salesforceWebhook();
    const result = await handler(event, lambdaContext('salesforceWebhook'));
    const replyHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(result.headers ?? {}))
      replyHeaders[name.toLowerCase()] = String(value);
    return { status: result.statusCode ?? 200, headers: replyHeaders, body: result.body ?? '' };
  }

  /** A Pipedrive webhook with its Basic credentials (`null`: no Authorization header). */
  async pipedrive(
    body: unknown,
    authorization: string | null = basicAuthorization(),
  ): Promise<HttpReply<ConversionsBody>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (authorization !== null) headers.authorization = authorization;
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const handler = await handlers.pipedriveWebhook();
    return toReply(
      await handler(
        httpEvent('POST', '/webhooks/pipedrive', raw, headers),
        lambdaContext('pipedriveWebhook'),
      ),
    );
  }

  /** `POST /contacts`, with `?wait=<wait>` when given (a number of seconds, or any text). */
  async createContacts(
    body: unknown,
    apiKey: string | null = API_KEY,
    wait?: number | string,
  ): Promise<HttpReply<ConversionsBody>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (apiKey !== null) headers['x-api-key'] = apiKey;
    const handler = await handlers.createContacts();
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const event = httpEvent('POST', '/contacts', raw, headers);
    if (wait !== undefined) {
      event.queryStringParameters = { wait: String(wait) };
      event.rawQueryString = `wait=${encodeURIComponent(String(wait))}`;
    }
    return toReply(await handler(event, lambdaContext('createContacts')));
  }

  async enrich(body: unknown, apiKey: string | null = API_KEY): Promise<HttpReply<EnrichmentResult>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (apiKey !== null) headers['x-api-key'] = apiKey;
    const handler = await handlers.enrichPerson();
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    return toReply(
      await handler(httpEvent('POST', '/enrichments', raw, headers), lambdaContext('enrichPerson')),
    );
  }

  /** Apollo's phone-reveal callback, as Apollo would post it (raw body, token in the query string). */
  async phoneCallback(
    body: unknown,
    token: string | null = CALLBACK_TOKEN,
  ): Promise<HttpReply<{ results: PhoneCallbackResult[] }>> {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const event = httpEvent('POST', '/webhooks/apollo/phone-numbers', raw, {
      'content-type': 'application/json',
    });
    if (token !== null) event.queryStringParameters = { token };
    const handler = await handlers.apolloPhoneCallback();
    return toReply(await handler(event, lambdaContext('apolloPhoneCallback')));
  }

  /** `GET /conversions/{id}`: the record by its conversion id (as results show it). */
  async getConversion(id: string, apiKey: string | null = API_KEY): Promise<HttpReply<ConversionViewBody>> {
    const headers: Record<string, string> = {};
    if (apiKey !== null) headers['x-api-key'] = apiKey;
    const handler = await handlers.getConversion();
    // As API Gateway hands it over: the path percent-encoded, its parameter decoded once.
    const event = httpEvent('GET', `/conversions/${encodeURIComponent(id)}`, '', headers, { id });
    return toReply(await handler(event, lambdaContext('getConversion')));
  }

  /** `GET /conversions?…`: records of one status, a page at a time. */
  async listConversions(
    query: Record<string, string>,
    apiKey: string | null = API_KEY,
  ): Promise<HttpReply<ConversionListBody>> {
    const headers: Record<string, string> = {};
    if (apiKey !== null) headers['x-api-key'] = apiKey;
    const handler = await handlers.listConversions();
    const event = httpEvent('GET', '/conversions', '', headers);
    event.queryStringParameters = query;
    event.rawQueryString = new URLSearchParams(query).toString();
    return toReply(await handler(event, lambdaContext('listConversions')));
  }

  /** `GET /conversions/summary`. */
  async conversionSummary(apiKey: string | null = API_KEY): Promise<HttpReply<ConversionSummaryBody>> {
    const headers: Record<string, string> = {};
    if (apiKey !== null) headers['x-api-key'] = apiKey;
    const handler = await handlers.conversionSummary();
    const event = httpEvent('GET', '/conversions/summary', '', headers);
    return toReply(await handler(event, lambdaContext('conversionSummary')));
  }

  /** `POST /conversions/{id}/retry`. */
  async retryConversion(id: string, apiKey: string | null = API_KEY): Promise<HttpReply<RetryResult>> {
    const headers: Record<string, string> = {};
    if (apiKey !== null) headers['x-api-key'] = apiKey;
    const handler = await handlers.retryConversion();
    const event = httpEvent('POST', `/conversions/${encodeURIComponent(id)}/retry`, '', headers, { id });
    return toReply(await handler(event, lambdaContext('retryConversion')));
  }

  /** Makes a state machine task fail as `fault` decides, until the next `reset`. */
  failTask(task: TaskFunction, fault: TaskFault): void {
    this.taskFaults.set(task, { fault, calls: 0 });
  }

  /** Runs the scheduled verification sweep once, as EventBridge Scheduler would. */
  async sweepVerifications(): Promise<unknown> {
    const handler = (await handlers.sweepVerifications()) as Handler<unknown, unknown>;
    return handler(
      { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
      lambdaContext('sweepVerifications', { remainingMs: 60_000 }),
    );
  }

  /** `POST /conversions/lookup`: the record by an identity (`{email}`, name + company, ...). */
  async lookupConversion(
    body: unknown,
    apiKey: string | null = API_KEY,
  ): Promise<HttpReply<ConversionViewBody>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (apiKey !== null) headers['x-api-key'] = apiKey;
    const handler = await handlers.lookupConversion();
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    return toReply(
      await handler(
        httpEvent('POST', '/conversions/lookup', raw, headers),
        lambdaContext('lookupConversion'),
      ),
    );
  }

  /**
   * The conversion id of the record `POST /conversions/lookup` finds for an email (a string) or an
   * identity body; throws when it finds none or the id is not an opaque conversion id.
   */
  async conversionIdOf(identity: string | Record<string, unknown>): Promise<string> {
    const reply = await this.lookupConversion(typeof identity === 'string' ? { email: identity } : identity);
    const id: unknown = reply.body?.id;
    if (reply.status !== 200 || typeof id !== 'string' || !CONVERSION_ID_PATTERN.test(id)) {
      throw new Error(`no conversion found for this identity (HTTP ${reply.status})`);
    }
    return id;
  }

  /** Every ledger item, raw. */
  async ledgerItems(): Promise<Record<string, unknown>[]> {
    const { Items } = await this.dynamo.client.send(
      new ScanCommand({ TableName: this.tableName, ConsistentRead: true }),
    );
    return Items ?? [];
  }

  /** Waits until every verification started so far has ended. */
  async verificationsSettled(): Promise<void> {
    await this.stepFunctions.waitForIdle(10_000);
  }
}

export interface UseServiceHarnessOptions {
  /**
   * Before each test, `reset(env)`: a fresh table, an empty Apollo, a fresh state machine, with
   * `env` over the defaults for that test (default: `{}`). `false`: no reset; the tests reset when
   * they need to.
   */
  resetBeforeEach?: Record<string, string> | false;
}

/**
 * The setup of a harness test file: starts one harness for the enclosing `describe` (or the file)
 * in `beforeAll`, stops it in `afterAll`, and resets it before each test. Returns the harness,
 * usable inside tests and hooks: it stands in for the one `beforeAll` starts. Hooks the caller
 * registers afterwards run after the harness started (`beforeAll`) or reset (`beforeEach`), and
 * before it stops (`afterAll`).
 */
export function useServiceHarness(options: UseServiceHarnessOptions = {}): ServiceHarness {
  const { resetBeforeEach = {} } = options;
  let started: ServiceHarness | undefined;
  beforeAll(async () => {
    started = await ServiceHarness.start();
  });
  afterAll(async () => {
    await started?.stop();
    started = undefined;
  });
  if (resetBeforeEach !== false) {
    beforeEach(async () => {
      await started?.reset(resetBeforeEach);
    });
  }
  return new Proxy({} as ServiceHarness, {
    get(_, property): unknown {
      if (started === undefined) {
        throw new Error(`harness.${String(property)}: the harness runs from beforeAll to afterAll only`);
      }
      const value: unknown = Reflect.get(started, property, started);
      return typeof value === 'function' ? value.bind(started) : value;
    },
  });
}

export function enrichmentCompleted(data: unknown, type = 'person.enrichment.completed') {
  return { type, timestamp: new Date().toISOString(), data };
}
