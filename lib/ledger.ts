import type { ContactFields, MatchIdentity } from './person';

/**
 * The ledger: one record per person key, the service's memory of what it converted.
 *
 * Life of a record:
 *
 *   (none) --enqueue--> queued --claimQueued--> creating --complete--> created --verify--> verified
 *                         ^  ^                    |  ^                   \----------------> verification_failed
 *                         |  '--requeue (Apollo  |  '--release (Apollo unavailable; the lock is dropped at once)
 *                         |     busy or down) ----|--reject (Apollo 422) --> rejected  (queued or claimable again
 *                         |                       '--fail (too many attempts) --> failed   only with changed data)
 *   (none) --claim (the synchronous path: POST /enrichments) --> creating (claim also takes a `queued` record)
 *
 * A `queued` record holds what the consumer sends to Apollo (`QueuedContact`, phone numbers
 * included) until it is converted: `complete`, `reject` and `fail` remove it, so the ledger keeps
 * only hashes of the numbers after that.
 *
 * A claim holds a lock until `lockExpiresAtMs` (the Lambda's deadline), so an invocation that dies
 * never blocks the person beyond its own lifetime; every later write names the claim's `token`, so
 * a claimer whose lock expired and was taken over cannot overwrite the new claimer's work.
 *
 * A `created` record waits for its verdict in a sparse index (`awaiting_verdict_since`), which
 * `verified` and `verification_failed` leave; `VerificationSweep` re-drives the ones that wait too long.
 */
export type RecordStatus =
  'queued' | 'creating' | 'created' | 'verified' | 'verification_failed' | 'rejected' | 'failed';

/** `created`: this service created the Apollo contact. `existing`: Apollo had one with the same email. */
export type ConversionOutcome = 'created' | 'existing';

export interface ConversionRecord {
  key: string;
  status: RecordStatus;
  contactId: string | null;
  outcome: ConversionOutcome | null;
  /** Claims so far, including the current one. */
  attempts: number;
  lastError: string | null;
  /** True when an earlier attempt may have created the contact without recording it. */
  createUncertain: boolean;
  /** Epoch ms when an attempt first released its claim with a create of unknown outcome. */
  createUncertainSinceMs: number | null;
  /** Hash of the contact fields last claimed (see `Person.fingerprint`). */
  fingerprint: string;
  /** How people/match finds the person when verifying. */
  match: MatchIdentity;
  /** SHA-256 of each E.164 phone number sent on create; the numbers themselves are not stored. */
  expectedPhoneHashes: string[];
  lockToken: string | null;
  /** Epoch ms when the current claim's lock lapses by itself. */
  lockExpiresAtMs: number | null;
  createdAt: string;
  updatedAt: string;
  convertedAt: string | null;
  verificationStartedAt: string | null;
  verifiedAt: string | null;
  /** Apollo's person id, when the person came through an enrichment (POST /enrichments). */
  apolloPersonId: string | null;
  /** Apollo's request id of that enrichment: a signed 64-bit integer, kept as its digits. */
  requestId: string | null;
  /**
   * Apollo credits spent on this person so far: each paid people/match counted once (by its
   * request id) from Apollo's price list (`lib/apollo/pricing.ts`), plus the phone reveal's cost
   * once its result came.
   */
  creditsConsumed: number;
  /** What the people/match of `requestId` was counted for; its reveal's callback reports the sum. */
  requestCredits: number;
  /** Later enrichment requests answered from the ledger without calling Apollo. */
  freeLookups: number;
  /** Where the phone reveal stands, for people enriched with phones. */
  phoneReveal: PhoneRevealStatus | null;
  /** Why the phone reveal ended without phones. */
  phoneRevealNote: string | null;
  /** SHA-256 of each revealed E.164 number already written to the contact. */
  appliedPhoneHashes: string[];
  /**
   * Epoch ms since when a `created` record has been waiting for its verification's verdict (set
   * on `complete` and on each re-drive, removed with the verdict); null once it has one.
   */
  awaitingVerdictSinceMs?: number | null;
  /** Verifications re-driven so far for this record (the sweep, or a redelivery). */
  verificationRedrives?: number;
  /**
   * Epoch ms when a `queued` record's key was last handed to the conversion queue; 0 when that
   * send failed (the next delivery sends it again at once). Absent on any other status.
   */
  sentAtMs?: number;
  /**
   * True while the record holds a queued person (`QueuedContact`): queued, or claimed from the
   * queue and not finished. The queue brings such a person back whoever holds it now. Absent otherwise.
   */
  holdsQueuedContact?: true;
}

/**
 * What the consumer sends to Apollo for a `queued` person: the contact fields (typed phones in
 * E.164), and what bulk_create takes besides (LinkedIn URL, CRM ids). Kept on the record until it
 * is converted, never longer.
 */
export type QueuedContact = ContactFields & {
  linkedin_url?: string;
  hubspot_id?: string;
  salesforce_contact_id?: string;
  salesforce_lead_id?: string;
};

export type PhoneRevealStatus = 'not_requested' | 'pending' | 'applied' | 'unavailable';

/**
 * What an enrichment paid for, kept under the request's identity until the person is converted:
 * if the conversion cannot finish (Apollo rate limiting the create, say), the retry converts this
 * instead of paying Apollo again.
 */
export interface KeptEnrichment {
  person: {
    id?: string | null;
    first_name?: string | null;
    last_name?: string | null;
    email?: string | null;
    title?: string | null;
    linkedin_url?: string | null;
    organization?: {
      name?: string | null;
      website_url?: string | null;
      primary_domain?: string | null;
    } | null;
  };
  requestId: string | null;
  creditsConsumed: number | null;
  phonesRequested: boolean;
}

/**
 * A claim on paying Apollo for one lookup (`PaidEnrichments.claimEnrichment`). Not claimed: the
 * lookup was paid for already (`kept`, to convert without paying again), or another request holds
 * a live claim until `lockExpiresAtMs`.
 */
export type EnrichmentClaim =
  { claimed: true } | { claimed: false; kept: KeptEnrichment | null; lockExpiresAtMs: number | null };

/** Phones a callback revealed for an Apollo person id, kept until its contact is known. */
export interface HeldPhones {
  phones: RevealedPhone[];
  creditsConsumed: number | null;
}

export interface RevealedPhone {
  e164: string;
  /** Apollo's `type_cd`: mobile, work_direct, work_hq, home, other. */
  type: string;
}

export interface ClaimRequest {
  key: string;
  token: string;
  /** Epoch ms when the lock lapses by itself. */
  lockExpiresAtMs: number;
  nowMs: number;
  fingerprint: string;
  match: MatchIdentity;
  expectedPhoneHashes: string[];
}

export type ClaimResult =
  /** The caller holds the key. `previous` is the record as it was before the claim (null if new). */
  | { claimed: true; previous: ConversionRecord | null }
  /** Someone else holds it, or it is finished. */
  | { claimed: false; record: ConversionRecord };

/*
 * The ledger's ports, one per need: each use case names only the ones it uses, and
 * `DynamoDbLedger` implements them all. Every method takes one object; times are epoch ms
 * (`nowMs`, `lockExpiresAtMs`, `untilMs`) except DynamoDB TTLs, which are epoch seconds
 * (`expiresAtSeconds`).
 */

/** Reads records. All `GET /conversions/{key}` needs; the enrichment reads through it too. */
export interface LedgerReader {
  get(query: { key: string }): Promise<ConversionRecord | null>;
  /** Reads a record by its key, or by an alias `link` made (e.g. `person:<apollo id>`). */
  find(query: { keyOrAlias: string }): Promise<ConversionRecord | null>;
}

/** Counts a request answered from the ledger, without Apollo (conversion and enrichment alike). */
export interface FreeLookups {
  countFreeLookup(lookup: { key: string; nowMs: number }): Promise<void>;
}

/** The conversion's claim on a person and its outcome (`ContactConversion`). */
export interface ConversionLedger extends FreeLookups {
  /**
   * Claims `key` if it is new, `queued`, its lock has lapsed, or it was rejected or failed and the
   * data changed. Never calls Apollo; decides who may.
   */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /** creating → created, by the claim holder only. Forgets the queued contact. */
  complete(result: {
    key: string;
    token: string;
    outcome: ConversionOutcome;
    contactId: string;
    nowMs: number;
  }): Promise<void>;
  /** creating → rejected, by the claim holder only. The record expires at `expiresAtSeconds` (the TTL). */
  reject(result: {
    key: string;
    token: string;
    reason: string;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<void>;
  /** creating → failed: the service stops calling Apollo for this person. Expires like `reject`. */
  fail(result: {
    key: string;
    token: string;
    reason: string;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<void>;
  /**
   * Gives the claim back at once (Apollo unavailable), keeping why and whether a create may have
   * happened. `refundAttempt` uncounts a claim that called Apollo for nothing.
   */
  release(result: {
    key: string;
    token: string;
    error: string;
    createUncertain: boolean;
    nowMs: number;
    refundAttempt?: boolean;
  }): Promise<void>;
  /** Counts attempts afresh for a rejected or failed record re-opened by changed data. */
  restartAttempts(claim: { key: string; token: string }): Promise<void>;
  markVerificationStarted(update: { key: string; nowMs: number }): Promise<void>;
}

/** The verification's reads and writes (`ContactVerification`). */
export interface VerificationLedger {
  get(query: { key: string }): Promise<ConversionRecord | null>;
  /** created → verified. */
  markVerified(update: { key: string; nowMs: number }): Promise<void>;
  /** created → verification_failed with the reason; false (nothing written) for any other status. */
  markVerificationFailed(update: { key: string; reason: string; nowMs: number }): Promise<boolean>;
}

/**
 * Aliases of a person key (`person:<apollo id>`, `linkedin:<url>`, ...), and the phones a callback
 * holds under one until its contact is known (`PersonEnrichment`).
 */
export interface PersonAliases {
  /**
   * Points `alias` at `key`. Returns the phones a callback held there before the link existed, so
   * whichever of the two writes second applies them (both are single-item atomic updates).
   */
  link(link: { alias: string; key: string; nowMs: number }): Promise<HeldPhones | null>;
  /**
   * Keeps a callback's phones under `alias` (expiring at `expiresAtSeconds` unless linked).
   * Returns the key the alias points at, or null when it points nowhere yet.
   */
  holdRevealedPhones(hold: {
    alias: string;
    held: HeldPhones;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<string | null>;
  /** Forgets held phones once they are applied. */
  releaseHeldPhones(release: { alias: string; nowMs: number }): Promise<void>;
}

/**
 * What an enrichment paid for: kept under the request's identity until its person is converted,
 * then recorded on the person's record (`PersonEnrichment`).
 */
export interface PaidEnrichments {
  /**
   * The right to pay Apollo for `lookup`, held until `lockExpiresAtMs` (the Lambda's deadline).
   * Granted only when nothing was paid for this lookup yet (no kept enrichment) and no other live
   * claim exists; a conditional write decides, so of any number of concurrent requests one pays.
   * The claim item expires at `expiresAtSeconds` (TTL) if its holder dies.
   */
  claimEnrichment(claim: {
    lookup: string;
    token: string;
    lockExpiresAtMs: number;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<EnrichmentClaim>;
  /** Gives the claim back (nothing was paid, or the call failed): only its holder's `token` can. */
  releaseEnrichment(release: { lookup: string; token: string }): Promise<void>;
  /**
   * Keeps a paid-for enrichment under `lookup` until `expiresAtSeconds`, ending the claim `token`.
   * False (nothing written) when that claim was lost: a lapsed holder never overwrites.
   */
  keepEnrichment(keep: {
    lookup: string;
    token: string;
    kept: KeptEnrichment;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<boolean>;
  /** The enrichment kept under `lookup`, if any. */
  /**
   * The enrichment kept for `lookup`. With `nowMs`, null while its payer still holds the lookup (it
   * is converting the person right now): only a payer that finished or died is taken over.
   */
  keptEnrichment(query: { lookup: string; nowMs?: number }): Promise<KeptEnrichment | null>;
  /**
   * Remembers what an enrichment learned: Apollo's ids, credits, whether phones are coming.
   * Credits are added once per `requestId` however often it is recorded. A record's phone reveal
   * and request id are set once: a later enrichment replaces them only when the record had no
   * reveal (`not_requested` or none) and this one asked for phones; a `pending`, `applied` or
   * `unavailable` reveal is never reopened.
   */
  recordEnrichment(enrichment: {
    key: string;
    apolloPersonId: string | null;
    requestId: string | null;
    creditsConsumed: number;
    phoneReveal: PhoneRevealStatus;
    nowMs: number;
  }): Promise<void>;
}

/** Revealed phones written to the contact once, or the reveal ending without them (`PersonEnrichment`). */
export interface PhoneRevealLedger {
  /**
   * Takes the right to write revealed phones to the contact until `untilMs`, so a callback and the
   * webhook_result fallback arriving together do not both call Apollo. False if another holds it,
   * or the phones are applied already.
   */
  claimPhoneApplication(claim: { key: string; untilMs: number; nowMs: number }): Promise<boolean>;
  /** Gives that right back after a failed write, so the next delivery can try at once. */
  releasePhoneApplication(claim: { key: string }): Promise<void>;
  /** Records revealed phones as written to the contact; false if that was recorded already. */
  recordPhonesApplied(applied: { key: string; phoneHashes: string[]; nowMs: number }): Promise<boolean>;
  /**
   * Adds the phone reveal's cost to the record's credits, once per record however often its
   * result is delivered (callback replays, the fallback). False when it was counted already.
   */
  countRevealCredits(count: { key: string; credits: number; nowMs: number }): Promise<boolean>;
  /** The phone reveal ended without phones (unknown, expired, invalid request, or never ready). */
  markPhonesUnavailable(update: { key: string; reason: string; nowMs: number }): Promise<void>;
}

/** A `created` record still waiting for its verification's verdict, as the sweep's index holds it. */
export interface AwaitingVerdict {
  key: string;
  contactId: string;
  /** Epoch ms: since the record was completed, or last re-driven. */
  awaitingSinceMs: number;
  redrives: number;
}

/**
 * Finds and re-drives verifications that ended without a verdict (`VerificationSweep`), through a
 * sparse index of the records waiting for one: never a table scan.
 */
export interface VerificationSweepLedger {
  /** Up to `limit` records waiting for a verdict since before `olderThanMs`, oldest first per shard. */
  awaitingVerdict(query: { olderThanMs: number; limit: number }): Promise<AwaitingVerdict[]>;
  /**
   * Takes the right to re-drive one record: counts the re-drive and restarts its wait, if it is
   * still `created`, without a verdict, and waiting since `awaitingSinceMs` (null: a record written
   * before the index existed). Returns the re-drive's number, or null when another sweep or
   * delivery took it or a verdict arrived.
   */
  markRedriven(update: {
    key: string;
    awaitingSinceMs: number | null;
    nowMs: number;
  }): Promise<number | null>;
  /** created → verification_failed with the reason; false (nothing written) for any other status. */
  markVerificationFailed(update: { key: string; reason: string; nowMs: number }): Promise<boolean>;
}

/** A webhook delivery as the ledger remembers it (`WebhookDeliveryMemory`). */
export interface RememberedDelivery {
  /** Hash of the body the id came with: the same id with another body is not a replay. */
  bodyHash: string;
  /** The answer given, as JSON text; null while the first delivery is still being processed. */
  answer: string | null;
  /** Epoch ms when the processing delivery's lock lapses. */
  lockExpiresAtMs: number | null;
}

/**
 * Recent webhook deliveries by `webhook-id`, so a replay is answered as the first delivery was,
 * without converting (or counting `free_lookups`) again. Items expire at `expiresAtSeconds`.
 */
export interface WebhookDeliveries {
  /**
   * Takes `id` for processing unless it is remembered (answered, or being processed under a live
   * lock); then returns what is remembered.
   */
  claimDelivery(claim: {
    id: string;
    bodyHash: string;
    token: string;
    lockExpiresAtMs: number;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<{ claimed: true } | { claimed: false; delivery: RememberedDelivery }>;
  /** Remembers the answer of a processed delivery, by the claim holder only. */
  rememberAnswer(answer: {
    id: string;
    token: string;
    answer: string;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<void>;
  /** Forgets a delivery that could not be answered for good, so its retry is processed afresh. */
  forgetDelivery(claim: { id: string; token: string }): Promise<void>;
}

/** An identity item as it stands: the record it names, or marked as shared by several people. */
export interface IdentityEntry {
  /** The record key (conversion id) this identity names; null when it names nobody (yet). */
  aliasOf: string | null;
  /** Several people have this identity (one name at one company): it names nobody, for good. */
  ambiguous: boolean;
}

/**
 * Identity items (`IdentityResolution`): each of a person's identities (`identityKey`) names the one
 * record (conversion id) that person has. Every write is a single-item conditional write, so two
 * deliveries of one person agree on the record whatever their interleaving.
 */
export interface PersonIdentities {
  readIdentity(query: { identity: string }): Promise<IdentityEntry | null>;
  /**
   * Points `identity` at `key` unless it names another record or is ambiguous. Returns the entry
   * as it stands after the write: `aliasOf === key` when linked.
   */
  linkIdentity(link: { identity: string; key: string; nowMs: number }): Promise<IdentityEntry>;
  /** Marks `identity` as shared by several people: it stops naming any record, for good. */
  markIdentityAmbiguous(mark: { identity: string; nowMs: number }): Promise<void>;
  /**
   * A short lock on a weak identity (a name at a company, a LinkedIn URL), held while a delivery
   * decides which record the identity names. False while another delivery holds it.
   */
  lockIdentity(lock: { identity: string; token: string; untilMs: number; nowMs: number }): Promise<boolean>;
  unlockIdentity(lock: { identity: string; token: string }): Promise<void>;
  /** The email identity (`identityKey`) that owns record `key`, or null when no email does. */
  recordOwner(query: { key: string }): Promise<string | null>;
  /**
   * Makes the email identity `owner` the owner of record `key` unless another email owns it
   * already: two people with different emails never share a record. A record that does not exist
   * yet is created as a placeholder expiring at `placeholderExpiresAtSeconds` (the claim keeps it).
   */
  ownRecord(own: {
    key: string;
    owner: string;
    nowMs: number;
    placeholderExpiresAtSeconds?: number;
  }): Promise<boolean>;
}

/** What a door writes for one person it accepts (`ConversionIntake`). */
export interface EnqueueRequest {
  key: string;
  nowMs: number;
  /** As `ClaimRequest`: what the verification and a changed re-delivery compare against. */
  fingerprint: string;
  match: MatchIdentity;
  expectedPhoneHashes: string[];
  /** What the consumer will send to Apollo. */
  contact: QueuedContact;
}

export type EnqueueResult =
  /**
   * The record is `queued` now: new, re-opened by changed data after `rejected` or `failed`, or
   * taken back from a claim whose lock lapsed. `previous` is the record as it was (null if new).
   */
  | { enqueued: true; previous: ConversionRecord | null }
  /** It exists and stays as it is: queued or held already, finished, or refused with this data. */
  | { enqueued: false; record: ConversionRecord };

/**
 * The doors' ledger (`ConversionIntake`): identities, the conditional write that queues a person
 * once, and what the answer and the long poll read.
 */
export interface ConversionIntakeLedger extends FreeLookups, PersonIdentities {
  get(query: { key: string }): Promise<ConversionRecord | null>;
  /**
   * Writes the person `queued` unless a record exists; a rejected or failed record with changed
   * data, and a claim whose lock lapsed, are queued again (a lapsed claim that may have created
   * the contact keeps that doubt: `createUncertain`). Never calls Apollo or the queue.
   */
  enqueue(request: EnqueueRequest): Promise<EnqueueResult>;
  /** The send of a `queued` record failed: the next delivery of the person sends it again at once. */
  markUnsent(update: { key: string }): Promise<void>;
  /** A `queued` record was handed to the queue again: dated `nowMs`. Nothing for another status. */
  markSent(update: { key: string; nowMs: number }): Promise<void>;
  markVerificationStarted(update: { key: string; nowMs: number }): Promise<void>;
}

/** A claim on a queued person (`QueuedConversionLedger.claimQueued`). */
export type QueuedClaim =
  /** The caller holds it: the record as it was before, and what to send to Apollo. */
  | { claimed: true; previous: ConversionRecord; contact: QueuedContact }
  /** Held by another, finished, refused, or gone (null): nothing to convert here. */
  | { claimed: false; record: ConversionRecord | null };

/** The consumer's claims and outcomes (`BulkConversion`): the conversion's, by key alone. */
export interface QueuedConversionLedger extends Pick<
  ConversionLedger,
  'complete' | 'reject' | 'markVerificationStarted'
> {
  get(query: { key: string }): Promise<ConversionRecord | null>;
  /**
   * Claims a record holding a queued person, by key alone (the record holds the person): `queued`;
   * `creating` whose lock lapsed (its consumer died); `failed` by `failQueued` (a redrive of the
   * dead-letter queue converts it once the cause is fixed). Same lock and fencing token as `claim`.
   */
  claimQueued(request: {
    key: string;
    token: string;
    lockExpiresAtMs: number;
    nowMs: number;
  }): Promise<QueuedClaim>;
  /**
   * creating → queued, by the claim holder: Apollo was busy or unavailable and the queue brings the
   * person back. Keeps why, and whether a create may have happened (sticky, dated from the first
   * time); `refundAttempt` uncounts a claim that did nothing (a 429, pacing). `quietPeriod: false`
   * keeps the doubt undated: the contact is known to exist (a later call failed), no create of
   * unknown outcome may still be running at Apollo, so none must be waited out.
   */
  requeue(result: {
    key: string;
    token: string;
    error: string;
    createUncertain: boolean;
    nowMs: number;
    refundAttempt?: boolean;
    quietPeriod?: boolean;
  }): Promise<void>;
  /**
   * creating → failed, by the claim holder: its message is poison (its last receive failed too).
   * Unlike `fail`, keeps the queued person, so a redrive of the dead-letter queue can still
   * convert it; a delivery with changed data queues it again. Expires at `expiresAtSeconds`.
   */
  failQueued(result: {
    key: string;
    token: string;
    reason: string;
    createUncertain: boolean;
    nowMs: number;
    expiresAtSeconds: number;
  }): Promise<void>;
}

/**
 * `queued` records whose send may have been lost (`StrandedQueueSweep`), through the `by-status`
 * index (status, updated_at): never a scan.
 */
export interface StrandedQueueLedger {
  /** Keys of up to `limit` records `queued` and unchanged since before `olderThanMs`, oldest first. */
  queuedBefore(query: { olderThanMs: number; limit: number }): Promise<string[]>;
  markSent(update: { key: string; nowMs: number }): Promise<void>;
}

/**
 * A record as the `by-status` index holds it (its INCLUDE projection): what the operator's lists
 * show, no person data.
 */
export interface ListedRecord {
  key: string;
  status: RecordStatus;
  contactId: string | null;
  outcome: ConversionOutcome | null;
  lastError: string | null;
  attempts: number;
  createdAt: string;
  updatedAt: string;
  convertedAt: string | null;
  verifiedAt: string | null;
  creditsConsumed: number;
  freeLookups: number;
}

/** Where a listing of one status stopped: the index position after the last record returned. */
export interface ListPosition {
  key: string;
  updatedAt: string;
}

/** What the records of one status add up to (`ConversionOverview.summary`). */
export interface StatusTally {
  /** Records counted: all of them when `complete`, else the first `maxRecords`. */
  records: number;
  creditsConsumed: number;
  freeLookups: number;
  /** False when the count stopped at `maxRecords`: the figures are lower bounds. */
  complete: boolean;
  /** `updated_at` of the oldest record of this status (the index's first), or null for none. */
  oldestUpdatedAt: string | null;
}

/**
 * The operator's reads (`ConversionOverview`): records by status through the `by-status` index
 * (status, updated_at), never a scan.
 */
export interface ConversionListLedger {
  /**
   * Up to `limit` records of `status`, oldest change first (`newestFirst`: newest first), after
   * `after` (the `next` of the previous page). `next` is null on the last page.
   */
  listByStatus(query: {
    status: RecordStatus;
    limit: number;
    after?: ListPosition;
    newestFirst?: boolean;
  }): Promise<{ records: ListedRecord[]; next: ListPosition | null }>;
  /** Counts the records of `status` and adds up their credits, reading at most `maxRecords`. */
  tallyStatus(query: { status: RecordStatus; maxRecords: number }): Promise<StatusTally>;
}

/**
 * An operator's retry of one record (`ConversionRetry`). Each write is conditional on the status it
 * leaves, so a record being converted, converted or verified since is never touched.
 */
export interface ConversionRetryLedger {
  get(query: { key: string }): Promise<ConversionRecord | null>;
  /**
   * failed, still holding its queued person (`failQueued`) → queued, attempts counted afresh and the
   * send dated `nowMs`. False (nothing written) for any other status or a record without the person.
   */
  requeueFailed(update: { key: string; nowMs: number }): Promise<boolean>;
  /**
   * rejected or failed without its queued person (the ledger forgot the phones): the fingerprint is
   * cleared, so the next delivery of the person, with the same data, queues it again (`enqueue`).
   * The status stays. False (nothing written) for any other status or a record holding its person.
   */
  reopenForResend(update: { key: string; nowMs: number }): Promise<boolean>;
  /**
   * verification_failed → created, waiting for a verdict again (the sweep's index) with one more
   * re-drive counted. Returns the re-drive's number (its execution name), or null (nothing written)
   * for any other status.
   */
  reopenVerification(update: { key: string; nowMs: number }): Promise<number | null>;
  /** The send of a re-queued record failed: the next sweep or delivery sends it again. */
  markUnsent(update: { key: string }): Promise<void>;
}
