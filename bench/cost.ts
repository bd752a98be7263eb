import {
  API_GATEWAY_HTTP_PER_REQUEST,
  CLOUDWATCH_LOGS_PER_GB_INGESTED,
  DYNAMODB_PER_READ_REQUEST_UNIT,
  DYNAMODB_PER_WRITE_REQUEST_UNIT,
  LAMBDA_ARM_PER_GB_SECOND,
  LAMBDA_BILLING_GRANULARITY_MS,
  LAMBDA_PER_REQUEST,
  LAMBDA_PLATFORM_LOG_BYTES_PER_INVOCATION,
  PRICES_REGION,
  PRICES_TAKEN_ON,
  STEP_FUNCTIONS_EXPRESS_BILLED_MEMORY_MB,
  STEP_FUNCTIONS_EXPRESS_BILLING_GRANULARITY_MS,
  STEP_FUNCTIONS_EXPRESS_PER_GB_SECOND,
  STEP_FUNCTIONS_EXPRESS_PER_REQUEST,
  STEP_FUNCTIONS_STANDARD_PER_TRANSITION,
} from './prices';
import type { DeployedService } from './serverless-config';
import { round } from './stats';

/**
 * What one conversion (one new person, one delivery, happy path) consumes on AWS, counted from
 * the code:
 * - enrichmentWebhook: ledger claim (UpdateItem), complete (UpdateItem), verification started
 *   (UpdateItem): lib/conversion.ts convertOne and startVerification, lib/dynamodb-ledger.ts;
 * - verifyContact: the record (GetItem, strongly consistent) and verified (UpdateItem):
 *   lib/verification.ts verify.
 */
export const PER_CONVERSION = {
  apiGatewayRequests: 1,
  lambdaInvocations: 2,
  dynamoDbWrites: 4,
  dynamoDbStronglyConsistentReads: 1,
  /** Start → WaitForApollo → VerifyContact → end; each VerifyContact retry adds one. */
  standardStateTransitions: 3,
};

export interface CostInputs {
  webhookMs: number;
  verifyContactMs: number;
  logBytesPerConversion: number;
  logBytesPerVerification: number;
  /** The largest ledger item: on-demand units are billed per started KB (writes) or 4 KB (reads). */
  largestLedgerItemBytes: number;
  /** The DynamoDB operations the replayed stream really made, and its deliveries. */
  replayDynamoDbOperations: Record<string, number>;
  replayDeliveries: number;
}

export interface CostResults {
  pricesTakenOn: string;
  region: string;
  architecture: string;
  memoryMb: { enrichmentWebhook: number; verifyContact: number };
  billedMs: { enrichmentWebhook: number; verifyContact: number };
  perConversion: typeof PER_CONVERSION & { dynamoDbWriteUnits: number; dynamoDbReadUnits: number };
  /** US dollars per million conversions, by part. */
  perMillion: {
    apiGateway: number;
    lambdaRequests: number;
    lambdaDuration: number;
    dynamoDb: number;
    cloudWatchLogs: number;
    stepFunctionsStandard: number;
    stepFunctionsExpress: number;
    totalWithStandard: number;
    totalWithExpress: number;
  };
  /** What each 100 ms of Apollo latency per call adds (two calls in the webhook, one in verifyContact). */
  lambdaDurationPer100msApolloLatency: number;
  /**
   * DynamoDB per million deliveries of the replayed mix (retries, duplicates, copies), from the
   * operations it made: a re-delivery costs a claim that fails its condition (still billed as a
   * write) and a strongly consistent read, on top of whatever the code records for it.
   */
  dynamoDbPerMillionReplayDeliveries: number;
}

const MILLION = 1_000_000;
const gb = (mb: number) => mb / 1024;
const billedMs = (ms: number) =>
  Math.ceil(ms / LAMBDA_BILLING_GRANULARITY_MS) * LAMBDA_BILLING_GRANULARITY_MS;

/** On-demand units of one request on an item of this size. */
function requestUnits(itemBytes: number): { write: number; read: number } {
  return { write: Math.max(1, Math.ceil(itemBytes / 1024)), read: Math.max(1, Math.ceil(itemBytes / 4096)) };
}

/** Express bills the whole execution (the initial Wait included) in 100 ms steps at 64 MB. */
function expressPerExecution(service: DeployedService, verifyContactMs: number): number {
  const durationMs = service.verifyInitialWaitSeconds * 1000 + verifyContactMs;
  const billedSeconds =
    (Math.ceil(durationMs / STEP_FUNCTIONS_EXPRESS_BILLING_GRANULARITY_MS) *
      STEP_FUNCTIONS_EXPRESS_BILLING_GRANULARITY_MS) /
    1000;
  return (
    STEP_FUNCTIONS_EXPRESS_PER_REQUEST +
    billedSeconds * gb(STEP_FUNCTIONS_EXPRESS_BILLED_MEMORY_MB) * STEP_FUNCTIONS_EXPRESS_PER_GB_SECOND
  );
}

/** Dollars of DynamoDB per delivery of the replayed stream. */
function replayDynamoDbDollars(inputs: CostInputs, units: { write: number; read: number }): number {
  const ops = inputs.replayDynamoDbOperations;
  const writes = (ops.UpdateItem ?? 0) + (ops.PutItem ?? 0) + (ops.DeleteItem ?? 0);
  const reads = ops.GetItem ?? 0;
  const dollars =
    writes * units.write * DYNAMODB_PER_WRITE_REQUEST_UNIT +
    reads * units.read * DYNAMODB_PER_READ_REQUEST_UNIT;
  return dollars / Math.max(1, inputs.replayDeliveries);
}

export function costPerMillion(service: DeployedService, inputs: CostInputs): CostResults {
  const webhook = service.fn('enrichmentWebhook');
  const verify = service.fn('verifyContact');
  const webhookBilled = billedMs(inputs.webhookMs);
  const verifyBilled = billedMs(inputs.verifyContactMs);
  const gbSeconds =
    (webhookBilled / 1000) * gb(webhook.memoryMb) + (verifyBilled / 1000) * gb(verify.memoryMb);
  const units = requestUnits(inputs.largestLedgerItemBytes);
  const writeUnits = PER_CONVERSION.dynamoDbWrites * units.write;
  const readUnits = PER_CONVERSION.dynamoDbStronglyConsistentReads * units.read;
  const logBytes =
    inputs.logBytesPerConversion +
    inputs.logBytesPerVerification +
    PER_CONVERSION.lambdaInvocations * LAMBDA_PLATFORM_LOG_BYTES_PER_INVOCATION;

  const perMillion = {
    apiGateway: PER_CONVERSION.apiGatewayRequests * API_GATEWAY_HTTP_PER_REQUEST * MILLION,
    lambdaRequests: PER_CONVERSION.lambdaInvocations * LAMBDA_PER_REQUEST * MILLION,
    lambdaDuration: gbSeconds * LAMBDA_ARM_PER_GB_SECOND * MILLION,
    dynamoDb:
      (writeUnits * DYNAMODB_PER_WRITE_REQUEST_UNIT + readUnits * DYNAMODB_PER_READ_REQUEST_UNIT) * MILLION,
    cloudWatchLogs: (logBytes / 1024 ** 3) * CLOUDWATCH_LOGS_PER_GB_INGESTED * MILLION,
    stepFunctionsStandard:
      PER_CONVERSION.standardStateTransitions * STEP_FUNCTIONS_STANDARD_PER_TRANSITION * MILLION,
    stepFunctionsExpress: expressPerExecution(service, inputs.verifyContactMs) * MILLION,
  };
  const common =
    perMillion.apiGateway +
    perMillion.lambdaRequests +
    perMillion.lambdaDuration +
    perMillion.dynamoDb +
    perMillion.cloudWatchLogs;
  const rounded = Object.fromEntries(
    Object.entries(perMillion).map(([part, dollars]) => [part, round(dollars, 2)]),
  ) as typeof perMillion;
  const apolloLatencyGbSeconds = 2 * 0.1 * gb(webhook.memoryMb) + 0.1 * gb(verify.memoryMb);
  return {
    pricesTakenOn: PRICES_TAKEN_ON,
    region: PRICES_REGION,
    architecture: service.architecture,
    memoryMb: { enrichmentWebhook: webhook.memoryMb, verifyContact: verify.memoryMb },
    billedMs: { enrichmentWebhook: webhookBilled, verifyContact: verifyBilled },
    perConversion: { ...PER_CONVERSION, dynamoDbWriteUnits: writeUnits, dynamoDbReadUnits: readUnits },
    perMillion: {
      ...rounded,
      totalWithStandard: round(common + perMillion.stepFunctionsStandard, 2),
      totalWithExpress: round(common + perMillion.stepFunctionsExpress, 2),
    },
    lambdaDurationPer100msApolloLatency: round(
      apolloLatencyGbSeconds * LAMBDA_ARM_PER_GB_SECOND * MILLION,
      2,
    ),
    dynamoDbPerMillionReplayDeliveries: round(replayDynamoDbDollars(inputs, units) * MILLION, 2),
  };
}
