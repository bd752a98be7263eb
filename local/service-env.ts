import { LOCAL_AWS_CREDENTIALS } from './dynamodb';

/** Where a copy of the service finds its ledger, Apollo, Step Functions and queue, and the secrets it checks. */
export interface ServiceEnvOptions {
  dynamoDbEndpoint: string;
  stepFunctionsEndpoint: string;
  apolloBaseUrl: string;
  apolloApiKey: string;
  /** `whsec_...` secret(s) the webhook's signature is checked against. */
  webhookSecret: string;
  /** The key for `POST /contacts`, `POST /enrichments` and `GET /conversions`. */
  apiKey: string;
  /** Keys person references in logs and execution names; a fixed local value when not given. */
  logHashSecret?: string;
  /** The ones below are left unset when not given (serverless.yml's own apply under serverless-offline). */
  ledgerTable?: string;
  verificationStateMachineArn?: string;
  phoneRevealStateMachineArn?: string;
  apolloCallbackToken?: string;
  publicApiUrl?: string;
  /** The conversion queue's URL, and the SQS server that holds it (local-aws-sqs). */
  conversionQueueUrl?: string;
  sqsEndpoint?: string;
  /** The CRM doors' secrets: HubSpot's client secret and API key, the custom sources' document. */
  hubspotClientSecret?: string;
  hubspotApiKey?: string;
  customSources?: string;
  /** The Salesforce door: the secret(s) in its path, and the org id(s) it accepts. */
  salesforceEndpointSecret?: string;
  salesforceOrgIds?: string;
  /** The Pipedrive door's Basic credentials, `user:password`. */
  pipedriveBasicAuth?: string;
  /** POWERTOOLS_LOG_LEVEL. */
  logLevel?: string;
}

/** The local stack's (and the tests') LOG_HASH_SECRET: protects nothing, the stack is local. */
export const LOCAL_LOG_HASH_SECRET = 'local-log-hash-secret-not-for-production';

/**
 * The environment the handlers run with outside AWS, read by the same `lib/config.ts` as in AWS:
 * the local endpoints, local AWS credentials, and the secrets as plain values (no SSM). The one
 * builder for the local stack, the test harness and the bench; `overrides` are applied last.
 *
 * @example
 * Object.assign(process.env, serviceEnv({ dynamoDbEndpoint, … }, { APOLLO_TIMEOUT_MS: '2000' }));
 */
export function serviceEnv(
  options: ServiceEnvOptions,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const optional: Record<string, string | undefined> = {
    LEDGER_TABLE: options.ledgerTable,
    VERIFICATION_STATE_MACHINE_ARN: options.verificationStateMachineArn,
    PHONE_REVEAL_STATE_MACHINE_ARN: options.phoneRevealStateMachineArn,
    APOLLO_CALLBACK_TOKEN: options.apolloCallbackToken,
    PUBLIC_API_URL: options.publicApiUrl,
    CONVERSION_QUEUE_URL: options.conversionQueueUrl,
    SQS_ENDPOINT: options.sqsEndpoint,
    SALESFORCE_ENDPOINT_SECRET: options.salesforceEndpointSecret,
    SALESFORCE_ORG_IDS: options.salesforceOrgIds,
    PIPEDRIVE_BASIC_AUTH: options.pipedriveBasicAuth,
    POWERTOOLS_LOG_LEVEL: options.logLevel,
    HUBSPOT_CLIENT_SECRET: options.hubspotClientSecret,
    HUBSPOT_API_KEY: options.hubspotApiKey,
    CUSTOM_SOURCES: options.customSources,
  };
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
    DYNAMODB_ENDPOINT: options.dynamoDbEndpoint,
    STEP_FUNCTIONS_ENDPOINT: options.stepFunctionsEndpoint,
    APOLLO_BASE_URL: options.apolloBaseUrl,
    APOLLO_API_KEY: options.apolloApiKey,
    WEBHOOK_SECRET: options.webhookSecret,
    API_KEY: options.apiKey,
    LOG_HASH_SECRET: options.logHashSecret ?? LOCAL_LOG_HASH_SECRET,
    ...Object.fromEntries(
      Object.entries(optional).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ),
    ...overrides,
  };
}
