import { describe, expect, it } from 'vitest';
import { summarize, type SummaryInputs } from '../../bench/summary';

const inputs: SummaryInputs = {
  coldStart: { functions: { enrichmentWebhook: { loadRatio: 1.21 }, convertQueued: { loadRatio: 1.27 } } },
  warmPath: { medianRatio: 1.15 },
  replay: { exactlyOneContactPerPerson: true, deliveriesWithoutApolloCallShare: 0.86 },
  burst: {
    exactlyOneContactPerPerson: true,
    apolloCallsPerNewPerson: 0.12,
    peoplePerMinute: 12_345,
    answers5xx: 0,
    tooManyRequestsPerCreate: 0.004,
  },
  rateLimit: { noDuplicateContact: true, tooManyRequestsPerCreate: 0.02 },
  cost: { perMillion: { total: 4.2 } },
};

describe('bench summary', () => {
  it('has exactly the keys issue 11 names, in that order', () => {
    expect(Object.keys(summarize(inputs))).toEqual([
      'coldStartMaxRatio',
      'warmMedianRatio',
      'exactlyOneContactPerPerson',
      'deliveriesWithoutApolloCallShare',
      'apolloCallsPerNewPerson',
      'burstPeoplePerMinute',
      'burst5xxAnswers',
      'rateLimit429PerCreate',
      'costPerMillionUsd',
    ]);
  });

  it('takes the worst cold start, the worse 429 rate, and one contact only when every part had it', () => {
    expect(summarize(inputs)).toEqual({
      coldStartMaxRatio: 1.27,
      warmMedianRatio: 1.15,
      exactlyOneContactPerPerson: true,
      deliveriesWithoutApolloCallShare: 0.86,
      apolloCallsPerNewPerson: 0.12,
      burstPeoplePerMinute: 12_345,
      burst5xxAnswers: 0,
      rateLimit429PerCreate: 0.02,
      costPerMillionUsd: 4.2,
    });
    expect(
      summarize({ ...inputs, rateLimit: { noDuplicateContact: false, tooManyRequestsPerCreate: 0 } })
        .exactlyOneContactPerPerson,
    ).toBe(false);
    expect(
      summarize({ ...inputs, burst: { ...inputs.burst, exactlyOneContactPerPerson: false } })
        .exactlyOneContactPerPerson,
    ).toBe(false);
  });
});
