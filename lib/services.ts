import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Apollo } from './apollo/apollo';
import { ApolloHttpClient } from './apollo/http-client';
import { isRunningLow, type RateLimitWindow } from './apollo/rate-limits';
import { BulkConversion } from './bulk-conversion';
import { loadConfig, type Config } from './config';
import { ContactConversion } from './conversion';
import type { ConversionQueue } from './conversion-queue';
import { DynamoDbLedger } from './dynamodb-ledger';
import { ConversionIntake } from './intake';
import type {
  ConversionIntakeLedger,
  ConversionRecord,
  LedgerReader,
  QueuedConversionLedger,
} from './ledger';
import { StrandedQueueSweep } from './queued-sweep';
import { RateLimitPacer } from './rate-limit-pacer';
import { logger } from './logger';
import { StepFunctionsExecutions } from './step-functions-executions';
import {
  phoneRevealExecutionName,
  verificationExecutionName,
  type BatchVerificationScheduler,
  type VerificationScheduler,
} from './schedulers';
import { PersonEnrichment } from './enrichment';
import { ConfigurationError } from './errors';
import { ContactVerification } from './verification';
import { VerificationSweep, redriveExecutionName } from './verification-sweep';
import { WebhookDeliveryMemory } from './webhook-deliveries';

/**
 * Composition root: builds the use cases with their AWS and Apollo adapters from the config, once
 * per Lambda container (module scope keeps clients and connections warm between invocations).
 */
export interface Services {
  config: Config;
  /** Reads records (`GET /conversions/{key}`); the use cases write through their own ports. */
  ledger: LedgerReader;
  conversion: ContactConversion;
  verification: ContactVerification;
  enrichment: PersonEnrichment;
  /** Re-drives verifications left without a verdict (the scheduled sweep). */
  verificationSweep: VerificationSweep;
  /** Remembers answered webhook deliveries, so a replayed `webhook-id` is answered without converting. */
  webhookDeliveries: WebhookDeliveryMemory;
  /** The doors (webhook, POST /contacts): people queued or answered from the ledger. */
  intake: ConversionIntake;
  /** The conversion queue's consumer. */
  bulkConversion: BulkConversion;
  /** Sends again the keys of people left queued whose message was lost (scheduled). */
  queuedSweep: StrandedQueueSweep;
}

/** Adapters a test may stand in for (`resetServices`). */
export interface ServiceOverrides {
  conversionQueue?: ConversionQueue;
}

/**
 * A `queued` record whose key went to the queue longer ago than this is sent again by the next
 * delivery of the person (the consumer's claim makes an extra message harmless).
 */
const QUEUED_RESEND_AFTER_MS = 30_000;
/** Retry-After of a 503 when the conversion queue refused a send: SQS outages are short. */
const QUEUE_RETRY_AFTER_SECONDS = 5;

/** The conversion intake of the doors, on `queue`. */
export function buildConversionIntake(deps: {
  config: Config;
  ledger: ConversionIntakeLedger;
  queue: ConversionQueue;
  verifications: BatchVerificationScheduler;
  staleVerifications?: { redriveIfStale(record: ConversionRecord): Promise<boolean> };
}): ConversionIntake {
  return new ConversionIntake({
    ledger: deps.ledger,
    queue: deps.queue,
    verifications: deps.verifications,
    staleVerifications: deps.staleVerifications,
    resendAfterMs: QUEUED_RESEND_AFTER_MS,
    queueRetryAfterSeconds: QUEUE_RETRY_AFTER_SECONDS,
    inProgressRetryAfterSeconds: deps.config.inProgressRetryAfterSeconds,
  });
}

/** The conversion queue's consumer, pacing itself with `pacer` (fed by the Apollo client's headers). */
export function buildBulkConversion(deps: {
  config: Config;
  ledger: QueuedConversionLedger;
  apollo: Apollo;
  queue: ConversionQueue;
  verifications: BatchVerificationScheduler;
  pacer: RateLimitPacer;
}): BulkConversion {
  return new BulkConversion({
    ledger: deps.ledger,
    apollo: deps.apollo,
    queue: deps.queue,
    verifications: deps.verifications,
    pacer: deps.pacer,
    maxReceives: deps.config.conversionMaxReceives,
    rejectedRecordTtlSeconds: deps.config.rejectedRecordTtlSeconds,
    quietPeriodSeconds: deps.config.unavailableRetryAfterSeconds,
  });
}

/**
 * The conversion queue's SQS adapter.
 * PIPELINE-STAND-IN: the queue branch's `SqsConversionQueue` (lib/sqs-conversion-queue.ts, from
 * CONVERSION_QUEUE_URL) goes here on merge; until then every send fails as misconfigured.
 */
function sqsConversionQueue(_config: Config): ConversionQueue {
  const missing = () =>
    Promise.reject(new ConfigurationError('the SQS conversion queue is not wired on this branch'));
  return { enqueue: missing, postpone: missing };
}

/** Where Apollo posts revealed phones: the public API URL, with the callback token. */
async function phoneCallbackUrl(config: Config): Promise<string> {
  if (!config.publicApiUrl)
    throw new ConfigurationError('PUBLIC_API_URL must be set to receive phone reveals');
  const token = await config.secret('APOLLO_CALLBACK_TOKEN');
  return `${config.publicApiUrl}/webhooks/apollo/phone-numbers?token=${encodeURIComponent(token)}`;
}

/**
 * How long an answered webhook delivery is remembered by its `webhook-id`: longer than a Standard
 * Webhooks sender keeps retrying (about a day), short enough to keep the table small.
 */
const WEBHOOK_REPLAY_WINDOW_SECONDS = 3 * 86_400;

let services: Services | undefined;
let overrides: ServiceOverrides = {};

function build(config: Config): Services {
  // One per container: the consumer paces its calls from what Apollo's replies said.
  const pacer = new RateLimitPacer();
  const ledger = new DynamoDbLedger(
    new DynamoDBClient({ region: config.region, endpoint: config.dynamoDbEndpoint }),
    config.ledgerTable,
  );
  const apollo = new ApolloHttpClient({
    baseUrl: config.apolloBaseUrl,
    apiKey: () => config.secret('APOLLO_API_KEY'),
    timeoutMs: config.apolloTimeoutMs,
    maxRetryWaitSeconds: config.apolloMaxRetryWaitSeconds,
    onRateLimit: (windows: RateLimitWindow[], endpoint: string) => {
      pacer.observe(endpoint, windows);
      for (const window of windows.filter((w) => isRunningLow(w))) {
        logger.warn('Apollo rate limit running low', { ...window });
      }
    },
  });
  const stepFunctions = new SFNClient({ region: config.region, endpoint: config.stepFunctionsEndpoint });
  const verificationExecutions = new StepFunctionsExecutions(
    stepFunctions,
    config.verificationStateMachineArn,
    'VERIFICATION_STATE_MACHINE_ARN',
  );
  const verifications: VerificationScheduler = {
    start: async (request) =>
      verificationExecutions.start(
        verificationExecutionName(request.key, await config.secret('LOG_HASH_SECRET')),
        request,
      ),
  };
  const verificationSweep = new VerificationSweep({
    ledger,
    verifications: {
      redrive: async (request, redrive) =>
        verificationExecutions.start(
          redriveExecutionName(request.key, redrive, await config.secret('LOG_HASH_SECRET')),
          request,
        ),
    },
    staleAfterMs: config.verificationSweepAfterMs,
    maxRedrives: config.verificationMaxRedrives,
    batchSize: config.verificationSweepBatch,
  });
  const phoneRevealExecutions = new StepFunctionsExecutions(
    stepFunctions,
    config.phoneRevealStateMachineArn,
    'PHONE_REVEAL_STATE_MACHINE_ARN',
  );
  const conversion = new ContactConversion({
    ledger,
    apollo,
    verifications,
    concurrency: config.conversionConcurrency,
    rejectedRecordTtlSeconds: config.rejectedRecordTtlSeconds,
    unavailableRetryAfterSeconds: config.unavailableRetryAfterSeconds,
    maxAttempts: config.maxConversionAttempts,
    staleVerifications: verificationSweep,
    inProgressRetryAfterSeconds: config.inProgressRetryAfterSeconds,
  });
  // PIPELINE-STAND-IN: until the batch verification lands, one execution per person of a batch.
  const batchVerifications: BatchVerificationScheduler = {
    start: async ({ people }) => {
      await Promise.all(people.map((person) => verifications.start(person)));
    },
  };
  const conversionQueue = overrides.conversionQueue ?? sqsConversionQueue(config);
  return {
    config,
    ledger,
    conversion,
    verificationSweep,
    intake: buildConversionIntake({
      config,
      ledger,
      queue: conversionQueue,
      verifications: batchVerifications,
      staleVerifications: verificationSweep,
    }),
    bulkConversion: buildBulkConversion({
      config,
      ledger,
      apollo,
      queue: conversionQueue,
      verifications: batchVerifications,
      pacer,
    }),
    queuedSweep: new StrandedQueueSweep({
      ledger,
      queue: conversionQueue,
      staleAfterMs: config.queuedSweepAfterMs,
      batchSize: config.verificationSweepBatch,
    }),
    verification: new ContactVerification({
      ledger,
      apollo,
      defaultPhoneCountry: config.defaultPhoneCountry,
    }),
    webhookDeliveries: new WebhookDeliveryMemory({
      ledger,
      rememberSeconds: WEBHOOK_REPLAY_WINDOW_SECONDS,
    }),
    enrichment: new PersonEnrichment({
      ledger,
      apollo,
      conversion,
      phoneReveals: {
        start: async (poll) =>
          phoneRevealExecutions.start(
            phoneRevealExecutionName(poll.key, poll.request_id, await config.secret('LOG_HASH_SECRET')),
            poll,
          ),
      },
      callbackUrl: () => phoneCallbackUrl(config),
      defaultPhoneCountry: config.defaultPhoneCountry,
      heldPhonesTtlSeconds: config.heldPhonesTtlSeconds,
      maxResultPolls: config.maxResultPolls,
    }),
  };
}

/** The services for this container, built on first use from `process.env`. */
export function getServices(): Services {
  services ??= build(loadConfig());
  return services;
}

/**
 * Tests and the local stack rebuild the services after changing the environment; `replace` stands
 * in for adapters (the tests' in-process queue) until the next reset.
 */
export function resetServices(replace: ServiceOverrides = {}): void {
  services = undefined;
  overrides = replace;
}
