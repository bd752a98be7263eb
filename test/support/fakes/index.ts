import { ContactConversion } from '../../../lib/conversion';
import { PersonEnrichment } from '../../../lib/enrichment';
import { ContactVerification } from '../../../lib/verification';
import { FakeApollo } from './apollo';
import { FakeClock, sequentialTokens } from './clock';
import { InMemoryLedger } from './ledger';
import { DEFAULT_PHONE_COUNTRY } from './people';
import { FakePhoneRevealScheduler, FakeVerificationScheduler } from './schedulers';

export * from './apollo';
export * from './clock';
export * from './ledger';
export * from './people';
export * from './schedulers';

/** The settings `lib/services.ts` reads from the config, at values the tests reason about. */
export interface FakeSettings {
  concurrency: number;
  rejectedRecordTtlSeconds: number;
  maxAttempts: number;
  unavailableRetryAfterSeconds: number;
  heldPhonesTtlSeconds: number;
  maxResultPolls: number;
  callbackUrl: string;
}

export const FAKE_SETTINGS: FakeSettings = {
  concurrency: 4,
  rejectedRecordTtlSeconds: 7 * 24 * 3600,
  maxAttempts: 3,
  unavailableRetryAfterSeconds: 30,
  heldPhonesTtlSeconds: 24 * 3600,
  maxResultPolls: 5,
  callbackUrl: 'https://converter.example/webhooks/apollo/phone-numbers?token=callback-token',
};

/** How long a test's request may run: the Lambda's deadline, `REQUEST_MS` after `clock.now()`. */
export const REQUEST_MS = 20_000;

/**
 * The three use cases wired as `lib/services.ts` wires them, each port an in-memory fake: one
 * ledger, one Apollo, the two schedulers, a clock the test moves and tokens `token-1`, `token-2`, ...
 */
export function fakeServices(overrides: Partial<FakeSettings> = {}) {
  const settings = { ...FAKE_SETTINGS, ...overrides };
  const clock = new FakeClock();
  const ledger = new InMemoryLedger();
  const apollo = new FakeApollo();
  const verifications = new FakeVerificationScheduler();
  const phoneReveals = new FakePhoneRevealScheduler();
  const conversion = new ContactConversion({
    ledger,
    apollo,
    verifications,
    concurrency: settings.concurrency,
    rejectedRecordTtlSeconds: settings.rejectedRecordTtlSeconds,
    maxAttempts: settings.maxAttempts,
    unavailableRetryAfterSeconds: settings.unavailableRetryAfterSeconds,
    now: clock.now,
    newToken: sequentialTokens(),
  });
  const enrichment = new PersonEnrichment({
    ledger,
    apollo,
    conversion,
    phoneReveals,
    callbackUrl: async () => settings.callbackUrl,
    defaultPhoneCountry: DEFAULT_PHONE_COUNTRY,
    heldPhonesTtlSeconds: settings.heldPhonesTtlSeconds,
    maxResultPolls: settings.maxResultPolls,
    now: clock.now,
  });
  const verification = new ContactVerification({
    ledger,
    apollo,
    defaultPhoneCountry: DEFAULT_PHONE_COUNTRY,
    now: clock.now,
  });
  return {
    settings,
    clock,
    ledger,
    apollo,
    verifications,
    phoneReveals,
    conversion,
    enrichment,
    verification,
    /** Call options for one request starting now. */
    request: () => ({ deadline: clock.now() + REQUEST_MS }),
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
