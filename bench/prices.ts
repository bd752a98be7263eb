/**
 * AWS list prices the cost figures use, us-east-1, in US dollars. Taken on 2026-11-26 from the
 * author's best knowledge of the published price pages below (this machine has no internet, so
 * they were not re-read that day): check them against the pages before quoting the totals.
 * DynamoDB's on-demand prices are the ones after the November 2024 price cut.
 */
export const PRICES_TAKEN_ON = '2026-11-26';
export const PRICES_REGION = 'us-east-1';

/** https://aws.amazon.com/lambda/pricing/ (Arm, first 7.5 billion GB-seconds a month). */
export const LAMBDA_ARM_PER_GB_SECOND = 0.0000133334;
/** https://aws.amazon.com/lambda/pricing/ ($0.20 per million requests). */
export const LAMBDA_PER_REQUEST = 0.2 / 1_000_000;
/** Lambda bills duration rounded up to the next millisecond. */
export const LAMBDA_BILLING_GRANULARITY_MS = 1;

/** https://aws.amazon.com/dynamodb/pricing/on-demand/ ($0.625 per million write request units). */
export const DYNAMODB_PER_WRITE_REQUEST_UNIT = 0.625 / 1_000_000;
/** https://aws.amazon.com/dynamodb/pricing/on-demand/ ($0.125 per million read request units). */
export const DYNAMODB_PER_READ_REQUEST_UNIT = 0.125 / 1_000_000;

/** https://aws.amazon.com/step-functions/pricing/ (Standard: $0.025 per 1,000 state transitions). */
export const STEP_FUNCTIONS_STANDARD_PER_TRANSITION = 0.025 / 1000;
/** https://aws.amazon.com/step-functions/pricing/ (Express: $1.00 per million requests). */
export const STEP_FUNCTIONS_EXPRESS_PER_REQUEST = 1 / 1_000_000;
/** https://aws.amazon.com/step-functions/pricing/ (Express: first 1,000 GB-hours, per GB-second). */
export const STEP_FUNCTIONS_EXPRESS_PER_GB_SECOND = 0.00001667;
/** Express bills memory in 64 MB steps (a small workflow uses the first) and duration in 100 ms steps. */
export const STEP_FUNCTIONS_EXPRESS_BILLED_MEMORY_MB = 64;
export const STEP_FUNCTIONS_EXPRESS_BILLING_GRANULARITY_MS = 100;

/** https://aws.amazon.com/api-gateway/pricing/ (HTTP API: $1.00 per million, first 300 million). */
export const API_GATEWAY_HTTP_PER_REQUEST = 1 / 1_000_000;

/** https://aws.amazon.com/cloudwatch/pricing/ (Logs, Standard class: $0.50 per GB ingested). */
export const CLOUDWATCH_LOGS_PER_GB_INGESTED = 0.5;
/**
 * Not a price: an estimate of the START, END and REPORT lines Lambda itself writes per invocation
 * (request id, durations, memory), which CloudWatch Logs ingests and bills like the function's own.
 */
export const LAMBDA_PLATFORM_LOG_BYTES_PER_INVOCATION = 300;

/** https://aws.amazon.com/sqs/pricing/ (Standard queue: $0.40 per million requests after the free tier; each 64 KB chunk is one request). */
export const SQS_STANDARD_PER_REQUEST = 0.4 / 1_000_000;
