import type { MiddlewareObj } from '@middy/core';

/** What became of a person the conversion finished with (created or existing: one contact each). */
export type ConversionMetricOutcome = 'created' | 'existing' | 'rejected' | 'failed';

/** A verification's verdict on a converted person. */
export type VerificationVerdict = 'verified' | 'verification_failed';

/**
 * The service's metrics, as the use cases count them: named events, no metric names, units or
 * dimensions (the adapter, lib/powertools-metrics.ts, decides those). What a use case counts here
 * reaches CloudWatch when the invocation ends (`publishingMetrics`).
 */
export interface ServiceMetrics {
  /** People finished by the conversion, by outcome. */
  conversions(outcome: ConversionMetricOutcome, people?: number): void;
  /** One HTTP request to Apollo and the status it got (`no_reply`: the request failed without one). */
  apolloRequest(endpoint: string, status: number | 'no_reply'): void;
  /** Credits Apollo charged (people/match, phone reveals). */
  creditsSpent(credits: number): void;
  /** Credits a request did not spend because the ledger answered it. */
  creditsSaved(credits: number): void;
  /** Verdicts the verification (or its failure path) wrote. */
  verificationVerdicts(verdict: VerificationVerdict, people?: number): void;
  /** How long a message waited in the conversion queue before this receive. */
  queuedMessageAge(ageMs: number): void;
}

/** Counts nothing: for use cases built without metrics (tests, scripts). */
export const noMetrics: ServiceMetrics = {
  conversions: () => undefined,
  apolloRequest: () => undefined,
  creditsSpent: () => undefined,
  creditsSaved: () => undefined,
  verificationVerdicts: () => undefined,
  queuedMessageAge: () => undefined,
};

const publishers = new Set<() => void>();

/**
 * Registers what publishes a metrics adapter's counts; the handler wrappers call it at the end of
 * every invocation. A function whose composition root builds no adapter registers nothing, so its
 * bundle holds no metrics library (what a cold start parses).
 */
export function publishAtEachInvocationEnd(publish: () => void): void {
  publishers.add(publish);
}

/** Publishes what every registered adapter counted during the invocation. Never throws. */
export function publishMetrics(): void {
  for (const publish of publishers) {
    try {
      publish();
    } catch {
      // Metrics are never worth failing an invocation over.
    }
  }
}

/** Middy middleware for the handler wrappers: publishes the invocation's metrics, errors or not. */
export function publishingMetrics<Event, Result>(): MiddlewareObj<Event, Result> {
  return {
    after: function publishMetricsAfter() {
      publishMetrics();
    },
    onError: function publishMetricsOnError() {
      publishMetrics();
    },
  };
}
