import { convertEntries, type PersonResult } from './batch';
import { eachLimit, sleep } from './bounded';
import type { ConversionResult, ConversionResultStatus } from './conversion';
import type { ConversionQueue } from './conversion-queue';
import { RetryLaterError, errorMessage } from './errors';
import { identityKey, isWeak } from './identity';
import { IdentityResolution } from './identity-resolution';
import type { ConversionIntakeLedger, ConversionRecord, QueuedContact } from './ledger';
import { PERSON_CREDITS } from './apollo/pricing';
import { logger, personRef } from './logger';
import type { ServiceMetrics } from './metrics';
import { phoneHash, type Person } from './person';
import type { PersonEntry } from './requests';
import type { VerificationScheduler } from './schedulers';

export interface ConversionIntakeDependencies {
  ledger: ConversionIntakeLedger;
  queue: ConversionQueue;
  /** Starts the verification of people converted before whose verification never started. */
  verifications: VerificationScheduler;
  /** Re-drives the verification of a converted person that has waited too long for its verdict. */
  staleVerifications?: { redriveIfStale(record: ConversionRecord): Promise<boolean> };
  /**
   * A `queued` record whose key went to the queue longer ago than this is sent again by the next
   * delivery of the person: a send lost to a crash between the ledger write and the send is
   * repaired by the sender's retry. Extra messages are harmless (the consumer's claim decides).
   */
  resendAfterMs: number;
  /** Counts what this use case did (default: nothing). */
  metrics?: ServiceMetrics;
  /** Retry-After of the 503 when the queue refused a send. */
  queueRetryAfterSeconds: number;
  /** Retry-After of the 503 for a person whose identity another delivery is deciding right now. */
  inProgressRetryAfterSeconds: number;
  /** People of one delivery handled at once (ledger calls only: DynamoDB takes many). */
  concurrency?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** The longest `POST /contacts?wait=N` waits for final results, in seconds. */
export const MAX_WAIT_SECONDS = 20;

/**
 * The HTTP status of an accepted delivery: 202 while some person is still `queued` (follow it with
 * `GET /conversions/{id}`), 200 when every result is final.
 */
export function acceptedStatusCode(results: ReadonlyArray<{ status: string }>): 200 | 202 {
  return results.some((result) => result.status === 'queued') ? 202 : 200;
}

/** Kept back from the Lambda's deadline for the answer itself. */
const DEADLINE_RESERVE_MS = 1000;
const DEFAULT_CONCURRENCY = 16;
/** The long poll's first pause and its longest; it grows by half each time in between. */
const FIRST_POLL_MS = 150;
const MAX_POLL_MS = 1000;

/** What one person of a delivery came to at the door. */
interface Accepted {
  result: ConversionResult;
  /** A key to hand to the queue: `fresh` was just written queued, else a re-send. */
  send?: { key: string; fresh: boolean };
  /** A converted record whose verification never started. */
  unverified?: { key: string; contact_id: string };
}

/**
 * What the consumer sends to Apollo for `person` (it reads it from the record): the contact fields,
 * the sender's CRM record ids included, which bulk_create matches on and the reply mapping reads.
 */
function queuedContactOf(person: Person): QueuedContact {
  return { ...person.fields };
}

/**
 * The doors' use case (the webhook, `POST /contacts`): accepts a delivery of people and answers at
 * once, without Apollo. Per person it resolves the record (identities, in the ledger only), answers
 * a person converted before from the ledger (`duplicate`), and records every other one `queued`
 * with a conditional write, so a person is queued once however many deliveries name it. The keys
 * of the queued people then go to the conversion queue, and the consumer (`BulkConversion`)
 * converts them in bulk, without the sender.
 *
 * The ledger write comes first: a send that fails leaves the person `queued` and marked unsent,
 * and the delivery is answered 503 (`queue_unavailable`), so the sender's retry sends it again; a
 * send lost to a crash is repaired by the next delivery once `resendAfterMs` has passed, and by
 * `StrandedQueueSweep` when nobody delivers the person again.
 */
export class ConversionIntake {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly identities: IdentityResolution;

  constructor(private readonly deps: ConversionIntakeDependencies) {
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? sleep;
    this.identities = new IdentityResolution({ ledger: deps.ledger, now: this.now });
  }

  /**
   * One result per position, in order: `queued`, the ledger's answer (`duplicate`, `rejected`,
   * `failed`), or the entry's own `invalid` result. Throws RetryLaterError (503) when the queue
   * refused a send (`queue_unavailable`) or another delivery is deciding a person's identity
   * right now (`in_progress`); both carry every result.
   *
   * @example
   *   const results = await intake.accept(entries, { deadline: Date.now() + 20_000 });
   */
  async accept(entries: readonly PersonEntry[], { deadline }: { deadline: number }): Promise<PersonResult[]> {
    return convertEntries({ deliver: (people) => this.acceptPeople(people, deadline) }, entries, {
      deadline,
    });
  }

  /**
   * `accept`, then up to `waitMs` (bounded by the deadline) for the queued people to be converted:
   * polls the ledger and answers their final results (`created`, `existing`, `rejected`, `failed`).
   * `final` is false when some are still `queued` when the time is up.
   */
  async acceptAndWait(
    entries: readonly PersonEntry[],
    { deadline, waitMs }: { deadline: number; waitMs: number },
  ): Promise<{ results: PersonResult[]; final: boolean }> {
    const results = await this.accept(entries, { deadline });
    const until = Math.min(this.now() + waitMs, deadline - DEADLINE_RESERVE_MS);
    let pause = FIRST_POLL_MS;
    for (;;) {
      const pending = results.filter((result) => result.status === 'queued');
      if (pending.length === 0) return { results, final: true };
      if (this.now() + pause > until) return { results, final: false };
      await this.sleep(pause);
      pause = Math.min(MAX_POLL_MS, Math.round(pause * 1.5));
      // A person named twice shares one result object: updated once for both positions.
      await Promise.all([...new Set(pending)].map((result) => this.follow(result as ConversionResult)));
    }
  }

  private async acceptPeople(people: readonly Person[], deadline: number): Promise<ConversionResult[]> {
    const accepted = new Array<Accepted | undefined>(people.length);
    const failures: unknown[] = [];
    // One delivery may name one person twice (the same strongest identity): handled once.
    const firstIndexByKey = new Map<string, number>();
    const queue: number[] = [];
    people.forEach((person, index) => {
      if (!firstIndexByKey.has(person.key)) {
        firstIndexByKey.set(person.key, index);
        queue.push(index);
      }
    });
    // People of this delivery who share a weak identity (namesakes at one company with different
    // emails, say) are resolved one after another, in order: at once, they would wait on each
    // other's identity locks, and under load answer `in_progress` to their own delivery.
    const lanes = lanesBySharedIdentity(people, queue);
    await eachLimit(lanes, this.deps.concurrency ?? DEFAULT_CONCURRENCY, async (lane) => {
      for (const index of lane) {
        try {
          accepted[index] = await this.acceptOne(people[index] as Person, deadline);
        } catch (error) {
          failures.push(error);
        }
      }
    });

    const done = accepted.filter((a) => a !== undefined);
    // Whatever was written queued goes to the queue, even when another person failed.
    const unsent = await this.send(done.flatMap((a) => (a.send === undefined ? [] : [a.send])));
    await this.startVerifications(done.flatMap((a) => (a.unverified === undefined ? [] : [a.unverified])));
    if (failures.length > 0) throw failures[0];

    const results = people.map(
      (person, index) =>
        (accepted[index] ?? accepted[firstIndexByKey.get(person.key) as number])?.result as ConversionResult,
    );
    if (unsent > 0) {
      throw new RetryLaterError(
        `the conversion queue refused ${unsent} people`,
        this.deps.queueRetryAfterSeconds,
        results,
        'queue_unavailable',
      );
    }
    const held = new Set(results.filter((result) => result.status === 'in_progress'));
    if (held.size > 0) {
      throw new RetryLaterError(
        `${held.size} people held by another request`,
        this.deps.inProgressRetryAfterSeconds,
        results,
        'in_progress',
      );
    }
    return results;
  }

  /** Resolves the person's record, then queues it or answers it from the ledger. */
  private async acceptOne(person: Person, deadline: number): Promise<Accepted> {
    const resolution = await this.identities.resolve(person, { deadline });
    if (resolution.kind === 'busy')
      return { result: { ...this.result(person, 'in_progress', null), id: null } };
    if (resolution.kind === 'ambiguous') {
      return { result: { ...this.result(person, 'rejected', null), id: null, reason: resolution.reason } };
    }
    const key = resolution.key;
    const queued = { ...person, key };
    const nowMs = this.now();
    const outcome = await this.deps.ledger.enqueue({
      key,
      nowMs,
      fingerprint: person.fingerprint,
      match: person.match,
      expectedPhoneHashes: person.phones.map(phoneHash),
      contact: queuedContactOf(person),
    });
    if (outcome.enqueued) return { result: this.result(queued, 'queued', null), send: { key, fresh: true } };
    return this.answerFromLedger(queued, outcome.record, nowMs);
  }

  private async answerFromLedger(person: Person, record: ConversionRecord, nowMs: number): Promise<Accepted> {
    switch (record.status) {
      case 'queued': {
        const sentAtMs = record.sentAtMs ?? 0;
        const resend = sentAtMs === 0 || nowMs - sentAtMs >= this.deps.resendAfterMs;
        return {
          result: this.result(person, 'queued', null),
          ...(resend && { send: { key: record.key, fresh: false } }),
        };
      }
      case 'creating':
        // Held from the queue: the queue brings the person back whoever holds it. Held by the
        // synchronous path (`POST /enrichments`) for a person never queued: that request converts
        // it, and this sender is asked to retry (its retry gets `duplicate`).
        return { result: this.result(person, record.holdsQueuedContact ? 'queued' : 'in_progress', null) };
      case 'rejected':
      case 'failed':
        return {
          result: { ...this.result(person, record.status, null), reason: record.lastError ?? record.status },
        };
      case 'created':
      case 'verified':
      case 'verification_failed': {
        await this.deps.ledger.countFreeLookup({ key: record.key, nowMs });
        this.deps.metrics?.creditsSaved(PERSON_CREDITS);
        const result = this.result(person, 'duplicate', record.contactId);
        if (record.contactId !== null && record.verificationStartedAt === null) {
          // Converted, but its verification never started (its consumer died in between).
          return { result, unverified: { key: record.key, contact_id: record.contactId } };
        }
        await this.redriveIfStale(record);
        return { result };
      }
    }
  }

  /** Hands the keys to the queue; marks the ones it refused unsent. Returns how many it refused. */
  private async send(sends: Array<{ key: string; fresh: boolean }>): Promise<number> {
    if (sends.length === 0) return 0;
    const keys = [...new Set(sends.map((s) => s.key))];
    let failedKeys: string[];
    try {
      ({ failedKeys } = await this.deps.queue.enqueue(keys));
    } catch (error) {
      logger.error('the conversion queue refused a send', {
        error: errorMessage(error),
        people: keys.length,
      });
      failedKeys = keys;
    }
    const failed = new Set(failedKeys);
    const nowMs = this.now();
    await Promise.all(
      sends.map(async ({ key, fresh }) => {
        // Best effort: a mark that fails leaves the record as it was, and `resendAfterMs` or the
        // sweep sends it later.
        try {
          if (failed.has(key)) await this.deps.ledger.markUnsent({ key });
          else if (!fresh) await this.deps.ledger.markSent({ key, nowMs });
        } catch (error) {
          logger.warn('could not mark a send on the ledger', {
            person: personRef(key),
            error: errorMessage(error),
          });
        }
      }),
    );
    if (failed.size > 0) logger.warn('people left queued but unsent', { people: failed.size });
    return failed.size;
  }

  /**
   * One verification for the converted people of this delivery whose verification never started.
   * Best effort: the verification sweep re-drives a record left without a verdict anyway.
   */
  private async startVerifications(people: Array<{ key: string; contact_id: string }>): Promise<void> {
    if (people.length === 0) return;
    try {
      await this.deps.verifications.start({ people });
      const nowMs = this.now();
      await Promise.all(people.map(({ key }) => this.deps.ledger.markVerificationStarted({ key, nowMs })));
    } catch (error) {
      logger.error('could not start a verification', { people: people.length, error: errorMessage(error) });
    }
  }

  /** Best effort: the sweep re-drives the record later if this fails; the person's answer stands. */
  private async redriveIfStale(record: ConversionRecord): Promise<void> {
    try {
      await this.deps.staleVerifications?.redriveIfStale(record);
    } catch (error) {
      logger.error('could not re-drive a verification', {
        person: personRef(record.key),
        error: errorMessage(error),
      });
    }
  }

  /** Updates a `queued` result from its record: its final answer once the consumer is done. */
  private async follow(result: ConversionResult): Promise<void> {
    const record = result.id === null ? null : await this.deps.ledger.get({ key: result.id });
    if (record === null) return;
    switch (record.status) {
      case 'created':
      case 'verified':
      case 'verification_failed':
        result.status = record.outcome ?? 'created';
        result.contact_id = record.contactId;
        return;
      case 'rejected':
      case 'failed':
        result.status = record.status;
        result.reason = record.lastError ?? record.status;
        return;
      case 'queued':
      case 'creating':
        return;
    }
  }

  private result(person: Person, status: ConversionResultStatus, contactId: string | null): ConversionResult {
    const result: ConversionResult = { id: person.key, status, contact_id: contactId };
    if (person.droppedPhones.length > 0) result.dropped_fields = [...person.droppedPhones];
    return result;
  }
}

/**
 * `indexes` grouped so that two people sharing a weak identity are in one lane (transitively), each
 * lane in the delivery's order; lanes in the order of their first person.
 */
export function lanesBySharedIdentity(people: readonly Person[], indexes: readonly number[]): number[][] {
  const laneOf = new Map<number, number[]>();
  const laneOfIdentity = new Map<string, number[]>();
  for (const index of indexes) {
    let lane: number[] | undefined;
    for (const identity of (people[index] as Person).identities.filter(isWeak).map(identityKey)) {
      const other = laneOfIdentity.get(identity);
      if (other !== undefined && other !== lane) {
        if (lane === undefined) lane = other;
        else {
          // Two lanes meet through this person: merged, keeping the delivery's order.
          for (const moved of other) laneOf.set(moved, lane);
          lane.push(...other);
          lane.sort((a, b) => a - b);
          for (const [key, value] of laneOfIdentity) if (value === other) laneOfIdentity.set(key, lane);
          other.length = 0;
        }
      }
    }
    lane ??= [];
    lane.push(index);
    laneOf.set(index, lane);
    for (const identity of (people[index] as Person).identities.filter(isWeak).map(identityKey)) {
      laneOfIdentity.set(identity, lane);
    }
  }
  return [...new Set(indexes.map((index) => laneOf.get(index) as number[]))].filter(
    (lane) => lane.length > 0,
  );
}
