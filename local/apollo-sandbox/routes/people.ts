/** `POST /people/match`: enrichment, with phone reveal and waterfall answered by callback. */
import { isTrue, stringParam } from '../params';
import { revealedPhones } from '../phones';
import { ApolloReplyError, type Reply } from '../replies';
import { toApolloDirectoryPerson, toApolloPerson } from '../serializers';
import type { SandboxState } from '../state';
import type { RouteRequest } from './route';

/** Apollo's price list: 1 credit for a person's demographics or email, 8 more when a mobile phone comes back. */
const PERSON_CREDITS = 1;
const MOBILE_PHONE_CREDITS = 8;

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
  const wantsWaterfall = isTrue(params.run_waterfall_email) || isTrue(params.run_waterfall_phone);
  const revealsPhones = isTrue(params.reveal_phone_number) || isTrue(params.run_waterfall_phone);
  const webhookUrl = stringParam(params, 'webhook_url');
  if ((isTrue(params.reveal_phone_number) || wantsWaterfall) && !webhookUrl) {
    throw new ApolloReplyError({
      status: 400,
      body: {
        error: 'Please provide a webhook_url when reveal_phone_number or waterfall enrichment is requested.',
      },
    });
  }
  const person = state.findDirectoryPerson(params);
  const contact = person ? state.savedContactOf(person) : state.findPerson(params);
  const requestId = state.issueRequestId();
  let credits = person && !contact ? PERSON_CREDITS : 0;

  if (revealsPhones && webhookUrl) {
    const personId = person?.id ?? (contact ? state.personIdOf(contact) : undefined);
    const phones = person ? revealedPhones(person, now) : [];
    if (phones.some((phone) => phone.type_cd === 'mobile')) credits += MOBILE_PHONE_CREDITS;
    const enriched = phones.length > 0 ? 1 : 0;
    state.acceptPhoneRequest({
      requestId: requestId.toString(),
      requestType: isTrue(params.reveal_phone_number) ? 'phone' : 'waterfall',
      webhookUrl,
      payload: {
        status: 'success',
        total_requested_enrichments: 1,
        unique_enriched_records: enriched,
        missing_records: 1 - enriched,
        credits_consumed: credits,
        people:
          personId === undefined
            ? []
            : [{ id: personId, status: enriched ? 'success' : 'not_found', phone_numbers: phones }],
      },
    });
  }
  state.creditsConsumed += credits;

  return {
    status: 200,
    body: {
      person: person
        ? toApolloDirectoryPerson(person, contact)
        : contact
          ? toApolloPerson(contact, state.personIdOf(contact))
          : null,
      ...(wantsWaterfall && {
        waterfall: {
          status: 'accepted',
          message: 'Waterfall enrichment request accepted. Results will be sent to the provided webhook URL.',
        },
      }),
      request_id: requestId,
    },
  };
}
