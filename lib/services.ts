import type { BulkConversion } from './bulk-conversion';
import type { Config } from './config';
import type { ConversionQueue } from './conversion-queue';
import type { ContactConversion } from './conversion';
import type { PersonEnrichment } from './enrichment';
import type { ConversionIntake } from './intake';
import type { LedgerReader } from './ledger';
import { StrandedQueueSweep } from './queued-sweep';
import { RateLimitPacer } from './rate-limit-pacer';
import { bulkConversion } from './roots/shared/bulk-conversion';
import { conversionQueue, useConversionQueue } from './roots/shared/conversion-queue';
import { conversionIntake } from './roots/shared/intake';
import { apolloClient } from './roots/shared/apollo';
import { compositionRoot, resetCompositionRoots } from './roots/shared/composition-root';
import { contactConversion } from './roots/shared/conversion';
import { dynamoDbLedger } from './roots/shared/dynamodb';
import { personEnrichment } from './roots/shared/enrichment';
import { withSupportedPhoneCountry } from './roots/shared/phone-country';
import { stateMachineStarts } from './roots/shared/step-functions';
import { contactVerification } from './roots/shared/verification';
import { verificationSweep } from './roots/shared/verification-sweep';
import { webhookDeliveryMemory } from './roots/shared/webhook-deliveries';
import type { ContactVerification } from './verification';
import { VerificationFailureRecorder } from './verification-failure';
import type { VerificationSweep } from './verification-sweep';
import type { WebhookDeliveryMemory } from './webhook-deliveries';

/*
 * Every function of functions/ has a composition root of its own kind in lib/roots/, which builds
 * only what that function uses, so its bundle holds nothing else (cold start; README,
 * "Composition roots"). `getServices()` builds everything, from the same builders
 * (lib/roots/shared/): for a function that has no root yet, and for scripts. A function that
 * imports it bundles every adapter and use case, and loads accordingly slower.
 */

/** Every use case with its adapters, built once per container. */
export interface Services {
  config: Config;
  /** Reads records (`GET /conversions/{id}`); the use cases write through their own ports. */
  ledger: LedgerReader;
  conversion: ContactConversion;
  verification: ContactVerification;
  /** The verification state machine's failure path. */
  verificationFailures: VerificationFailureRecorder;
  enrichment: PersonEnrichment;
  /** Re-drives verifications left without a verdict (the scheduled sweep). */
  verificationSweep: VerificationSweep;
  /** Remembers answered webhook deliveries, so a replayed `webhook-id` is answered without converting. */
  webhookDeliveries: WebhookDeliveryMemory;
  /** The doors (webhook, POST /contacts): people queued or answered from the ledger. */
  intake: ConversionIntake;
  /** The conversion queue's consumer. */
  bulkConversion: BulkConversion;
  /** Sends again the keys of people left queued whose message was lost (scheduled). */
  queuedSweep: StrandedQueueSweep;
}

/** Adapters a test may stand in for (`resetServices`). */
export interface ServiceOverrides {
  conversionQueue?: ConversionQueue;
}

/** The services for this container, built on first use from `process.env`. */
export const getServices = compositionRoot((loaded): Services => {
  const config = withSupportedPhoneCountry(loaded);
  const ledger = dynamoDbLedger(config);
  const pacer = new RateLimitPacer();
  const apollo = apolloClient(config, pacer);
  const { verifications, redrives, phoneReveals } = stateMachineStarts(config);
  const conversion = contactConversion(config, { ledger, apollo, verifications, redrives });
  const queue = conversionQueue(config);
  return {
    config,
    ledger,
    conversion,
    verification: contactVerification(config, { ledger, apollo }),
    verificationFailures: new VerificationFailureRecorder({ ledger }),
    enrichment: personEnrichment(config, { ledger, apollo, conversion, phoneReveals }),
    verificationSweep: verificationSweep(config, { ledger, redrives }),
    webhookDeliveries: webhookDeliveryMemory(ledger),
    intake: conversionIntake(config, { ledger, queue, verifications, redrives }),
    bulkConversion: bulkConversion(config, { ledger, apollo, queue, verifications, pacer }),
    queuedSweep: new StrandedQueueSweep({
      ledger,
      queue,
      staleAfterMs: config.queuedSweepAfterMs,
      batchSize: config.verificationSweepBatch,
    }),
  };
});

/**
 * Tests and the local stack rebuild the services, and every composition root of lib/roots/, after
 * changing the environment; `replace` stands in for adapters (the tests' in-process queue) until
 * the next reset.
 */
export function resetServices(replace: ServiceOverrides = {}): void {
  useConversionQueue(replace.conversionQueue);
  resetCompositionRoots();
}
