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
  SQS_STANDARD_PER_REQUEST,
  STEP_FUNCTIONS_STANDARD_PER_TRANSITION,
} from './prices';
import type { DeployedService } from './serverless-config';
import { round } from './stats';

/**
 * What the burst really consumed, counted while it ran (bench/burst.ts): every figure is a total
 * over the run, divided by the people converted to get a per-conversion cost.
 */
export interface CostInputs {
  people: number;
  /** Webhook deliveries (API Gateway requests and webhook invocations), and their median wall ms. */
  deliveries: number;
  webhookMsPerDelivery: number;
  /** Consumer invocations (one per SQS batch) and their median wall ms. */
  consumerInvocations: number;
  consumerMsPerInvocation: number;
  /** verifyContact invocations (one per verification pass of a batch) and their median wall ms. */
  verifyInvocations: number;
  verifyMsPerInvocation: number;
  recordFailureInvocations: number;
  /** DynamoDB operations counted by dynalite, and the size that sets the units of each. */
  dynamoDbOperations: Record<string, number>;
  ledgerItemBytesP90: number;
  /** SQS requests counted in front of the local SQS server (empty receives apart). */
  sqsRequests: Record<string, number>;
  stateTransitions: number;
  /** Bytes of log lines the handlers wrote during the burst. */
  logBytes: number;
}

export interface CostResults {
  pricesTakenOn: string;
  region: string;
  architecture: string;
  /** Per conversion, from the burst's counts. */
  perConversion: {
    apiGatewayRequests: number;
    lambdaInvocations: number;
    lambdaGbSeconds: number;
    dynamoDbWriteUnits: number;
    dynamoDbReadUnits: number;
    sqsRequests: number;
    standardStateTransitions: number;
    logBytes: number;
  };
  /** Wall ms billed per invocation: measured in one process with everything else, so on the high side. */
  billedMs: { enrichmentWebhook: number; convertQueued: number; verifyContact: number };
  /** US dollars per million conversions, by part. */
  perMillion: {
    apiGateway: number;
    lambdaRequests: number;
    lambdaDuration: number;
    dynamoDb: number;
    sqs: number;
    cloudWatchLogs: number;
    stepFunctionsStandard: number;
    total: number;
  };
}

const MILLION = 1_000_000;
const gb = (mb: number) => mb / 1024;
const billedMs = (ms: number) =>
  Math.ceil(ms / LAMBDA_BILLING_GRANULARITY_MS) * LAMBDA_BILLING_GRANULARITY_MS;

/** SQS operations that are billed requests (GetQueueAttributes is the bench's own, empty receives apart). */
const BILLED_SQS = [
  'SendMessage',
  'SendMessageBatch',
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
];
const DYNAMODB_WRITES = ['UpdateItem', 'PutItem', 'DeleteItem'];
const DYNAMODB_READS = ['GetItem', 'Query'];

export function costPerMillion(service: DeployedService, inputs: CostInputs): CostResults {
  const people = Math.max(1, inputs.people);
  const webhook = service.fn('enrichmentWebhook');
  const consumer = service.fn('convertQueued');
  const verify = service.fn('verifyContact');
  const billed = {
    enrichmentWebhook: billedMs(inputs.webhookMsPerDelivery),
    convertQueued: billedMs(inputs.consumerMsPerInvocation),
    verifyContact: billedMs(inputs.verifyMsPerInvocation),
  };
  const gbSeconds =
    (inputs.deliveries * (billed.enrichmentWebhook / 1000) * gb(webhook.memoryMb) +
      inputs.consumerInvocations * (billed.convertQueued / 1000) * gb(consumer.memoryMb) +
      inputs.verifyInvocations * (billed.verifyContact / 1000) * gb(verify.memoryMb)) /
    people;
  const invocations =
    (inputs.deliveries +
      inputs.consumerInvocations +
      inputs.verifyInvocations +
      inputs.recordFailureInvocations) /
    people;
  const sum = (names: string[], counts: Record<string, number>) =>
    names.reduce((total, name) => total + (counts[name] ?? 0), 0);
  const writeUnitsPerOp = Math.max(1, Math.ceil(inputs.ledgerItemBytesP90 / 1024));
  const readUnitsPerOp = Math.max(1, Math.ceil(inputs.ledgerItemBytesP90 / 4096));
  const writeUnits = (sum(DYNAMODB_WRITES, inputs.dynamoDbOperations) * writeUnitsPerOp) / people;
  const readUnits = (sum(DYNAMODB_READS, inputs.dynamoDbOperations) * readUnitsPerOp) / people;
  const sqsRequests = sum(BILLED_SQS, inputs.sqsRequests) / people;
  const transitions = inputs.stateTransitions / people;
  const invocationsTotal =
    inputs.deliveries +
    inputs.consumerInvocations +
    inputs.verifyInvocations +
    inputs.recordFailureInvocations;
  const logBytes = (inputs.logBytes + invocationsTotal * LAMBDA_PLATFORM_LOG_BYTES_PER_INVOCATION) / people;

  const perMillion = {
    apiGateway: (inputs.deliveries / people) * API_GATEWAY_HTTP_PER_REQUEST * MILLION,
    lambdaRequests: invocations * LAMBDA_PER_REQUEST * MILLION,
    lambdaDuration: gbSeconds * LAMBDA_ARM_PER_GB_SECOND * MILLION,
    dynamoDb:
      (writeUnits * DYNAMODB_PER_WRITE_REQUEST_UNIT + readUnits * DYNAMODB_PER_READ_REQUEST_UNIT) * MILLION,
    sqs: sqsRequests * SQS_STANDARD_PER_REQUEST * MILLION,
    cloudWatchLogs: (logBytes / 1024 ** 3) * CLOUDWATCH_LOGS_PER_GB_INGESTED * MILLION,
    stepFunctionsStandard: transitions * STEP_FUNCTIONS_STANDARD_PER_TRANSITION * MILLION,
  };
  const total = Object.values(perMillion).reduce((a, b) => a + b, 0);
  const rounded = Object.fromEntries(
    Object.entries(perMillion).map(([part, dollars]) => [part, round(dollars, 2)]),
  ) as typeof perMillion;
  return {
    pricesTakenOn: PRICES_TAKEN_ON,
    region: PRICES_REGION,
    architecture: service.architecture,
    perConversion: {
      apiGatewayRequests: round(inputs.deliveries / people, 4),
      lambdaInvocations: round(invocations, 4),
      lambdaGbSeconds: round(gbSeconds, 5),
      dynamoDbWriteUnits: round(writeUnits, 2),
      dynamoDbReadUnits: round(readUnits, 2),
      sqsRequests: round(sqsRequests, 3),
      standardStateTransitions: round(transitions, 4),
      logBytes: round(logBytes, 0),
    },
    billedMs: billed,
    perMillion: { ...rounded, total: round(total, 2) },
  };
}
