import { describe, expect, it } from 'vitest';
import {
  MAX_REVEAL_CREDITS,
  MOBILE_PHONE_CREDITS,
  PERSON_CREDITS,
  matchCredits,
  revealCredits,
} from '../lib/apollo/pricing';
import { EnrichmentInProgressError } from '../lib/errors';
import { errorResponse } from '../lib/http/responses';

describe("Apollo's price list (docs/apollo/apollo-api.md)", () => {
  it('charges 1 for a person found who is not a saved contact, 0 for a saved contact or nobody', () => {
    expect([PERSON_CREDITS, MOBILE_PHONE_CREDITS, MAX_REVEAL_CREDITS]).toEqual([1, 8, 8]);
    expect(matchCredits({ id: 'p', email: 'grace@compilers.example' })).toBe(1);
    expect(matchCredits({ id: 'p', contact_id: 'c' })).toBe(0);
    expect(matchCredits({ id: 'p', contact: { id: 'c' } })).toBe(0);
    expect(matchCredits(null)).toBe(0);
  });

  it("counts a reveal from the callback's own total, less what the match was counted for", () => {
    // Apollo's example: 1 credit for a reveal that found two non-mobile numbers (the person's credit).
    expect(revealCredits({ reportedTotal: 1, matchCredits: 1, mobileRevealed: false })).toBe(0);
    expect(revealCredits({ reportedTotal: 9, matchCredits: 1, mobileRevealed: true })).toBe(8);
    expect(revealCredits({ reportedTotal: 8, matchCredits: 0, mobileRevealed: true })).toBe(8);
    expect(revealCredits({ reportedTotal: 0, matchCredits: 1, mobileRevealed: false })).toBe(0);
  });

  it('falls back on the price list when the callback reports no credits', () => {
    expect(revealCredits({ reportedTotal: null, matchCredits: 1, mobileRevealed: true })).toBe(8);
    expect(revealCredits({ reportedTotal: null, matchCredits: 1, mobileRevealed: false })).toBe(0);
  });
});

describe('POST /enrichments while another request holds the person', () => {
  it('answers 409 in_progress with Retry-After', () => {
    const response = errorResponse(new EnrichmentInProgressError('another request is enriching', 3));

    expect(response.statusCode).toBe(409);
    expect(response.headers).toMatchObject({ 'retry-after': '3' });
    expect(JSON.parse(response.body as string)).toEqual({
      error: 'in_progress',
      status: 'in_progress',
      message: 'another request is enriching this person; retry this request unchanged',
      retry_after_seconds: 3,
    });
  });
});
