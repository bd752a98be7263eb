import { createHmac } from 'node:crypto';

/** A converted person whose contact a verification checks. */
export interface PersonToVerify {
  /** The record's key (its conversion id). */
  key: string;
  /** The Apollo contact the person was converted into. */
  contact_id: string;
}

/** What the verification state machine receives: the people of one converted batch. */
export interface VerificationRequest {
  people: PersonToVerify[];
}

/**
 * People per verification execution at most: one converted batch (bulk_create takes 100). The
 * task checks them in 10 people/bulk_match calls, well within its Lambda's timeout.
 */
export const MAX_PEOPLE_PER_VERIFICATION = 100;

/**
 * Starts the verification of a converted batch (one execution for all its people). Starting it
 * twice for the same people must be harmless.
 */
export interface VerificationScheduler {
  start(request: VerificationRequest): Promise<void>;
}

/**
 * The batch as it is started: each person once (a batch may name a person twice, e.g. two
 * deliveries of one person in one queue batch), 1 to MAX_PEOPLE_PER_VERIFICATION people. One key
 * with two contact ids, or a batch outside the bounds, is a bug of the caller, not a condition to
 * retry: RangeError.
 */
export function checkVerificationRequest(request: VerificationRequest): VerificationRequest {
  const byKey = new Map<string, PersonToVerify>();
  for (const person of request.people) {
    const seen = byKey.get(person.key);
    if (seen !== undefined && seen.contact_id !== person.contact_id) {
      throw new RangeError('a verification names one person with two contact ids');
    }
    byKey.set(person.key, { key: person.key, contact_id: person.contact_id });
  }
  const people = [...byKey.values()];
  if (people.length === 0 || people.length > MAX_PEOPLE_PER_VERIFICATION) {
    throw new RangeError(
      `a verification takes 1 to ${MAX_PEOPLE_PER_VERIFICATION} people, not ${people.length}`,
    );
  }
  return { people };
}

/**
 * The execution name for a batch: Step Functions (Standard) keeps names unique for 90 days, which
 * is what makes a second start for the same batch a no-op. Names allow 80 characters of
 * `[A-Za-z0-9_-]` and are visible to anyone who can list executions, so the keys are hashed with a
 * secret (HMAC-SHA256 keyed with LOG_HASH_SECRET, 64 hex digits after `verify-`: 71 characters).
 * The keys are sorted first, so the same people name the same execution in any order; they are
 * conversion ids (no newline), so joining them by newlines is unambiguous. A batch of one key is
 * named exactly as that key's verification always was.
 */
export function verificationExecutionName(keys: readonly string[], secret: string): string {
  const joined = [...keys].sort().join('\n');
  return `verify-${createHmac('sha256', secret).update(joined).digest('hex')}`;
}

/** What the phone-reveal fallback state machine receives. `request_id` stays a string throughout. */
export interface PhoneRevealPoll {
  key: string;
  request_id: string;
  /** Polls of webhook_result so far. */
  attempt: number;
}

/** Starts the fallback that polls webhook_result when Apollo's phone callback does not come. */
export interface PhoneRevealScheduler {
  start(poll: PhoneRevealPoll): Promise<void>;
}

/** One fallback per enrichment request; keyed like `verificationExecutionName`. */
export function phoneRevealExecutionName(key: string, requestId: string, secret: string): string {
  return `phones-${createHmac('sha256', secret).update(`${key}\n${requestId}`).digest('hex')}`;
}
