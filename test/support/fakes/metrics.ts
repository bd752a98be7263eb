import type { ConversionMetricOutcome, ServiceMetrics, VerificationVerdict } from '../../../lib/metrics';

/** ServiceMetrics that keeps what the use cases counted, for tests to read. */
export class RecordingMetrics implements ServiceMetrics {
  readonly conversionsByOutcome: Partial<Record<ConversionMetricOutcome, number>> = {};
  readonly verdicts: Partial<Record<VerificationVerdict, number>> = {};
  /** `METHOD /path status` → requests. */
  readonly apolloRequests = new Map<string, number>();
  creditsSpentTotal = 0;
  creditsSavedTotal = 0;
  readonly queuedMessageAgesMs: number[] = [];

  conversions(outcome: ConversionMetricOutcome, people = 1): void {
    this.conversionsByOutcome[outcome] = (this.conversionsByOutcome[outcome] ?? 0) + people;
  }

  apolloRequest(endpoint: string, status: number | 'no_reply'): void {
    const key = `${endpoint} ${status}`;
    this.apolloRequests.set(key, (this.apolloRequests.get(key) ?? 0) + 1);
  }

  creditsSpent(credits: number): void {
    this.creditsSpentTotal += credits;
  }

  creditsSaved(credits: number): void {
    this.creditsSavedTotal += credits;
  }

  verificationVerdicts(verdict: VerificationVerdict, people = 1): void {
    this.verdicts[verdict] = (this.verdicts[verdict] ?? 0) + people;
  }

  queuedMessageAge(ageMs: number): void {
    this.queuedMessageAgesMs.push(ageMs);
  }
}
