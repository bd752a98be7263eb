import {
  checkVerificationRequest,
  type PersonToVerify,
  type PhoneRevealPoll,
  type PhoneRevealScheduler,
  type VerificationRequest,
  type VerificationScheduler,
} from '../../../lib/schedulers';
import type { VerificationRedriver } from '../../../lib/verification-sweep';

/** Records what it was asked to start; `failNext` makes the next start throw instead. */
class RecordingScheduler<T> {
  /** Every start that went through, in order (a repeated start is recorded again). */
  readonly started: T[] = [];
  private readonly failures: Error[] = [];

  failNext(error: Error = new Error('Step Functions is unavailable')): void {
    this.failures.push(error);
  }

  start(input: T): Promise<void> {
    return new Promise<void>((resolve) => {
      const failure = this.failures.shift();
      if (failure !== undefined) throw failure;
      this.started.push(structuredClone(input));
      resolve();
    });
  }
}

/**
 * The verification state machine's starter. `started` lists each person whose verification went
 * through, in order (a repeated start is recorded again); `startedBatches` each start as asked
 * (one execution per batch).
 */
export class FakeVerificationScheduler implements VerificationScheduler {
  readonly startedBatches: VerificationRequest[] = [];
  private readonly failures: Error[] = [];

  get started(): PersonToVerify[] {
    return this.startedBatches.flatMap((batch) => batch.people);
  }

  failNext(error: Error = new Error('Step Functions is unavailable')): void {
    this.failures.push(error);
  }

  start(request: VerificationRequest): Promise<void> {
    return new Promise<void>((resolve) => {
      const failure = this.failures.shift();
      if (failure !== undefined) throw failure;
      this.startedBatches.push(structuredClone(checkVerificationRequest(request)));
      resolve();
    });
  }
}

/** The batch verification's starter: one start per batch, recorded with its people. */
export class FakeBatchVerificationScheduler extends RecordingScheduler<{
  people: Array<{ key: string; contact_id: string }>;
}> {
  /** Every person whose verification started, in order (a person started twice is here twice). */
  get people(): Array<{ key: string; contact_id: string }> {
    return this.started.flatMap((batch) => batch.people);
  }
}

/** The phone-reveal fallback state machine's starter. */
export class FakePhoneRevealScheduler
  extends RecordingScheduler<PhoneRevealPoll>
  implements PhoneRevealScheduler {}

/** The sweep's re-driver: records each re-drive with its number; `failNext` makes the next throw. */
export class FakeVerificationRedriver implements VerificationRedriver {
  readonly redriven: Array<{ request: PersonToVerify; redrive: number }> = [];
  private readonly failures: Error[] = [];

  failNext(error: Error = new Error('Step Functions is unavailable')): void {
    this.failures.push(error);
  }

  redrive(person: PersonToVerify, redrive: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const failure = this.failures.shift();
      if (failure !== undefined) throw failure;
      this.redriven.push({ request: structuredClone(person), redrive });
      resolve();
    });
  }
}
