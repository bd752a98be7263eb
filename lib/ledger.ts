import type { MatchIdentity } from './person';

/**
 * The ledger: one record per person key, the service's memory of what it converted.
 *
 * Life of a record:
 *
 *   (none) --claim--> creating --complete--> created --verify--> verified
 *                        |  ^                   \----------------> verification_failed
 *                        |  '--release (Apollo unavailable; the lock is dropped at once)
 *                        |--reject (Apollo 422) --> rejected  (claimable again only with changed data)
 *                        '--fail (too many attempts) --> failed  (likewise)
 *
 * A claim holds a lock until `lockExpiresAt` (the Lambda's deadline), so an invocation that dies
 * never blocks the person beyond its own lifetime; every later write names the claim's `token`, so
 * a claimer whose lock expired and was taken over cannot overwrite the new claimer's work.
 */
export type ConversionStatus =
  'creating' | 'created' | 'verified' | 'verification_failed' | 'rejected' | 'failed';

/** `created`: this service created the Apollo contact. `existing`: Apollo had one with the same email. */
export type ConversionOutcome = 'created' | 'existing';

export interface ConversionRecord {
  key: string;
  status: ConversionStatus;
  contactId: string | null;
  outcome: ConversionOutcome | null;
  /** Claims so far, including the current one. */
  attempts: number;
  lastError: string | null;
  /** True when an earlier attempt may have created the contact without recording it. */
  createUncertain: boolean;
  /** Hash of the contact fields last claimed (see `Person.fingerprint`). */
  fingerprint: string;
  /** How people/match finds the person when verifying. */
  match: MatchIdentity;
  /** SHA-256 of each E.164 phone number sent on create; the numbers themselves are not stored. */
  expectedPhoneHashes: string[];
  lockToken: string | null;
  /** Epoch ms. */
  lockExpiresAt: number | null;
  createdAt: string;
  updatedAt: string;
  convertedAt: string | null;
  verificationStartedAt: string | null;
  verifiedAt: string | null;
}

export interface ClaimRequest {
  key: string;
  token: string;
  /** Epoch ms when the lock lapses by itself. */
  lockExpiresAt: number;
  now: number;
  fingerprint: string;
  match: MatchIdentity;
  expectedPhoneHashes: string[];
}

export type ClaimResult =
  /** The caller holds the key. `previous` is the record as it was before the claim (null if new). */
  | { claimed: true; previous: ConversionRecord | null }
  /** Someone else holds it, or it is finished. */
  | { claimed: false; record: ConversionRecord };

export interface Ledger {
  /**
   * Claims `key` if it is new, its lock has lapsed, or it was rejected or failed and the data changed.
   * Never calls Apollo; decides who may.
   */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /** creating → created, by the claim holder only. */
  complete(
    key: string,
    token: string,
    result: { outcome: ConversionOutcome; contactId: string; now: number },
  ): Promise<void>;
  /** creating → rejected, by the claim holder only. The record expires after `expiresAt` (epoch s). */
  reject(
    key: string,
    token: string,
    result: { reason: string; now: number; expiresAt: number },
  ): Promise<void>;
  /** creating → failed: the service stops calling Apollo for this person. Expires like `reject`. */
  fail(key: string, token: string, result: { reason: string; now: number; expiresAt: number }): Promise<void>;
  /** Gives the claim back at once (Apollo unavailable), keeping why and whether a create may have happened. */
  release(
    key: string,
    token: string,
    result: { error: string; createUncertain: boolean; now: number },
  ): Promise<void>;
  markVerificationStarted(key: string, now: number): Promise<void>;
  /** created → verified. */
  markVerified(key: string, now: number): Promise<void>;
  /** created → verification_failed with the reason; false (nothing written) for any other status. */
  markVerificationFailed(key: string, reason: string, now: number): Promise<boolean>;
  get(key: string): Promise<ConversionRecord | null>;
}
