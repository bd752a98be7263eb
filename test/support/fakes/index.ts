import { BulkConversion } from '../../../lib/bulk-conversion';
import { ContactConversion } from '../../../lib/conversion';
import { ConversionIntake } from '../../../lib/intake';
import { StrandedQueueSweep } from '../../../lib/queued-sweep';
import { RateLimitPacer } from '../../../lib/rate-limit-pacer';
import { PersonEnrichment } from '../../../lib/enrichment';
import { identityKey } from '../../../lib/identity';
import { IdentityResolution } from '../../../lib/identity-resolution';
import type { Person } from '../../../lib/person';
import { ContactVerification } from '../../../lib/verification';
import { VerificationFailureRecorder } from '../../../lib/verification-failure';
import { VerificationSweep } from '../../../lib/verification-sweep';
import { WebhookDeliveryMemory } from '../../../lib/webhook-deliveries';
import { FakeApollo } from './apollo';
import { FakeClock, sequentialTokens } from './clock';
import { InMemoryLedger } from './ledger';
import { RecordingMetrics } from './metrics';
import { DEFAULT_PHONE_COUNTRY } from './people';
import { FakeConversionQueue } from './queue';
import {
  FakeBatchVerificationScheduler,
  FakePhoneRevealScheduler,
  FakeVerificationRedriver,
  FakeVerificationScheduler,
} from './schedulers';

export * from './apollo';
export * from './clock';
export * from './ledger';
export * from './metrics';
export * from './people';
export * from './queue';
export * from './schedulers';

/** The settings the composition roots (`lib/roots/`) read from the config, at values the tests reason about. */
export interface FakeSettings {
  concurrency: number;
  rejectedRecordTtlSeconds: number;
  maxAttempts: number;
  unavailableRetryAfterSeconds: number;
  heldPhonesTtlSeconds: number;
  maxResultPolls: number;
  callbackUrl: string;
  /** The sweep's settings (`VERIFICATION_SWEEP_AFTER_MINUTES` in ms, ...). */
  verificationSweepAfterMs: number;
  verificationMaxRedrives: number;
  verificationSweepBatch: number;
  inProgressRetryAfterSeconds: number;
  /** How long an answered webhook delivery is remembered (`WEBHOOK_REPLAY_WINDOW_SECONDS`). */
  webhookReplayWindowSeconds: number;
  /** The intake sends a queued record again after this long (`QUEUED_RESEND_AFTER_MS`). */
  resendAfterMs: number;
  /** Retry-After of the 503 when the queue refused a send. */
  queueRetryAfterSeconds: number;
  /** The conversion queue's maxReceiveCount (`CONVERSION_MAX_RECEIVE_COUNT`). */
  maxReceives: number;
  /** The queue's visibility timeout, in ms. */
  visibilityTimeoutMs: number;
  /** `QUEUED_SWEEP_AFTER_MINUTES`, in ms. */
  queuedSweepAfterMs: number;
}

export const FAKE_SETTINGS: FakeSettings = {
  concurrency: 4,
  rejectedRecordTtlSeconds: 7 * 24 * 3600,
  maxAttempts: 3,
  unavailableRetryAfterSeconds: 30,
  heldPhonesTtlSeconds: 24 * 3600,
  maxResultPolls: 5,
  callbackUrl: 'https://converter.example/webhooks/apollo/phone-numbers?token=callback-token',
  verificationSweepAfterMs: 60 * 60_000,
  verificationMaxRedrives: 3,
  verificationSweepBatch: 200,
  inProgressRetryAfterSeconds: 2,
  webhookReplayWindowSeconds: 3 * 86_400,
  resendAfterMs: 30_000,
  queueRetryAfterSeconds: 5,
  maxReceives: 5,
  visibilityTimeoutMs: 360_000,
  queuedSweepAfterMs: 15 * 60_000,
};

/** How long the consumer's invocation may run in these tests. */
export const CONSUMER_MS = 60_000;

/** How long a test's request may run: the Lambda's deadline, `REQUEST_MS` after `clock.now()`. */
export const REQUEST_MS = 20_000;

/**
 * The use cases wired as `lib/services.ts` and the roots wire them, each port an in-memory fake: one ledger,
 * one Apollo, the schedulers, a clock the test moves and tokens `token-1`, `token-2`, ...
 * (conversion claims) and `enrichment-1`, ... (enrichment claims). Identity resolution makes new
 * conversion ids at random, as in production (`newConversionId`).
 */
export function fakeServices(overrides: Partial<FakeSettings> = {}) {
  const settings = { ...FAKE_SETTINGS, ...overrides };
  const clock = new FakeClock();
  const ledger = new InMemoryLedger();
  const apollo = new FakeApollo();
  const verifications = new FakeVerificationScheduler();
  const redrives = new FakeVerificationRedriver();
  const phoneReveals = new FakePhoneRevealScheduler();
  const metrics = new RecordingMetrics();
  const verificationSweep = new VerificationSweep({
    ledger,
    verifications: redrives,
    staleAfterMs: settings.verificationSweepAfterMs,
    maxRedrives: settings.verificationMaxRedrives,
    batchSize: settings.verificationSweepBatch,
    now: clock.now,
  });
  const conversion = new ContactConversion({
    ledger,
    apollo,
    verifications,
    concurrency: settings.concurrency,
    rejectedRecordTtlSeconds: settings.rejectedRecordTtlSeconds,
    maxAttempts: settings.maxAttempts,
    unavailableRetryAfterSeconds: settings.unavailableRetryAfterSeconds,
    staleVerifications: verificationSweep,
    inProgressRetryAfterSeconds: settings.inProgressRetryAfterSeconds,
    now: clock.now,
    newToken: sequentialTokens(),
    metrics,
  });
  const enrichment = new PersonEnrichment({
    ledger,
    apollo,
    conversion,
    phoneReveals,
    callbackUrl: () => Promise.resolve(settings.callbackUrl),
    defaultPhoneCountry: DEFAULT_PHONE_COUNTRY,
    heldPhonesTtlSeconds: settings.heldPhonesTtlSeconds,
    maxResultPolls: settings.maxResultPolls,
    now: clock.now,
    newToken: sequentialTokens('enrichment'),
    metrics,
  });
  const verification = new ContactVerification({
    ledger,
    apollo,
    defaultPhoneCountry: DEFAULT_PHONE_COUNTRY,
    now: clock.now,
    metrics,
  });
  const verificationFailures = new VerificationFailureRecorder({ ledger, metrics, now: clock.now });
  const queue = new FakeConversionQueue(clock.now, {
    maxReceives: settings.maxReceives,
    visibilityTimeoutMs: settings.visibilityTimeoutMs,
  });
  const batchVerifications = new FakeBatchVerificationScheduler();
  const pacer = new RateLimitPacer(clock.now);
  const intake = new ConversionIntake({
    ledger,
    queue,
    verifications: batchVerifications,
    staleVerifications: verificationSweep,
    resendAfterMs: settings.resendAfterMs,
    queueRetryAfterSeconds: settings.queueRetryAfterSeconds,
    inProgressRetryAfterSeconds: settings.inProgressRetryAfterSeconds,
    metrics,
    now: clock.now,
    // The long poll's pauses move the clock instead of waiting.
    sleep: (ms) => {
      clock.advance(ms);
      return Promise.resolve();
    },
  });
  const bulkConversion = new BulkConversion({
    ledger,
    apollo,
    queue,
    verifications: batchVerifications,
    pacer,
    maxReceives: settings.maxReceives,
    rejectedRecordTtlSeconds: settings.rejectedRecordTtlSeconds,
    quietPeriodSeconds: settings.unavailableRetryAfterSeconds,
    now: clock.now,
    newToken: sequentialTokens('consumer'),
    metrics,
  });
  const queuedSweep = new StrandedQueueSweep({
    ledger,
    queue,
    staleAfterMs: settings.queuedSweepAfterMs,
    batchSize: settings.verificationSweepBatch,
    now: clock.now,
  });
  /** One invocation of the consumer on what the queue hands out now (up to `batchSize`). */
  const consumeOnce = async (batchSize = 100) => {
    const batch = queue.receive(batchSize);
    if (batch.length === 0) return undefined;
    const outcome = await bulkConversion.convert(batch, { deadline: clock.now() + CONSUMER_MS });
    queue.settle(batch, outcome.failedMessageIds);
    return { batch, ...outcome };
  };
  const webhookDeliveries = new WebhookDeliveryMemory({
    ledger,
    rememberSeconds: settings.webhookReplayWindowSeconds,
    now: clock.now,
    newToken: sequentialTokens('delivery'),
  });
  return {
    settings,
    clock,
    ledger,
    apollo,
    metrics,
    verifications,
    redrives,
    phoneReveals,
    conversion,
    enrichment,
    verification,
    verificationFailures,
    verificationSweep,
    webhookDeliveries,
    queue,
    batchVerifications,
    pacer,
    intake,
    bulkConversion,
    queuedSweep,
    consumeOnce,
    /**
     * Runs the consumer as Lambda's event source would until the queue is empty (or `maxRounds`
     * invocations): receives what is visible, moving the clock to the next visible message when
     * none is (a postponed or failed message's return), converts, settles. Returns the invocations.
     */
    drain: async ({ batchSize = 100, maxRounds = 100 } = {}) => {
      let rounds = 0;
      for (; rounds < maxRounds; rounds++) {
        const next = queue.nextVisibleAtMs();
        if (next === undefined) break;
        if (next > clock.now()) clock.advance(next - clock.now());
        await consumeOnce(batchSize);
      }
      return rounds;
    },
    request: () => ({ deadline: clock.now() + REQUEST_MS }),
    /**
     * The record key (conversion id) `person`'s strongest identity names in the ledger now; for a
     * person it names nothing (never resolved), `unresolved:<person.key>`, which holds no record.
     */
    keyOf: (who: Pick<Person, 'identities' | 'key'>): string => {
      const [strongest] = who.identities;
      const named = strongest === undefined ? undefined : ledger.item(identityKey(strongest))?.aliasOf;
      return named ?? `unresolved:${who.key}`;
    },
    /**
     * Resolves `person` to its record key as the conversion does first (`IdentityResolution`,
     * writing the links it is missing): what another request converting the person would claim.
     */
    resolve: async (who: Pick<Person, 'identities'>): Promise<string> => {
      const resolution = await new IdentityResolution({ ledger, now: clock.now }).resolve(who, {
        deadline: clock.now() + REQUEST_MS,
      });
      if (resolution.kind !== 'record')
        throw new Error(`the person resolves to no record: ${resolution.kind}`);
      return resolution.key;
    },
  };
}

export type FakeServices = ReturnType<typeof fakeServices>;

/** The error `promise` rejects with; fails the test when it resolves instead. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
