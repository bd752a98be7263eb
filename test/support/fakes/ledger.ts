import { createHash } from 'node:crypto';
import { VERDICT_SHARDS, verdictShard } from '../../../lib/dynamodb-ledger';
import { LockLostError } from '../../../lib/errors';
import type {
  AwaitingVerdict,
  ClaimRequest,
  ClaimResult,
  ConversionIntakeLedger,
  ConversionLedger,
  ConversionOutcome,
  ConversionRecord,
  EnqueueRequest,
  EnqueueResult,
  EnrichmentClaim,
  FreeLookups,
  HeldPhones,
  IdentityEntry,
  KeptEnrichment,
  LedgerReader,
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
  StrandedQueueLedger,
  VerificationLedger,
  VerificationSweepLedger,
  WebhookDeliveries,
} from '../../../lib/ledger';
import type { MatchIdentity } from '../../../lib/person';

/**
 * One item of the table, as `DynamoDbLedger` stores it (attribute names in camelCase here). A person
 * record has a `status` (or, as a placeholder `ownRecord` made, only `emailOwner`); an alias or
 * identity (`id_…`, `person:<id>`, ...) has `aliasOf` (or `ambiguous`), perhaps an identity lock and
 * phones a callback held; an enrichment item (`enrichment:<lookup>`) has the claim's `lockToken` and
 * `lockExpiresAtMs`, then `keptEnrichment`; a webhook delivery (`webhook:<hash>`) has
 * `deliveryBodyHash`, a lock, then `deliveryAnswer`.
 */
export interface LedgerItem {
  pk: string;
  status?: RecordStatus;
  aliasOf?: string;
  /** An identity several people share: it names no record. */
  ambiguous?: boolean;
  /** The email identity key owning this record. */
  emailOwner?: string;
  identityLock?: string;
  /** Epoch ms. */
  identityLockUntilMs?: number;
  heldPhones?: HeldPhones;
  keptEnrichment?: KeptEnrichment;
  contactId?: string;
  outcome?: ConversionOutcome;
  attempts?: number;
  lastError?: string;
  createUncertain?: boolean;
  createUncertainSinceMs?: number;
  fingerprint?: string;
  match?: MatchIdentity;
  expectedPhoneHashes?: string[];
  lockToken?: string;
  lockExpiresAtMs?: number;
  createdAt?: string;
  updatedAt?: string;
  convertedAt?: string;
  verificationStartedAt?: string;
  verifiedAt?: string;
  /** The DynamoDB TTL, epoch seconds. Nothing here deletes expired items (DynamoDB does, late). */
  expiresAtSeconds?: number;
  apolloPersonId?: string;
  requestId?: string;
  creditsConsumed?: number;
  /** Credits counted for the people/match of `requestId`. */
  requestCredits?: number;
  /** Request ids whose people/match credits are in `creditsConsumed` (a string set in DynamoDB). */
  countedRequests?: string[];
  /** True once the phone reveal's cost is in `creditsConsumed`. */
  revealCreditsCounted?: boolean;
  freeLookups?: number;
  phoneReveal?: PhoneRevealStatus;
  phoneRevealNote?: string;
  appliedPhoneHashes?: string[];
  /** Epoch ms until which one writer holds the right to write revealed phones. */
  phonesLockedUntilMs?: number;
  /** Epoch ms; only on `created` records without a verdict (the sparse `awaiting-verdict` index). */
  awaitingVerdictSinceMs?: number;
  /** The index's partition (`verdictShard`). */
  awaitingVerdictShard?: string;
  verificationRedrives?: number;
  deliveryBodyHash?: string;
  deliveryAnswer?: string;
  /** What the consumer sends to Apollo, on a `queued` person until it is converted. */
  queuedContact?: QueuedContact;
  /** Epoch ms when a `queued` record's key was last handed to the queue; 0 after a failed send. */
  sentAtMs?: number;
}

type PersonItem = LedgerItem & { status: RecordStatus };

const iso = (ms: number) => new Date(ms).toISOString();

/** What DynamoDB keeps of a value: a copy, without `undefined` members (`removeUndefinedValues`). */
function stored<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function isPerson(item: LedgerItem | undefined): item is PersonItem {
  return item?.status !== undefined;
}

/** `DynamoDbLedger`'s `toRecord`: the same defaults for absent attributes. */
function toRecord(item: PersonItem): ConversionRecord {
  return {
    key: item.pk,
    status: item.status,
    contactId: item.contactId ?? null,
    outcome: item.outcome ?? null,
    attempts: item.attempts ?? 0,
    lastError: item.lastError ?? null,
    createUncertain: item.createUncertain ?? false,
    createUncertainSinceMs: item.createUncertainSinceMs ?? null,
    fingerprint: item.fingerprint ?? '',
    match: structuredClone(item.match ?? { email: item.pk }),
    expectedPhoneHashes: [...(item.expectedPhoneHashes ?? [])],
    lockToken: item.lockToken ?? null,
    lockExpiresAtMs: item.lockExpiresAtMs ?? null,
    createdAt: item.createdAt ?? '',
    updatedAt: item.updatedAt ?? '',
    convertedAt: item.convertedAt ?? null,
    verificationStartedAt: item.verificationStartedAt ?? null,
    verifiedAt: item.verifiedAt ?? null,
    apolloPersonId: item.apolloPersonId ?? null,
    requestId: item.requestId ?? null,
    creditsConsumed: item.creditsConsumed ?? 0,
    requestCredits: item.requestCredits ?? 0,
    freeLookups: item.freeLookups ?? 0,
    phoneReveal: item.phoneReveal ?? null,
    phoneRevealNote: item.phoneRevealNote ?? null,
    appliedPhoneHashes: [...(item.appliedPhoneHashes ?? [])],
    awaitingVerdictSinceMs: item.awaitingVerdictSinceMs ?? null,
    verificationRedrives: item.verificationRedrives ?? 0,
    ...(item.sentAtMs !== undefined && { sentAtMs: item.sentAtMs }),
    ...(item.queuedContact !== undefined && { holdsQueuedContact: true as const }),
  };
}

/** What DynamoDB throws when a condition does not hold and the caller does not catch it. */
function conditionalCheckFailed(): Error {
  const error = new Error('The conditional request failed');
  error.name = 'ConditionalCheckFailedException';
  return error;
}

/** `DynamoDbLedger`'s webhook delivery key: the sender's id hashed. */
function deliveryKey(id: string): string {
  return `webhook:${createHash('sha256').update(id).digest('hex')}`;
}

/**
 * Runs a synchronous ledger operation as the port's promise: the effect happens at the call, as a
 * single-item write does, and a throw becomes a rejection.
 */
function settle<T>(operation: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(operation());
  });
}

/**
 * Every ledger port, in memory: a Map of items with the semantics of `DynamoDbLedger` (its
 * condition expressions, written out as predicates below). Each write is a single-item atomic
 * update, as in DynamoDB; reads and writes hand out copies, never the stored objects.
 */
export class InMemoryLedger
  implements
    LedgerReader,
    FreeLookups,
    ConversionLedger,
    ConversionIntakeLedger,
    QueuedConversionLedger,
    StrandedQueueLedger,
    VerificationLedger,
    PersonAliases,
    PersonIdentities,
    PaidEnrichments,
    PhoneRevealLedger,
    VerificationSweepLedger,
    WebhookDeliveries
{
  private readonly items = new Map<string, LedgerItem>();

  /** A copy of the raw item under `pk` (TTL, aliases and locks included), or undefined. */
  item(pk: string): LedgerItem | undefined {
    const item = this.items.get(pk);
    return item === undefined ? undefined : structuredClone(item);
  }

  /** Copies of every item, in the order they were first written. */
  allItems(): LedgerItem[] {
    return [...this.items.values()].map((item) => structuredClone(item));
  }

  /** Copies of the person records (items with a status), in the order they were first written. */
  records(): ConversionRecord[] {
    return [...this.items.values()].filter(isPerson).map(toRecord);
  }

  /** The webhook delivery item of `id`, as `WebhookDeliveries` keeps it. */
  deliveryItem(id: string): LedgerItem | undefined {
    return this.item(deliveryKey(id));
  }

  claim(request: ClaimRequest): Promise<ClaimResult> {
    return settle(() => {
      const old = this.items.get(request.key);
      // 'attribute_not_exists(#status) OR #status = :queued OR (#status = :creating AND lock_expires_at < :now) OR
      //  (#status IN (:rejected, :failed) AND fingerprint <> :fingerprint)'
      const claimable =
        !isPerson(old) ||
        old.status === 'queued' ||
        (old.status === 'creating' &&
          old.lockExpiresAtMs !== undefined &&
          old.lockExpiresAtMs < request.nowMs) ||
        ((old.status === 'rejected' || old.status === 'failed') && old.fingerprint !== request.fingerprint);
      if (!claimable) return { claimed: false, record: toRecord(old) };
      // ALL_OLD of a placeholder (`ownRecord`) or of nothing: no record.
      const previous = isPerson(old) ? toRecord(old) : null;
      const item: LedgerItem = old ?? { pk: request.key };
      item.status = 'creating';
      item.lockToken = request.token;
      item.lockExpiresAtMs = request.lockExpiresAtMs;
      item.attempts = (item.attempts ?? 0) + 1;
      item.createdAt ??= iso(request.nowMs);
      item.updatedAt = iso(request.nowMs);
      item.fingerprint = request.fingerprint;
      item.match = stored(request.match);
      item.expectedPhoneHashes = [...request.expectedPhoneHashes];
      delete item.expiresAtSeconds;
      delete item.sentAtMs;
      this.items.set(request.key, item);
      return { claimed: true, previous } as const;
    });
  }

  complete(result: {
    key: string;
    token: string;
    outcome: ConversionOutcome;
    contactId: string;
    nowMs: number;
  }): Promise<void> {
    return settle(() => {
      this.updateAsHolder(result.key, result.token, (item) => {
        item.status = 'created';
        item.contactId = result.contactId;
        item.outcome = result.outcome;
        item.convertedAt = iso(result.nowMs);
        item.updatedAt = iso(result.nowMs);
        // Enters the index of records waiting for a verdict.
        item.awaitingVerdictSinceMs = result.nowMs;
        item.awaitingVerdictShard = verdictShard(result.key);
        delete item.lockToken;
        delete item.lockExpiresAtMs;
        delete item.createUncertain;
        delete item.createUncertainSinceMs;
        delete item.queuedContact;
      });
    });
  }

  reject(result: UnconvertedResult): Promise<void> {
    return settle(() => this.finishUnconverted('rejected', result));
  }

  fail(result: UnconvertedResult): Promise<void> {
    return settle(() => this.finishUnconverted('failed', result));
  }

  release(result: {
    key: string;
    token: string;
    error: string;
    createUncertain: boolean;
    nowMs: number;
    refundAttempt?: boolean;
  }): Promise<void> {
    return settle(() => {
      this.updateAsHolder(result.key, result.token, (item) => {
        item.lastError = result.error;
        item.updatedAt = iso(result.nowMs);
        item.lockExpiresAtMs = 0;
        if (result.createUncertain) {
          // Sticky, and dated from its first occurrence.
          item.createUncertain = true;
          item.createUncertainSinceMs ??= result.nowMs;
        }
        if (result.refundAttempt) item.attempts = (item.attempts ?? 0) - 1;
        delete item.lockToken;
      });
    });
  }

  restartAttempts({ key, token }: { key: string; token: string }): Promise<void> {
    return settle(() => {
      this.updateAsHolder(key, token, (item) => {
        item.attempts = 1;
      });
    });
  }

  enqueue(request: EnqueueRequest): Promise<EnqueueResult> {
    return settle(() => {
      const old = this.items.get(request.key);
      // ENQUEUE_CONDITION: 'attribute_not_exists(#status) OR
      //  (#status IN (:rejected, :failed) AND fingerprint <> :fingerprint)'
      const fresh =
        !isPerson(old) ||
        ((old.status === 'rejected' || old.status === 'failed') && old.fingerprint !== request.fingerprint);
      // The take-back of a lapsed claim: '#status = :creating AND lock_expires_at < :now' (the
      // adapter's second write; nothing can come in between here).
      const lapsed =
        isPerson(old) &&
        old.status === 'creating' &&
        old.lockExpiresAtMs !== undefined &&
        old.lockExpiresAtMs < request.nowMs;
      if (!fresh && !lapsed) return { enqueued: false, record: toRecord(old) } as const;
      const previous = isPerson(old) ? toRecord(old) : null;
      const item: LedgerItem = old ?? { pk: request.key };
      if (lapsed && item.lockToken !== undefined) {
        // Died mid-way: a create may have happened (sticky; undated: no quiet period is owed).
        item.createUncertain = true;
      }
      if (fresh) item.attempts = 0;
      item.status = 'queued';
      item.queuedContact = stored(request.contact);
      item.sentAtMs = request.nowMs;
      item.fingerprint = request.fingerprint;
      item.match = stored(request.match);
      item.expectedPhoneHashes = [...request.expectedPhoneHashes];
      item.createdAt ??= iso(request.nowMs);
      item.updatedAt = iso(request.nowMs);
      delete item.lockToken;
      delete item.lockExpiresAtMs;
      delete item.expiresAtSeconds;
      this.items.set(request.key, item);
      return { enqueued: true, previous } as const;
    });
  }

  markUnsent({ key }: { key: string }): Promise<void> {
    return settle(() => {
      this.updateIf(
        key,
        (item) => item?.status === 'queued',
        (item) => {
          item.sentAtMs = 0;
        },
      );
    });
  }

  markSent({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    return settle(() => {
      this.updateIf(
        key,
        (item) => item?.status === 'queued',
        (item) => {
          item.sentAtMs = nowMs;
          item.updatedAt = iso(nowMs);
        },
      );
    });
  }

  claimQueued(request: {
    key: string;
    token: string;
    lockExpiresAtMs: number;
    nowMs: number;
  }): Promise<QueuedClaim> {
    return settle(() => {
      const old = this.items.get(request.key);
      // QUEUED_CLAIM_CONDITION: '(#status IN (:queued, :failed) OR (#status = :creating AND
      //  lock_expires_at < :now)) AND attribute_exists(queued_contact)'
      const claimable =
        isPerson(old) &&
        old.queuedContact !== undefined &&
        (old.status === 'queued' ||
          old.status === 'failed' ||
          (old.status === 'creating' &&
            old.lockExpiresAtMs !== undefined &&
            old.lockExpiresAtMs < request.nowMs));
      if (!claimable) return { claimed: false, record: isPerson(old) ? toRecord(old) : null } as const;
      const previous = toRecord(old);
      const contact = structuredClone(old.queuedContact as QueuedContact);
      old.status = 'creating';
      old.lockToken = request.token;
      old.lockExpiresAtMs = request.lockExpiresAtMs;
      old.attempts = (old.attempts ?? 0) + 1;
      old.updatedAt = iso(request.nowMs);
      delete old.sentAtMs;
      return { claimed: true, previous, contact } as const;
    });
  }

  requeue(result: {
    key: string;
    token: string;
    error: string;
    createUncertain: boolean;
    nowMs: number;
    refundAttempt?: boolean;
    quietPeriod?: boolean;
  }): Promise<void> {
    return settle(() => {
      this.updateAsHolder(result.key, result.token, (item) => {
        item.status = 'queued';
        item.lastError = result.error;
        item.updatedAt = iso(result.nowMs);
        // The message is still in the queue and brings the person back: counted as just sent.
        item.sentAtMs = result.nowMs;
        if (result.createUncertain) {
          item.createUncertain = true;
          if (result.quietPeriod !== false) item.createUncertainSinceMs ??= result.nowMs;
        }
        if (result.refundAttempt) item.attempts = (item.attempts ?? 0) - 1;
        delete item.lockToken;
        delete item.lockExpiresAtMs;
      });
    });
  }

  failQueued(result: {
    key: string;
    token: string;
    reason: string;
    createUncertain: boolean;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<void> {
    return settle(() => {
      this.updateAsHolder(result.key, result.token, (item) => {
        item.status = 'failed';
        item.lastError = result.reason;
        item.updatedAt = iso(result.nowMs);
        item.expiresAtSeconds = result.expiresAtSeconds;
        if (result.createUncertain) {
          item.createUncertain = true;
          item.createUncertainSinceMs ??= result.nowMs;
        }
        // The queued person stays: a redrive of the dead-letter queue can still convert it.
        delete item.lockToken;
        delete item.lockExpiresAtMs;
      });
    });
  }

  queuedBefore({ olderThanMs, limit }: { olderThanMs: number; limit: number }): Promise<string[]> {
    return settle(() => {
      const before = iso(olderThanMs);
      // The `by-status` index: HASH status, RANGE updated_at (ISO text), oldest first.
      return [...this.items.values()]
        .filter((item) => item.status === 'queued' && item.updatedAt !== undefined && item.updatedAt < before)
        .sort((a, b) => ((a.updatedAt ?? '') < (b.updatedAt ?? '') ? -1 : 1))
        .slice(0, limit)
        .map((item) => item.pk);
    });
  }

  markVerificationStarted({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    return settle(() => {
      this.updateIf(
        key,
        (item) => item !== undefined,
        (item) => {
          item.verificationStartedAt = iso(nowMs);
          item.updatedAt = iso(nowMs);
        },
      );
    });
  }

  markVerified({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    return settle(() => {
      this.updateIf(
        key,
        (item) =>
          item?.status === 'created' || item?.status === 'verified' || item?.status === 'verification_failed',
        (item) => {
          item.status = 'verified';
          item.verifiedAt = iso(nowMs);
          item.updatedAt = iso(nowMs);
          leaveAwaitingVerdict(item);
          delete item.lastError;
        },
      );
    });
  }

  markVerificationFailed(update: { key: string; reason: string; nowMs: number }): Promise<boolean> {
    return settle(() =>
      this.updateIf(
        update.key,
        (item) => item?.status === 'created' || item?.status === 'verification_failed',
        (item) => {
          item.status = 'verification_failed';
          item.lastError = update.reason;
          item.updatedAt = iso(update.nowMs);
          leaveAwaitingVerdict(item);
        },
      ),
    );
  }

  awaitingVerdict({
    olderThanMs,
    limit,
  }: {
    olderThanMs: number;
    limit: number;
  }): Promise<AwaitingVerdict[]> {
    return settle(() => {
      const found: AwaitingVerdict[] = [];
      for (let shard = 0; shard < VERDICT_SHARDS && found.length < limit; shard++) {
        // The index's sort key: oldest first within a shard.
        const waiting = [...this.items.values()]
          .filter(
            (item) =>
              item.awaitingVerdictShard === String(shard) &&
              item.awaitingVerdictSinceMs !== undefined &&
              item.awaitingVerdictSinceMs < olderThanMs,
          )
          .sort((a, b) => (a.awaitingVerdictSinceMs ?? 0) - (b.awaitingVerdictSinceMs ?? 0));
        for (const item of waiting) {
          if (found.length >= limit) break;
          if (item.status !== 'created' || item.contactId === undefined) continue;
          found.push({
            key: item.pk,
            contactId: item.contactId,
            awaitingSinceMs: item.awaitingVerdictSinceMs ?? 0,
            redrives: item.verificationRedrives ?? 0,
          });
        }
      }
      return found;
    });
  }

  markRedriven(update: {
    key: string;
    awaitingSinceMs: number | null;
    nowMs: number;
  }): Promise<number | null> {
    return settle(() => {
      let redrives: number | null = null;
      this.updateIf(
        update.key,
        // '#status = :created AND (awaiting_verdict_since = :since | attribute_not_exists(...))'
        (item) =>
          item?.status === 'created' &&
          (update.awaitingSinceMs === null
            ? item.awaitingVerdictSinceMs === undefined
            : item.awaitingVerdictSinceMs === update.awaitingSinceMs),
        (item) => {
          item.awaitingVerdictSinceMs = update.nowMs;
          item.awaitingVerdictShard = verdictShard(update.key);
          item.updatedAt = iso(update.nowMs);
          item.verificationStartedAt = iso(update.nowMs);
          item.verificationRedrives = (item.verificationRedrives ?? 0) + 1;
          redrives = item.verificationRedrives;
        },
      );
      return redrives;
    });
  }

  get({ key }: { key: string }): Promise<ConversionRecord | null> {
    return settle(() => {
      const item = this.items.get(key);
      return isPerson(item) ? toRecord(item) : null;
    });
  }

  find({ keyOrAlias }: { keyOrAlias: string }): Promise<ConversionRecord | null> {
    return settle(() => {
      const item = this.items.get(keyOrAlias);
      const record = item?.aliasOf !== undefined ? this.items.get(item.aliasOf) : item;
      return isPerson(record) ? toRecord(record) : null;
    });
  }

  link(link: { alias: string; key: string; nowMs: number }): Promise<HeldPhones | null> {
    return settle(() => {
      let held: HeldPhones | null = null;
      this.updateIf(
        link.alias,
        // An alias names one person for good; a record is never turned into one, and an identity
        // several people share names nobody.
        (item) =>
          !isPerson(item) &&
          item?.ambiguous === undefined &&
          (item?.aliasOf === undefined || item.aliasOf === link.key),
        (item) => {
          item.aliasOf = link.key;
          item.updatedAt = iso(link.nowMs);
          delete item.expiresAtSeconds;
          held = item.heldPhones === undefined ? null : structuredClone(item.heldPhones);
        },
      );
      return held;
    });
  }

  readIdentity({ identity }: { identity: string }): Promise<IdentityEntry | null> {
    return settle(() => this.identityEntry(identity));
  }

  linkIdentity(link: { identity: string; key: string; nowMs: number }): Promise<IdentityEntry> {
    return settle(() => {
      const linked = this.updateIf(
        link.identity,
        (item) =>
          !isPerson(item) &&
          item?.ambiguous === undefined &&
          (item?.aliasOf === undefined || item.aliasOf === link.key),
        (item) => {
          item.aliasOf = link.key;
          item.updatedAt = iso(link.nowMs);
          delete item.expiresAtSeconds;
        },
      );
      if (linked) return { aliasOf: link.key, ambiguous: false };
      return this.identityEntry(link.identity) ?? { aliasOf: null, ambiguous: false };
    });
  }

  markIdentityAmbiguous({ identity, nowMs }: { identity: string; nowMs: number }): Promise<void> {
    return settle(() => {
      this.updateIf(
        identity,
        (item) => !isPerson(item),
        (item) => {
          item.ambiguous = true;
          item.updatedAt = iso(nowMs);
          delete item.aliasOf;
          delete item.expiresAtSeconds;
        },
      );
    });
  }

  lockIdentity(lock: { identity: string; token: string; untilMs: number; nowMs: number }): Promise<boolean> {
    return settle(() =>
      this.updateIf(
        lock.identity,
        (item) =>
          !isPerson(item) &&
          (item?.identityLockUntilMs === undefined ||
            item.identityLockUntilMs < lock.nowMs ||
            item.identityLock === lock.token),
        (item) => {
          item.identityLock = lock.token;
          item.identityLockUntilMs = lock.untilMs;
        },
      ),
    );
  }

  unlockIdentity({ identity, token }: { identity: string; token: string }): Promise<void> {
    return settle(() => {
      this.updateIf(
        identity,
        (item) => item?.identityLock === token,
        (item) => {
          delete item.identityLock;
          delete item.identityLockUntilMs;
        },
      );
    });
  }

  recordOwner({ key }: { key: string }): Promise<string | null> {
    return settle(() => this.items.get(key)?.emailOwner ?? null);
  }

  ownRecord(own: {
    key: string;
    owner: string;
    nowMs: number;
    placeholderExpiresAtSeconds?: number;
  }): Promise<boolean> {
    return settle(() => {
      const expiresAtSeconds = own.placeholderExpiresAtSeconds;
      if (expiresAtSeconds !== undefined) {
        // A placeholder for a record that does not exist yet: 'attribute_not_exists(pk)'.
        return this.updateIf(
          own.key,
          (item) => item === undefined,
          (item) => {
            item.emailOwner = own.owner;
            item.updatedAt = iso(own.nowMs);
            item.expiresAtSeconds = expiresAtSeconds;
          },
        );
      }
      return this.updateIf(
        own.key,
        (item) => item?.emailOwner === undefined || item.emailOwner === own.owner,
        (item) => {
          item.emailOwner = own.owner;
        },
      );
    });
  }

  holdRevealedPhones(hold: {
    alias: string;
    held: HeldPhones;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<string | null> {
    return settle(() => {
      let aliasOf: string | null = null;
      const written = this.updateIf(
        hold.alias,
        (item) => !isPerson(item),
        (item) => {
          item.heldPhones = stored(hold.held);
          item.updatedAt = iso(hold.nowMs);
          // A linked alias never expires (TTL would delete the link); phones held for nobody do.
          if (item.aliasOf === undefined) item.expiresAtSeconds = hold.expiresAtSeconds;
          else delete item.expiresAtSeconds;
          aliasOf = item.aliasOf ?? null;
        },
      );
      // DynamoDbLedger does not catch this condition failure: it reaches the caller.
      if (!written) throw conditionalCheckFailed();
      return aliasOf;
    });
  }

  releaseHeldPhones({ alias, nowMs }: { alias: string; nowMs: number }): Promise<void> {
    return settle(() => {
      this.updateIf(
        alias,
        (item) => item !== undefined,
        (item) => {
          item.updatedAt = iso(nowMs);
          delete item.heldPhones;
          delete item.expiresAtSeconds;
        },
      );
    });
  }

  claimEnrichment(claim: {
    lookup: string;
    token: string;
    lockExpiresAtMs: number;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<EnrichmentClaim> {
    return settle(() => {
      const pk = `enrichment:${claim.lookup}`;
      // 'attribute_not_exists(kept_enrichment) AND
      //  (attribute_not_exists(lock_expires_at) OR lock_expires_at < :now)'
      const claimed = this.updateIf(
        pk,
        (item) =>
          item?.keptEnrichment === undefined &&
          (item?.lockExpiresAtMs === undefined || item.lockExpiresAtMs < claim.nowMs),
        (item) => {
          item.lockToken = claim.token;
          item.lockExpiresAtMs = claim.lockExpiresAtMs;
          item.updatedAt = iso(claim.nowMs);
          item.expiresAtSeconds = claim.expiresAtSeconds;
        },
      );
      if (claimed) return { claimed: true } as const;
      const item = this.items.get(pk);
      const live = item?.lockExpiresAtMs !== undefined && item.lockExpiresAtMs >= claim.nowMs;
      return {
        claimed: false,
        kept: live || item?.keptEnrichment === undefined ? null : structuredClone(item.keptEnrichment),
        lockExpiresAtMs: item?.lockExpiresAtMs ?? null,
      } as const;
    });
  }

  releaseEnrichment({ lookup, token }: { lookup: string; token: string }): Promise<void> {
    return settle(() => {
      // DeleteItem, 'lock_token = :token AND attribute_not_exists(kept_enrichment)'.
      const pk = `enrichment:${lookup}`;
      const item = this.items.get(pk);
      if (item?.lockToken !== token) return;
      if (item.keptEnrichment === undefined) this.items.delete(pk);
      else {
        delete item.lockToken;
        delete item.lockExpiresAtMs;
      }
    });
  }

  keepEnrichment(keep: {
    lookup: string;
    token: string;
    kept: KeptEnrichment;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<boolean> {
    return settle(() =>
      this.updateIf(
        `enrichment:${keep.lookup}`,
        (item) => item?.lockToken === keep.token,
        (item) => {
          item.keptEnrichment = stored(keep.kept);
          item.updatedAt = iso(keep.nowMs);
          item.expiresAtSeconds = keep.expiresAtSeconds;
        },
      ),
    );
  }

  keptEnrichment({ lookup, nowMs }: { lookup: string; nowMs?: number }): Promise<KeptEnrichment | null> {
    return settle(() => {
      const item = this.items.get(`enrichment:${lookup}`);
      if (nowMs !== undefined && item?.lockExpiresAtMs !== undefined && item.lockExpiresAtMs >= nowMs)
        return null;
      const kept = item?.keptEnrichment;
      return kept === undefined ? null : structuredClone(kept);
    });
  }

  recordEnrichment(enrichment: {
    key: string;
    apolloPersonId: string | null;
    requestId: string | null;
    creditsConsumed: number;
    phoneReveal: PhoneRevealStatus;
    nowMs: number;
  }): Promise<void> {
    return settle(() => {
      const { key, requestId } = enrichment;
      // 1. The credits, once per request id.
      this.updateIf(
        key,
        (item) => isPerson(item) && (requestId === null || !(item.countedRequests ?? []).includes(requestId)),
        (item) => {
          item.updatedAt = iso(enrichment.nowMs);
          if (enrichment.apolloPersonId !== null) item.apolloPersonId ??= enrichment.apolloPersonId;
          item.creditsConsumed = (item.creditsConsumed ?? 0) + enrichment.creditsConsumed;
          if (requestId !== null) item.countedRequests = [...(item.countedRequests ?? []), requestId];
        },
      );
      // 2. The reveal and its request id, set once: a finished or pending reveal is never reopened.
      this.updateIf(
        key,
        (item) =>
          isPerson(item) &&
          (enrichment.phoneReveal === 'pending'
            ? item.phoneReveal === undefined || item.phoneReveal === 'not_requested'
            : item.phoneReveal === undefined && item.requestId === undefined),
        (item) => {
          item.phoneReveal = enrichment.phoneReveal;
          item.requestCredits = enrichment.creditsConsumed;
          item.updatedAt = iso(enrichment.nowMs);
          if (requestId !== null) item.requestId = requestId;
        },
      );
    });
  }

  countFreeLookup({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    return settle(() => {
      this.updateIf(key, isPerson, (item) => {
        item.updatedAt = iso(nowMs);
        item.freeLookups = (item.freeLookups ?? 0) + 1;
      });
    });
  }

  claimPhoneApplication(claim: { key: string; untilMs: number; nowMs: number }): Promise<boolean> {
    return settle(() =>
      this.updateIf(
        claim.key,
        (item) =>
          isPerson(item) &&
          item.phoneReveal !== 'applied' &&
          (item.phonesLockedUntilMs === undefined || item.phonesLockedUntilMs < claim.nowMs),
        (item) => {
          item.phonesLockedUntilMs = claim.untilMs;
        },
      ),
    );
  }

  releasePhoneApplication({ key }: { key: string }): Promise<void> {
    return settle(() => {
      this.updateIf(key, isPerson, (item) => {
        delete item.phonesLockedUntilMs;
      });
    });
  }

  recordPhonesApplied(applied: { key: string; phoneHashes: string[]; nowMs: number }): Promise<boolean> {
    return settle(() =>
      this.updateIf(
        applied.key,
        (item) => isPerson(item) && item.phoneReveal !== 'applied',
        (item) => {
          item.phoneReveal = 'applied';
          item.appliedPhoneHashes = [...applied.phoneHashes];
          item.updatedAt = iso(applied.nowMs);
          delete item.phonesLockedUntilMs;
        },
      ),
    );
  }

  countRevealCredits(count: { key: string; credits: number; nowMs: number }): Promise<boolean> {
    // The flag makes every later delivery of the same reveal count nothing.
    return settle(() =>
      this.updateIf(
        count.key,
        (item) => isPerson(item) && item.revealCreditsCounted === undefined,
        (item) => {
          item.revealCreditsCounted = true;
          item.updatedAt = iso(count.nowMs);
          item.creditsConsumed = (item.creditsConsumed ?? 0) + count.credits;
        },
      ),
    );
  }

  markPhonesUnavailable(update: { key: string; reason: string; nowMs: number }): Promise<void> {
    // 'attribute_exists(#status) AND phone_reveal <> :applied': `<>` holds for an absent attribute.
    return settle(() => {
      this.updateIf(
        update.key,
        (item) => isPerson(item) && item.phoneReveal !== 'applied',
        (item) => {
          item.phoneReveal = 'unavailable';
          item.phoneRevealNote = update.reason;
          item.updatedAt = iso(update.nowMs);
        },
      );
    });
  }

  claimDelivery(claim: {
    id: string;
    bodyHash: string;
    token: string;
    lockExpiresAtMs: number;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<{ claimed: true } | { claimed: false; delivery: RememberedDelivery }> {
    return settle(() => {
      const pk = deliveryKey(claim.id);
      // New, or abandoned by an invocation that died (never an answered one).
      const claimed = this.updateIf(
        pk,
        (item) =>
          item === undefined ||
          (item.deliveryAnswer === undefined &&
            item.lockExpiresAtMs !== undefined &&
            item.lockExpiresAtMs < claim.nowMs),
        (item) => {
          item.deliveryBodyHash = claim.bodyHash;
          item.lockToken = claim.token;
          item.lockExpiresAtMs = claim.lockExpiresAtMs;
          item.updatedAt = iso(claim.nowMs);
          item.expiresAtSeconds = claim.expiresAtSeconds;
        },
      );
      if (claimed) return { claimed: true } as const;
      const item = this.items.get(pk);
      return {
        claimed: false,
        delivery: {
          bodyHash: item?.deliveryBodyHash ?? '',
          answer: item?.deliveryAnswer ?? null,
          lockExpiresAtMs: item?.lockExpiresAtMs ?? null,
        },
      } as const;
    });
  }

  rememberAnswer(answer: {
    id: string;
    token: string;
    answer: string;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<void> {
    return settle(() => {
      this.updateIf(
        deliveryKey(answer.id),
        (item) => item?.lockToken === answer.token,
        (item) => {
          item.deliveryAnswer = answer.answer;
          item.updatedAt = iso(answer.nowMs);
          item.expiresAtSeconds = answer.expiresAtSeconds;
          delete item.lockToken;
          delete item.lockExpiresAtMs;
        },
      );
    });
  }

  forgetDelivery({ id, token }: { id: string; token: string }): Promise<void> {
    // The lock lapses at once: the next delivery of the id claims it (the item's TTL stays).
    return settle(() => {
      this.updateIf(
        deliveryKey(id),
        (item) => item?.lockToken === token,
        (item) => {
          item.lockExpiresAtMs = 0;
          delete item.lockToken;
        },
      );
    });
  }

  private identityEntry(identity: string): IdentityEntry | null {
    const item = this.items.get(identity);
    return item === undefined ? null : { aliasOf: item.aliasOf ?? null, ambiguous: item.ambiguous ?? false };
  }

  /** A write only the current claim holder may make: `lock_token = :token AND #status = :creating`. */
  private updateAsHolder(key: string, token: string, change: (item: LedgerItem) => void): void {
    const applied = this.updateIf(
      key,
      (item) => item?.lockToken === token && item.status === 'creating',
      change,
    );
    if (!applied) throw new LockLostError('lost the claim on a ledger record to another invocation');
  }

  /**
   * UpdateItem with a condition: false (nothing written) when it does not hold; otherwise the item,
   * created if absent, is changed in place.
   */
  private updateIf(
    pk: string,
    condition: (item: LedgerItem | undefined) => boolean,
    change: (item: LedgerItem) => void,
  ): boolean {
    const current = this.items.get(pk);
    if (!condition(current)) return false;
    const item = current ?? { pk };
    change(item);
    this.items.set(pk, item);
    return true;
  }

  private finishUnconverted(status: 'rejected' | 'failed', result: UnconvertedResult): void {
    this.updateAsHolder(result.key, result.token, (item) => {
      item.status = status;
      item.lastError = result.reason;
      item.updatedAt = iso(result.nowMs);
      item.expiresAtSeconds = result.expiresAtSeconds;
      delete item.lockToken;
      delete item.lockExpiresAtMs;
      delete item.queuedContact;
    });
  }
}

/** `REMOVE awaiting_verdict_since, awaiting_verdict_shard`: the record leaves the sweep's index. */
function leaveAwaitingVerdict(item: LedgerItem): void {
  delete item.awaitingVerdictSinceMs;
  delete item.awaitingVerdictShard;
}

interface UnconvertedResult {
  key: string;
  token: string;
  reason: string;
  nowMs: number;
  expiresAtSeconds: number;
}
