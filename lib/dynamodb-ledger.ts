import { createHash } from 'node:crypto';
import {
  DeleteItemCommand,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { LockLostError } from './errors';
import type {
  AwaitingVerdict,
  ClaimRequest,
  ClaimResult,
  ConversionIntakeLedger,
  ConversionLedger,
  ConversionListLedger,
  ConversionOutcome,
  ConversionRecord,
  ConversionRetryLedger,
  EnqueueRequest,
  EnqueueResult,
  EnrichmentClaim,
  HeldPhones,
  IdentityEntry,
  KeptEnrichment,
  LedgerReader,
  ListedRecord,
  ListPosition,
  PaidEnrichments,
  PersonAliases,
  PersonIdentities,
  PhoneRevealLedger,
  PhoneRevealStatus,
  QueuedClaim,
  QueuedContact,
  QueuedConversionLedger,
  RecordStatus,
  RememberedDelivery,
  StatusTally,
  StrandedQueueLedger,
  VerificationLedger,
  VerificationSweepLedger,
  WebhookDeliveries,
} from './ledger';
import type { MatchIdentity } from './person';

/**
 * The item as stored: snake_case attributes, `pk` the record key (a conversion id, `c_…`),
 * `expires_at` the TTL (epoch s). Alias items (identities `id_…`, `person:<apollo id>`, ...) share
 * the table: they have no `status`, only `alias_of` (or `ambiguous`), the identity lock, and phones
 * a callback held for them.
 */
interface LedgerItem {
  pk: string;
  status?: RecordStatus;
  alias_of?: string;
  /** An identity several people share: it names no record. */
  ambiguous?: boolean;
  /** The email identity key owning this record (absent: no email, yet). */
  email_owner?: string;
  identity_lock?: string;
  /** Epoch ms. */
  identity_lock_until?: number;
  held_phones?: HeldPhones;
  kept_enrichment?: KeptEnrichment;
  contact_id?: string;
  outcome?: ConversionOutcome;
  attempts?: number;
  last_error?: string;
  create_uncertain?: boolean;
  /** Epoch ms. */
  create_uncertain_since?: number;
  fingerprint?: string;
  match_identity?: MatchIdentity;
  expected_phones?: string[];
  lock_token?: string;
  /** Epoch ms. */
  lock_expires_at?: number;
  created_at?: string;
  updated_at?: string;
  converted_at?: string;
  verification_started_at?: string;
  verified_at?: string;
  /** Epoch s (DynamoDB TTL). */
  expires_at?: number;
  apollo_person_id?: string;
  request_id?: string;
  credits_consumed?: number;
  /** Credits counted for the people/match of `request_id`. */
  request_credits?: number;
  /** Request ids whose people/match credits are in `credits_consumed` (each counted once). */
  counted_requests?: Set<string>;
  /** True once the phone reveal's cost is in `credits_consumed`. */
  reveal_credits_counted?: boolean;
  free_lookups?: number;
  phone_reveal?: PhoneRevealStatus;
  phone_reveal_note?: string;
  applied_phones?: string[];
  /** Epoch ms; only on `created` records without a verdict (the sparse `awaiting-verdict` index). */
  awaiting_verdict_since?: number;
  /** The index's partition: one of `VERDICT_SHARDS`, from the key's hash. */
  awaiting_verdict_shard?: string;
  verification_redrives?: number;
  /** Webhook delivery items (`webhook:<hash of the id>`): see `WebhookDeliveries`. */
  delivery_body_hash?: string;
  delivery_answer?: string;
  /** What the consumer sends to Apollo, on a `queued` person until it is converted. */
  queued_contact?: QueuedContact;
  /** Epoch ms: when a `queued` record's key was last handed to the queue; 0 after a failed send. */
  sent_at?: number;
}

function toRecord(stored: LedgerItem & { status: RecordStatus }): ConversionRecord {
  return {
    key: stored.pk,
    status: stored.status,
    contactId: stored.contact_id ?? null,
    outcome: stored.outcome ?? null,
    attempts: stored.attempts ?? 0,
    lastError: stored.last_error ?? null,
    createUncertain: stored.create_uncertain ?? false,
    createUncertainSinceMs: stored.create_uncertain_since ?? null,
    fingerprint: stored.fingerprint ?? '',
    match: stored.match_identity ?? { email: stored.pk },
    expectedPhoneHashes: stored.expected_phones ?? [],
    lockToken: stored.lock_token ?? null,
    lockExpiresAtMs: stored.lock_expires_at ?? null,
    createdAt: stored.created_at ?? '',
    updatedAt: stored.updated_at ?? '',
    convertedAt: stored.converted_at ?? null,
    verificationStartedAt: stored.verification_started_at ?? null,
    verifiedAt: stored.verified_at ?? null,
    apolloPersonId: stored.apollo_person_id ?? null,
    requestId: stored.request_id ?? null,
    creditsConsumed: stored.credits_consumed ?? 0,
    requestCredits: stored.request_credits ?? 0,
    freeLookups: stored.free_lookups ?? 0,
    phoneReveal: stored.phone_reveal ?? null,
    phoneRevealNote: stored.phone_reveal_note ?? null,
    appliedPhoneHashes: stored.applied_phones ?? [],
    awaitingVerdictSinceMs: stored.awaiting_verdict_since ?? null,
    verificationRedrives: stored.verification_redrives ?? 0,
    ...(stored.sent_at !== undefined && { sentAtMs: stored.sent_at }),
    ...(stored.queued_contact !== undefined && { holdsQueuedContact: true as const }),
  };
}

function readItem(item: Record<string, AttributeValue> | undefined): LedgerItem | null {
  return item ? (unmarshall(item) as LedgerItem) : null;
}

/** A person record, or null for nothing or an alias item. */
function recordOf(item: LedgerItem | null): ConversionRecord | null {
  return item?.status ? toRecord(item as LedgerItem & { status: RecordStatus }) : null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Checked by name: a second copy of the SDK in a bundle would break `instanceof`. */
function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** What `reject` and `fail` record. */
interface UnconvertedResult {
  key: string;
  token: string;
  reason: string;
  nowMs: number;
  /** Epoch s: the record's TTL. */
  expiresAtSeconds: number;
}

/**
 * A webhook delivery's item: the sender's id hashed, so any id (any length, any characters) makes
 * a valid key that no person key (an email, `name:...`) can equal.
 */
function deliveryKey(id: string): string {
  return `webhook:${createHash('sha256').update(id).digest('hex')}`;
}

/** Every write names `status` (a reserved word in DynamoDB expressions) through this alias. */
const STATUS = { '#status': 'status' };

/**
 * The claim's condition. Claimable: a new key (or a placeholder `ownRecord` made); a `queued`
 * record (the synchronous path converts it at once; the consumer then finds it done); a
 * `creating` record whose lock lapsed (its invocation died or gave it back); a rejected or failed
 * record whose data changed since. Exported for the bench's warm-path floor, which makes the same write.
 */
export const CLAIM_CONDITION =
  'attribute_not_exists(#status) OR #status = :queued OR (#status = :creating AND lock_expires_at < :now) OR ' +
  '(#status IN (:rejected, :failed) AND fingerprint <> :fingerprint)';

/** The claim's write: takes the lock, counts the attempt, records what is being converted. */
export const CLAIM_UPDATE =
  'SET #status = :creating, lock_token = :token, lock_expires_at = :lock_expires_at, ' +
  'attempts = if_not_exists(attempts, :zero) + :one, created_at = if_not_exists(created_at, :now_iso), ' +
  'updated_at = :now_iso, fingerprint = :fingerprint, match_identity = :match, expected_phones = :phones ' +
  'REMOVE expires_at, sent_at';

/**
 * The consumer's claim, by key alone (the record holds the person): a `queued` record, a claim on
 * a queued person whose lock lapsed (its consumer died), or one `failQueued` gave up on (a redrive
 * of the dead-letter queue). Never a new key, a finished or a rejected one, nor one the
 * synchronous path failed. Exported for the bench's floors, like `CLAIM_CONDITION`.
 */
export const QUEUED_CLAIM_CONDITION =
  '(#status IN (:queued, :failed) OR (#status = :creating AND lock_expires_at < :now)) AND ' +
  'attribute_exists(queued_contact)';

/** The consumer's claim write: the lock, the attempt; the person stays as queued. */
export const QUEUED_CLAIM_UPDATE =
  'SET #status = :creating, lock_token = :token, lock_expires_at = :lock_expires_at, ' +
  'attempts = if_not_exists(attempts, :zero) + :one, updated_at = :now_iso REMOVE sent_at';

/**
 * A person written `queued` (`enqueue`): new (or a placeholder `ownRecord` made), or a rejected or
 * failed record whose data changed, whose attempts then count afresh.
 */
const ENQUEUE_CONDITION =
  'attribute_not_exists(#status) OR (#status IN (:rejected, :failed) AND fingerprint <> :fingerprint)';

/** What `enqueue` writes: the person to convert, and when its key goes to the queue. */
const ENQUEUE_SET =
  'SET #status = :queued, queued_contact = :contact, sent_at = :now, fingerprint = :fingerprint, ' +
  'match_identity = :match, expected_phones = :phones, created_at = if_not_exists(created_at, :now_iso), ' +
  'updated_at = :now_iso';

/** The index of records by status (serverless.yml, local/dynamodb.ts): the stranded-send sweep's. */
export const BY_STATUS_INDEX = 'by-status';

/**
 * The fingerprint an operator's retry writes on a rejected or failed record that no longer holds
 * its person (`reopenForResend`): no person's fingerprint equals it, so the next delivery of the
 * person, even unchanged, queues it again. (An absent fingerprint would not do: DynamoDB's `<>`
 * is false for a missing attribute.)
 */
const REOPENED_FOR_RESEND = 'reopened-for-retry';

/** What the `by-status` index holds of a record (serverless.yml's INCLUDE projection). */
function toListedRecord(stored: LedgerItem & { status: RecordStatus }): ListedRecord {
  return {
    key: stored.pk,
    status: stored.status,
    contactId: stored.contact_id ?? null,
    outcome: stored.outcome ?? null,
    lastError: stored.last_error ?? null,
    attempts: stored.attempts ?? 0,
    createdAt: stored.created_at ?? '',
    updatedAt: stored.updated_at ?? '',
    convertedAt: stored.converted_at ?? null,
    verifiedAt: stored.verified_at ?? null,
    creditsConsumed: stored.credits_consumed ?? 0,
    freeLookups: stored.free_lookups ?? 0,
  };
}

/** The sparse index of records waiting for a verdict (serverless.yml, local/dynamodb.ts). */
export const AWAITING_VERDICT_INDEX = 'awaiting-verdict';
/**
 * Partitions of that index. A handful spreads the writes of a busy hour over several index
 * partitions; the sweep queries each one.
 */
export const VERDICT_SHARDS = 4;

/** The index partition of a key: stable, so a record's re-drives stay in one shard. */
export function verdictShard(key: string): string {
  return String((createHash('sha256').update(key).digest()[0] as number) % VERDICT_SHARDS);
}

/** Removes a record from the index of records waiting for a verdict. */
const LEAVE_AWAITING_VERDICT = 'REMOVE awaiting_verdict_since, awaiting_verdict_shard';

/** The ledger on a DynamoDB table with a string partition key `pk`: every ledger port. */
export class DynamoDbLedger
  implements
    LedgerReader,
    ConversionLedger,
    ConversionIntakeLedger,
    QueuedConversionLedger,
    StrandedQueueLedger,
    ConversionListLedger,
    ConversionRetryLedger,
    VerificationLedger,
    PersonAliases,
    PersonIdentities,
    PaidEnrichments,
    PhoneRevealLedger,
    VerificationSweepLedger,
    WebhookDeliveries
{
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: request.key }),
          ConditionExpression: CLAIM_CONDITION,
          UpdateExpression: CLAIM_UPDATE,
          ExpressionAttributeNames: STATUS,
          ExpressionAttributeValues: marshall({
            ':queued': 'queued',
            ':creating': 'creating',
            ':rejected': 'rejected',
            ':failed': 'failed',
            ':now': request.nowMs,
            ':now_iso': iso(request.nowMs),
            ':token': request.token,
            ':lock_expires_at': request.lockExpiresAtMs,
            ':zero': 0,
            ':one': 1,
            ':fingerprint': request.fingerprint,
            ':match': request.match,
            ':phones': request.expectedPhoneHashes,
          }),
          ReturnValues: 'ALL_OLD',
          // Lost the race or already finished: DynamoDB returns the item with the failure, which
          // saves the read below on every duplicate delivery.
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true, previous: recordOf(readItem(Attributes)) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const returned = recordOf(readItem((error as { Item?: Record<string, AttributeValue> }).Item));
      if (returned !== null) return { claimed: false, record: returned };
    }
    // No item came back with the failure (dynalite ignores the option): a consistent read.
    const record = await this.get({ key: request.key });
    if (record === null) return this.claim(request); // deleted by TTL in between: claim afresh
    return { claimed: false, record };
  }

  async complete(result: {
    key: string;
    token: string;
    outcome: ConversionOutcome;
    contactId: string;
    nowMs: number;
  }): Promise<void> {
    await this.updateAsHolder(result.key, result.token, {
      // Enters the index of records waiting for a verdict, which the verification leaves.
      UpdateExpression:
        'SET #status = :created, contact_id = :contact_id, outcome = :outcome, converted_at = :now_iso, ' +
        'updated_at = :now_iso, awaiting_verdict_since = :now, awaiting_verdict_shard = :shard ' +
        'REMOVE lock_token, lock_expires_at, create_uncertain, create_uncertain_since, queued_contact',
      ExpressionAttributeValues: {
        ':created': 'created',
        ':contact_id': result.contactId,
        ':outcome': result.outcome,
        ':now_iso': iso(result.nowMs),
        ':now': result.nowMs,
        ':shard': verdictShard(result.key),
      },
    });
  }

  async reject(result: UnconvertedResult): Promise<void> {
    await this.finishUnconverted('rejected', result);
  }

  async fail(result: UnconvertedResult): Promise<void> {
    await this.finishUnconverted('failed', result);
  }

  /** creating → rejected or failed: kept until `expiresAtSeconds` (the TTL), then forgotten. */
  private async finishUnconverted(status: 'rejected' | 'failed', result: UnconvertedResult) {
    await this.updateAsHolder(result.key, result.token, {
      UpdateExpression:
        'SET #status = :final_status, last_error = :reason, updated_at = :now_iso, expires_at = :expires_at ' +
        'REMOVE lock_token, lock_expires_at, queued_contact',
      ExpressionAttributeValues: {
        ':final_status': status,
        ':reason': result.reason,
        ':now_iso': iso(result.nowMs),
        ':expires_at': result.expiresAtSeconds,
      },
    });
  }

  async release(result: {
    key: string;
    token: string;
    error: string;
    createUncertain: boolean;
    nowMs: number;
    refundAttempt?: boolean;
  }): Promise<void> {
    let update = 'SET last_error = :error, updated_at = :now_iso, lock_expires_at = :zero';
    const values: Record<string, unknown> = {
      ':error': result.error,
      ':now_iso': iso(result.nowMs),
      ':zero': 0,
    };
    if (result.createUncertain) {
      // Uncertainty is sticky, and dated from its first occurrence: only finding the contact clears it.
      update +=
        ', create_uncertain = :true, create_uncertain_since = if_not_exists(create_uncertain_since, :now)';
      values[':true'] = true;
      values[':now'] = result.nowMs;
    }
    if (result.refundAttempt) {
      update += ' ADD attempts :minus_one';
      values[':minus_one'] = -1;
    }
    await this.updateAsHolder(result.key, result.token, {
      UpdateExpression: `${update} REMOVE lock_token`,
      ExpressionAttributeValues: values,
    });
  }

  async restartAttempts({ key, token }: { key: string; token: string }): Promise<void> {
    await this.updateAsHolder(key, token, {
      UpdateExpression: 'SET attempts = :one',
      ExpressionAttributeValues: { ':one': 1 },
    });
  }

  async enqueue(request: EnqueueRequest): Promise<EnqueueResult> {
    // A record that changes between a refused write and its read is looked at again, a few times at most.
    for (let round = 0; round < 3; round++) {
      const fresh = await this.writeQueued(request, ENQUEUE_CONDITION, { restartAttempts: true });
      if (fresh.written) return { enqueued: true, previous: fresh.previous };
      const record = fresh.record ?? (await this.get({ key: request.key }));
      if (record === null) continue; // expired (TTL) in between: write it afresh
      const lapsed =
        record.status === 'creating' &&
        record.lockExpiresAtMs !== null &&
        record.lockExpiresAtMs < request.nowMs;
      if (!lapsed) return { enqueued: false, record };
      // A claim whose lock lapsed: its holder gave it back, or died mid-way (then a create may have
      // happened). Taken back only as it was read (`updated_at`), so the doubt written is the right one.
      const takenBack = await this.writeQueued(
        request,
        '#status = :creating AND lock_expires_at < :now AND updated_at = :seen_updated_at',
        { createUncertain: record.lockToken !== null, seenUpdatedAt: record.updatedAt },
      );
      if (takenBack.written) return { enqueued: true, previous: takenBack.previous };
    }
    const record = await this.get({ key: request.key });
    if (record === null) throw new Error('a ledger record kept changing while it was queued');
    return { enqueued: false, record };
  }

  /** One conditional write of `enqueue`. Refused: the item returned with the failure, if any. */
  private async writeQueued(
    request: EnqueueRequest,
    condition: string,
    options: { restartAttempts?: boolean; createUncertain?: boolean; seenUpdatedAt?: string },
  ): Promise<
    { written: true; previous: ConversionRecord | null } | { written: false; record: ConversionRecord | null }
  > {
    let update = ENQUEUE_SET;
    const values: Record<string, unknown> = {
      ':queued': 'queued',
      ':rejected': 'rejected',
      ':failed': 'failed',
      ':creating': 'creating',
      ':contact': request.contact,
      ':now': request.nowMs,
      ':now_iso': iso(request.nowMs),
      ':fingerprint': request.fingerprint,
      ':match': request.match,
      ':phones': request.expectedPhoneHashes,
    };
    if (options.restartAttempts) {
      update += ', attempts = :zero';
      values[':zero'] = 0;
    }
    if (options.createUncertain) {
      // Undated, as `claim` treats a lapsed claim: the dead holder's calls ended by its deadline,
      // so no quiet period is owed (a release after an unknown outcome dates it).
      update += ', create_uncertain = :true';
      values[':true'] = true;
    }
    if (options.seenUpdatedAt !== undefined) values[':seen_updated_at'] = options.seenUpdatedAt;
    // Only the names and values the chosen condition and update use: DynamoDB refuses unused ones.
    const expression = `${condition} ${update}`;
    const used = Object.fromEntries(Object.entries(values).filter(([name]) => expression.includes(name)));
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: request.key }),
          ConditionExpression: condition,
          UpdateExpression: `${update} REMOVE lock_token, lock_expires_at, expires_at`,
          ExpressionAttributeNames: STATUS,
          ExpressionAttributeValues: marshall(used, { removeUndefinedValues: true }),
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { written: true, previous: recordOf(readItem(Attributes)) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // dynalite returns no item with the failure: the caller reads it.
      return {
        written: false,
        record: recordOf(readItem((error as { Item?: Record<string, AttributeValue> }).Item)),
      };
    }
  }

  async markUnsent({ key }: { key: string }): Promise<void> {
    await this.updateIf(key, '#status = :queued', {
      UpdateExpression: 'SET sent_at = :zero',
      ExpressionAttributeValues: { ':queued': 'queued', ':zero': 0 },
    });
  }

  async markSent({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    await this.updateIf(key, '#status = :queued', {
      UpdateExpression: 'SET sent_at = :now, updated_at = :now_iso',
      ExpressionAttributeValues: { ':queued': 'queued', ':now': nowMs, ':now_iso': iso(nowMs) },
    });
  }

  async claimQueued(request: {
    key: string;
    token: string;
    lockExpiresAtMs: number;
    nowMs: number;
  }): Promise<QueuedClaim> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: request.key }),
          ConditionExpression: QUEUED_CLAIM_CONDITION,
          UpdateExpression: QUEUED_CLAIM_UPDATE,
          ExpressionAttributeNames: STATUS,
          ExpressionAttributeValues: marshall({
            ':queued': 'queued',
            ':failed': 'failed',
            ':creating': 'creating',
            ':now': request.nowMs,
            ':now_iso': iso(request.nowMs),
            ':token': request.token,
            ':lock_expires_at': request.lockExpiresAtMs,
            ':zero': 0,
            ':one': 1,
          }),
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const previous = readItem(Attributes) as LedgerItem & {
        status: RecordStatus;
        queued_contact: QueuedContact;
      };
      return { claimed: true, previous: toRecord(previous), contact: previous.queued_contact };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const returned = recordOf(readItem((error as { Item?: Record<string, AttributeValue> }).Item));
      if (returned !== null) return { claimed: false, record: returned };
    }
    // No item came back with the failure (dynalite ignores the option): a consistent read.
    return { claimed: false, record: await this.get({ key: request.key }) };
  }

  async requeue(result: {
    key: string;
    token: string;
    error: string;
    createUncertain: boolean;
    nowMs: number;
    refundAttempt?: boolean;
    quietPeriod?: boolean;
  }): Promise<void> {
    // The message is still in the queue and brings the person back: counted as just sent.
    let update = 'SET #status = :queued, last_error = :error, updated_at = :now_iso, sent_at = :now';
    const values: Record<string, unknown> = {
      ':queued': 'queued',
      ':error': result.error,
      ':now_iso': iso(result.nowMs),
      ':now': result.nowMs,
    };
    if (result.createUncertain) {
      // Sticky, and dated from its first occurrence, as `release` keeps it (undated when no
      // create may still be running: `quietPeriod: false`).
      update += ', create_uncertain = :true';
      if (result.quietPeriod !== false) {
        update += ', create_uncertain_since = if_not_exists(create_uncertain_since, :now)';
      }
      values[':true'] = true;
    }
    if (result.refundAttempt) {
      update += ' ADD attempts :minus_one';
      values[':minus_one'] = -1;
    }
    await this.updateAsHolder(result.key, result.token, {
      UpdateExpression: `${update} REMOVE lock_token, lock_expires_at`,
      ExpressionAttributeValues: values,
    });
  }

  async failQueued(result: {
    key: string;
    token: string;
    reason: string;
    createUncertain: boolean;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<void> {
    let update =
      'SET #status = :failed, last_error = :reason, updated_at = :now_iso, expires_at = :expires_at';
    const values: Record<string, unknown> = {
      ':failed': 'failed',
      ':reason': result.reason,
      ':now_iso': iso(result.nowMs),
      ':expires_at': result.expiresAtSeconds,
    };
    if (result.createUncertain) {
      update +=
        ', create_uncertain = :true, create_uncertain_since = if_not_exists(create_uncertain_since, :now)';
      values[':true'] = true;
      values[':now'] = result.nowMs;
    }
    // The queued person stays: a redrive of the dead-letter queue can still convert it.
    await this.updateAsHolder(result.key, result.token, {
      UpdateExpression: `${update} REMOVE lock_token, lock_expires_at`,
      ExpressionAttributeValues: values,
    });
  }

  async queuedBefore({ olderThanMs, limit }: { olderThanMs: number; limit: number }): Promise<string[]> {
    const keys: string[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: BY_STATUS_INDEX,
          KeyConditionExpression: '#status = :queued AND updated_at < :before',
          ExpressionAttributeNames: STATUS,
          ExpressionAttributeValues: marshall({ ':queued': 'queued', ':before': iso(olderThanMs) }),
          Limit: limit - keys.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) keys.push((unmarshall(item) as LedgerItem).pk);
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && keys.length < limit);
    return keys;
  }

  async listByStatus(query: {
    status: RecordStatus;
    limit: number;
    after?: ListPosition;
    newestFirst?: boolean;
  }): Promise<{ records: ListedRecord[]; next: ListPosition | null }> {
    const records: ListedRecord[] = [];
    let startKey: Record<string, AttributeValue> | undefined =
      query.after === undefined
        ? undefined
        : marshall({ pk: query.after.key, status: query.status, updated_at: query.after.updatedAt });
    // A page may come back short (DynamoDB stops at 1 MB): read on until `limit` or the end.
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: BY_STATUS_INDEX,
          KeyConditionExpression: '#status = :status',
          ExpressionAttributeNames: STATUS,
          ExpressionAttributeValues: marshall({ ':status': query.status }),
          ScanIndexForward: query.newestFirst !== true,
          Limit: query.limit - records.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        records.push(toListedRecord(unmarshall(item) as LedgerItem & { status: RecordStatus }));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && records.length < query.limit);
    const last = records.at(-1);
    return {
      records,
      next:
        startKey === undefined || last === undefined ? null : { key: last.key, updatedAt: last.updatedAt },
    };
  }

  async tallyStatus({
    status,
    maxRecords,
  }: {
    status: RecordStatus;
    maxRecords: number;
  }): Promise<StatusTally> {
    const tally: StatusTally = {
      records: 0,
      creditsConsumed: 0,
      freeLookups: 0,
      complete: true,
      oldestUpdatedAt: null,
    };
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: BY_STATUS_INDEX,
          KeyConditionExpression: '#status = :status',
          // Only what is added up: the read costs the same, the reply is a fraction.
          ProjectionExpression: 'updated_at, credits_consumed, free_lookups',
          ExpressionAttributeNames: STATUS,
          ExpressionAttributeValues: marshall({ ':status': status }),
          Limit: maxRecords - tally.records,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const stored = unmarshall(item) as LedgerItem;
        tally.oldestUpdatedAt ??= stored.updated_at ?? null;
        tally.records++;
        tally.creditsConsumed += stored.credits_consumed ?? 0;
        tally.freeLookups += stored.free_lookups ?? 0;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && tally.records < maxRecords);
    tally.complete = startKey === undefined;
    return tally;
  }

  async requeueFailed({ key, nowMs }: { key: string; nowMs: number }): Promise<boolean> {
    // As a changed re-delivery re-opens a record: attempts afresh, kept until converted (no TTL).
    return this.updateIf(key, '#status = :failed AND attribute_exists(queued_contact)', {
      UpdateExpression:
        'SET #status = :queued, attempts = :zero, sent_at = :now, updated_at = :now_iso ' +
        'REMOVE expires_at, lock_token, lock_expires_at',
      ExpressionAttributeValues: {
        ':failed': 'failed',
        ':queued': 'queued',
        ':zero': 0,
        ':now': nowMs,
        ':now_iso': iso(nowMs),
      },
    });
  }

  async reopenForResend({ key, nowMs }: { key: string; nowMs: number }): Promise<boolean> {
    return this.updateIf(key, '#status IN (:rejected, :failed) AND attribute_not_exists(queued_contact)', {
      UpdateExpression: 'SET fingerprint = :reopened, updated_at = :now_iso',
      ExpressionAttributeValues: {
        ':rejected': 'rejected',
        ':failed': 'failed',
        ':reopened': REOPENED_FOR_RESEND,
        ':now_iso': iso(nowMs),
      },
    });
  }

  async reopenVerification({ key, nowMs }: { key: string; nowMs: number }): Promise<number | null> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: key }),
          // The contact exists: only its verification runs again, never a create.
          ConditionExpression: '#status = :verification_failed AND attribute_exists(contact_id)',
          UpdateExpression:
            'SET #status = :created, awaiting_verdict_since = :now, awaiting_verdict_shard = :shard, ' +
            'updated_at = :now_iso, verification_started_at = :now_iso ADD verification_redrives :one',
          ExpressionAttributeNames: STATUS,
          ExpressionAttributeValues: marshall({
            ':verification_failed': 'verification_failed',
            ':created': 'created',
            ':now': nowMs,
            ':now_iso': iso(nowMs),
            ':shard': verdictShard(key),
            ':one': 1,
          }),
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return readItem(Attributes)?.verification_redrives ?? null;
    } catch (error) {
      if (isConditionFailure(error)) return null;
      throw error;
    }
  }

  async markVerificationStarted({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    await this.updateIf(key, 'attribute_exists(pk)', {
      UpdateExpression: 'SET verification_started_at = :now_iso, updated_at = :now_iso',
      ExpressionAttributeValues: { ':now_iso': iso(nowMs) },
    });
  }

  async markVerified({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    await this.updateIf(key, '#status IN (:created, :verified, :failed)', {
      UpdateExpression: `SET #status = :verified, verified_at = :now_iso, updated_at = :now_iso ${LEAVE_AWAITING_VERDICT}, last_error`,
      ExpressionAttributeValues: {
        ':created': 'created',
        ':verified': 'verified',
        ':failed': 'verification_failed',
        ':now_iso': iso(nowMs),
      },
    });
  }

  async markVerificationFailed(update: { key: string; reason: string; nowMs: number }): Promise<boolean> {
    return this.updateIf(update.key, '#status IN (:created, :failed)', {
      UpdateExpression: `SET #status = :failed, last_error = :reason, updated_at = :now_iso ${LEAVE_AWAITING_VERDICT}`,
      ExpressionAttributeValues: {
        ':created': 'created',
        ':failed': 'verification_failed',
        ':reason': update.reason,
        ':now_iso': iso(update.nowMs),
      },
    });
  }

  async awaitingVerdict({
    olderThanMs,
    limit,
  }: {
    olderThanMs: number;
    limit: number;
  }): Promise<AwaitingVerdict[]> {
    const found: AwaitingVerdict[] = [];
    for (let shard = 0; shard < VERDICT_SHARDS && found.length < limit; shard++) {
      let startKey: Record<string, AttributeValue> | undefined;
      do {
        const page = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: AWAITING_VERDICT_INDEX,
            KeyConditionExpression: 'awaiting_verdict_shard = :shard AND awaiting_verdict_since < :before',
            ExpressionAttributeValues: marshall({ ':shard': String(shard), ':before': olderThanMs }),
            Limit: limit - found.length,
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of page.Items ?? []) {
          const stored = unmarshall(item) as LedgerItem;
          // The index is eventually consistent: `markRedriven` re-checks the record itself.
          if (stored.status !== 'created' || stored.contact_id === undefined) continue;
          found.push({
            key: stored.pk,
            contactId: stored.contact_id,
            awaitingSinceMs: stored.awaiting_verdict_since ?? 0,
            redrives: stored.verification_redrives ?? 0,
          });
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined && found.length < limit);
    }
    return found;
  }

  async markRedriven(update: {
    key: string;
    awaitingSinceMs: number | null;
    nowMs: number;
  }): Promise<number | null> {
    const since =
      update.awaitingSinceMs === null
        ? 'attribute_not_exists(awaiting_verdict_since)'
        : 'awaiting_verdict_since = :since';
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: update.key }),
          ConditionExpression: `#status = :created AND ${since}`,
          UpdateExpression:
            'SET awaiting_verdict_since = :now, awaiting_verdict_shard = :shard, updated_at = :now_iso, ' +
            'verification_started_at = :now_iso ADD verification_redrives :one',
          ExpressionAttributeNames: STATUS,
          ExpressionAttributeValues: marshall({
            ':created': 'created',
            ':now': update.nowMs,
            ':now_iso': iso(update.nowMs),
            ':shard': verdictShard(update.key),
            ':one': 1,
            ...(update.awaitingSinceMs === null ? {} : { ':since': update.awaitingSinceMs }),
          }),
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return readItem(Attributes)?.verification_redrives ?? null;
    } catch (error) {
      if (isConditionFailure(error)) return null;
      throw error;
    }
  }

  async get({ key }: { key: string }): Promise<ConversionRecord | null> {
    return recordOf(await this.getItem(key));
  }

  async find({ keyOrAlias }: { keyOrAlias: string }): Promise<ConversionRecord | null> {
    const item = await this.getItem(keyOrAlias);
    if (item?.alias_of !== undefined) return this.get({ key: item.alias_of });
    return recordOf(item);
  }

  async link(link: { alias: string; key: string; nowMs: number }): Promise<HeldPhones | null> {
    const { Attributes } = await this.client
      .send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: link.alias }),
          // An alias names one person for good; a record (with a status) is never turned into one,
          // and an identity several people share names nobody.
          ConditionExpression:
            'attribute_not_exists(#status) AND attribute_not_exists(ambiguous) AND ' +
            '(attribute_not_exists(alias_of) OR alias_of = :key)',
          UpdateExpression: 'SET alias_of = :key, updated_at = :now_iso REMOVE expires_at',
          ExpressionAttributeNames: STATUS,
          ExpressionAttributeValues: marshall({ ':key': link.key, ':now_iso': iso(link.nowMs) }),
          ReturnValues: 'ALL_NEW',
        }),
      )
      .catch((error: unknown) => {
        if (isConditionFailure(error)) return { Attributes: undefined };
        throw error;
      });
    return readItem(Attributes)?.held_phones ?? null;
  }

  async readIdentity({ identity }: { identity: string }): Promise<IdentityEntry | null> {
    const item = await this.getItem(identity);
    return item === null ? null : { aliasOf: item.alias_of ?? null, ambiguous: item.ambiguous ?? false };
  }

  async linkIdentity(link: { identity: string; key: string; nowMs: number }): Promise<IdentityEntry> {
    const linked = await this.updateIf(
      link.identity,
      'attribute_not_exists(#status) AND attribute_not_exists(ambiguous) AND ' +
        '(attribute_not_exists(alias_of) OR alias_of = :key)',
      {
        UpdateExpression: 'SET alias_of = :key, updated_at = :now_iso REMOVE expires_at',
        ExpressionAttributeValues: { ':key': link.key, ':now_iso': iso(link.nowMs) },
      },
    );
    if (linked) return { aliasOf: link.key, ambiguous: false };
    return (await this.readIdentity({ identity: link.identity })) ?? { aliasOf: null, ambiguous: false };
  }

  async markIdentityAmbiguous({ identity, nowMs }: { identity: string; nowMs: number }): Promise<void> {
    await this.updateIf(identity, 'attribute_not_exists(#status)', {
      UpdateExpression: 'SET ambiguous = :true, updated_at = :now_iso REMOVE alias_of, expires_at',
      ExpressionAttributeValues: { ':true': true, ':now_iso': iso(nowMs) },
    });
  }

  async lockIdentity(lock: {
    identity: string;
    token: string;
    untilMs: number;
    nowMs: number;
  }): Promise<boolean> {
    return this.updateIf(
      lock.identity,
      'attribute_not_exists(#status) AND ' +
        '(attribute_not_exists(identity_lock_until) OR identity_lock_until < :now OR identity_lock = :token)',
      {
        UpdateExpression: 'SET identity_lock = :token, identity_lock_until = :until',
        ExpressionAttributeValues: { ':token': lock.token, ':until': lock.untilMs, ':now': lock.nowMs },
      },
    );
  }

  async unlockIdentity({ identity, token }: { identity: string; token: string }): Promise<void> {
    await this.updateIf(identity, 'identity_lock = :token', {
      UpdateExpression: 'REMOVE identity_lock, identity_lock_until',
      ExpressionAttributeValues: { ':token': token },
    });
  }

  async recordOwner({ key }: { key: string }): Promise<string | null> {
    return (await this.getItem(key))?.email_owner ?? null;
  }

  async ownRecord(own: {
    key: string;
    owner: string;
    nowMs: number;
    placeholderExpiresAtSeconds?: number;
  }): Promise<boolean> {
    if (own.placeholderExpiresAtSeconds !== undefined) {
      return this.updateIf(own.key, 'attribute_not_exists(pk)', {
        UpdateExpression: 'SET email_owner = :owner, updated_at = :now_iso, expires_at = :expires_at',
        ExpressionAttributeValues: {
          ':owner': own.owner,
          ':now_iso': iso(own.nowMs),
          ':expires_at': own.placeholderExpiresAtSeconds,
        },
      });
    }
    return this.updateIf(own.key, 'attribute_not_exists(email_owner) OR email_owner = :owner', {
      UpdateExpression: 'SET email_owner = :owner',
      ExpressionAttributeValues: { ':owner': own.owner },
    });
  }

  async holdRevealedPhones(hold: {
    alias: string;
    held: HeldPhones;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<string | null> {
    const write = (linked: boolean) =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: hold.alias }),
          // Phones held for nobody expire unless applied (`releaseHeldPhones` and `link` remove the
          // TTL). A linked alias never expires: TTL deletes the whole item, and the link with it.
          ConditionExpression: linked
            ? 'attribute_not_exists(#status) AND attribute_exists(alias_of)'
            : 'attribute_not_exists(#status) AND attribute_not_exists(alias_of)',
          UpdateExpression: linked
            ? 'SET held_phones = :held, updated_at = :now_iso REMOVE expires_at'
            : 'SET held_phones = :held, updated_at = :now_iso, expires_at = :expires_at',
          ExpressionAttributeNames: STATUS,
          ExpressionAttributeValues: marshall({
            ':held': hold.held,
            ':now_iso': iso(hold.nowMs),
            ...(linked ? {} : { ':expires_at': hold.expiresAtSeconds }),
          }),
          ReturnValues: 'ALL_NEW',
        }),
      );
    let reply;
    try {
      reply = await write(false);
    } catch (error) {
      // Linked already (an alias is never unlinked), or a record: then this write fails as well.
      if (!isConditionFailure(error)) throw error;
      reply = await write(true);
    }
    return readItem(reply.Attributes)?.alias_of ?? null;
  }

  async releaseHeldPhones({ alias, nowMs }: { alias: string; nowMs: number }): Promise<void> {
    await this.updateIf(alias, 'attribute_exists(pk)', {
      UpdateExpression: 'SET updated_at = :now_iso REMOVE held_phones, expires_at',
      ExpressionAttributeValues: { ':now_iso': iso(nowMs) },
    });
  }

  /*
   * A lookup's enrichment item (`enrichment:<lookup>`) holds the claim on paying for it
   * (`lock_token`, `lock_expires_at`) until the paid-for enrichment is kept there
   * (`kept_enrichment`), which ends the claim and refuses every later one.
   */

  async claimEnrichment(claim: {
    lookup: string;
    token: string;
    lockExpiresAtMs: number;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<EnrichmentClaim> {
    const pk = `enrichment:${claim.lookup}`;
    // A claim given back between the refused write and the read is claimed again, a few times at most.
    for (let attempt = 0; attempt < 3; attempt++) {
      let returned: LedgerItem | null;
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: marshall({ pk }),
            ConditionExpression:
              'attribute_not_exists(kept_enrichment) AND ' +
              '(attribute_not_exists(lock_expires_at) OR lock_expires_at < :now)',
            UpdateExpression:
              'SET lock_token = :token, lock_expires_at = :lock_expires_at, updated_at = :now_iso, ' +
              'expires_at = :expires_at',
            ExpressionAttributeValues: marshall({
              ':now': claim.nowMs,
              ':token': claim.token,
              ':lock_expires_at': claim.lockExpiresAtMs,
              ':now_iso': iso(claim.nowMs),
              ':expires_at': claim.expiresAtSeconds,
            }),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { claimed: true };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        returned = readItem((error as { Item?: Record<string, AttributeValue> }).Item);
      }
      // dynalite returns no item with the failure: a consistent read.
      const item = returned ?? (await this.getItem(pk));
      const live = item?.lock_expires_at !== undefined && item.lock_expires_at >= claim.nowMs;
      if (item?.kept_enrichment !== undefined || live) {
        return {
          claimed: false,
          // A payment still held by its payer is not taken over: the caller is told to retry.
          kept: live ? null : (item?.kept_enrichment ?? null),
          lockExpiresAtMs: item?.lock_expires_at ?? null,
        };
      }
    }
    // Still contended after three rounds: as good as held by someone else.
    return { claimed: false, kept: null, lockExpiresAtMs: null };
  }

  async releaseEnrichment({ lookup, token }: { lookup: string; token: string }): Promise<void> {
    await this.client
      .send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: `enrichment:${lookup}` }),
          ConditionExpression: 'lock_token = :token AND attribute_not_exists(kept_enrichment)',
          ExpressionAttributeValues: marshall({ ':token': token }),
        }),
      )
      .catch(async (error: unknown) => {
        if (!isConditionFailure(error)) throw error;
        // A kept payment stays; only the payer's lock goes. Lost or lapsed: nobody is disturbed.
        await this.client
          .send(
            new UpdateItemCommand({
              TableName: this.tableName,
              Key: marshall({ pk: `enrichment:${lookup}` }),
              ConditionExpression: 'lock_token = :token',
              UpdateExpression: 'REMOVE lock_token, lock_expires_at',
              ExpressionAttributeValues: marshall({ ':token': token }),
            }),
          )
          .catch((lockError: unknown) => {
            if (!isConditionFailure(lockError)) throw lockError;
          });
      });
  }

  async keepEnrichment(keep: {
    lookup: string;
    token: string;
    kept: KeptEnrichment;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: `enrichment:${keep.lookup}` }),
          ConditionExpression: 'lock_token = :token',
          UpdateExpression:
            // The payer keeps its lock until it has converted the person (`releaseEnrichment`), so
            // nobody else converts its payment under it and answers in its place.
            'SET kept_enrichment = :kept, updated_at = :now_iso, expires_at = :expires_at',
          ExpressionAttributeValues: marshall(
            {
              ':kept': keep.kept,
              ':token': keep.token,
              ':now_iso': iso(keep.nowMs),
              ':expires_at': keep.expiresAtSeconds,
            },
            { removeUndefinedValues: true },
          ),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async keptEnrichment({
    lookup,
    nowMs,
  }: {
    lookup: string;
    nowMs?: number;
  }): Promise<KeptEnrichment | null> {
    const item = await this.getItem(`enrichment:${lookup}`);
    if (nowMs !== undefined && item?.lock_expires_at !== undefined && item.lock_expires_at >= nowMs)
      return null;
    return item?.kept_enrichment ?? null;
  }

  async recordEnrichment(enrichment: {
    key: string;
    apolloPersonId: string | null;
    requestId: string | null;
    creditsConsumed: number;
    phoneReveal: PhoneRevealStatus;
    nowMs: number;
  }): Promise<void> {
    const { key, requestId } = enrichment;
    // 1. The credits, once per request id: a retry that records the same enrichment adds nothing.
    const counted: Record<string, unknown> = {
      ':now_iso': iso(enrichment.nowMs),
      ':credits': enrichment.creditsConsumed,
    };
    let set = 'updated_at = :now_iso';
    if (enrichment.apolloPersonId !== null) {
      set += ', apollo_person_id = if_not_exists(apollo_person_id, :person_id)';
      counted[':person_id'] = enrichment.apolloPersonId;
    }
    let add = 'credits_consumed :credits';
    let condition = 'attribute_exists(#status)';
    if (requestId !== null) {
      add += ', counted_requests :request_ids';
      condition += ' AND NOT contains(counted_requests, :request_id)';
      counted[':request_ids'] = new Set([requestId]);
      counted[':request_id'] = requestId;
    }
    const countCredits = this.updateIf(key, condition, {
      UpdateExpression: `SET ${set} ADD ${add}`,
      ExpressionAttributeValues: counted,
    });

    // 2. The reveal and its request id, set once: a finished or pending reveal is never reopened.
    const reveal: Record<string, unknown> = {
      ':now_iso': iso(enrichment.nowMs),
      ':phone_reveal': enrichment.phoneReveal,
      ':request_credits': enrichment.creditsConsumed,
    };
    let revealSet = 'phone_reveal = :phone_reveal, request_credits = :request_credits, updated_at = :now_iso';
    if (requestId !== null) {
      revealSet += ', request_id = :request_id';
      reveal[':request_id'] = requestId;
    }
    let revealCondition: string;
    if (enrichment.phoneReveal === 'pending') {
      revealCondition =
        'attribute_exists(#status) AND (attribute_not_exists(phone_reveal) OR phone_reveal = :not_requested)';
      reveal[':not_requested'] = 'not_requested';
    } else {
      revealCondition =
        'attribute_exists(#status) AND attribute_not_exists(phone_reveal) AND attribute_not_exists(request_id)';
    }
    // Two independent conditional writes to one item: sent together.
    await Promise.all([
      countCredits,
      this.updateIf(key, revealCondition, {
        UpdateExpression: `SET ${revealSet}`,
        ExpressionAttributeValues: reveal,
      }),
    ]);
  }

  async countFreeLookup({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    await this.updateIf(key, 'attribute_exists(#status)', {
      UpdateExpression: 'SET updated_at = :now_iso ADD free_lookups :one',
      ExpressionAttributeValues: { ':now_iso': iso(nowMs), ':one': 1 },
    });
  }

  async claimPhoneApplication(claim: { key: string; untilMs: number; nowMs: number }): Promise<boolean> {
    return this.updateIf(
      claim.key,
      'attribute_exists(#status) AND (attribute_not_exists(phone_reveal) OR phone_reveal <> :applied) AND ' +
        '(attribute_not_exists(phones_locked_until) OR phones_locked_until < :now)',
      {
        UpdateExpression: 'SET phones_locked_until = :until',
        ExpressionAttributeValues: { ':applied': 'applied', ':now': claim.nowMs, ':until': claim.untilMs },
      },
    );
  }

  async releasePhoneApplication({ key }: { key: string }): Promise<void> {
    await this.updateIf(key, 'attribute_exists(#status)', {
      UpdateExpression: 'REMOVE phones_locked_until',
      ExpressionAttributeValues: {},
    });
  }

  async recordPhonesApplied(applied: {
    key: string;
    phoneHashes: string[];
    nowMs: number;
  }): Promise<boolean> {
    return this.updateIf(
      applied.key,
      'attribute_exists(#status) AND (attribute_not_exists(phone_reveal) OR phone_reveal <> :applied)',
      {
        UpdateExpression:
          'SET phone_reveal = :applied, applied_phones = :hashes, updated_at = :now_iso ' +
          'REMOVE phones_locked_until',
        ExpressionAttributeValues: {
          ':applied': 'applied',
          ':hashes': applied.phoneHashes,
          ':now_iso': iso(applied.nowMs),
        },
      },
    );
  }

  async countRevealCredits(count: { key: string; credits: number; nowMs: number }): Promise<boolean> {
    // The flag makes every later delivery of the same reveal count nothing.
    return this.updateIf(
      count.key,
      'attribute_exists(#status) AND attribute_not_exists(reveal_credits_counted)',
      {
        UpdateExpression:
          'SET reveal_credits_counted = :true, updated_at = :now_iso ADD credits_consumed :credits',
        ExpressionAttributeValues: { ':true': true, ':now_iso': iso(count.nowMs), ':credits': count.credits },
      },
    );
  }

  async markPhonesUnavailable(update: { key: string; reason: string; nowMs: number }): Promise<void> {
    await this.updateIf(update.key, 'attribute_exists(#status) AND phone_reveal <> :applied', {
      UpdateExpression: 'SET phone_reveal = :unavailable, phone_reveal_note = :reason, updated_at = :now_iso',
      ExpressionAttributeValues: {
        ':applied': 'applied',
        ':unavailable': 'unavailable',
        ':reason': update.reason,
        ':now_iso': iso(update.nowMs),
      },
    });
  }

  async claimDelivery(claim: {
    id: string;
    bodyHash: string;
    token: string;
    lockExpiresAtMs: number;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<{ claimed: true } | { claimed: false; delivery: RememberedDelivery }> {
    const pk = deliveryKey(claim.id);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk }),
          // New, or abandoned by an invocation that died (never an answered one).
          ConditionExpression:
            'attribute_not_exists(pk) OR (attribute_not_exists(delivery_answer) AND lock_expires_at < :now)',
          UpdateExpression:
            'SET delivery_body_hash = :body_hash, lock_token = :token, lock_expires_at = :lock, ' +
            'updated_at = :now_iso, expires_at = :expires_at',
          ExpressionAttributeValues: marshall({
            ':now': claim.nowMs,
            ':body_hash': claim.bodyHash,
            ':token': claim.token,
            ':lock': claim.lockExpiresAtMs,
            ':now_iso': iso(claim.nowMs),
            ':expires_at': claim.expiresAtSeconds,
          }),
        }),
      );
      return { claimed: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const item = await this.getItem(pk);
    if (item === null) return this.claimDelivery(claim); // expired in between: claim afresh
    return {
      claimed: false,
      delivery: {
        bodyHash: item.delivery_body_hash ?? '',
        answer: item.delivery_answer ?? null,
        lockExpiresAtMs: item.lock_expires_at ?? null,
      },
    };
  }

  async rememberAnswer(answer: {
    id: string;
    token: string;
    answer: string;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<void> {
    await this.updateIf(deliveryKey(answer.id), 'lock_token = :token', {
      UpdateExpression:
        'SET delivery_answer = :answer, updated_at = :now_iso, expires_at = :expires_at ' +
        'REMOVE lock_token, lock_expires_at',
      ExpressionAttributeValues: {
        ':token': answer.token,
        ':answer': answer.answer,
        ':now_iso': iso(answer.nowMs),
        ':expires_at': answer.expiresAtSeconds,
      },
    });
  }

  async forgetDelivery({ id, token }: { id: string; token: string }): Promise<void> {
    // The lock lapses at once: the next delivery of the id claims it (the item's TTL stays).
    await this.updateIf(deliveryKey(id), 'lock_token = :token', {
      UpdateExpression: 'SET lock_expires_at = :zero REMOVE lock_token',
      ExpressionAttributeValues: { ':token': token, ':zero': 0 },
    });
  }

  private async getItem(pk: string): Promise<LedgerItem | null> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: marshall({ pk }), ConsistentRead: true }),
    );
    return readItem(Item);
  }

  /** A write only the current claim holder may make (the fencing token is the condition). */
  private async updateAsHolder(
    key: string,
    token: string,
    update: { UpdateExpression: string; ExpressionAttributeValues: Record<string, unknown> },
  ): Promise<void> {
    const applied = await this.updateIf(key, 'lock_token = :token AND #status = :creating_status', {
      UpdateExpression: update.UpdateExpression,
      ExpressionAttributeValues: {
        ...update.ExpressionAttributeValues,
        ':token': token,
        ':creating_status': 'creating',
      },
    });
    if (!applied) throw new LockLostError('lost the claim on a ledger record to another invocation');
  }

  /** Returns false when the condition did not hold (nothing written). */
  private async updateIf(
    key: string,
    condition: string,
    update: { UpdateExpression: string; ExpressionAttributeValues: Record<string, unknown> },
  ): Promise<boolean> {
    const input: UpdateItemCommandInput = {
      TableName: this.tableName,
      Key: marshall({ pk: key }),
      ConditionExpression: condition,
      UpdateExpression: update.UpdateExpression,
    };
    if (Object.keys(update.ExpressionAttributeValues).length > 0) {
      input.ExpressionAttributeValues = marshall(update.ExpressionAttributeValues);
    }
    if (condition.includes('#status') || update.UpdateExpression.includes('#status')) {
      input.ExpressionAttributeNames = STATUS;
    }
    try {
      await this.client.send(new UpdateItemCommand(input));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
