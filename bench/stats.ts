/** Summary statistics of a sample of durations (or any numbers). */
export interface Summary {
  count: number;
  median: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (p in 0..100) of a sample; NaN for an empty sample. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function median(sample: readonly number[]): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function summarize(sample: readonly number[]): Summary {
  return {
    count: sample.length,
    median: median(sample),
    p99: percentile(sample, 99),
    min: Math.min(...sample),
    max: Math.max(...sample),
    mean: sample.reduce((sum, value) => sum + value, 0) / sample.length,
  };
}

/** Rounds for the report: JSON stays readable without pretending to more precision than was measured. */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function ratio(value: number, floor: number): number {
  return round(value / floor, 2);
}
