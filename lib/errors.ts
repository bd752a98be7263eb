/**
 * Every failure the service distinguishes, one class each. Callers check `error.name` (see
 * `isError`) rather than `instanceof`, so two bundled copies of this module cannot break a check.
 *
 * Each class spells its name as a literal: the state machines' Retry and Catch rules match on it,
 * and a minifier renames classes, so a name read from the class would not survive bundling
 * (`test/bundled-error-names.test.ts` bundles them minified to prove it).
 *
 * The HTTP mapping of each class lives in one place: `lib/http/responses.ts`.
 */

/** Every error name, once. `ErrorName` comes from this list, and each class is checked against it. */
export const ERROR_NAMES = [
  'UnauthorizedError',
  'InvalidRequestError',
  'PayloadTooLargeError',
  'NotFoundError',
  'ConfigurationError',
  'ApolloAuthError',
  'ApolloForbiddenError',
  'ApolloRejectedError',
  'ApolloRateLimitError',
  'ApolloUnavailableError',
  'LockLostError',
  'QuietPeriodError',
  'ContactsNotVisibleYetError',
  'ContactMismatchError',
  'RetryLaterError',
  'VerdictNotRecordedError',
  'EnrichmentInProgressError',
  'NotRetryableError',
] as const;

export type ErrorName = (typeof ERROR_NAMES)[number];

abstract class NamedError extends Error {
  abstract override readonly name: ErrorName;
}

/** The request's signature or API key is missing, wrong or stale. */
export class UnauthorizedError extends NamedError {
  override readonly name = 'UnauthorizedError';
}

/**
 * The request body is not what the API accepts. The message is `field: reason`, the field naming
 * the person's index where there is one (`body.data.people[3].email: not an email address`).
 */
export class InvalidRequestError extends NamedError {
  override readonly name = 'InvalidRequestError';
  /** Where the problem is, e.g. `body.data.people[3].email` (`body` when the message names none). */
  readonly field: string;
  /** What is wrong there, e.g. `not an email address`. */
  readonly reason: string;

  constructor(message: string) {
    super(message);
    const at = message.indexOf(': ');
    this.field = at > 0 ? message.slice(0, at) : 'body';
    this.reason = at > 0 ? message.slice(at + 2) : message;
  }
}

/** The raw body is over the size limit. */
export class PayloadTooLargeError extends NamedError {
  override readonly name = 'PayloadTooLargeError';
}

/** A record that does not exist. */
export class NotFoundError extends NamedError {
  override readonly name = 'NotFoundError';
}

/** The service is misconfigured (missing variable, unreadable secret). Operator action needed. */
export class ConfigurationError extends NamedError {
  override readonly name = 'ConfigurationError';
}

/** Apollo refused the API key (401). Operator action needed: the key is wrong or revoked. */
export class ApolloAuthError extends NamedError {
  override readonly name = 'ApolloAuthError';
}

/**
 * Apollo answered 403 `API_INACCESSIBLE`: the key lacks the endpoint's scope or the plan lacks the
 * endpoint. Operator action needed, not a problem with the person.
 */
export class ApolloForbiddenError extends NamedError {
  override readonly name = 'ApolloForbiddenError';
}

/** Apollo refused the data (422, or 400 for a request it considers malformed). Not retryable. */
export class ApolloRejectedError extends NamedError {
  override readonly name = 'ApolloRejectedError';
}

/** Apollo answered 429. `retryAfterSeconds` comes from its `retry-after` header. */
export class ApolloRateLimitError extends NamedError {
  override readonly name = 'ApolloRateLimitError';

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
  override readonly name = 'ApolloUnavailableError';

  constructor(
    message: string,
    readonly outcomeUnknown: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A ledger claim lapsed and was taken over: this invocation must not write its result. */
export class LockLostError extends NamedError {
  override readonly name = 'LockLostError';
}

/**
 * A create whose outcome was unknown may still reach Apollo: the conversion waits out a quiet
 * period before creating again. Transient, like Apollo being unavailable.
 */
export class QuietPeriodError extends NamedError {
  override readonly name = 'QuietPeriodError';

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/**
 * Some people of a verified batch are not (yet) returned by Apollo as their converted contacts
 * (people/bulk_match; the contacts search for people without email); the message names how many
 * and why. The state machine retries the batch with backoff, and each retry checks only the people
 * still without a verdict.
 */
export class ContactsNotVisibleYetError extends NamedError {
  override readonly name = 'ContactsNotVisibleYetError';
}

/**
 * Apollo returns a contact that differs from what was converted (each such person is recorded
 * `verification_failed` at once), or a verdict could not be written for some people of a batch.
 * Not retried: the failure path records what it can and fails the execution loudly otherwise.
 */
export class ContactMismatchError extends NamedError {
  override readonly name = 'ContactMismatchError';
}

/**
 * A conversion could not finish because Apollo is rate limiting or unavailable (`reason`
 * `apollo_unavailable`), because another request holds a person right now (`in_progress`), or
 * because the conversion queue refused people the ledger had recorded as queued
 * (`queue_unavailable`: the retry sends them again). The caller should retry the whole request
 * after `retryAfterSeconds`; the ledger holds no lock of this request that would block it.
 */
export class RetryLaterError extends NamedError {
  override readonly name = 'RetryLaterError';

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    readonly results: readonly unknown[] = [],
    readonly reason: 'apollo_unavailable' | 'in_progress' | 'queue_unavailable' = 'apollo_unavailable',
  ) {
    super(message);
  }
}

/**
 * The verification's failure path could not record a verdict: the record is neither `created`
 * nor already decided. The state machine retries, then fails the execution loudly.
 */
export class VerdictNotRecordedError extends NamedError {
  override readonly name = 'VerdictNotRecordedError';
}

/**
 * Another request is enriching this person right now (it holds the claim on the person's
 * enrichment, or on its conversion). Nothing was paid by this request; retrying it after
 * `retryAfterSeconds` is answered from the ledger once the other request has finished.
 */
export class EnrichmentInProgressError extends NamedError {
  override readonly name = 'EnrichmentInProgressError';

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/**
 * An operator's retry of a record that is not to be retried (`POST /conversions/{id}/retry`): it
 * is being converted right now, or converted already. `status` is the record's status.
 */
export class NotRetryableError extends NamedError {
  override readonly name = 'NotRetryableError';

  constructor(
    message: string,
    readonly status: string,
  ) {
    super(message);
  }
}

/**
 * Every class by its name. `satisfies` holds it to `ERROR_NAMES`: no name without a class, no
 * class without a name, and each class's `name` is its key.
 */
export const ERROR_CLASSES = {
  UnauthorizedError,
  InvalidRequestError,
  PayloadTooLargeError,
  NotFoundError,
  ConfigurationError,
  ApolloAuthError,
  ApolloForbiddenError,
  ApolloRejectedError,
  ApolloRateLimitError,
  ApolloUnavailableError,
  LockLostError,
  QuietPeriodError,
  ContactsNotVisibleYetError,
  ContactMismatchError,
  RetryLaterError,
  VerdictNotRecordedError,
  EnrichmentInProgressError,
  NotRetryableError,
} satisfies { [N in ErrorName]: new (...args: never[]) => { readonly name: N } };

type ErrorsByName = { [N in ErrorName]: InstanceType<(typeof ERROR_CLASSES)[N]> };

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
