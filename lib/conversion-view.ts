import { MAX_REVEAL_CREDITS } from './apollo/pricing';
import type { ConversionRecord } from './ledger';

/**
 * A ledger record as `GET /conversions/{id}` and `POST /conversions/lookup` shows it: no lock internals, no phone hashes.
 * `credits_consumed` is what Apollo charged for this person so far, `credits_pending` what a
 * pending phone reveal may still add (`lib/apollo/pricing.ts`); `free_lookups` counts later
 * requests answered from the ledger, each one credits not spent again.
 */
export function conversionView(record: ConversionRecord) {
  return {
    id: record.key,
    status: record.status,
    outcome: record.outcome,
    contact_id: record.contactId,
    attempts: record.attempts,
    last_error: record.lastError,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    converted_at: record.convertedAt,
    verification_started_at: record.verificationStartedAt,
    verified_at: record.verifiedAt,
    apollo_person_id: record.apolloPersonId,
    request_id: record.requestId,
    credits_consumed: record.creditsConsumed,
    credits_pending: record.phoneReveal === 'pending' ? MAX_REVEAL_CREDITS : 0,
    free_lookups: record.freeLookups,
    phone_reveal: record.phoneReveal,
    phone_reveal_note: record.phoneRevealNote,
  };
}
