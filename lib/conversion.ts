import { randomUUID } from 'node:crypto';
import type { Apollo } from './apollo/apollo';
import {
  QuietPeriodError,
  RetryLaterError,
  errorMessage,
  isApolloConfigurationError,
  isError,
  isTransientApolloError,
} from './errors';
import { isNameIdentity } from './identity';
import { IdentityResolution } from './identity-resolution';
import type { ConversionLedger, ConversionOutcome, ConversionRecord, PersonIdentities } from './ledger';
import { PERSON_CREDITS } from './apollo/pricing';
import { logger, personRef } from './logger';
import type { ServiceMetrics } from './metrics';
import { phoneHash, type Person } from './person';
import type { VerificationScheduler } from './schedulers';

/**
 * What one person's conversion came to, as the API reports it:
 * - `created`: this request created the Apollo contact;
 * - `existing`: Apollo already had a contact with this email: linked, not created;
 * - `duplicate`: this service converted the person before: no Apollo call at all;
 * - `queued`: the person is on the conversion queue (or a consumer holds it): it will be converted
 *   without the sender; `GET /conversions/{id}` follows it;
 * - `in_progress`: another request holds this person right now;
 * - `rejected`: Apollo refused the data (422), or the person has no email and its name and company
 *   name several people (then `id` is null): `reason` says why;
 * - `failed`: the service gave up on this person after too many attempts; `reason` says why.
 */
export type ConversionResultStatus =
  'queued' | 'created' | 'existing' | 'duplicate' | 'in_progress' | 'rejected' | 'failed';

export interface ConversionResult {
  /** The conversion id (`c_…`): `GET /conversions/{id}` reads its record. Null when none was made. */
  id: string | null;
  status: ConversionResultStatus;
  contact_id: string | null;
  reason?: string;
  /** Phone fields left out because they were not phone numbers. */
  dropped_fields?: string[];
}

export interface ConversionDependencies {
  ledger: ConversionLedger & PersonIdentities;
  apollo: Apollo;
  verifications: VerificationScheduler;
  /** People converted at once within one request. */
  concurrency: number;
  /** How long a rejected or failed record is kept before DynamoDB's TTL removes it. */
  rejectedRecordTtlSeconds: number;
  /** Claims of one person after which the service stops calling Apollo for it. */
  maxAttempts: number;
  /** Retry-After for a 503 caused by Apollo being unavailable (429s carry their own). */
  unavailableRetryAfterSeconds: number;
  /** Counts what this use case did (default: nothing). */
  metrics?: ServiceMetrics;
  now?: () => number;
  newToken?: () => string;
  /** Re-drives the verification of a record a redelivery finds waiting too long for its verdict. */
  staleVerifications?: { redriveIfStale(record: ConversionRecord): Promise<boolean> };
  /** Retry-After of the 503 `deliver` answers for a person another request holds (default 2). */
  inProgressRetryAfterSeconds?: number;
}

/** Retry-After for `in_progress` when the dependencies name none: a claim holder is usually done by then. */
const DEFAULT_IN_PROGRESS_RETRY_AFTER_SECONDS = 2;

/** Time kept back from the deadline so the ledger can still be updated after the last Apollo call. */
const DEADLINE_RESERVE_MS = 1500;

/**
 * Converts enriched people into Apollo contacts, exactly one per person.
 *
 * For each person: claim the key in the ledger (no Apollo call without a claim), find an existing
 * contact or create one, record the outcome as the claim holder, then start the verification.
 * Whatever fails in between leaves either a finished record or a released (or lapsing) claim that
 * a retry picks up, knowing whether a create may already have happened.
 */
export class ContactConversion {
  private readonly now: () => number;
  private readonly newToken: () => string;
  private readonly identities: IdentityResolution;

  constructor(private readonly deps: ConversionDependencies) {
    this.now = deps.now ?? Date.now;
    this.newToken = deps.newToken ?? randomUUID;
    this.identities = new IdentityResolution({ ledger: deps.ledger, now: this.now });
  }

  /**
   * Converts `people` and returns one result per person, in order. Throws RetryLaterError (with the
   * results that did finish) when Apollo is rate limiting or unavailable, and Apollo's
   * configuration errors as they are: both leave nothing that blocks a retry of the same request.
   *
   * @example
   *   const results = await conversion.convert(people, { deadline: Date.now() + 20_000 });
   */
  async convert(people: readonly Person[], { deadline }: { deadline: number }): Promise<ConversionResult[]> {
    const results = new Array<ConversionResult | undefined>(people.length);
    const failures: unknown[] = [];
    // A batch may name one person twice; convert each key once and give every position its result.
    const firstIndexByKey = new Map<string, number>();
    const queue: number[] = [];
    people.forEach((person, index) => {
      if (!firstIndexByKey.has(person.key)) {
        firstIndexByKey.set(person.key, index);
        queue.push(index);
      }
    });

    const worker = async () => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        // After one failure the request is answered 503 and retried whole: start nobody new.
        if (failures.length > 0) return;
        const person = people[index] as Person;
        try {
          results[index] = await this.convertOne(person, deadline - DEADLINE_RESERVE_MS);
        } catch (error) {
          failures.push(error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.concurrency, queue.length) }, worker));

    people.forEach((person, index) => {
      results[index] ??= results[firstIndexByKey.get(person.key) as number];
    });
    const finished = results.filter((result) => result !== undefined);
    if (failures.length > 0) throw this.combine(failures, finished);
    return finished;
  }

  /**
   * `convert` for a sender that retries only what fails (webhook senders, on-demand callers): a
   * person another request holds right now (`in_progress`) makes the answer a RetryLaterError (503
   * + Retry-After, with every person's result), since a sender drops a 200. The retry gets
   * `duplicate` with the contact once the holder is done, or converts the person itself once a
   * dead holder's lock has lapsed.
   */
  async deliver(people: readonly Person[], { deadline }: { deadline: number }): Promise<ConversionResult[]> {
    const results = await this.convert(people, { deadline });
    // One result per person: a batch naming a person twice shares that person's result object, and
    // an id cannot tell people apart (a person still being resolved has none yet).
    const persons = new Set(results);
    const held = [...persons].filter((result) => result.status === 'in_progress');
    if (held.length === 0) return results;
    throw new RetryLaterError(
      `${held.length} of ${persons.size} people held by another request`,
      this.deps.inProgressRetryAfterSeconds ?? DEFAULT_IN_PROGRESS_RETRY_AFTER_SECONDS,
      results,
      'in_progress',
    );
  }

  private combine(failures: unknown[], finished: ConversionResult[]): unknown {
    const configuration = failures.find((error) => isApolloConfigurationError(error));
    if (configuration) return configuration;
    const unexpected = failures.find((error) => !isTransientApolloError(error));
    if (unexpected) return unexpected;
    const retryAfter = Math.max(
      ...failures.map((error) =>
        isError(error, 'ApolloRateLimitError') || isError(error, 'QuietPeriodError')
          ? error.retryAfterSeconds
          : this.deps.unavailableRetryAfterSeconds,
      ),
    );
    return new RetryLaterError(
      `Apollo is rate limiting or unavailable: ${errorMessage(failures[0])}`,
      retryAfter,
      finished,
    );
  }

  /** Resolves which record the person is (`IdentityResolution`), then converts it under that key. */
  private async convertOne(delivered: Person, deadline: number): Promise<ConversionResult> {
    const resolution = await this.identities.resolve(delivered, { deadline });
    if (resolution.kind === 'busy') return { ...this.result(delivered, 'in_progress', null), id: null };
    if (resolution.kind === 'ambiguous') {
      return { ...this.result(delivered, 'rejected', null), id: null, reason: resolution.reason };
    }
    const person = { ...delivered, key: resolution.key };
    return this.convertRecord(person, deadline).catch((error: unknown) => {
      // The claim lapsed and another request took it over before this one could record the end
      // (failed, rejected, or the contact the last look found): that request answers for the
      // person now. The rest of the batch goes on; this person is in progress, not a failed batch.
      if (!isError(error, 'LockLostError')) throw error;
      logger.warn('claim lapsed and was taken over', { person: personRef(person.key) });
      return this.result(person, 'in_progress', null);
    });
  }

  /** `person.key` is the record's key (the conversion id) from here on. */
  private async convertRecord(person: Person, deadline: number): Promise<ConversionResult> {
    const { ledger } = this.deps;
    const token = this.newToken();
    const claim = await ledger.claim({
      key: person.key,
      token,
      lockExpiresAtMs: deadline + DEADLINE_RESERVE_MS,
      nowMs: this.now(),
      fingerprint: person.fingerprint,
      match: person.match,
      expectedPhoneHashes: person.phones.map(phoneHash),
    });
    if (!claim.claimed) return this.answerFromLedger(person, claim.record);

    // An earlier attempt may have created the contact without recording it: it released its claim
    // after an unknown outcome, or its claim lapsed because the invocation died mid-way.
    const previous = claim.previous;
    const uncertain =
      previous !== null &&
      (previous.createUncertain || (previous.status === 'creating' && previous.lockToken !== null));
    // Changed data re-opens a rejected or failed person: its attempts count afresh.
    const reopened = previous?.status === 'rejected' || previous?.status === 'failed';
    if (reopened) await ledger.restartAttempts({ key: person.key, token });
    const attempts = reopened ? 1 : (previous?.attempts ?? 0) + 1;
    if (attempts > this.deps.maxAttempts) {
      return this.giveUp(person, token, uncertain, deadline, previous?.lastError ?? null, attempts - 1);
    }

    let createSent = false;
    let converted: { contactId: string; outcome: ConversionOutcome };
    try {
      converted = await this.findOrCreate(person, uncertain, this.quietUntil(previous), deadline, () => {
        createSent = true;
      });
      await ledger.complete({ key: person.key, token, ...converted, nowMs: this.now() });
      this.deps.metrics?.conversions(converted.outcome);
    } catch (error) {
      if (isError(error, 'ApolloRejectedError')) {
        await ledger.reject({
          key: person.key,
          token,
          reason: error.message,
          nowMs: this.now(),
          expiresAtSeconds: this.expiry(),
        });
        // Not the message: Apollo may quote the submitted data in it. The ledger keeps it for the operator.
        logger.warn('Apollo rejected a person', { person: personRef(person.key) });
        this.deps.metrics?.conversions('rejected');
        return { ...this.result(person, 'rejected', null), reason: error.message };
      }
      if (isError(error, 'LockLostError')) {
        logger.warn('claim lapsed and was taken over', { person: personRef(person.key) });
        return this.result(person, 'in_progress', null);
      }
      const createMayHaveHappened =
        uncertain || (createSent && isError(error, 'ApolloUnavailableError') && error.outcomeUnknown);
      await this.releaseQuietly(
        person.key,
        token,
        error,
        createMayHaveHappened,
        isError(error, 'QuietPeriodError'),
      );
      throw error;
    }
    logger.info('person converted', { person: personRef(person.key), ...converted });
    // If this fails the record stays `created` without `verification_started_at`, and the error
    // fails the request: its retry finds the person converted and starts the verification then.
    await this.startVerification(person.key, converted.contactId);
    return this.result(person, converted.outcome, converted.contactId);
  }

  /**
   * When an earlier create's outcome is unknown, Apollo may still be carrying it out: until this
   * quiet period has passed since the first such release, not finding the contact proves nothing,
   * so no new create is sent (the caller is asked to retry later instead).
   */
  private quietUntil(previous: ConversionRecord | null): number {
    if (previous?.createUncertainSinceMs == null) return 0;
    return previous.createUncertainSinceMs + this.deps.unavailableRetryAfterSeconds * 1000;
  }

  /**
   * The contact Apollo already holds for this person, if it can tell, through Apollo's contacts
   * search (free, fuzzy): with an email, filtered to the exact email; without one, by the names,
   * filtered to the contacts whose name and company fold to the person's (the person may have been
   * converted under another spelling, or by someone else); for a person known by name and website
   * only, then people/match (free for saved contacts).
   */
  private async findExisting(person: Person, deadline: number): Promise<string | undefined> {
    const { apollo } = this.deps;
    const email = person.fields.email;
    if (email !== undefined) {
      const [found, ...more] = await apollo.findContactsByEmail(email, { deadline });
      if (more.length > 0) {
        logger.warn('Apollo holds several contacts with one email', {
          person: personRef(person.key),
          contacts: more.length + 1,
        });
      }
      return found?.id;
    }
    // Without email, by name and company: a contacts search, free (people/match would charge a
    // credit for anyone Apollo knows who is not a contact of the team yet).
    const { first_name: firstName = '', last_name: lastName = '' } = person.fields;
    const [found, ...more] = await apollo.findContactsByName(
      { first_name: firstName, last_name: lastName, identities: person.identities.filter(isNameIdentity) },
      { deadline },
    );
    if (more.length > 0) {
      logger.warn('Apollo holds several contacts with one name at one company', {
        person: personRef(person.key),
        contacts: more.length + 1,
      });
    }
    if (found !== undefined || person.identities.some(([kind]) => kind === 'name_org')) return found?.id;
    // Known by name and website only: a contact shows its company's domain in a search only when
    // Apollo resolved its organisation, so people/match by name and domain has the last word.
    const matched = await apollo.matchPerson(person.match, { deadline });
    return matched?.contact_id ?? matched?.contact?.id ?? undefined;
  }

  /**
   * Looks for the contact before creating it. When an earlier attempt may have created it, the
   * create also asks Apollo to match it (`run_dedupe`: by email, or by name and company); only
   * then, because that overwrites the contact it matches.
   */
  private async findOrCreate(
    person: Person,
    createMayHaveHappened: boolean,
    quietUntil: number,
    deadline: number,
    onCreateSent: () => void,
  ): Promise<{ contactId: string; outcome: ConversionOutcome }> {
    // Apollo's answer of a moment ago holds unless an earlier create of ours may have happened since.
    const found =
      person.apolloContact !== undefined && !createMayHaveHappened
        ? (person.apolloContact.id ?? undefined)
        : await this.findExisting(person, deadline);
    // An earlier attempt of ours may have made it; then it counts as created by this service.
    if (found) return { contactId: found, outcome: createMayHaveHappened ? 'created' : 'existing' };
    if (this.now() < quietUntil) {
      throw new QuietPeriodError(
        'an earlier create of this person may still reach Apollo; not creating again yet',
        Math.ceil((quietUntil - this.now()) / 1000),
      );
    }
    onCreateSent();
    const contact = await this.deps.apollo.createContact(person.fields, {
      deadline,
      runDedupe: createMayHaveHappened,
    });
    return { contactId: contact.id, outcome: 'created' };
  }

  /**
   * Records that the service stops calling Apollo for this person, and why. A person whose create
   * may have happened is looked up once more first, so a contact Apollo holds is not orphaned.
   */
  private async giveUp(
    person: Person,
    token: string,
    createMayHaveHappened: boolean,
    deadline: number,
    lastError: string | null,
    attempts: number,
  ): Promise<ConversionResult> {
    const { ledger } = this.deps;
    if (createMayHaveHappened) {
      const found = await this.findExisting(person, deadline).catch(() => undefined);
      if (found) {
        await ledger.complete({
          key: person.key,
          token,
          outcome: 'created',
          contactId: found,
          nowMs: this.now(),
        });
        this.deps.metrics?.conversions('created');
        await this.startVerification(person.key, found);
        return this.result(person, 'created', found);
      }
    }
    const reason = `gave up after ${attempts} attempts; last error: ${lastError}`;
    await ledger.fail({
      key: person.key,
      token,
      reason,
      nowMs: this.now(),
      expiresAtSeconds: this.expiry(),
    });
    logger.error('gave up converting a person', { person: personRef(person.key), reason });
    this.deps.metrics?.conversions('failed');
    return { ...this.result(person, 'failed', null), reason };
  }

  /** Epoch seconds when a rejected or failed record expires. */
  private expiry(): number {
    return Math.floor(this.now() / 1000) + this.deps.rejectedRecordTtlSeconds;
  }

  private async answerFromLedger(person: Person, record: ConversionRecord): Promise<ConversionResult> {
    switch (record.status) {
      case 'queued':
        // Not reached (a claim takes a queued record), but said: the queue converts it.
        return this.result(person, 'queued', null);
      case 'creating':
        return this.result(person, 'in_progress', null);
      case 'rejected':
      case 'failed':
        return { ...this.result(person, record.status, null), reason: record.lastError ?? record.status };
      case 'created':
      case 'verified':
      case 'verification_failed':
        // Finished before. If that invocation died before starting the verification, start it now;
        // if the verification has waited too long for a verdict, re-drive it.
        if (record.contactId !== null && record.verificationStartedAt === null) {
          await this.startVerification(record.key, record.contactId);
        } else {
          await this.redriveIfStale(record);
        }
        // Shown as `free_lookups`: each one a person not converted (or enriched) twice.
        await this.deps.ledger.countFreeLookup({ key: record.key, nowMs: this.now() });
        this.deps.metrics?.creditsSaved(PERSON_CREDITS);
        return this.result(person, 'duplicate', record.contactId);
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

  private async startVerification(key: string, contactId: string): Promise<void> {
    // A batch of one: this path converts person by person.
    await this.deps.verifications.start({ people: [{ key, contact_id: contactId }] });
    await this.deps.ledger.markVerificationStarted({ key, nowMs: this.now() });
  }

  /** Gives the claim back so the retry need not wait for the lock to lapse. */
  private async releaseQuietly(
    key: string,
    token: string,
    cause: unknown,
    createUncertain: boolean,
    refundAttempt: boolean,
  ) {
    try {
      await this.deps.ledger.release({
        key,
        token,
        error: errorMessage(cause),
        createUncertain,
        nowMs: this.now(),
        refundAttempt,
      });
    } catch (error) {
      // The lock still lapses at the deadline; the original error is the one to report.
      logger.error('could not release a claim', { person: personRef(key), error: errorMessage(error) });
    }
  }

  private result(person: Person, status: ConversionResultStatus, contactId: string | null): ConversionResult {
    const result: ConversionResult = { id: person.key, status, contact_id: contactId };
    if (person.droppedPhones.length > 0) result.dropped_fields = [...person.droppedPhones];
    return result;
  }
}
