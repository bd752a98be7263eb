import type {
  PhoneRevealPoll,
  PhoneRevealScheduler,
  VerificationRequest,
  VerificationScheduler,
} from '../../../lib/schedulers';

/** Records what it was asked to start; `failNext` makes the next start throw instead. */
class RecordingScheduler<T> {
  /** Every start that went through, in order (a repeated start is recorded again). */
  readonly started: T[] = [];
  private readonly failures: unknown[] = [];

  failNext(error: unknown = new Error('Step Functions is unavailable')): void {
    this.failures.push(error);
  }

  async start(input: T): Promise<void> {
    if (this.failures.length > 0) throw this.failures.shift();
    this.started.push(structuredClone(input));
  }
}

/** The verification state machine's starter. */
export class FakeVerificationScheduler
  extends RecordingScheduler<VerificationRequest>
  implements VerificationScheduler {}

/** The phone-reveal fallback state machine's starter. */
export class FakePhoneRevealScheduler
  extends RecordingScheduler<PhoneRevealPoll>
  implements PhoneRevealScheduler {}
