/** The sizes of the bench's queue parts, shared by bench/run.ts and bench/burst-only.ts. */
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
