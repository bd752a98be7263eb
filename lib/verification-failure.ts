import { VerdictNotRecordedError, errorMessage } from './errors';
import type { VerificationLedger } from './ledger';
import { logger, personRef } from './logger';
import type { ServiceMetrics } from './metrics';
import type { VerificationRequest } from './schedulers';
import { hasVerdict, mapBounded, tally } from './verification-batch';

/** What the state machine's Catch hands to the failure path: the batch, and why it failed. */
export interface VerificationFailureInput extends VerificationRequest {
  error?: { Error?: string; Cause?: string };
}

/** What the failure path did with the people of the batch. */
export interface FailureReport {
  /** Recorded `verification_failed` with `reason`. */
  failed: number;
  /** Had a verdict already (verified, or failed with their own reason): left as they are. */
  decidedBefore: number;
  reason: string;
}

export interface VerificationFailureDependencies {
  ledger: Pick<VerificationLedger, 'get' | 'markVerificationFailed'>;
  /** Counts what this use case did (default: nothing). */
  metrics?: ServiceMetrics;
  now?: () => number;
}

/**
 * The verification state machine's failure path: keeps on the ledger why Apollo did not return
 * the contacts, for the operator. Apart from `ContactVerification` (lib/verification.ts), so that
 * its function bundles neither the Apollo client nor libphonenumber.
 */
export class VerificationFailureRecorder {
  private readonly now: () => number;

  constructor(private readonly deps: VerificationFailureDependencies) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Records `verification_failed` with the reason for every person of the batch still without a
   * verdict, and leaves the others as they are (verified, or failed with their own reason). Throws
   * VerdictNotRecordedError, after writing what it could, when some person has no record or a
   * record that is neither `created` nor decided (the state machine retries, then fails the
   * execution loudly; the sweep finds `created` records again).
   */
  async recordFailure(input: VerificationFailureInput): Promise<FailureReport> {
    const reason = describeFailure(input.error);
    const report: FailureReport = { failed: 0, decidedBefore: 0, reason };
    const notRecorded: string[] = [];
    await mapBounded(input.people, async (person) => {
      const outcome = await this.recordOne(person.key, reason);
      if (outcome === 'failed' || outcome === 'decidedBefore') report[outcome] += 1;
      else notRecorded.push(outcome.status);
    });
    if (notRecorded.length > 0) {
      throw new VerdictNotRecordedError(
        `verification failed (${reason.split(':')[0]}), but no verdict could be recorded for ` +
          `${notRecorded.length} of ${input.people.length} people: ${tally(notRecorded.map((status) => `the record is ${status}`))}`,
      );
    }
    return report;
  }

  private async recordOne(
    key: string,
    reason: string,
  ): Promise<'failed' | 'decidedBefore' | { status: string }> {
    const { ledger } = this.deps;
    const before = await ledger.get({ key });
    if (before !== null && hasVerdict(before)) return 'decidedBefore';
    if (before !== null && (await ledger.markVerificationFailed({ key, reason, nowMs: this.now() }))) {
      logger.warn('verification failed', { person: personRef(key), reason });
      this.deps.metrics?.verificationVerdicts('verification_failed');
      return 'failed';
    }
    // Refused: a verdict may have come meanwhile (a re-driven verification), or the record is
    // missing or not converted (any more).
    const after = before === null ? null : await ledger.get({ key });
    if (after !== null && hasVerdict(after)) {
      logger.info('verification failure not recorded: the record has a verdict already', {
        person: personRef(key),
        status: after.status,
      });
      return 'decidedBefore';
    }
    return { status: after?.status ?? 'missing' };
  }
}

/** Step Functions puts a Lambda error's `{errorType, errorMessage}` JSON in `Cause`. */
function describeFailure(error: VerificationFailureInput['error']): string {
  const name = error?.Error ?? 'UnknownError';
  let message = error?.Cause ?? '';
  try {
    const cause = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof cause.errorMessage === 'string') message = cause.errorMessage;
  } catch (parseError) {
    logger.debug('verification failure cause is not JSON', { error: errorMessage(parseError) });
  }
  return message ? `${name}: ${message}` : name;
}
