import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ApolloHttpClient } from './apollo/http-client';
import { isRunningLow } from './apollo/rate-limits';
import { loadConfig, type Config } from './config';
import { ContactConversion } from './conversion';
import { DynamoDbLedger } from './dynamodb-ledger';
import type { LedgerReader } from './ledger';
import { logger } from './logger';
import { StepFunctionsExecutions } from './step-functions-executions';
import {
  checkVerificationRequest,
  phoneRevealExecutionName,
  verificationExecutionName,
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

function build(config: Config): Services {
  const ledger = new DynamoDbLedger(
    new DynamoDBClient({ region: config.region, endpoint: config.dynamoDbEndpoint }),
    config.ledgerTable,
  );
  const apollo = new ApolloHttpClient({
    baseUrl: config.apolloBaseUrl,
    apiKey: () => config.secret('APOLLO_API_KEY'),
    timeoutMs: config.apolloTimeoutMs,
    maxRetryWaitSeconds: config.apolloMaxRetryWaitSeconds,
    onRateLimit: (windows) => {
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
  // One execution per converted batch, named from its people; a re-drive is a batch of one.
  const verifications: VerificationScheduler = {
    start: async (request) => {
      const { people } = checkVerificationRequest(request);
      const keys = people.map((person) => person.key);
      await verificationExecutions.start(
        verificationExecutionName(keys, await config.secret('LOG_HASH_SECRET')),
        { people },
      );
    },
  };
  const verificationSweep = new VerificationSweep({
    ledger,
    verifications: {
      redrive: async (person, redrive) =>
        verificationExecutions.start(
          redriveExecutionName(person.key, redrive, await config.secret('LOG_HASH_SECRET')),
          { people: [person] },
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
  return {
    config,
    ledger,
    conversion,
    verificationSweep,
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

/** Tests and the local stack rebuild the services after changing the environment. */
export function resetServices(): void {
  services = undefined;
}
