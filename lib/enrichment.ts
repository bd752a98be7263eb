import { randomUUID } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js';
import type { Apollo, Enrichment, EnrichmentQuery, MatchedPerson, PhoneRevealPayload } from './apollo/apollo';
import { MAX_REVEAL_CREDITS, PERSON_CREDITS, matchCredits, revealCredits } from './apollo/pricing';
import type { ContactConversion, ConversionResultStatus } from './conversion';
import { EnrichmentInProgressError, InvalidRequestError, isError } from './errors';
import type {
  FreeLookups,
  HeldPhones,
  KeptEnrichment,
  LedgerReader,
  PaidEnrichments,
  PersonAliases,
  PhoneRevealLedger,
  RevealedPhone,
} from './ledger';
import { foldEmail, foldLinkedin, identitiesOf, identityKey } from './identity';
import { logger, personRef } from './logger';
import type { ServiceMetrics } from './metrics';
import { phoneHash, toE164, toPerson, type ContactFields, type PersonInput } from './person';
import type { PhoneRevealPoll, PhoneRevealScheduler } from './schedulers';

/**
 * Enrich on demand, receive Apollo's phone-reveal callback, keep one contact.
 *
 * The moment credits are spent (people/match with reveal flags) is the moment the person must
 * become a contact, so nobody pays for them again. A person the ledger already holds is answered
 * from the ledger with no Apollo call. Otherwise the request first claims the lookup in the
 * ledger (a conditional write): only the claim holder pays Apollo, concurrent requests are told
 * to retry, and what was paid for is kept under the lookup so no later request pays for it again.
 * Revealed phones arrive later, by Apollo's callback or by polling webhook_result, and are written
 * to that same contact (never a new one), once; a reveal that finds none ends `unavailable`.
 */
export interface EnrichmentRequest {
  identity: EnrichmentQuery;
  revealPhoneNumber: boolean;
}

export interface EnrichmentResult {
  /** The conversion id (`GET /conversions/{id}`); null when no record was made. */
  id: string | null;
  status: ConversionResultStatus | 'not_found';
  contact_id: string | null;
  apollo_person_id: string | null;
  /** Apollo's request id, digit for digit. */
  request_id: string | null;
  /**
   * Credits Apollo charged for this request so far, counted from its price list
   * (`lib/apollo/pricing.ts`): 0 when answered from the ledger or from an enrichment paid before.
   */
  credits_consumed: number;
  /** Credits this request's phone reveal may still cost (up to one mobile phone) while `pending`. */
  credits_pending: number;
  /** True when no people/match was paid for this request: the ledger, or an earlier payment, answered. */
  credits_saved: boolean;
  phones: 'not_requested' | 'pending' | 'applied' | 'unavailable';
  reason?: string;
}

export interface PhoneCallbackResult {
  apollo_person_id: string;
  status: 'applied' | 'unchanged' | 'held' | 'unavailable';
}

/** What was paid for, now or by an earlier request for the same lookup. */
interface PaidFor {
  enrichment: Enrichment;
  /** The people/match's cost, as the ledger records it. */
  credits: number;
  /** True when an earlier request paid (its kept enrichment): this one paid nothing. */
  reuse: boolean;
  /** Whether that people/match asked Apollo to reveal phones. */
  phonesRequested: boolean;
  /** The payer's claim on the lookup, held until the person is converted; given back by this. */
  releaseClaim?: () => Promise<void>;
}

/** The longest `Retry-After` told to a request that found another one enriching the same person. */
const MAX_IN_PROGRESS_RETRY_AFTER_SECONDS = 5;

const PHONES_NOT_REQUESTED_BEFORE =
  'phones were not requested when this person was paid for; Apollo is not paid again';

export interface EnrichmentDependencies {
  ledger: LedgerReader & FreeLookups & PersonAliases & PaidEnrichments & PhoneRevealLedger;
  apollo: Apollo;
  /** Converts the person once paid for (`enrich` only). */
  conversion: Pick<ContactConversion, 'convert'>;
  phoneReveals: PhoneRevealScheduler;
  /** The URL Apollo posts revealed phones to, secret token included. */
  callbackUrl: () => Promise<string>;
  defaultPhoneCountry: CountryCode;
  /** How long phones held for an unknown Apollo person are kept (DynamoDB TTL). */
  heldPhonesTtlSeconds: number;
  /** Polls of webhook_result before the fallback gives up. */
  maxResultPolls: number;
  /** Counts what this use case did (default: nothing). */
  metrics?: ServiceMetrics;
  now?: () => number;
  /** Fencing tokens of enrichment claims. */
  newToken?: () => string;
}

/** Apollo's `type_cd` → the contact field it goes to. */
const FIELD_BY_PHONE_TYPE: Record<string, keyof ContactFields> = {
  mobile: 'mobile_phone',
  work_direct: 'direct_phone',
  work_hq: 'corporate_phone',
  home: 'home_phone',
  other: 'other_phone',
};

/** `https://www.LinkedIn.com/in/x/` and `linkedin.com/in/x` are one profile: its identity key. */
function linkedinAlias(url: string): string {
  return identityKey(['linkedin', foldLinkedin(url)]);
}

const personAlias = (apolloPersonId: string) => `person:${apolloPersonId}`;

export class PersonEnrichment {
  private readonly now: () => number;
  private readonly newToken: () => string;

  constructor(private readonly deps: EnrichmentDependencies) {
    this.now = deps.now ?? Date.now;
    this.newToken = deps.newToken ?? randomUUID;
  }

  /**
   * Answers from the ledger if it holds the person; otherwise claims the lookup, enriches through
   * people/match (with phone reveal when asked) and converts the person into one contact. Throws
   * EnrichmentInProgressError (nothing paid) while another request holds the claim or the conversion.
   */
  async enrich(request: EnrichmentRequest, { deadline }: { deadline: number }): Promise<EnrichmentResult> {
    const { ledger } = this.deps;
    const lookups = this.lookupKeys(request.identity);
    for (const lookup of lookups) {
      const known = await ledger.find({ keyOrAlias: lookup });
      if (known?.contactId) {
        await ledger.countFreeLookup({ key: known.key, nowMs: this.now() });
        this.deps.metrics?.creditsSaved(PERSON_CREDITS);
        logger.info('enrichment answered from the ledger', { person: personRef(known.key) });
        const phones = known.phoneReveal ?? 'not_requested';
        return {
          id: known.key,
          status: 'duplicate',
          contact_id: known.contactId,
          apollo_person_id: known.apolloPersonId,
          request_id: known.requestId,
          credits_consumed: 0,
          credits_pending: 0,
          credits_saved: true,
          phones,
          ...(request.revealPhoneNumber &&
            phones === 'not_requested' && { reason: PHONES_NOT_REQUESTED_BEFORE }),
        };
      }
    }

    const paid = await this.payOnce(request, lookups[0] as string, deadline);
    try {
      return await this.convertPaidFor(request, paid, lookups, deadline);
    } finally {
      // Converted (or failed): the payment is kept, and the next request may convert it now.
      await paid.releaseClaim?.().catch((error: unknown) => {
        logger.warn('could not give back an enrichment claim; it lapses at the deadline', {
          error: error instanceof Error ? error.message : String(error),
        });
      });
    }
  }

  /** Converts what `payOnce` paid for (or reused) into the person's one contact. */
  private async convertPaidFor(
    request: EnrichmentRequest,
    paid: PaidFor,
    lookups: readonly string[],
    deadline: number,
  ): Promise<EnrichmentResult> {
    const { ledger } = this.deps;
    const { enrichment, reuse } = paid;
    const credits = reuse ? 0 : paid.credits;
    const base = {
      apollo_person_id: enrichment.person?.id ?? null,
      request_id: enrichment.requestId,
      credits_consumed: credits,
      credits_saved: reuse,
      ...(request.revealPhoneNumber && !paid.phonesRequested && { reason: PHONES_NOT_REQUESTED_BEFORE }),
    };
    if (enrichment.person === null) {
      return {
        ...base,
        id: null,
        status: 'not_found',
        contact_id: null,
        credits_pending: 0,
        phones: 'not_requested',
      };
    }

    const person = this.toConvertible(enrichment.person);
    // The people/match just paid for says whether Apollo holds this person as a contact. For a
    // person without email the conversion would ask the same by name: a second people/match,
    // charged again. (With an email it searches the contacts, which is free and exact.)
    if (!reuse && person.fields.email === undefined) {
      person.apolloContact = { id: enrichment.person.contact_id ?? enrichment.person.contact?.id ?? null };
    }
    const [result] = await this.deps.conversion.convert([person], { deadline });
    if (result?.status === 'in_progress') {
      // Another request is converting this very person: its answer will be in the ledger.
      throw this.inProgress(null);
    }
    // Phones asked for by the people/match paid now, or by the paid-for enrichment this one reuses.
    const phonesWanted = paid.phonesRequested;
    if (!result?.contact_id) {
      return {
        ...base,
        id: result?.id ?? null,
        status: result?.status ?? 'failed',
        contact_id: null,
        credits_pending: phonesWanted && !reuse ? MAX_REVEAL_CREDITS : 0,
        phones: phonesWanted ? 'pending' : 'not_requested',
        reason: result?.reason ?? base.reason,
      };
    }

    const key = result.id as string; // a contact comes with its record's id
    await ledger.recordEnrichment({
      key,
      apolloPersonId: enrichment.person.id ?? null,
      requestId: enrichment.requestId,
      creditsConsumed: paid.credits,
      phoneReveal: phonesWanted ? 'pending' : 'not_requested',
      nowMs: this.now(),
    });
    const aliases = new Set(lookups.filter((lookup) => lookup !== key));
    if (enrichment.person.id) aliases.add(personAlias(enrichment.person.id));
    if (enrichment.person.linkedin_url) aliases.add(linkedinAlias(enrichment.person.linkedin_url));
    let revealCreditsNow = 0;
    let endedNow: 'applied' | 'unavailable' | undefined;
    for (const alias of aliases) {
      const held = await ledger.link({ alias, key, nowMs: this.now() });
      // A callback that came before the contact existed left its phones here: apply them now.
      if (held) {
        const applied = await this.applyPhones(key, result.contact_id, held, alias, deadline);
        revealCreditsNow += applied.credits;
        if (applied.status !== 'unchanged') endedNow = applied.status;
      }
    }
    // The record decides whose reveal it follows: an earlier one (pending, applied, unavailable)
    // is never reopened by this request, and is reported as it stands.
    const record = await ledger.get({ key });
    const ownReveal = enrichment.requestId !== null && record?.requestId === enrichment.requestId;
    const phones =
      endedNow ?? (ownReveal && phonesWanted ? 'pending' : (record?.phoneReveal ?? 'not_requested'));
    if (phones === 'pending' && ownReveal) {
      await this.deps.phoneReveals.start({
        key,
        request_id: enrichment.requestId as string,
        attempt: 0,
      });
    }
    return {
      ...base,
      id: result.id,
      status: result.status,
      contact_id: result.contact_id,
      credits_consumed: reuse ? 0 : credits + revealCreditsNow,
      credits_pending: phones === 'pending' && ownReveal && !reuse ? MAX_REVEAL_CREDITS : 0,
      phones,
    };
  }

  /**
   * The enrichment for `lookup`, paid for at most once: the one kept from an earlier payment, or a
   * people/match made while holding the lookup's claim (then kept, so nobody pays for it again).
   */
  private async payOnce(request: EnrichmentRequest, lookup: string, deadline: number): Promise<PaidFor> {
    const { ledger, apollo } = this.deps;
    const kept = await ledger.keptEnrichment({ lookup, nowMs: this.now() });
    if (kept !== null) return this.reuse(kept);

    const webhookUrl = request.revealPhoneNumber ? await this.deps.callbackUrl() : undefined;
    const token = this.newToken();
    const claim = await ledger.claimEnrichment({
      lookup,
      token,
      lockExpiresAtMs: deadline,
      nowMs: this.now(),
      expiresAtSeconds: this.expiry(),
    });
    if (!claim.claimed) {
      // Paid for in between: converted without paying again. Otherwise someone is paying right now.
      if (claim.kept !== null) return this.reuse(claim.kept);
      throw this.inProgress(claim.lockExpiresAtMs);
    }

    let enrichment: Enrichment;
    try {
      enrichment = await apollo.enrichPerson(request.identity, { deadline, webhookUrl });
    } catch (error) {
      // Nothing to keep: the retry may claim at once (and must pay, having no person to convert).
      await ledger.releaseEnrichment({ lookup, token });
      throw error;
    }
    const credits = matchCredits(enrichment.person);
    this.deps.metrics?.creditsSpent(credits);
    if (enrichment.person === null) {
      // Not found costs nothing and leaves nothing to keep.
      await ledger.releaseEnrichment({ lookup, token });
      return { enrichment, credits, reuse: false, phonesRequested: request.revealPhoneNumber };
    }
    const { id, first_name, last_name, email, title, linkedin_url, organization } = enrichment.person;
    const { name, website_url, primary_domain } = organization ?? {};
    const keptNow = await ledger.keepEnrichment({
      lookup,
      token,
      kept: {
        person: {
          id,
          first_name,
          last_name,
          email,
          title,
          linkedin_url,
          organization: { name, website_url, primary_domain },
        },
        requestId: enrichment.requestId,
        creditsConsumed: credits,
        phonesRequested: request.revealPhoneNumber,
      },
      nowMs: this.now(),
      expiresAtSeconds: this.expiry(),
    });
    if (!keptNow) {
      // Only when this invocation outlived its own deadline: the person is still converted below.
      logger.warn('enrichment claim lapsed before the payment was kept', { person: personRef(lookup) });
    }
    return {
      enrichment,
      credits,
      reuse: false,
      phonesRequested: request.revealPhoneNumber,
      releaseClaim: () => ledger.releaseEnrichment({ lookup, token }),
    };
  }

  private reuse(kept: KeptEnrichment): PaidFor {
    return {
      enrichment: { person: kept.person, requestId: kept.requestId },
      credits: kept.creditsConsumed ?? 0,
      reuse: true,
      phonesRequested: kept.phonesRequested,
    };
  }

  /** A request refused because another one holds the person: retry once that one may be done. */
  private inProgress(lockExpiresAtMs: number | null): EnrichmentInProgressError {
    const remaining = lockExpiresAtMs === null ? 0 : Math.ceil((lockExpiresAtMs - this.now()) / 1000);
    return new EnrichmentInProgressError(
      'another request is enriching this person',
      Math.max(1, Math.min(MAX_IN_PROGRESS_RETRY_AFTER_SECONDS, remaining)),
    );
  }

  /** Epoch seconds when a kept enrichment (or an abandoned claim) expires. */
  private expiry(): number {
    return Math.floor(this.now() / 1000) + this.deps.heldPhonesTtlSeconds;
  }

  /**
   * Apollo's phone-reveal callback: applies each person's phones to its contact, or holds them
   * until the contact exists. Unknown person ids are acknowledged and held for the operator.
   */
  async applyPhoneCallback(payload: PhoneRevealPayload, { deadline }: { deadline: number }) {
    const results: PhoneCallbackResult[] = [];
    for (const revealed of payload.people) {
      const held: HeldPhones = {
        phones: this.readPhones(revealed.phone_numbers ?? []),
        // Apollo reports credits per callback; with one person they are that person's.
        creditsConsumed: payload.people.length === 1 ? (payload.credits_consumed ?? null) : null,
      };
      const alias = personAlias(revealed.id);
      const key = await this.deps.ledger.holdRevealedPhones({
        alias,
        held,
        nowMs: this.now(),
        expiresAtSeconds: Math.floor(this.now() / 1000) + this.deps.heldPhonesTtlSeconds,
      });
      const record = key === null ? null : await this.deps.ledger.get({ key });
      let status: PhoneCallbackResult['status'] = 'held';
      if (record?.contactId)
        status = (await this.applyPhones(record.key, record.contactId, held, alias, deadline)).status;
      if (status === 'held') {
        logger.warn('revealed phones held: no contact for this Apollo person yet', {
          apolloPersonId: revealed.id,
        });
      }
      results.push({ apollo_person_id: revealed.id, status });
    }
    return results;
  }

  /**
   * The state machine's fallback when the callback does not come: reads webhook_result, applies a
   * ready result, and asks to be called again after Apollo's retry_after_seconds while pending.
   */
  async pollPhoneResult(
    poll: PhoneRevealPoll,
    { deadline }: { deadline: number },
  ): Promise<{ state: 'done' } | { state: 'pending'; wait_seconds: number; poll: PhoneRevealPoll }> {
    const { ledger, apollo } = this.deps;
    const record = await ledger.get({ key: poll.key });
    // Applied, or ended without phones (a callback with none, say): nothing left to wait for.
    if (!record?.contactId || record.phoneReveal !== 'pending') return { state: 'done' };
    const result = await apollo.getWebhookResult(poll.request_id, { deadline });
    if (result.state === 'ready') {
      await this.applyPhoneCallback(result.payload, { deadline });
      if (!result.payload.people.some((revealed) => revealed.id === record.apolloPersonId)) {
        // A ready result that names nobody (Apollo found no phone for this person) ends the reveal.
        const cost = revealCredits({
          reportedTotal:
            result.payload.people.length === 0 ? (result.payload.credits_consumed ?? null) : null,
          matchCredits: record.requestCredits,
          mobileRevealed: false,
        });
        if (await ledger.countRevealCredits({ key: poll.key, credits: cost, nowMs: this.now() })) {
          this.deps.metrics?.creditsSpent(cost);
        }
        await ledger.markPhonesUnavailable({
          key: poll.key,
          reason: 'webhook_result: no phone found for this person',
          nowMs: this.now(),
        });
      }
      return { state: 'done' };
    }
    if (result.state === 'unreadable') {
      await ledger.markPhonesUnavailable({
        key: poll.key,
        reason: 'webhook_result payload unreadable',
        nowMs: this.now(),
      });
      return { state: 'done' };
    }
    if (result.state === 'gone') {
      await ledger.markPhonesUnavailable({
        key: poll.key,
        reason: `webhook_result: ${result.reason}`,
        nowMs: this.now(),
      });
      return { state: 'done' };
    }
    const attempt = poll.attempt + 1;
    if (attempt >= this.deps.maxResultPolls) {
      await ledger.markPhonesUnavailable({
        key: poll.key,
        reason: `webhook_result still pending after ${attempt} polls`,
        nowMs: this.now(),
      });
      return { state: 'done' };
    }
    return { state: 'pending', wait_seconds: result.retryAfterSeconds, poll: { ...poll, attempt } };
  }

  /**
   * Writes revealed phones to the contact unless they are there already; records that. Counts the
   * reveal's credits once (Apollo charged for it whatever becomes of the phones), and ends a
   * pending reveal that brought no phone as `unavailable`. Returns the credits counted now.
   */
  private async applyPhones(
    key: string,
    contactId: string,
    held: HeldPhones,
    alias: string,
    deadline: number,
  ): Promise<{ status: 'applied' | 'unchanged' | 'unavailable'; credits: number }> {
    const { ledger, apollo } = this.deps;
    const record = await ledger.get({ key });
    let credits = 0;
    if (record !== null) {
      const cost = revealCredits({
        reportedTotal: held.creditsConsumed,
        matchCredits: record.requestCredits,
        mobileRevealed: held.phones.some((phone) => phone.type === 'mobile'),
      });
      if (await ledger.countRevealCredits({ key, credits: cost, nowMs: this.now() })) {
        credits = cost;
        this.deps.metrics?.creditsSpent(cost);
      }
    }
    if (held.phones.length === 0) {
      await ledger.releaseHeldPhones({ alias, nowMs: this.now() });
      if (record?.phoneReveal !== 'pending') return { status: 'unchanged', credits };
      await ledger.markPhonesUnavailable({ key, reason: 'no phone found', nowMs: this.now() });
      logger.info('phone reveal ended without phones', { person: personRef(key) });
      return { status: 'unavailable', credits };
    }
    const known = new Set(record?.appliedPhoneHashes ?? []);
    const fresh = held.phones.filter((phone) => !known.has(phoneHash(phone.e164)));
    if (fresh.length === 0) {
      await ledger.releaseHeldPhones({ alias, nowMs: this.now() });
      return { status: 'unchanged', credits };
    }
    // A callback and the fallback can bring the same phones at once: one of them writes.
    if (!(await ledger.claimPhoneApplication({ key, untilMs: deadline, nowMs: this.now() })))
      return { status: 'unchanged', credits };
    try {
      await apollo.updateContact(contactId, this.phoneFields(fresh), { deadline });
    } catch (error) {
      await ledger.releasePhoneApplication({ key });
      throw error;
    }
    const hashes = [...known, ...fresh.map((phone) => phoneHash(phone.e164))];
    await ledger.recordPhonesApplied({ key, phoneHashes: hashes, nowMs: this.now() });
    await ledger.releaseHeldPhones({ alias, nowMs: this.now() });
    logger.info('revealed phones written to the contact', {
      person: personRef(key),
      contactId,
      phones: fresh.length,
    });
    return { status: 'applied', credits };
  }

  private phoneFields(phones: RevealedPhone[]): ContactFields {
    const fields: ContactFields = {};
    for (const phone of phones) {
      const field = FIELD_BY_PHONE_TYPE[phone.type] ?? 'other_phone';
      const slot =
        fields[field] === undefined ? field : fields.other_phone === undefined ? 'other_phone' : undefined;
      if (slot !== undefined) (fields as Record<string, string>)[slot] = phone.e164;
    }
    return fields;
  }

  private readPhones(
    numbers: NonNullable<PhoneRevealPayload['people'][number]['phone_numbers']>,
  ): RevealedPhone[] {
    const phones: RevealedPhone[] = [];
    for (const number of numbers) {
      const raw = number.sanitized_number ?? number.raw_number;
      const e164 = raw ? toE164(raw, this.deps.defaultPhoneCountry) : undefined;
      if (e164 && !phones.some((phone) => phone.e164 === e164))
        phones.push({ e164, type: number.type_cd ?? 'other' });
    }
    return phones;
  }

  /**
   * Identity keys (`lib/identity.ts`, the conversion's own) or aliases under which this identity may
   * already be known: a person converted by email is found by its name + organisation too.
   */
  private lookupKeys(identity: EnrichmentQuery): string[] {
    if ('id' in identity) return [personAlias(identity.id)];
    if ('linkedin_url' in identity) return [linkedinAlias(identity.linkedin_url)];
    if ('email' in identity) return [identityKey(['email', foldEmail(identity.email)])];
    const keys = identitiesOf({
      first_name: identity.first_name,
      last_name: identity.last_name,
      organization_name: identity.organization_name,
      website_url: identity.domain,
    }).map(identityKey);
    if (keys.length === 0) throw new InvalidRequestError('body: the name and company identify nobody');
    return keys;
  }

  /** Apollo's person as the conversion takes it. */
  private toConvertible(person: MatchedPerson) {
    const input: PersonInput = {
      first_name: person.first_name,
      last_name: person.last_name,
      email: person.email,
      title: person.title,
      linkedin_url: person.linkedin_url,
      organization_name: person.organization?.name,
      website_url: person.organization?.website_url ?? person.organization?.primary_domain,
    };
    try {
      return toPerson(input, 'apollo.person', { defaultPhoneCountry: this.deps.defaultPhoneCountry });
    } catch (error) {
      if (isError(error, 'InvalidRequestError')) {
        throw new InvalidRequestError(`Apollo's person cannot be converted: ${error.message}`);
      }
      throw error;
    }
  }
}
