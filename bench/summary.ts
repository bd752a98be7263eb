/**
 * The headline figures of a run, one per goal of issue 11 (and issue 5's ratios), in the JSON's
 * `summary`: exactly these keys, so a reader (or a script) can compare runs without digging.
 */
export interface BenchSummary {
  /** Highest module-load time of a function over its floor's (goal 1.3). */
  coldStartMaxRatio: number;
  /** Webhook's warm-path median over its floor's (limit 1.5). */
  warmMedianRatio: number;
  /** Every person of the burst, the replayed stream and the rate-limit run got exactly one contact. */
  exactlyOneContactPerPerson: boolean;
  /** Share of the replayed deliveries that cost Apollo nothing (people handed over before). */
  deliveriesWithoutApolloCallShare: number;
  /** Burst: Apollo requests (create + update + verify, 429s included) per new person (goal <= 0.15). */
  apolloCallsPerNewPerson: number;
  /** Burst: people per minute from the first delivery to the last `created` (goal >= 10,000). */
  burstPeoplePerMinute: number;
  /** Burst: 5xx answers senders saw (goal 0). */
  burst5xxAnswers: number;
  /** 429s per create request, the worse of the burst and the rate-limit run (goal <= 0.01). */
  rateLimit429PerCreate: number;
  /** AWS dollars per million conversions, from the burst's counts (goal <= 5). */
  costPerMillionUsd: number;
}

/** What `summarize` reads: the parts' results, narrowed to the figures it needs. */
export interface SummaryInputs {
  coldStart: { functions: Record<string, { loadRatio: number }> };
  warmPath: { medianRatio: number };
  replay: { exactlyOneContactPerPerson: boolean; deliveriesWithoutApolloCallShare: number };
  burst: {
    exactlyOneContactPerPerson: boolean;
    apolloCallsPerNewPerson: number;
    peoplePerMinute: number;
    answers5xx: number;
    tooManyRequestsPerCreate: number;
  };
  rateLimit: { noDuplicateContact: boolean; tooManyRequestsPerCreate: number };
  cost: { perMillion: { total: number } };
}

export function summarize(results: SummaryInputs): BenchSummary {
  const ratios = Object.values(results.coldStart.functions).map((fn) => fn.loadRatio);
  return {
    coldStartMaxRatio: ratios.length === 0 ? 0 : Math.max(...ratios),
    warmMedianRatio: results.warmPath.medianRatio,
    exactlyOneContactPerPerson:
      results.burst.exactlyOneContactPerPerson &&
      results.replay.exactlyOneContactPerPerson &&
      results.rateLimit.noDuplicateContact,
    deliveriesWithoutApolloCallShare: results.replay.deliveriesWithoutApolloCallShare,
    apolloCallsPerNewPerson: results.burst.apolloCallsPerNewPerson,
    burstPeoplePerMinute: results.burst.peoplePerMinute,
    burst5xxAnswers: results.burst.answers5xx,
    rateLimit429PerCreate: Math.max(
      results.burst.tooManyRequestsPerCreate,
      results.rateLimit.tooManyRequestsPerCreate,
    ),
    costPerMillionUsd: results.cost.perMillion.total,
  };
}
