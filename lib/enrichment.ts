import type { CountryCode } from 'libphonenumber-js';
import type { Apollo, EnrichmentQuery, MatchedPerson, PhoneRevealPayload } from './apollo/apollo';
import type { ContactConversion, ConversionResultStatus } from './conversion';
import { InvalidRequestError, isError } from './errors';
import type {
  FreeLookups,
  HeldPhones,
  LedgerReader,
  PaidEnrichments,
  PersonAliases,
  PhoneRevealLedger,
  RevealedPhone,
} from './ledger';
import { foldEmail, foldLinkedin, identitiesOf, identityKey } from './identity';
import { logger, personRef } from './logger';
import { phoneHash, toE164, toPerson, type ContactFields, type PersonInput } from './person';
import type { PhoneRevealPoll, PhoneRevealScheduler } from './schedulers';

/**
 * Enrich on demand, receive Apollo's phone-reveal callback, keep one contact.
 *
 * The moment credits are spent (people/match with reveal flags) is the moment the person must
 * become a contact, so nobody pays for them again. A person the ledger already holds is answered
 * from the ledger with no Apollo call. Revealed phones arrive later, by Apollo's callback or by
 * polling webhook_result, and are written to that same contact (never a new one), once.
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
  /** Credits Apollo reported for this request (0 when answered from the ledger). */
  credits_consumed: number;
  /** True when the ledger answered: no Apollo call, no credits. */
  credits_saved: boolean;
  phones: 'not_requested' | 'pending' | 'applied' | 'unavailable';
  reason?: string;
}

export interface PhoneCallbackResult {
  apollo_person_id: string;
  status: 'applied' | 'unchanged' | 'held';
}

export interface EnrichmentDependencies {
  ledger: LedgerReader & FreeLookups & PersonAliases & PaidEnrichments & PhoneRevealLedger;
  apollo: Apollo;
  conversion: ContactConversion;
  phoneReveals: PhoneRevealScheduler;
  /** The URL Apollo posts revealed phones to, secret token included. */
  callbackUrl: () => Promise<string>;
  defaultPhoneCountry: CountryCode;
  /** How long phones held for an unknown Apollo person are kept (DynamoDB TTL). */
  heldPhonesTtlSeconds: number;
  /** Polls of webhook_result before the fallback gives up. */
  maxResultPolls: number;
  now?: () => number;
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

  constructor(private readonly deps: EnrichmentDependencies) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Answers from the ledger if it holds the person; otherwise enriches through people/match (with
   * phone reveal when asked) and converts the person into one contact.
   */
  async enrich(request: EnrichmentRequest, { deadline }: { deadline: number }): Promise<EnrichmentResult> {
    const { ledger, apollo } = this.deps;
    const lookups = this.lookupKeys(request.identity);
    for (const lookup of lookups) {
      const known = await ledger.find({ keyOrAlias: lookup });
      if (known?.contactId) {
        await ledger.countFreeLookup({ key: known.key, nowMs: this.now() });
        logger.info('enrichment answered from the ledger', { person: personRef(known.key) });
        return {
          id: known.key,
          status: 'duplicate',
          contact_id: known.contactId,
          apollo_person_id: known.apolloPersonId,
          request_id: known.requestId,
          credits_consumed: 0,
          credits_saved: true,
          phones: known.phoneReveal ?? 'not_requested',
        };
      }
    }

    // A paid-for enrichment whose conversion did not finish is converted, not bought again.
    const kept = await ledger.keptEnrichment({ lookup: lookups[0] as string });
    const reuse = kept !== null && (kept.phonesRequested || !request.revealPhoneNumber);
    const enrichment = reuse
      ? {
          person: kept.person as MatchedPerson,
          requestId: kept.requestId,
          creditsConsumed: kept.creditsConsumed,
        }
      : await apollo.enrichPerson(request.identity, {
          deadline,
          webhookUrl: request.revealPhoneNumber ? await this.deps.callbackUrl() : undefined,
        });
    const credits = enrichment.creditsConsumed ?? 0;
    const base = {
      apollo_person_id: enrichment.person?.id ?? null,
      request_id: enrichment.requestId,
      credits_consumed: reuse ? 0 : credits,
      credits_saved: reuse,
    };
    if (enrichment.person === null) {
      return { ...base, id: null, status: 'not_found', contact_id: null, phones: 'not_requested' };
    }
    if (!reuse) {
      const { id, first_name, last_name, email, title, linkedin_url, organization } = enrichment.person;
      const { name, website_url, primary_domain } = organization ?? {};
      await ledger.keepEnrichment({
        lookup: lookups[0] as string,
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
          creditsConsumed: enrichment.creditsConsumed,
          phonesRequested: request.revealPhoneNumber,
        },
        nowMs: this.now(),
        expiresAtSeconds: Math.floor(this.now() / 1000) + this.deps.heldPhonesTtlSeconds,
      });
    }

    const person = this.toConvertible(enrichment.person);
    const [result] = await this.deps.conversion.convert([person], { deadline });
    // Phones asked for now, or by the paid-for enrichment this one reuses.
    const phonesWanted = request.revealPhoneNumber || (reuse && kept.phonesRequested);
    const phones = phonesWanted ? 'pending' : 'not_requested';
    if (!result?.contact_id) {
      return {
        ...base,
        id: result?.id ?? null,
        status: result?.status ?? 'failed',
        contact_id: null,
        phones,
        reason: result?.reason,
      };
    }

    const key = result.id as string; // a contact comes with its record's id
    await ledger.recordEnrichment({
      key,
      apolloPersonId: enrichment.person.id ?? null,
      requestId: enrichment.requestId,
      creditsConsumed: credits,
      phoneReveal: phones,
      nowMs: this.now(),
    });
    const aliases = new Set(lookups.filter((lookup) => lookup !== key));
    if (enrichment.person.id) aliases.add(personAlias(enrichment.person.id));
    if (enrichment.person.linkedin_url) aliases.add(linkedinAlias(enrichment.person.linkedin_url));
    let applied = false;
    for (const alias of aliases) {
      const held = await ledger.link({ alias, key, nowMs: this.now() });
      // A callback that came before the contact existed left its phones here: apply them now.
      if (held) {
        await this.applyPhones(key, result.contact_id, held, alias, deadline);
        applied = true;
      }
    }
    if (phonesWanted && !applied && enrichment.requestId !== null) {
      await this.deps.phoneReveals.start({ key, request_id: enrichment.requestId, attempt: 0 });
    }
    return {
      ...base,
      id: result.id,
      status: result.status,
      contact_id: result.contact_id,
      phones: applied ? 'applied' : phones,
    };
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
        status = await this.applyPhones(record.key, record.contactId, held, alias, deadline);
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
    if (!record?.contactId || record.phoneReveal === 'applied') return { state: 'done' };
    const result = await apollo.getWebhookResult(poll.request_id, { deadline });
    if (result.state === 'ready') {
      await this.applyPhoneCallback(result.payload, { deadline });
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

  /** Writes revealed phones to the contact unless they are there already; records that. */
  private async applyPhones(
    key: string,
    contactId: string,
    held: HeldPhones,
    alias: string,
    deadline: number,
  ): Promise<'applied' | 'unchanged'> {
    const { ledger, apollo } = this.deps;
    const record = await ledger.get({ key });
    const known = new Set(record?.appliedPhoneHashes ?? []);
    const fresh = held.phones.filter((phone) => !known.has(phoneHash(phone.e164)));
    if (fresh.length === 0) {
      await ledger.releaseHeldPhones({ alias, nowMs: this.now() });
      return 'unchanged';
    }
    // A callback and the fallback can bring the same phones at once: one of them writes.
    if (!(await ledger.claimPhoneApplication({ key, untilMs: deadline, nowMs: this.now() })))
      return 'unchanged';
    try {
      await apollo.updateContact(contactId, this.phoneFields(fresh), { deadline });
    } catch (error) {
      await ledger.releasePhoneApplication({ key });
      throw error;
    }
    const hashes = [...known, ...fresh.map((phone) => phoneHash(phone.e164))];
    await ledger.recordPhonesApplied({
      key,
      phoneHashes: hashes,
      creditsConsumed: held.creditsConsumed ?? 0,
      nowMs: this.now(),
    });
    await ledger.releaseHeldPhones({ alias, nowMs: this.now() });
    logger.info('revealed phones written to the contact', {
      person: personRef(key),
      contactId,
      phones: fresh.length,
    });
    return 'applied';
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
