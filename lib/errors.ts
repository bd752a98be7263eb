/**
 * Every failure the service distinguishes, one class each. Callers check `error.name` (see
 * `isError`) rather than `instanceof`, so two bundled copies of this module cannot break a check.
 *
 * The HTTP mapping of each class lives in one place: `lib/http/responses.ts`.
 */

abstract class NamedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request's signature or API key is missing, wrong or stale. */
export class UnauthorizedError extends NamedError {}

/** The request body is not what the API accepts. The message names the field (and person index). */
export class InvalidRequestError extends NamedError {}

/** The raw body is over the size limit. */
export class PayloadTooLargeError extends NamedError {}

/** A record that does not exist. */
export class NotFoundError extends NamedError {}

/** The service is misconfigured (missing variable, unreadable secret). Operator action needed. */
export class ConfigurationError extends NamedError {}

/** Apollo refused the API key (401). Operator action needed: the key is wrong or revoked. */
export class ApolloAuthError extends NamedError {}

/**
 * Apollo answered 403 `API_INACCESSIBLE`: the key lacks the endpoint's scope or the plan lacks the
 * endpoint. Operator action needed, not a problem with the person.
 */
export class ApolloForbiddenError extends NamedError {}

/** Apollo refused the data (422, or 400 for a request it considers malformed). Not retryable. */
export class ApolloRejectedError extends NamedError {}

/** Apollo answered 429. `retryAfterSeconds` comes from its `retry-after` header. */
export class ApolloRateLimitError extends NamedError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/**
 * Apollo could not be reached or failed (timeout, connection reset, 5xx). `outcomeUnknown` is true
 * when Apollo may have carried the request out anyway: a create that ends this way may have created
 * the contact, so nothing may create again before checking.
 */
export class ApolloUnavailableError extends NamedError {
  constructor(
    message: string,
    readonly outcomeUnknown: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A ledger claim lapsed and was taken over: this invocation must not write its result. */
export class LockLostError extends NamedError {}

/**
 * A create whose outcome was unknown may still reach Apollo: the conversion waits out a quiet
 * period before creating again. Transient, like Apollo being unavailable.
 */
export class QuietPeriodError extends NamedError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** Apollo does not (yet) return the converted contact through people/match. Retried by the state machine. */
export class ContactNotVisibleError extends NamedError {}

/** Apollo returns a contact that differs from what was converted. Not retried: recorded as failed. */
export class ContactMismatchError extends NamedError {}

/**
 * A conversion could not finish because Apollo is rate limiting or unavailable. The caller should
 * retry the whole request after `retryAfterSeconds`; the ledger holds no lock that would block it.
 */
export class RetryLaterError extends NamedError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    readonly results: readonly unknown[] = [],
  ) {
    super(message);
  }
}

export type ErrorName =
  | 'UnauthorizedError'
  | 'InvalidRequestError'
  | 'PayloadTooLargeError'
  | 'NotFoundError'
  | 'ConfigurationError'
  | 'ApolloAuthError'
  | 'ApolloForbiddenError'
  | 'ApolloRejectedError'
  | 'ApolloRateLimitError'
  | 'ApolloUnavailableError'
  | 'LockLostError'
  | 'QuietPeriodError'
  | 'ContactNotVisibleError'
  | 'ContactMismatchError'
  | 'RetryLaterError';

interface ErrorsByName {
  UnauthorizedError: UnauthorizedError;
  InvalidRequestError: InvalidRequestError;
  PayloadTooLargeError: PayloadTooLargeError;
  NotFoundError: NotFoundError;
  ConfigurationError: ConfigurationError;
  ApolloAuthError: ApolloAuthError;
  ApolloForbiddenError: ApolloForbiddenError;
  ApolloRejectedError: ApolloRejectedError;
  ApolloRateLimitError: ApolloRateLimitError;
  ApolloUnavailableError: ApolloUnavailableError;
  LockLostError: LockLostError;
  QuietPeriodError: QuietPeriodError;
  ContactNotVisibleError: ContactNotVisibleError;
  ContactMismatchError: ContactMismatchError;
  RetryLaterError: RetryLaterError;
}

/** Checks an unknown thrown value by its `name`. */
export function isError<N extends ErrorName>(error: unknown, name: N): error is ErrorsByName[N] {
  return error instanceof Error && error.name === name;
}

/** Failures that a later retry of the same request can get past. */
export function isTransientApolloError(
  error: unknown,
): error is ApolloRateLimitError | ApolloUnavailableError | QuietPeriodError {
  return (
    isError(error, 'ApolloRateLimitError') ||
    isError(error, 'ApolloUnavailableError') ||
    isError(error, 'QuietPeriodError')
  );
}

/** Apollo failures that only an operator can fix (key or scope). */
export function isApolloConfigurationError(error: unknown): error is ApolloAuthError | ApolloForbiddenError {
  return isError(error, 'ApolloAuthError') || isError(error, 'ApolloForbiddenError');
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
