import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ConversionMetricOutcome, ServiceMetrics, VerificationVerdict } from './metrics';

/** The metric of each conversion outcome (one name each: an alarm or a graph needs no dimension). */
const CONVERSION_METRIC: Record<ConversionMetricOutcome, string> = {
  created: 'ConversionsCreated',
  existing: 'ConversionsExisting',
  rejected: 'ConversionsRejected',
  failed: 'ConversionsFailed',
};

const VERDICT_METRIC: Record<VerificationVerdict, string> = {
  verified: 'VerificationsVerified',
  verification_failed: 'VerificationsFailed',
};

/** Metric names, as the dashboard and the alarms in serverless.yml spell them. */
export const METRIC_NAMES = {
  ...CONVERSION_METRIC,
  ...VERDICT_METRIC,
  apolloRequests: 'ApolloRequests',
  apolloRateLimited: 'ApolloRateLimited',
  creditsSpent: 'CreditsSpent',
  creditsSaved: 'CreditsSaved',
  queuedMessageAge: 'QueuedMessageAge',
} as const;

/**
 * ServiceMetrics as CloudWatch Embedded Metric Format lines (Powertools Metrics) on stdout, which
 * CloudWatch Logs turns into metrics: no API call, no latency. Namespace from
 * POWERTOOLS_METRICS_NAMESPACE, the `service` dimension from POWERTOOLS_SERVICE_NAME (serverless.yml).
 *
 * Counts add up during an invocation and `publish` writes them as one line (and one line per
 * Apollo endpoint and status, the only metric with dimensions of its own: `endpoint`, `status`),
 * so a batch of 100 people costs a few lines, not hundreds. The queue age kept is the oldest.
 */
export class PowertoolsServiceMetrics implements ServiceMetrics {
  private readonly counts = new Map<string, number>();
  private readonly apolloCounts = new Map<string, { endpoint: string; status: string; requests: number }>();
  private oldestMessageAgeMs: number | undefined;

  constructor(private readonly metrics: Metrics = new Metrics()) {}

  conversions(outcome: ConversionMetricOutcome, people = 1): void {
    this.count(CONVERSION_METRIC[outcome], people);
  }

  apolloRequest(endpoint: string, status: number | 'no_reply'): void {
    const key = `${endpoint} ${status}`;
    const counted = this.apolloCounts.get(key) ?? { endpoint, status: String(status), requests: 0 };
    counted.requests += 1;
    this.apolloCounts.set(key, counted);
    if (status === 429) this.count(METRIC_NAMES.apolloRateLimited, 1);
  }

  creditsSpent(credits: number): void {
    if (credits > 0) this.count(METRIC_NAMES.creditsSpent, credits);
  }

  creditsSaved(credits: number): void {
    if (credits > 0) this.count(METRIC_NAMES.creditsSaved, credits);
  }

  verificationVerdicts(verdict: VerificationVerdict, people = 1): void {
    this.count(VERDICT_METRIC[verdict], people);
  }

  queuedMessageAge(ageMs: number): void {
    if (!Number.isFinite(ageMs)) return;
    this.oldestMessageAgeMs = Math.max(this.oldestMessageAgeMs ?? 0, Math.max(0, ageMs));
  }

  /** Writes what this invocation counted (nothing if it counted nothing), then starts afresh. */
  publish(): void {
    for (const { endpoint, status, requests } of this.apolloCounts.values()) {
      const single = this.metrics.singleMetric();
      single.addDimensions({ endpoint, status });
      single.addMetric(METRIC_NAMES.apolloRequests, MetricUnit.Count, requests);
    }
    this.apolloCounts.clear();
    for (const [name, value] of this.counts) this.metrics.addMetric(name, MetricUnit.Count, value);
    this.counts.clear();
    if (this.oldestMessageAgeMs !== undefined) {
      this.metrics.addMetric(METRIC_NAMES.queuedMessageAge, MetricUnit.Milliseconds, this.oldestMessageAgeMs);
      this.oldestMessageAgeMs = undefined;
    }
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }

  private count(name: string, value: number): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
}
