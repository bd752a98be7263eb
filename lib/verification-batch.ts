import { chunks } from './bounded';
import type { ConversionRecord } from './ledger';

/**
 * Helpers the verification (lib/verification.ts) and its failure path
 * (lib/verification-failure.ts) share over a batch's people. Apart from both, so that the failure
 * path's bundle takes neither the Apollo client nor libphonenumber.
 */

/** Ledger reads and writes of one batch run this many at a time: a batch is 100 people at most. */
const LEDGER_CONCURRENCY = 10;

/** A record with a verdict: a pass or the failure path leaves it as it is. */
export const hasVerdict = (record: ConversionRecord): boolean =>
  record.status === 'verified' || record.status === 'verification_failed';

/** `task` over every item, `LEDGER_CONCURRENCY` at a time; results in the items' order. */
export async function mapBounded<T, R>(items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const chunk of chunks(items, LEDGER_CONCURRENCY))
    results.push(...(await Promise.all(chunk.map(task))));
  return results;
}

/** "reason (2); other reason (1)": why people remain, without naming anyone. */
export function tally(reasons: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  return [...counts].map(([reason, count]) => `${reason} (${count})`).join('; ');
}
