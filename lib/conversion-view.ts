import type { ConversionRecord } from './ledger';

/** A ledger record as `GET /conversions/{key}` shows it: no lock internals, no phone hashes. */
export function conversionView(record: ConversionRecord) {
  return {
    key: record.key,
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
  };
}
