import type { MatchedPerson } from './apollo';

/**
 * Apollo's credit prices for `POST /people/match`, the one place the service knows them.
 *
 * From docs/apollo/apollo-api.md ("People enrichment: POST /people/match", "Credits"): 1 credit
 * for demographics or email, plus 8 when a mobile phone comes back; 0 when nothing is found; a
 * person the team already saved as a contact is returned without spending credits again. The
 * people/match reply itself carries no `credits_consumed` (only bulk_match's does), so the match's
 * cost is counted from this price list. The phone-reveal callback (and `webhook_result`) does
 * carry `credits_consumed`: the whole request's cost, the person included (Apollo's own example
 * reports 1 for a reveal that found two non-mobile numbers), so the reveal adds what it reports
 * beyond what the match was already counted for.
 */
export const PERSON_CREDITS = 1;
export const MOBILE_PHONE_CREDITS = 8;

/** The most a pending phone reveal can still cost: one mobile phone. */
export const MAX_REVEAL_CREDITS = MOBILE_PHONE_CREDITS;

/**
 * What a people/match (reveal flags or not) costs at once: 1 for a person found who is not yet a
 * saved contact of the team (the reply shows `contact_id` / `contact` for those), else 0.
 */
export function matchCredits(person: MatchedPerson | null): number {
  if (person === null) return 0;
  const saved = Boolean(person.contact_id ?? person.contact?.id);
  return saved ? 0 : PERSON_CREDITS;
}

/**
 * What a phone reveal adds to its request's cost. `reportedTotal` is the callback's
 * `credits_consumed` (the whole request, match included) when it can be attributed to this person;
 * without it, the price list: 8 when a mobile phone came back.
 */
export function revealCredits(reveal: {
  reportedTotal: number | null;
  /** What the request's people/match was already counted for (`matchCredits`). */
  matchCredits: number;
  mobileRevealed: boolean;
}): number {
  if (reveal.reportedTotal !== null && Number.isFinite(reveal.reportedTotal)) {
    return Math.max(0, reveal.reportedTotal - reveal.matchCredits);
  }
  return reveal.mobileRevealed ? MOBILE_PHONE_CREDITS : 0;
}
