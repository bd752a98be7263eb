import type { Config } from '../../config';
import type { ConversionQueue } from '../../conversion-queue';
import { ConversionIntake } from '../../intake';
import type { ConversionIntakeLedger, VerificationSweepLedger } from '../../ledger';
import type { VerificationScheduler } from '../../schedulers';
import type { VerificationRedriver } from '../../verification-sweep';
import { serviceMetrics } from './metrics';
import { verificationSweep } from './verification-sweep';

/**
 * A `queued` record whose key went to the queue longer ago than this is sent again by the next
 * delivery of the person (the consumer's claim makes an extra message harmless).
 */
const QUEUED_RESEND_AFTER_MS = 30_000;
/** Retry-After of a 503 when the conversion queue refused a send: SQS outages are short. */
const QUEUE_RETRY_AFTER_SECONDS = 5;

/**
 * The doors' intake, on `queue`. A delivery of a converted person whose verification waits too
 * long for its verdict re-drives it, as the sweep would.
 */
export function conversionIntake(
  config: Config,
  ports: {
    ledger: ConversionIntakeLedger & VerificationSweepLedger;
    queue: ConversionQueue;
    verifications: VerificationScheduler;
    redrives: VerificationRedriver;
  },
): ConversionIntake {
  const { ledger, queue, verifications, redrives } = ports;
  return new ConversionIntake({
    ledger,
    queue,
    verifications,
    staleVerifications: verificationSweep(config, { ledger, redrives }),
    resendAfterMs: QUEUED_RESEND_AFTER_MS,
    queueRetryAfterSeconds: QUEUE_RETRY_AFTER_SECONDS,
    inProgressRetryAfterSeconds: config.inProgressRetryAfterSeconds,
    metrics: serviceMetrics(),
  });
}
