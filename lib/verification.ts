import type { Apollo, MatchedPerson } from './apollo/apollo';
import { ContactMismatchError, ContactNotVisibleError } from './errors';
import type { VerificationLedger } from './ledger';
import { logger, personRef } from './logger';
import { phoneHash, toE164 } from './person';
import type { VerificationRequest } from './schedulers';
import type { CountryCode } from 'libphonenumber-js';

export interface VerificationDependencies {
  ledger: VerificationLedger;
  apollo: Apollo;
  defaultPhoneCountry: CountryCode;
  now?: () => number;
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
 * Checks that Apollo returns a converted contact through `POST /people/match`, which is free for
 * saved contacts as long as no reveal or waterfall flag is sent (and none is).
 */
export class ContactVerification {
  private readonly now: () => number;

  constructor(private readonly deps: VerificationDependencies) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Marks the record `verified`, or throws ContactNotVisibleError (the state machine retries with
   * backoff) or ContactMismatchError (not retried; the state machine's failure path records it:
   * `VerificationFailureRecorder`, lib/verification-failure.ts).
   */
  async verify(
    request: VerificationRequest,
    { deadline }: { deadline: number },
  ): Promise<{ status: 'verified' }> {
    const { ledger, apollo } = this.deps;
    const record = await ledger.get({ key: request.key });
    if (record === null) throw new ContactMismatchError('the ledger has no record for this key');
    if (record.status === 'verified') return { status: 'verified' };

    const person = await apollo.matchPerson(record.match, { deadline });
    if (person === null) throw new ContactNotVisibleError('people/match does not find the person yet');
    const contactId = person.contact_id ?? person.contact?.id ?? null;
    if (contactId === null) {
      throw new ContactNotVisibleError('people/match finds the person, but not as a saved contact yet');
    }
    if (contactId !== request.contact_id) {
      throw new ContactMismatchError(`people/match returns contact ${contactId}, not ${request.contact_id}`);
    }
    if ('email' in record.match) {
      const shown = (person.contact?.email ?? person.email ?? '').trim().toLowerCase();
      if (shown !== record.match.email.toLowerCase()) {
        throw new ContactMismatchError('people/match returns the contact with a different email');
      }
    }
    const shownPhones = phonesShown(person, this.deps.defaultPhoneCountry);
    const missing = record.expectedPhoneHashes.filter((hash) => !shownPhones.has(hash)).length;
    if (missing > 0) {
      throw new ContactNotVisibleError(
        `people/match returns the contact without ${missing} of the ${record.expectedPhoneHashes.length} phone numbers sent`,
      );
    }

    await ledger.markVerified({ key: request.key, nowMs: this.now() });
    logger.info('contact verified', { person: personRef(request.key), contactId });
    return { status: 'verified' };
  }
}
