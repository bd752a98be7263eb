import { PERSON_CREDITS } from './apollo/pricing';
import { InvalidRequestError } from './errors';
import type { ConversionListLedger, ListedRecord, ListPosition, RecordStatus } from './ledger';

/** Every status a record can have, in the order of its life: what `?status=` accepts. */
export const RECORD_STATUSES: readonly RecordStatus[] = [
  'queued',
  'creating',
  'created',
  'verified',
  'verification_failed',
  'rejected',
  'failed',
];

/** `GET /conversions`: records per page by default, and at most. */
export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 100;

/**
 * `GET /conversions/summary` reads at most this many records of each status from the index (about
 * 200 bytes each: 10 MB, some 1,300 read units, a few seconds at most). Beyond it the figures of that
 * status are lower bounds (`exact: false`); the dashboard's metrics count every conversion.
 */
export const SUMMARY_MAX_RECORDS_PER_STATUS = 50_000;

/** A record as `GET /conversions` lists it: what the index holds, no person data. */
export function listedRecordView(record: ListedRecord) {
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
    verified_at: record.verifiedAt,
    credits_consumed: record.creditsConsumed,
    free_lookups: record.freeLookups,
  };
}

export interface ListQuery {
  status: RecordStatus;
  limit: number;
  after?: ListPosition;
  newestFirst: boolean;
}

function isRecordStatus(value: string): value is RecordStatus {
  return (RECORD_STATUSES as readonly string[]).includes(value);
}

/**
 * The cursor of the next page: the index position, base64url JSON. Opaque to callers; it names
 * its status, so a cursor is refused with another `status`.
 */
export function encodeCursor(status: RecordStatus, position: ListPosition): string {
  return Buffer.from(JSON.stringify({ s: status, k: position.key, u: position.updatedAt })).toString(
    'base64url',
  );
}

function decodeCursor(cursor: string, status: RecordStatus): ListPosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidRequestError('cursor: not a cursor this API returned');
  }
  const { s, k, u } = (typeof decoded === 'object' && decoded !== null ? decoded : {}) as Record<
    string,
    unknown
  >;
  if (typeof k !== 'string' || typeof u !== 'string' || k === '' || u === '') {
    throw new InvalidRequestError('cursor: not a cursor this API returned');
  }
  if (s !== status) throw new InvalidRequestError('cursor: belongs to another status');
  return { key: k, updatedAt: u };
}

/** The query string of `GET /conversions`: `status` (required), `limit`, `cursor`, `order`. */
export function parseListQuery(query: Record<string, string | undefined>): ListQuery {
  const status = query.status;
  if (status === undefined || !isRecordStatus(status)) {
    throw new InvalidRequestError(`status: must be one of ${RECORD_STATUSES.join(', ')}`);
  }
  let limit = DEFAULT_LIST_LIMIT;
  if (query.limit !== undefined) {
    limit = Number(query.limit);
    if (!/^\d+$/.test(query.limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new InvalidRequestError(`limit: must be a whole number from 1 to ${MAX_LIST_LIMIT}`);
    }
  }
  const order = query.order ?? 'oldest';
  if (order !== 'oldest' && order !== 'newest') {
    throw new InvalidRequestError('order: must be oldest or newest');
  }
  return {
    status,
    limit,
    newestFirst: order === 'newest',
    ...(query.cursor !== undefined && query.cursor !== '' && { after: decodeCursor(query.cursor, status) }),
  };
}

/**
 * What the operator sees of the ledger (`GET /conversions`, `GET /conversions/summary`): records by
 * status and what they add up to, all through the `by-status` index, never a table scan.
 */
export class ConversionOverview {
  constructor(
    private readonly ledger: ConversionListLedger,
    private readonly maxRecordsPerStatus = SUMMARY_MAX_RECORDS_PER_STATUS,
  ) {}

  /** One page of records of one status, and the cursor of the next (null on the last page). */
  async list(query: ListQuery) {
    const { records, next } = await this.ledger.listByStatus(query);
    return {
      conversions: records.map(listedRecordView),
      next_cursor: next === null ? null : encodeCursor(query.status, next),
    };
  }

  /**
   * Records per status (with the oldest change of each: a `queued` or `creating` record that is old
   * is stuck), the credits Apollo charged for them, and the credits the ledger saved: each request
   * answered from the ledger instead of Apollo would have cost at least one person's credit.
   */
  async summary() {
    const tallies = await Promise.all(
      RECORD_STATUSES.map((status) =>
        this.ledger.tallyStatus({ status, maxRecords: this.maxRecordsPerStatus }),
      ),
    );
    const statuses = Object.fromEntries(
      RECORD_STATUSES.map((status, index) => {
        const tally = tallies[index] as (typeof tallies)[number];
        return [status, { count: tally.records, oldest_updated_at: tally.oldestUpdatedAt }];
      }),
    ) as Record<RecordStatus, { count: number; oldest_updated_at: string | null }>;
    const sum = (pick: (tally: (typeof tallies)[number]) => number) =>
      tallies.reduce((total, tally) => total + pick(tally), 0);
    const freeLookups = sum((tally) => tally.freeLookups);
    return {
      statuses,
      total: sum((tally) => tally.records),
      credits_spent: sum((tally) => tally.creditsConsumed),
      credits_saved: freeLookups * PERSON_CREDITS,
      free_lookups: freeLookups,
      exact: tallies.every((tally) => tally.complete),
    };
  }
}
