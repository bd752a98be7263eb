/** The sizes of the bench's queue parts, shared by bench/run.ts and bench/part-only.ts. */
export const REPLAY = { people: 500, deliveries: 2000, senders: 8, maxRetriesAfter503: 5, seed: 20261126 };
/**
 * Creates limited to 10 a minute (scaled down from 200, so one minute shows the pacing): senders
 * deliver new people for 50 s, far more than 10 bulk_creates can take; the consumer goes on 20 s.
 */
export const RATE_LIMIT = { createLimitPerMinute: 10, senders: 8, durationMs: 50_000, settleMs: 20_000 };

export const BURST = {
  people: 10_000,
  maxPeoplePerDelivery: 100,
  inFlight: 50,
  /** The sandbox's minute limit per endpoint; people/bulk_match gets half of people/match's. */
  apolloLimitPerMinute: 200,
  maxResends: 3,
  maxDrainMs: 8 * 60_000,
  /**
   * people/bulk_match at 100 calls a minute verifies at most 1,000 people a minute: all of 10,000
   * take at least 10 minutes. The bench waits this long after the last `created` and reports how
   * many were verified by then, and at what rate.
   */
  maxVerifyMs: 6 * 60_000,
  seed: 20261201,
};
