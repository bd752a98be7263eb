import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorMessage, isApolloConfigurationError, isError } from '../errors';
import { logger } from '../logger';

export type HttpResponse = APIGatewayProxyStructuredResultV2;

/** How long a sender should wait when the service's Apollo credentials are refused: an operator must act. */
const CONFIGURATION_RETRY_AFTER_SECONDS = 300;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** What a 503 `retry_later` says, by its reason: to the log, and to the sender. */
const RETRY_LATER = {
  in_progress: {
    log: 'conversion deferred: person in progress',
    message: 'another request is converting a person of this request right now; retry this request unchanged',
  },
  apollo_unavailable: {
    log: 'conversion deferred: Apollo unavailable',
    message: 'Apollo is rate limiting or unavailable; retry this request unchanged',
  },
  queue_unavailable: {
    log: 'people not queued: the conversion queue is unavailable',
    message: 'the conversion queue is unavailable; retry this request unchanged',
  },
} as const;

/**
 * The one error-to-response mapping. Client errors say what is wrong; server errors say only what
 * the caller can do (retry, when), and the details go to the log for the operator.
 */
export function errorResponse(error: unknown): HttpResponse {
  if (isError(error, 'UnauthorizedError')) {
    logger.warn('request refused', { reason: error.message });
    return json(401, { error: 'unauthorized', message: 'missing or invalid credentials' });
  }
  if (isError(error, 'InvalidRequestError')) {
    return json(400, {
      error: 'invalid_request',
      message: error.message,
      field: error.field,
      reason: error.reason,
    });
  }
  if (isError(error, 'PayloadTooLargeError')) {
    return json(413, { error: 'payload_too_large', message: error.message });
  }
  if (isError(error, 'NotFoundError')) {
    return json(404, { error: 'not_found', message: error.message });
  }
  if (isError(error, 'NotRetryableError')) {
    return json(409, { error: 'not_retryable', message: error.message, status: error.status });
  }
  if (isError(error, 'RetryLaterError')) {
    const why = RETRY_LATER[error.reason];
    logger.warn(why.log, { reason: error.message, retryAfterSeconds: error.retryAfterSeconds });
    return json(
      503,
      {
        error: 'retry_later',
        message: why.message,
        retry_after_seconds: error.retryAfterSeconds,
        results: error.results,
      },
      { 'retry-after': String(error.retryAfterSeconds) },
    );
  }
  if (isError(error, 'EnrichmentInProgressError')) {
    // Not a failure: another request for the same person is paying Apollo right now.
    return json(
      409,
      {
        error: 'in_progress',
        status: 'in_progress',
        message: 'another request is enriching this person; retry this request unchanged',
        retry_after_seconds: error.retryAfterSeconds,
      },
      { 'retry-after': String(error.retryAfterSeconds) },
    );
  }
  if (isApolloConfigurationError(error)) {
    // Not the person's fault and not the sender's: the operator must fix the key or its scopes.
    logger.error('Apollo refused the service credentials: operator action needed', {
      errorName: error.name,
      reason: error.message,
    });
    return json(
      503,
      {
        error: 'upstream_configuration',
        message: "Apollo refused this service's credentials; the operator has been alerted",
        retry_after_seconds: CONFIGURATION_RETRY_AFTER_SECONDS,
      },
      { 'retry-after': String(CONFIGURATION_RETRY_AFTER_SECONDS) },
    );
  }
  if (isError(error, 'ConfigurationError')) {
    logger.error('service misconfigured: operator action needed', { reason: error.message });
    return json(500, {
      error: 'misconfigured',
      message: 'the service is misconfigured; the operator has been alerted',
    });
  }
  logger.error('unexpected error', {
    errorName: error instanceof Error ? error.name : typeof error,
    reason: errorMessage(error),
  });
  return json(500, { error: 'internal_error', message: 'unexpected error; retry later' });
}
