import { MAX_BULK_MATCH_PEOPLE, type Apollo, type MatchedPerson } from './apollo/apollo';
import {
  ContactMismatchError,
  ContactsNotVisibleYetError,
  VerdictNotRecordedError,
  errorMessage,
} from './errors';
import type { ConversionRecord, VerificationLedger } from './ledger';
import { logger, personRef } from './logger';
import { phoneHash, toE164 } from './person';
import type { PersonToVerify, VerificationRequest } from './schedulers';
import type { CountryCode } from 'libphonenumber-js';

export interface VerificationDependencies {
  ledger: VerificationLedger;
  apollo: Apollo;
  defaultPhoneCountry: CountryCode;
  now?: () => number;
}

/** What the state machine's Catch hands to the failure path: the batch, and why it failed. */
export interface VerificationFailureInput extends VerificationRequest {
  error?: { Error?: string; Cause?: string };
}

/** What one pass of `verify` did with the batch (the execution's output). */
export interface VerificationReport {
  /** Marked `verified` by this pass. */
  verified: number;
  /** Recorded `verification_failed` by this pass: people/match returns another contact. */
  failed: number;
  /** Already `verified` or `verification_failed` (an earlier pass, a re-drive): not checked again. */
  decidedBefore: number;
}

/** What the failure path did with the people of the batch. */
export interface FailureReport {
  /** Recorded `verification_failed` with `reason`. */
  failed: number;
  /** Had a verdict already (verified, or failed with their own reason): left as they are. */
  decidedBefore: number;
  reason: string;
}

/** Ledger reads and writes of one batch run this many at a time: a batch is 100 people at most. */
const LEDGER_CONCURRENCY = 10;

/** What people/match shows for one person, against what was converted. */
type Check =
  | { kind: 'verified'; contactId: string }
  | { kind: 'notVisible'; reason: string }
  | { kind: 'mismatch'; reason: string };

const hasVerdict = (record: ConversionRecord) =>
  record.status === 'verified' || record.status === 'verification_failed';

/** Every E.164 number Apollo shows for the person, from the contact and the person alike. */
function phonesShown(person: MatchedPerson, defaultCountry: CountryCode): Set<string> {
  const numbers = [...(person.contact?.phone_numbers ?? []), ...(person.phone_numbers ?? [])];
  const hashes = new Set<string>();
  for (const number of numbers) {
    const raw = number.sanitized_number ?? number.raw_number;
    const e164 = raw ? toE164(raw, defaultCountry) : undefined;
    if (e164) hashes.add(phoneHash(e164));
  }
  return hashes;
}

/**
 * The per-person checks: the contact id converted into, the email (people keyed by email), and
 * every phone number sent (compared by hash; the ledger keeps no numbers).
 */
function check(
  person: PersonToVerify,
  record: ConversionRecord,
  matched: MatchedPerson | null,
  defaultCountry: CountryCode,
): Check {
  if (matched === null) return { kind: 'notVisible', reason: 'people/match does not find the person yet' };
  const contactId = matched.contact_id ?? matched.contact?.id ?? null;
  if (contactId === null) {
    return { kind: 'notVisible', reason: 'people/match finds the person, but not as a saved contact yet' };
  }
  if (contactId !== person.contact_id) {
    return {
      kind: 'mismatch',
      reason: `people/match returns contact ${contactId}, not ${person.contact_id}`,
    };
  }
  if ('email' in record.match) {
    const shown = (matched.contact?.email ?? matched.email ?? '').trim().toLowerCase();
    if (shown !== record.match.email.toLowerCase()) {
      return { kind: 'mismatch', reason: 'people/match returns the contact with a different email' };
    }
  }
  const shownPhones = phonesShown(matched, defaultCountry);
  const missing = record.expectedPhoneHashes.filter((hash) => !shownPhones.has(hash)).length;
  if (missing > 0) {
    return {
      kind: 'notVisible',
      reason: `people/match returns the contact without ${missing} of the ${record.expectedPhoneHashes.length} phone numbers sent`,
    };
  }
  return { kind: 'verified', contactId };
}

/** `items` in chunks of `size`, in order. */
function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

/** `task` over every item, `LEDGER_CONCURRENCY` at a time; results in the items' order. */
async function mapBounded<T, R>(items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const chunk of chunks(items, LEDGER_CONCURRENCY))
    results.push(...(await Promise.all(chunk.map(task))));
  return results;
}

/** "reason (2); other reason (1)": why people remain, without naming anyone. */
function tally(reasons: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  return [...counts].map(([reason, count]) => `${reason} (${count})`).join('; ');
}

/**
 * Checks that Apollo returns the contacts of a converted batch through `POST /people/bulk_match`,
 * which is free for saved contacts as long as no reveal or waterfall flag is sent (and none is).
 */
export class ContactVerification {
  private readonly now: () => number;

  constructor(private readonly deps: VerificationDependencies) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * One pass over the batch: people with a verdict already are skipped; the others are matched 10
   * per call, and each is marked `verified`, or recorded `verification_failed` at once when Apollo
   * returns another contact (retrying cannot change that). Each chunk's verdicts are written before
   * the next call, so a pass cut short (a timeout, Apollo's 429) keeps what it found.
   *
   * Throws ContactsNotVisibleYetError naming how many remain (the state machine retries the pass
   * with backoff); or, when none remains to wait for but some verdict could not be written (no
   * record, or one that is no longer `created`), ContactMismatchError (the failure path then
   * records what it can, and fails the execution loudly for the rest).
   */
  async verify(
    request: VerificationRequest,
    { deadline }: { deadline: number },
  ): Promise<VerificationReport> {
    const { ledger, apollo, defaultPhoneCountry } = this.deps;
    const total = request.people.length;
    const report: VerificationReport = { verified: 0, failed: 0, decidedBefore: 0 };
    const unrecorded: string[] = [];
    const toCheck: Array<{ person: PersonToVerify; record: ConversionRecord }> = [];

    const records = await mapBounded(request.people, (person) => ledger.get({ key: person.key }));
    request.people.forEach((person, index) => {
      const record = records[index] ?? null;
      if (record === null) {
        logger.error('verification of a person the ledger has no record of', {
          person: personRef(person.key),
        });
        unrecorded.push('the ledger has no record for this key');
      } else if (hasVerdict(record)) {
        report.decidedBefore += 1;
      } else {
        toCheck.push({ person, record });
      }
    });

    const notVisible: string[] = [];
    for (const chunk of chunks(toCheck, MAX_BULK_MATCH_PEOPLE)) {
      const matches = await apollo.matchPeople(
        chunk.map(({ record }) => record.match),
        { deadline },
      );
      const checks = chunk.map(({ person, record }, index) => ({
        person,
        check: check(person, record, matches[index] ?? null, defaultPhoneCountry),
      }));
      await mapBounded(checks, async ({ person, check: outcome }) => {
        if (outcome.kind === 'notVisible') {
          logger.info('contact not visible yet', { person: personRef(person.key), reason: outcome.reason });
          notVisible.push(outcome.reason);
        } else if (outcome.kind === 'verified') {
          await ledger.markVerified({ key: person.key, nowMs: this.now() });
          logger.info('contact verified', { person: personRef(person.key), contactId: outcome.contactId });
          report.verified += 1;
        } else {
          const reason = `ContactMismatchError: ${outcome.reason}`;
          if (await ledger.markVerificationFailed({ key: person.key, reason, nowMs: this.now() })) {
            logger.warn('verification failed', { person: personRef(person.key), reason });
            report.failed += 1;
          } else {
            unrecorded.push(outcome.reason);
          }
        }
      });
    }

    if (notVisible.length > 0) {
      throw new ContactsNotVisibleYetError(
        `${notVisible.length} of ${total} people not visible through people/match yet: ${tally(notVisible)}`,
      );
    }
    if (unrecorded.length > 0) {
      throw new ContactMismatchError(
        `${unrecorded.length} of ${total} people without a verdict written: ${tally(unrecorded)}`,
      );
    }
    return report;
  }

  /**
   * The state machine's failure path: records `verification_failed` with the reason for every
   * person of the batch still without a verdict, and leaves the others as they are (verified, or
   * failed with their own reason). Throws VerdictNotRecordedError, after writing what it could,
   * when some person has no record or a record that is neither `created` nor decided (the state
   * machine retries, then fails the execution loudly; the sweep finds `created` records again).
   */
  async recordFailure(input: VerificationFailureInput): Promise<FailureReport> {
    const reason = describeFailure(input.error);
    const report: FailureReport = { failed: 0, decidedBefore: 0, reason };
    const notRecorded: string[] = [];
    await mapBounded(input.people, async (person) => {
      const outcome = await this.recordOne(person.key, reason);
      if (outcome === 'failed' || outcome === 'decidedBefore') report[outcome] += 1;
      else notRecorded.push(outcome.status);
    });
    if (notRecorded.length > 0) {
      throw new VerdictNotRecordedError(
        `verification failed (${reason.split(':')[0]}), but no verdict could be recorded for ` +
          `${notRecorded.length} of ${input.people.length} people: ${tally(notRecorded.map((status) => `the record is ${status}`))}`,
      );
    }
    return report;
  }

  private async recordOne(
    key: string,
    reason: string,
  ): Promise<'failed' | 'decidedBefore' | { status: string }> {
    const { ledger } = this.deps;
    const before = await ledger.get({ key });
    if (before !== null && hasVerdict(before)) return 'decidedBefore';
    if (before !== null && (await ledger.markVerificationFailed({ key, reason, nowMs: this.now() }))) {
      logger.warn('verification failed', { person: personRef(key), reason });
      return 'failed';
    }
    // Refused: a verdict may have come meanwhile (a re-driven verification), or the record is
    // missing or not converted (any more).
    const after = before === null ? null : await ledger.get({ key });
    if (after !== null && hasVerdict(after)) {
      logger.info('verification failure not recorded: the record has a verdict already', {
        person: personRef(key),
        status: after.status,
      });
      return 'decidedBefore';
    }
    return { status: after?.status ?? 'missing' };
  }
}

/** Step Functions puts a Lambda error's `{errorType, errorMessage}` JSON in `Cause`. */
function describeFailure(error: VerificationFailureInput['error']): string {
  const name = error?.Error ?? 'UnknownError';
  let message = error?.Cause ?? '';
  try {
    const cause = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof cause.errorMessage === 'string') message = cause.errorMessage;
  } catch (parseError) {
    logger.debug('verification failure cause is not JSON', { error: errorMessage(parseError) });
  }
  return message ? `${name}: ${message}` : name;
}
