/**
 * `POST /people/match` and `POST /people/bulk_match`: enrichment, with phone reveal and waterfall
 * answered by callback.
 */
import type { PhoneRequest } from '../callbacks';
import { isTrue, stringParam, type Params } from '../params';
import { revealedPhones } from '../phones';
import { ApolloReplyError, type Reply } from '../replies';
import { toApolloDirectoryPerson, toApolloPerson } from '../serializers';
import type { SandboxState } from '../state';
import type { SandboxContact, SandboxPerson, SandboxPhoneCallbackPayload } from '../types';
import type { RouteRequest } from './route';

/** Apollo's price list: 1 credit for a person's demographics or email, 8 more when a mobile phone comes back. */
const PERSON_CREDITS = 1;
const MOBILE_PHONE_CREDITS = 8;
const MAX_BULK_MATCH = 10;

/** What a request asks beyond the match, and where the phones go; 400 for reveal flags without a webhook_url. */
interface EnrichmentFlags {
  wantsWaterfall: boolean;
  revealsPhones: boolean;
  wantsEmailWaterfall: boolean;
  webhookUrl: string | undefined;
  requestType: PhoneRequest['requestType'];
}

function readFlags(params: Params): EnrichmentFlags {
  const wantsWaterfall = isTrue(params.run_waterfall_email) || isTrue(params.run_waterfall_phone);
  const webhookUrl = stringParam(params, 'webhook_url');
  if ((isTrue(params.reveal_phone_number) || wantsWaterfall) && !webhookUrl) {
    throw new ApolloReplyError({
      status: 400,
      body: {
        error: 'Please provide a webhook_url when reveal_phone_number or waterfall enrichment is requested.',
      },
    });
  }
  return {
    wantsWaterfall,
    revealsPhones: isTrue(params.reveal_phone_number) || isTrue(params.run_waterfall_phone),
    wantsEmailWaterfall: isTrue(params.run_waterfall_email),
    webhookUrl,
    requestType: isTrue(params.reveal_phone_number) ? 'phone' : 'waterfall',
  };
}

/** Who a set of identifying details names: a directory person (with the team's contact), or a saved contact only. */
interface Match {
  person: SandboxPerson | undefined;
  contact: SandboxContact | undefined;
}

/** The directory first (`addPerson`), then the team's saved contacts. */
function findMatch(state: SandboxState, details: Params): Match {
  const person = state.findDirectoryPerson(details);
  return { person, contact: person ? state.savedContactOf(person) : state.findPerson(details) };
}

function personJson(state: SandboxState, { person, contact }: Match) {
  if (person) return toApolloDirectoryPerson(person, contact);
  return contact ? toApolloPerson(contact, state.personIdOf(contact)) : null;
}

/** Apollo's person id of a match, for the phone callback (which names people by person id only). */
function personIdOf(state: SandboxState, { person, contact }: Match): string | undefined {
  return person?.id ?? (contact ? state.personIdOf(contact) : undefined);
}

/**
 * What enriching these matches costs and reveals, each person once: 1 credit for a directory
 * person who is not a saved contact, 8 more when a mobile phone is revealed.
 */
function enrich(state: SandboxState, matches: Match[], flags: EnrichmentFlags, now: string) {
  const seen = new Map<string, Match>();
  for (const match of matches) {
    const id = personIdOf(state, match);
    if (id !== undefined && !seen.has(id)) seen.set(id, match);
  }
  let credits = 0;
  let consumers = 0;
  const people: SandboxPhoneCallbackPayload['people'] = [];
  for (const [id, match] of seen) {
    let personCredits = match.person && !match.contact ? PERSON_CREDITS : 0;
    if (flags.revealsPhones) {
      const phones = match.person ? revealedPhones(match.person, now) : [];
      if (phones.some((phone) => phone.type_cd === 'mobile')) personCredits += MOBILE_PHONE_CREDITS;
      people.push({ id, status: phones.length > 0 ? 'success' : 'not_found', phone_numbers: phones });
    }
    credits += personCredits;
    if (personCredits > 0) consumers += 1;
  }
  return { credits, consumers, people };
}

/** Remembers the phone reveal of `requestId` and schedules its callbacks, when phones were asked for. */
function acceptPhones(
  state: SandboxState,
  requestId: bigint,
  flags: EnrichmentFlags,
  requested: number,
  enriched: ReturnType<typeof enrich>,
): void {
  if (!flags.revealsPhones || !flags.webhookUrl) return;
  const found = enriched.people.filter((person) => person.status === 'success').length;
  state.acceptPhoneRequest({
    requestId: requestId.toString(),
    requestType: flags.requestType,
    webhookUrl: flags.webhookUrl,
    payload: {
      status: 'success',
      total_requested_enrichments: requested,
      unique_enriched_records: found,
      missing_records: requested - found,
      credits_consumed: enriched.credits,
      people: enriched.people,
    },
  });
}

const WATERFALL_ACCEPTED = {
  status: 'accepted',
  message: 'Waterfall enrichment request accepted. Results will be sent to the provided webhook URL.',
};

/**
 * Looks in the directory first (`addPerson`), then among the team's saved contacts; anything
 * else is "not found": 200 with `person: null`. Credits follow Apollo's rule: a directory person
 * who is not a saved contact costs 1, a saved contact 0, a revealed mobile phone 8 more.
 *
 * With `reveal_phone_number` or `run_waterfall_phone` (and the required webhook_url) the reply
 * goes out at once without phones, and the phones follow in a callback to the webhook_url, as
 * `setPhoneCallbacks` scripts it. Only directory people have phones to reveal; a callback for
 * anyone else reports the record missing. Every 200 carries a fresh, remembered request_id.
 */
export function matchPerson(state: SandboxState, { params, now }: RouteRequest): Reply {
  const flags = readFlags(params);
  const match = findMatch(state, params);
  const requestId = state.issueRequestId();
  const enriched = enrich(state, [match], flags, now);
  acceptPhones(state, requestId, flags, 1, enriched);
  state.creditsConsumed += enriched.credits;
  return {
    status: 200,
    body: {
      person: personJson(state, match),
      ...(flags.wantsWaterfall && { waterfall: WATERFALL_ACCEPTED }),
      request_id: requestId,
    },
  };
}

function bulkMatchError(status: number, errorCode: string, errorMessage: string): ApolloReplyError {
  return new ApolloReplyError({
    status,
    body: { status: 'failed', error_code: errorCode, error_message: errorMessage },
  });
}

/**
 * `POST /people/bulk_match`: `details[]` of 1 to 10 people (400 `INVALID_REQUEST` without,
 * `RECORD_LIMIT_EXCEEDED` beyond), each found as people/match finds one, with the same flags
 * (top level, body or query) and the same credits, each person counted once however often it is
 * asked for. `matches[]` follows the order of `details[]`, null where nobody was found. Phone
 * reveals go out in one callback for the request. A waterfall request answers `waterfall` in
 * place of the counts and credits, and leaves `email` out of the matches when it is the email's.
 */
export function bulkMatchPeople(state: SandboxState, { params, now }: RouteRequest): Reply {
  const details = params.details;
  if (!Array.isArray(details) || details.length === 0) {
    throw bulkMatchError(400, 'INVALID_REQUEST', 'invalid request, missing details');
  }
  if (details.length > MAX_BULK_MATCH) {
    throw bulkMatchError(400, 'RECORD_LIMIT_EXCEEDED', 'cannot enrich more than 10 in a single request');
  }
  if (!details.every((detail) => detail !== null && typeof detail === 'object' && !Array.isArray(detail))) {
    // What Apollo's documented 422 shows for details it cannot read.
    throw bulkMatchError(422, 'UNKNOWN_ERROR', 'no implicit conversion of Symbol into Integer');
  }
  const flags = readFlags(params);
  const matches = (details as Params[]).map((detail) => findMatch(state, detail));
  const requestId = state.issueRequestId();
  const enriched = enrich(state, matches, flags, now);
  acceptPhones(state, requestId, flags, details.length, enriched);
  state.creditsConsumed += enriched.credits;

  const found = matches.map((match) => {
    const person = personJson(state, match);
    if (person === null || !flags.wantsEmailWaterfall) return person;
    const { email: _email, email_status: _status, ...withoutEmail } = person;
    return withoutEmail;
  });
  const counts = flags.wantsWaterfall
    ? { waterfall: WATERFALL_ACCEPTED }
    : {
        unique_enriched_records: enriched.consumers,
        missing_records: found.filter((person) => person === null).length,
        credits_consumed: enriched.credits,
      };
  return {
    status: 200,
    body: {
      status: 'success',
      error_code: null,
      error_message: null,
      total_requested_enrichments: details.length,
      ...counts,
      matches: found,
      request_id: requestId,
    },
  };
}
