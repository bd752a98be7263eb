import type { CountryCode } from 'libphonenumber-js';
import { parseCustomSources } from './doors/custom-sources';
import { hubSpotSettings, type HubSpotSettings } from './doors/hubspot-settings';
import { salesforceId18 } from './crm-ids';
import { ConfigurationError } from './errors';
import { cachedParameterReader, parametersExtensionReader, type ParameterReader } from './ssm-parameters';

/**
 * The one config loader, for AWS and the local stack alike: everything comes from environment
 * variables. Secrets come either as values (`APOLLO_API_KEY`, local use) or as the names of SSM
 * SecureString parameters (`APOLLO_API_KEY_PARAMETER`, set by serverless.yml), read at run time so
 * the values never appear in a template (through the Parameters and Secrets Lambda Extension:
 * `lib/ssm-parameters.ts`).
 */
export interface Config {
  region: string;
  ledgerTable: string;
  /** Set locally (dynalite); unset in AWS. */
  dynamoDbEndpoint?: string;
  verificationStateMachineArn?: string;
  /** Set locally (the local Step Functions endpoint); unset in AWS. */
  stepFunctionsEndpoint?: string;
  /** The conversion queue (SQS): required by the functions that send to it or consume it. */
  conversionQueueUrl?: string;
  /** Set locally (the local SQS server); unset in AWS. */
  sqsEndpoint?: string;
  /**
   * Receives of one conversion message before SQS moves it to the dead-letter queue (the queue's
   * redrive policy, passed by serverless.yml): the consumer's last chance to record why it failed.
   */
  conversionMaxReceiveCount: number;
  apolloBaseUrl: string;
  apolloTimeoutMs: number;
  apolloMaxRetryWaitSeconds: number;
  defaultPhoneCountry: CountryCode;
  conversionConcurrency: number;
  maxBodyBytes: number;
  rejectedRecordTtlSeconds: number;
  unavailableRetryAfterSeconds: number;
  maxConversionAttempts: number;
  phoneRevealStateMachineArn?: string;
  /** The API's public base URL, for the webhook_url Apollo posts revealed phones to. */
  publicApiUrl?: string;
  heldPhonesTtlSeconds: number;
  maxResultPolls: number;
  /** A `created` record waiting this long for its verification's verdict is re-driven. */
  verificationSweepAfterMs: number;
  /** Re-driven verifications of one record before the sweep records `verification_failed`. */
  verificationMaxRedrives: number;
  /** Records one sweep handles at most. */
  verificationSweepBatch: number;
  /** Retry-After of a 503 for a delivery that meets a person another request is converting. */
  inProgressRetryAfterSeconds: number;
  /** A person `queued` this long without change gets its key sent again by the stranded-send sweep. */
  queuedSweepAfterMs: number;
  /** The HubSpot door: how it authenticates, and which contact properties it reads. */
  hubspot: HubSpotSettings;
  /**
   * The Salesforce orgs whose Outbound Messages are accepted, as 18-character ids (given in the
   * 15- or 18-character form). Empty when unset: the Salesforce door then refuses every message.
   */
  salesforceOrgIds: string[];
  /**
   * A Contact field holding the account's name (a formula field such as `Account_Name__c`): an
   * Outbound Message carries the Contact's own fields only, not its Account's.
   */
  salesforceAccountNameField?: string;
  secret(name: SecretName): Promise<string>;
}

/**
 * `LOG_HASH_SECRET` keys the person references in logs and the Step Functions execution names
 * (HMAC-SHA256). Keep it stable: execution names derive from it, so rotating it lets each person's
 * verification run at most once more.
 */
export type SecretName =
  | 'APOLLO_API_KEY'
  | 'WEBHOOK_SECRET'
  | 'API_KEY'
  | 'APOLLO_CALLBACK_TOKEN'
  | 'LOG_HASH_SECRET'
  // The HubSpot door: the app's client secret(s) for signature v3, or the workflow's API key(s).
  | 'HUBSPOT_CLIENT_SECRET'
  | 'HUBSPOT_API_KEY'
  // The custom JSON door: every source's field map and secrets, one JSON document (lib/doors/custom.ts).
  | 'CUSTOM_SOURCES'
  // The Salesforce door: the secret(s) in its path, `/webhooks/salesforce/{secret}`.
  | 'SALESFORCE_ENDPOINT_SECRET'
  // The Pipedrive door: its HTTP Basic credentials, `user:password`.
  | 'PIPEDRIVE_BASIC_AUTH';

type Env = Record<string, string | undefined>;

const SECRET_CACHE_SECONDS = 300;

/** This container's SSM parameters, each read once per `SECRET_CACHE_SECONDS`. */
const containerParameters: ParameterReader = cachedParameterReader(
  parametersExtensionReader(process.env),
  SECRET_CACHE_SECONDS * 1000,
);

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function required(env: Env, name: string): string {
  const value = text(env, name);
  if (value === undefined) throw new ConfigurationError(`${name} must be set`);
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(`${name} must be an integer from ${min} to ${max}, not "${raw}"`);
  }
  return value;
}

function url(env: Env, name: string, fallback?: string): string | undefined {
  const raw = text(env, name) ?? fallback;
  if (raw === undefined) return undefined;
  try {
    return new URL(raw).toString().replace(/\/+$/, '');
  } catch {
    throw new ConfigurationError(`${name} must be a URL, not "${raw}"`);
  }
}

/** Apollo's documented API base; older clients use `/v1`, which Apollo also serves. */
const APOLLO_API_PATH = '/api/v1';

/**
 * Apollo's base URL, normalised once: its documented base (`https://api.apollo.io/api/v1`) and the
 * bare origin (`https://api.apollo.io`) both become the documented base, so a user may copy either.
 * A URL that could never reach Apollo's API (another path, a query, credentials) fails at startup.
 */
function apolloBaseUrl(env: Env, name: string): string {
  const raw = text(env, name) ?? `https://api.apollo.io${APOLLO_API_PATH}`;
  const expected = `${name} must be Apollo's API base (https://api.apollo.io/api/v1) or its origin (https://api.apollo.io)`;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigurationError(`${expected}, not "${raw}"`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ConfigurationError(`${expected}: ${parsed.protocol} is not http or https`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // Never echo the value: it holds a credential. The API key goes in APOLLO_API_KEY.
    throw new ConfigurationError(`${expected}: it must not carry credentials (set APOLLO_API_KEY instead)`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new ConfigurationError(`${expected}: no query or fragment, not "${raw}"`);
  }
  const path = parsed.pathname.replace(/\/+$/, '');
  // A proxy may put Apollo's API under a prefix of its own: only the end of the path must match.
  if (path === '') return `${parsed.origin}${APOLLO_API_PATH}`;
  if (path.endsWith(APOLLO_API_PATH) || path.endsWith('/v1')) return `${parsed.origin}${path}`;
  throw new ConfigurationError(
    `${expected}, not "${raw}": the path must be empty or end in ${APOLLO_API_PATH}`,
  );
}

/**
 * Only the shape: libphonenumber's metadata (about 125 KB) stays out of the functions that parse no
 * phone number. The composition roots of those that do check the code against it
 * (`lib/roots/shared/phone-country.ts`), so a code it does not know still fails before any work.
 */
function country(env: Env, name: string, fallback: CountryCode): CountryCode {
  const raw = text(env, name)?.toUpperCase() ?? fallback;
  if (!/^[A-Z]{2}$/.test(raw))
    throw new ConfigurationError(`${name} must be an ISO 3166 country code, not "${raw}"`);
  return raw as CountryCode;
}

/**
 * Salesforce org ids, separated by commas or spaces, each in its 15- or 18-character form (an
 * org id starts with `00D`), kept in the 18-character form. A typo in an 18-character id (its case
 * suffix does not match) stops the service at startup rather than refusing every message.
 */
function salesforceOrgIds(env: Env, name: string): string[] {
  const raw = text(env, name);
  if (raw === undefined) return [];
  return raw
    .split(/[\s,]+/)
    .filter((id) => id !== '')
    .map((id) => {
      const id18 = salesforceId18(id);
      if (id18 === undefined || !id18.startsWith('00D')) {
        throw new ConfigurationError(
          `${name} must list Salesforce org ids (00D followed by 12 or 15 letters and digits), not "${id}"`,
        );
      }
      return id18;
    });
}

/** A Salesforce field's API name (`Account_Name__c`), as an Outbound Message spells its element. */
function salesforceFieldName(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && !/^[A-Za-z][A-Za-z0-9_]{0,79}$/.test(raw)) {
    throw new ConfigurationError(
      `${name} must be a Salesforce field API name such as Account_Name__c, not "${raw}"`,
    );
  }
  return raw;
}

/** Reads a secret's value, or the SSM parameter named by `<NAME>_PARAMETER` (cached 5 minutes). */
async function readSecret(env: Env, name: SecretName, readParameter: ParameterReader): Promise<string> {
  const value = text(env, name);
  if (value !== undefined) return value;
  const parameterName = text(env, `${name}_PARAMETER`);
  if (parameterName === undefined) throw new ConfigurationError(`${name} or ${name}_PARAMETER must be set`);
  let parameter: string;
  try {
    parameter = await readParameter(parameterName);
  } catch (error) {
    throw new ConfigurationError(`cannot read SSM parameter ${parameterName} for ${name}`, { cause: error });
  }
  if (!parameter) throw new ConfigurationError(`SSM parameter ${parameterName} for ${name} is empty`);
  return parameter;
}

/**
 * One secret, read like `Config.secret` but without validating the rest of the environment: for
 * the handler wrappers, which key the log references before a handler builds its services.
 */
export function secretFromEnvironment(
  name: SecretName,
  env: Env = process.env,
  readParameter: ParameterReader = containerParameters,
): Promise<string> {
  return readSecret(env, name, readParameter);
}

/**
 * Validates the environment once; throws ConfigurationError naming the variable at fault. Secrets
 * named by `<NAME>_PARAMETER` are read through `readParameter` (tests pass their own).
 */
export function loadConfig(
  env: Env = process.env,
  readParameter: ParameterReader = containerParameters,
): Config {
  // Given as a value (locally), the custom sources are checked now; from SSM, when first read.
  const customSources = text(env, 'CUSTOM_SOURCES');
  if (customSources !== undefined) parseCustomSources(customSources);
  return {
    region: text(env, 'AWS_REGION') ?? 'us-east-1',
    ledgerTable: required(env, 'LEDGER_TABLE'),
    dynamoDbEndpoint: url(env, 'DYNAMODB_ENDPOINT'),
    verificationStateMachineArn: text(env, 'VERIFICATION_STATE_MACHINE_ARN'),
    stepFunctionsEndpoint: url(env, 'STEP_FUNCTIONS_ENDPOINT'),
    conversionQueueUrl: url(env, 'CONVERSION_QUEUE_URL'),
    sqsEndpoint: url(env, 'SQS_ENDPOINT'),
    conversionMaxReceiveCount: integer(env, 'CONVERSION_MAX_RECEIVE_COUNT', 5, 1, 1000),
    apolloBaseUrl: apolloBaseUrl(env, 'APOLLO_BASE_URL'),
    apolloTimeoutMs: integer(env, 'APOLLO_TIMEOUT_MS', 8000, 100, 60_000),
    apolloMaxRetryWaitSeconds: integer(env, 'APOLLO_MAX_RETRY_WAIT_SECONDS', 2, 0, 20),
    defaultPhoneCountry: country(env, 'DEFAULT_PHONE_COUNTRY', 'US'),
    conversionConcurrency: integer(env, 'CONVERSION_CONCURRENCY', 4, 1, 32),
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 1024 * 1024, 1024, 6 * 1024 * 1024),
    rejectedRecordTtlSeconds: integer(env, 'REJECTED_RECORD_TTL_DAYS', 30, 1, 3650) * 86_400,
    unavailableRetryAfterSeconds: integer(env, 'UNAVAILABLE_RETRY_AFTER_SECONDS', 30, 1, 3600),
    maxConversionAttempts: integer(env, 'MAX_CONVERSION_ATTEMPTS', 10, 1, 1000),
    phoneRevealStateMachineArn: text(env, 'PHONE_REVEAL_STATE_MACHINE_ARN'),
    publicApiUrl: url(env, 'PUBLIC_API_URL'),
    heldPhonesTtlSeconds: integer(env, 'HELD_PHONES_TTL_DAYS', 30, 1, 3650) * 86_400,
    maxResultPolls: integer(env, 'MAX_RESULT_POLLS', 20, 1, 1000),
    verificationSweepAfterMs: integer(env, 'VERIFICATION_SWEEP_AFTER_MINUTES', 60, 1, 10_080) * 60_000,
    verificationMaxRedrives: integer(env, 'VERIFICATION_MAX_REDRIVES', 3, 0, 100),
    verificationSweepBatch: integer(env, 'VERIFICATION_SWEEP_BATCH', 200, 1, 1000),
    inProgressRetryAfterSeconds: integer(env, 'IN_PROGRESS_RETRY_AFTER_SECONDS', 2, 1, 300),
    queuedSweepAfterMs: integer(env, 'QUEUED_SWEEP_AFTER_MINUTES', 15, 1, 10_080) * 60_000,
    hubspot: hubSpotSettings(env),
    salesforceOrgIds: salesforceOrgIds(env, 'SALESFORCE_ORG_IDS'),
    salesforceAccountNameField: salesforceFieldName(env, 'SALESFORCE_ACCOUNT_NAME_FIELD'),
    secret: (name) => readSecret(env, name, readParameter),
  };
}
