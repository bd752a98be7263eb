import { createHash } from 'node:crypto';

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
 * `[A-Za-z0-9_-]`, and keys are emails, so the key is hashed.
 */
export function verificationExecutionName(key: string): string {
  return `verify-${createHash('sha256').update(key).digest('hex')}`;
}
