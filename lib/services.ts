import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ApolloHttpClient } from './apollo/client';
import { isRunningLow } from './apollo/rate-limits';
import { loadConfig, type Config } from './config';
import { ContactConversion } from './conversion';
import { DynamoDbLedger } from './dynamodb-ledger';
import { logger } from './logger';
import { StepFunctionsVerifications } from './step-functions-verifications';
import { ContactVerification } from './verification';

/**
 * Composition root: builds the use cases with their AWS and Apollo adapters from the config, once
 * per Lambda container (module scope keeps clients and connections warm between invocations).
 */
export interface Services {
  config: Config;
  ledger: DynamoDbLedger;
  conversion: ContactConversion;
  verification: ContactVerification;
}

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
  const verifications = new StepFunctionsVerifications(
    new SFNClient({ region: config.region, endpoint: config.stepFunctionsEndpoint }),
    config.verificationStateMachineArn,
  );
  return {
    config,
    ledger,
    conversion: new ContactConversion({
      ledger,
      apollo,
      verifications,
      concurrency: config.conversionConcurrency,
      rejectedRecordTtlSeconds: config.rejectedRecordTtlSeconds,
      unavailableRetryAfterSeconds: config.unavailableRetryAfterSeconds,
      maxAttempts: config.maxConversionAttempts,
    }),
    verification: new ContactVerification({
      ledger,
      apollo,
      defaultPhoneCountry: config.defaultPhoneCountry,
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
