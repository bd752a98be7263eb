import { createHmac } from 'node:crypto';

/** What the verification state machine receives. Deterministic per key, so a restart is harmless. */
export interface VerificationRequest {
  key: string;
  contact_id: string;
}

/** Starts the verification of one converted person. Starting it twice for a key must be harmless. */
export interface VerificationScheduler {
  start(request: VerificationRequest): Promise<void>;
}

/**
 * The execution name for a key: Step Functions (Standard) keeps names unique for 90 days, which is
 * what makes a second start for the same person a no-op. Names allow 80 characters of
 * `[A-Za-z0-9_-]` and are visible to anyone who can list executions, and keys are emails, so the
 * key is hashed with a secret (HMAC-SHA256 keyed with LOG_HASH_SECRET): deterministic per person as
 * long as the secret stays the same.
 */
export function verificationExecutionName(key: string, secret: string): string {
  return `verify-${createHmac('sha256', secret).update(key).digest('hex')}`;
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

/**
 * Starts one verification for a batch of converted people: the shape `VerificationScheduler.start`
 * takes once the batch verification lands (one execution per batch, named from it). Starting it
 * twice for the same batch must be harmless.
 */
export interface BatchVerificationScheduler {
  start(request: { people: Array<{ key: string; contact_id: string }> }): Promise<void>;
}
