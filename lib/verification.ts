import { MAX_BULK_MATCH_PEOPLE, type Apollo, type MatchedPerson } from './apollo/apollo';
import { ContactMismatchError, ContactsNotVisibleYetError } from './errors';
import { identitiesOf, isNameIdentity } from './identity';
import type { ConversionRecord, VerificationLedger } from './ledger';
import { logger, personRef } from './logger';
import type { ServiceMetrics } from './metrics';
import { phoneHash, toE164, type MatchIdentity } from './person';
import type { PersonToVerify, VerificationRequest } from './schedulers';
import { chunks } from './bounded';
import { hasVerdict, mapBounded, tally } from './verification-batch';
import type { CountryCode } from 'libphonenumber-js';

export interface VerificationDependencies {
  ledger: VerificationLedger;
  apollo: Apollo;
  defaultPhoneCountry: CountryCode;
  /** Counts what this use case did (default: nothing). */
  metrics?: ServiceMetrics;
  now?: () => number;
}

/** What one pass of `verify` did with the batch (the execution's output). */
export interface VerificationReport {
  /** Marked `verified` by this pass. */
  verified: number;
  /** Recorded `verification_failed` by this pass: Apollo returns another contact. */
  failed: number;
  /** Already `verified` or `verification_failed` (an earlier pass, a re-drive): not checked again. */
  decidedBefore: number;
}

/** What Apollo shows for one person, against what was converted. */
type Check =
  | { kind: 'verified'; contactId: string }
  | { kind: 'notVisible'; reason: string }
  | { kind: 'mismatch'; reason: string };

interface PersonToCheck {
  person: PersonToVerify;
  record: ConversionRecord;
}

/** A person known by name and organisation, without email: looked for through the contacts search. */
interface PersonToFindByName extends PersonToCheck {
  match: Exclude<MatchIdentity, { email: string }> & { organization_name: string };
}

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
 * People/match shows anyone keyed by email, or by name + website. A person without email, by name
 * and organisation, is looked for through the contacts search instead: people/match would not
 * return a contact made from raw data (no person id, no email to link it) and would charge a credit
 * at each attempt for anyone Apollo knows. The contacts search (free) shows the contact itself.
 */
function splitByApolloCall(people: readonly PersonToCheck[]): {
  byPeopleMatch: PersonToCheck[];
  byName: PersonToFindByName[];
} {
  const byPeopleMatch: PersonToCheck[] = [];
  const byName: PersonToFindByName[] = [];
  for (const entry of people) {
    const { match } = entry.record;
    if ('email' in match || match.organization_name === undefined) byPeopleMatch.push(entry);
    else byName.push({ ...entry, match: { ...match, organization_name: match.organization_name } });
  }
  return { byPeopleMatch, byName };
}

/**
 * The per-person checks: the contact id converted into, the email (people keyed by email), and
 * every phone number sent (compared by hash; the ledger keeps no numbers). `via` names the Apollo
 * call that showed `matched`, for the reasons.
 */
function check(
  person: PersonToVerify,
  record: ConversionRecord,
  matched: MatchedPerson | null,
  defaultCountry: CountryCode,
  via: 'people/match' | 'the contacts search' = 'people/match',
): Check {
  if (matched === null) return { kind: 'notVisible', reason: `${via} does not find the person yet` };
  const contactId = matched.contact_id ?? matched.contact?.id ?? null;
  if (contactId === null) {
    return { kind: 'notVisible', reason: `${via} finds the person, but not as a saved contact yet` };
  }
  if (contactId !== person.contact_id) {
    return { kind: 'mismatch', reason: `${via} returns contact ${contactId}, not ${person.contact_id}` };
  }
  if ('email' in record.match) {
    const shown = (matched.contact?.email ?? matched.email ?? '').trim().toLowerCase();
    if (shown !== record.match.email.toLowerCase()) {
      return { kind: 'mismatch', reason: `${via} returns the contact with a different email` };
    }
  }
  const shownPhones = phonesShown(matched, defaultCountry);
  const missing = record.expectedPhoneHashes.filter((hash) => !shownPhones.has(hash)).length;
  if (missing > 0) {
    return {
      kind: 'notVisible',
      reason: `${via} returns the contact without ${missing} of the ${record.expectedPhoneHashes.length} phone numbers sent`,
    };
  }
  return { kind: 'verified', contactId };
}

/**
 * Checks that Apollo returns the contacts of a converted batch: through `POST /people/bulk_match`,
 * which is free for saved contacts as long as no reveal or waterfall flag is sent (and none is);
 * a person without email known by name and organisation through the contacts search (free).
 */
export class ContactVerification {
  private readonly now: () => number;

  constructor(private readonly deps: VerificationDependencies) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * One pass over the batch: people with a verdict already are skipped; the others are matched 10
   * per call (people without email by name and organisation: one contacts search each), and each
   * is marked `verified`, or recorded `verification_failed` at once when Apollo returns another
   * contact (retrying cannot change that). Verdicts are written after each call, so a pass cut
   * short (a timeout, Apollo's 429) keeps what it found.
   *
   * Throws ContactsNotVisibleYetError naming how many remain (the state machine retries the pass
   * with backoff); or, when none remains to wait for but some verdict could not be written (no
   * record, or one that is no longer `created`), ContactMismatchError (the failure path,
   * `VerificationFailureRecorder` in lib/verification-failure.ts, then records what it can, and
   * fails the execution loudly for the rest).
   */
  async verify(
    request: VerificationRequest,
    { deadline }: { deadline: number },
  ): Promise<VerificationReport> {
    const { ledger, apollo, defaultPhoneCountry } = this.deps;
    const total = request.people.length;
    const report: VerificationReport = { verified: 0, failed: 0, decidedBefore: 0 };
    const unrecorded: string[] = [];
    const notVisible: string[] = [];
    const toCheck: PersonToCheck[] = [];

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

    const settle = (checks: Array<{ person: PersonToVerify; check: Check }>) =>
      mapBounded(checks, async ({ person, check: outcome }) => {
        if (outcome.kind === 'notVisible') {
          logger.info('contact not visible yet', { person: personRef(person.key), reason: outcome.reason });
          notVisible.push(outcome.reason);
        } else if (outcome.kind === 'verified') {
          await ledger.markVerified({ key: person.key, nowMs: this.now() });
          logger.info('contact verified', { person: personRef(person.key), contactId: outcome.contactId });
          report.verified += 1;
          this.deps.metrics?.verificationVerdicts('verified');
        } else {
          const reason = `ContactMismatchError: ${outcome.reason}`;
          if (await ledger.markVerificationFailed({ key: person.key, reason, nowMs: this.now() })) {
            logger.warn('verification failed', { person: personRef(person.key), reason });
            report.failed += 1;
            this.deps.metrics?.verificationVerdicts('verification_failed');
          } else {
            unrecorded.push(outcome.reason);
          }
        }
      });

    const { byPeopleMatch, byName } = splitByApolloCall(toCheck);
    for (const chunk of chunks(byPeopleMatch, MAX_BULK_MATCH_PEOPLE)) {
      const matches = await apollo.matchPeople(
        chunk.map(({ record }) => record.match),
        { deadline },
      );
      await settle(
        chunk.map(({ person, record }, index) => ({
          person,
          check: check(person, record, matches[index] ?? null, defaultPhoneCountry),
        })),
      );
    }

    for (const entry of byName) {
      await settle([{ person: entry.person, check: await this.checkByName(entry, deadline) }]);
    }

    if (notVisible.length > 0) {
      throw new ContactsNotVisibleYetError(
        `${notVisible.length} of ${total} people not visible through Apollo yet: ${tally(notVisible)}`,
      );
    }
    if (unrecorded.length > 0) {
      throw new ContactMismatchError(
        `${unrecorded.length} of ${total} people without a verdict written: ${tally(unrecorded)}`,
      );
    }
    return report;
  }

  /** A person without email, by name and organisation: the contacts search, for the contact id converted into. */
  private async checkByName({ person, record, match }: PersonToFindByName, deadline: number): Promise<Check> {
    const identities = identitiesOf(match).filter(isNameIdentity);
    const found = await this.deps.apollo.findContactsByName(
      { first_name: match.first_name, last_name: match.last_name, identities },
      { deadline },
    );
    const contact = found.find((candidate) => candidate.id === person.contact_id);
    if (contact === undefined) {
      return { kind: 'notVisible', reason: 'the contacts search does not show the contact by its name yet' };
    }
    return check(
      person,
      record,
      { contact_id: contact.id, contact },
      this.deps.defaultPhoneCountry,
      'the contacts search',
    );
  }
}
