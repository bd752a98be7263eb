/**
 * `POST /people/bulk_match`, matching only: a stand-in so the batch verification runs end to end
 * on this branch. The `bulk-apollo` work owns the sandbox's bulk endpoints; where both exist,
 * theirs replaces this file. Reveal and waterfall flags are refused here (the service never sends
 * them when verifying), not simulated.
 */
import { isTrue, type Params } from '../params';
import { ApolloReplyError, type Reply } from '../replies';
import { toApolloDirectoryPerson, toApolloPerson } from '../serializers';
import type { SandboxState } from '../state';
import type { RouteRequest } from './route';

/** Apollo's limit per call (`RECORD_LIMIT_EXCEEDED` above it). */
const MAX_DETAILS = 10;
/** Apollo's price list, as for people/match: 1 credit for a directory person who is not a saved contact. */
const PERSON_CREDITS = 1;

function failed(errorCode: string, errorMessage: string): ApolloReplyError {
  return new ApolloReplyError({
    status: 400,
    body: { status: 'failed', error_code: errorCode, error_message: errorMessage },
  });
}

/**
 * `matches[]` in the order of `details[]`, null for nobody; each match as people/match shows the
 * person (with the saved contact when there is one). Credits as people/match counts them.
 */
export function bulkMatchPeople(state: SandboxState, { params }: RouteRequest): Reply {
  const details = params.details;
  if (!Array.isArray(details) || details.length === 0) {
    throw failed('INVALID_REQUEST', 'invalid request, missing details');
  }
  if (details.length > MAX_DETAILS) {
    throw failed('RECORD_LIMIT_EXCEEDED', `cannot enrich more than ${MAX_DETAILS} in a single request`);
  }
  if (
    ['reveal_phone_number', 'reveal_personal_emails', 'run_waterfall_email', 'run_waterfall_phone'].some(
      (flag) => isTrue(params[flag]),
    )
  ) {
    throw failed('INVALID_REQUEST', 'this sandbox stand-in does not reveal or run waterfalls');
  }
  let credits = 0;
  let enriched = 0;
  const matches = details.map((detail: unknown) => {
    const identity = (typeof detail === 'object' && detail !== null ? detail : {}) as Params;
    const person = state.findDirectoryPerson(identity);
    const contact = person ? state.savedContactOf(person) : state.findPerson(identity);
    if (person && !contact) {
      credits += PERSON_CREDITS;
      enriched += 1;
    }
    if (person) return toApolloDirectoryPerson(person, contact);
    return contact ? toApolloPerson(contact, state.personIdOf(contact)) : null;
  });
  state.creditsConsumed += credits;
  return {
    status: 200,
    body: {
      status: 'success',
      error_code: null,
      error_message: null,
      total_requested_enrichments: details.length,
      unique_enriched_records: enriched,
      missing_records: matches.filter((match) => match === null).length,
      credits_consumed: credits,
      matches,
      request_id: state.issueRequestId(),
    },
  };
}
