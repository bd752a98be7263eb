import { ContactConversion } from '../../../lib/conversion';
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
import { DEFAULT_PHONE_COUNTRY } from './people';
import { FakePhoneRevealScheduler, FakeVerificationRedriver, FakeVerificationScheduler } from './schedulers';

export * from './apollo';
export * from './clock';
export * from './ledger';
export * from './people';
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
};

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
  });
  const verification = new ContactVerification({
    ledger,
    apollo,
    defaultPhoneCountry: DEFAULT_PHONE_COUNTRY,
    now: clock.now,
  });
  const verificationFailures = new VerificationFailureRecorder({ ledger, now: clock.now });
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
    verifications,
    redrives,
    phoneReveals,
    conversion,
    enrichment,
    verification,
    verificationFailures,
    verificationSweep,
    webhookDeliveries,
    /** Call options for one request starting now. */
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
