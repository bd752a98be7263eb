import { LockLostError } from '../../../lib/errors';
import type {
  ClaimRequest,
  ClaimResult,
  ConversionLedger,
  ConversionOutcome,
  ConversionRecord,
  FreeLookups,
  HeldPhones,
  KeptEnrichment,
  LedgerReader,
  PaidEnrichments,
  PersonAliases,
  PhoneRevealLedger,
  PhoneRevealStatus,
  RecordStatus,
  VerificationLedger,
} from '../../../lib/ledger';
import type { MatchIdentity } from '../../../lib/person';

/**
 * One item of the table, as `DynamoDbLedger` stores it (attribute names in camelCase here). A person
 * record has a `status`; an alias (`person:<id>`, `linkedin:<url>`, ...) has `aliasOf` and perhaps
 * phones a callback held; a kept enrichment (`enrichment:<lookup>`) has `keptEnrichment`.
 */
export interface LedgerItem {
  pk: string;
  status?: RecordStatus;
  aliasOf?: string;
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
  freeLookups?: number;
  phoneReveal?: PhoneRevealStatus;
  phoneRevealNote?: string;
  appliedPhoneHashes?: string[];
  /** Epoch ms until which one writer holds the right to write revealed phones. */
  phonesLockedUntilMs?: number;
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
    freeLookups: item.freeLookups ?? 0,
    phoneReveal: item.phoneReveal ?? null,
    phoneRevealNote: item.phoneRevealNote ?? null,
    appliedPhoneHashes: [...(item.appliedPhoneHashes ?? [])],
  };
}

/** What DynamoDB throws when a condition does not hold and the caller does not catch it. */
function conditionalCheckFailed(): Error {
  const error = new Error('The conditional request failed');
  error.name = 'ConditionalCheckFailedException';
  return error;
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
    VerificationLedger,
    PersonAliases,
    PaidEnrichments,
    PhoneRevealLedger
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

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const old = this.items.get(request.key);
    // 'attribute_not_exists(pk) OR (#status = :creating AND lock_expires_at < :now) OR
    //  (#status IN (:rejected, :failed) AND fingerprint <> :fingerprint)'
    const claimable =
      old === undefined ||
      (old.status === 'creating' &&
        old.lockExpiresAtMs !== undefined &&
        old.lockExpiresAtMs < request.nowMs) ||
      ((old.status === 'rejected' || old.status === 'failed') && old.fingerprint !== request.fingerprint);
    if (!claimable) {
      if (isPerson(old)) return { claimed: false, record: toRecord(old) };
      // An alias or kept enrichment under a person key: DynamoDbLedger.claim finds no record with
      // the failed condition, reads none either, and calls itself again, for ever. Say so instead.
      throw new Error(
        `claim: ${request.key} holds an item without a status; DynamoDbLedger.claim would retry for ever`,
      );
    }
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
    this.items.set(request.key, item);
    return { claimed: true, previous };
  }

  async complete(result: {
    key: string;
    token: string;
    outcome: ConversionOutcome;
    contactId: string;
    nowMs: number;
  }): Promise<void> {
    this.updateAsHolder(result.key, result.token, (item) => {
      item.status = 'created';
      item.contactId = result.contactId;
      item.outcome = result.outcome;
      item.convertedAt = iso(result.nowMs);
      item.updatedAt = iso(result.nowMs);
      delete item.lockToken;
      delete item.lockExpiresAtMs;
      delete item.createUncertain;
      delete item.createUncertainSinceMs;
    });
  }

  async reject(result: UnconvertedResult): Promise<void> {
    this.finishUnconverted('rejected', result);
  }

  async fail(result: UnconvertedResult): Promise<void> {
    this.finishUnconverted('failed', result);
  }

  async release(result: {
    key: string;
    token: string;
    error: string;
    createUncertain: boolean;
    nowMs: number;
    refundAttempt?: boolean;
  }): Promise<void> {
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
  }

  async restartAttempts({ key, token }: { key: string; token: string }): Promise<void> {
    this.updateAsHolder(key, token, (item) => {
      item.attempts = 1;
    });
  }

  async markVerificationStarted({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    this.updateIf(
      key,
      (item) => item !== undefined,
      (item) => {
        item.verificationStartedAt = iso(nowMs);
        item.updatedAt = iso(nowMs);
      },
    );
  }

  async markVerified({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    this.updateIf(
      key,
      (item) =>
        item?.status === 'created' || item?.status === 'verified' || item?.status === 'verification_failed',
      (item) => {
        item.status = 'verified';
        item.verifiedAt = iso(nowMs);
        item.updatedAt = iso(nowMs);
        delete item.lastError;
      },
    );
  }

  async markVerificationFailed(update: { key: string; reason: string; nowMs: number }): Promise<boolean> {
    return this.updateIf(
      update.key,
      (item) => item?.status === 'created' || item?.status === 'verification_failed',
      (item) => {
        item.status = 'verification_failed';
        item.lastError = update.reason;
        item.updatedAt = iso(update.nowMs);
      },
    );
  }

  async get({ key }: { key: string }): Promise<ConversionRecord | null> {
    const item = this.items.get(key);
    return isPerson(item) ? toRecord(item) : null;
  }

  async find({ keyOrAlias }: { keyOrAlias: string }): Promise<ConversionRecord | null> {
    const item = this.items.get(keyOrAlias);
    if (item?.aliasOf !== undefined) return this.get({ key: item.aliasOf });
    return isPerson(item) ? toRecord(item) : null;
  }

  async link(link: { alias: string; key: string; nowMs: number }): Promise<HeldPhones | null> {
    let held: HeldPhones | null = null;
    this.updateIf(
      link.alias,
      // An alias names one person for good; a record is never turned into one.
      (item) => !isPerson(item) && (item?.aliasOf === undefined || item.aliasOf === link.key),
      (item) => {
        item.aliasOf = link.key;
        item.updatedAt = iso(link.nowMs);
        delete item.expiresAtSeconds;
        held = item.heldPhones === undefined ? null : structuredClone(item.heldPhones);
      },
    );
    return held;
  }

  async holdRevealedPhones(hold: {
    alias: string;
    held: HeldPhones;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<string | null> {
    let aliasOf: string | null = null;
    const written = this.updateIf(
      hold.alias,
      (item) => !isPerson(item),
      (item) => {
        item.heldPhones = stored(hold.held);
        item.updatedAt = iso(hold.nowMs);
        item.expiresAtSeconds = hold.expiresAtSeconds;
        aliasOf = item.aliasOf ?? null;
      },
    );
    // DynamoDbLedger does not catch this condition failure: it reaches the caller.
    if (!written) throw conditionalCheckFailed();
    return aliasOf;
  }

  async releaseHeldPhones({ alias, nowMs }: { alias: string; nowMs: number }): Promise<void> {
    this.updateIf(
      alias,
      (item) => item !== undefined,
      (item) => {
        item.updatedAt = iso(nowMs);
        delete item.heldPhones;
        delete item.expiresAtSeconds;
      },
    );
  }

  async keepEnrichment(keep: {
    lookup: string;
    kept: KeptEnrichment;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<void> {
    this.updateIf(
      `enrichment:${keep.lookup}`,
      () => true,
      (item) => {
        item.keptEnrichment = stored(keep.kept);
        item.updatedAt = iso(keep.nowMs);
        item.expiresAtSeconds = keep.expiresAtSeconds;
      },
    );
  }

  async keptEnrichment({ lookup }: { lookup: string }): Promise<KeptEnrichment | null> {
    const kept = this.items.get(`enrichment:${lookup}`)?.keptEnrichment;
    return kept === undefined ? null : structuredClone(kept);
  }

  async recordEnrichment(enrichment: {
    key: string;
    apolloPersonId: string | null;
    requestId: string | null;
    creditsConsumed: number;
    phoneReveal: PhoneRevealStatus;
    nowMs: number;
  }): Promise<void> {
    this.updateIf(enrichment.key, isPerson, (item) => {
      item.updatedAt = iso(enrichment.nowMs);
      item.phoneReveal = enrichment.phoneReveal;
      if (enrichment.apolloPersonId !== null) item.apolloPersonId = enrichment.apolloPersonId;
      if (enrichment.requestId !== null) item.requestId = enrichment.requestId;
      item.creditsConsumed = (item.creditsConsumed ?? 0) + enrichment.creditsConsumed;
    });
  }

  async countFreeLookup({ key, nowMs }: { key: string; nowMs: number }): Promise<void> {
    this.updateIf(key, isPerson, (item) => {
      item.updatedAt = iso(nowMs);
      item.freeLookups = (item.freeLookups ?? 0) + 1;
    });
  }

  async claimPhoneApplication(claim: { key: string; untilMs: number; nowMs: number }): Promise<boolean> {
    return this.updateIf(
      claim.key,
      (item) =>
        isPerson(item) &&
        item.phoneReveal !== 'applied' &&
        (item.phonesLockedUntilMs === undefined || item.phonesLockedUntilMs < claim.nowMs),
      (item) => {
        item.phonesLockedUntilMs = claim.untilMs;
      },
    );
  }

  async releasePhoneApplication({ key }: { key: string }): Promise<void> {
    this.updateIf(key, isPerson, (item) => {
      delete item.phonesLockedUntilMs;
    });
  }

  async recordPhonesApplied(applied: {
    key: string;
    phoneHashes: string[];
    creditsConsumed: number;
    nowMs: number;
  }): Promise<boolean> {
    // The condition makes a second delivery of the same phones count no credits.
    return this.updateIf(
      applied.key,
      (item) => isPerson(item) && item.phoneReveal !== 'applied',
      (item) => {
        item.phoneReveal = 'applied';
        item.appliedPhoneHashes = [...applied.phoneHashes];
        item.updatedAt = iso(applied.nowMs);
        item.creditsConsumed = (item.creditsConsumed ?? 0) + applied.creditsConsumed;
        delete item.phonesLockedUntilMs;
      },
    );
  }

  async markPhonesUnavailable(update: { key: string; reason: string; nowMs: number }): Promise<void> {
    // 'attribute_exists(#status) AND phone_reveal <> :applied': `<>` holds for an absent attribute.
    this.updateIf(
      update.key,
      (item) => isPerson(item) && item.phoneReveal !== 'applied',
      (item) => {
        item.phoneReveal = 'unavailable';
        item.phoneRevealNote = update.reason;
        item.updatedAt = iso(update.nowMs);
      },
    );
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
    });
  }
}

interface UnconvertedResult {
  key: string;
  token: string;
  reason: string;
  nowMs: number;
  expiresAtSeconds: number;
}
