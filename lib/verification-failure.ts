import { VerdictNotRecordedError, errorMessage } from './errors';
import type { VerificationLedger } from './ledger';
import { logger, personRef } from './logger';
import type { VerificationRequest } from './schedulers';

/** What the state machine's Catch hands to the failure path. */
export interface VerificationFailureInput extends VerificationRequest {
  error?: { Error?: string; Cause?: string };
}

export interface VerificationFailureDependencies {
  ledger: Pick<VerificationLedger, 'get' | 'markVerificationFailed'>;
  now?: () => number;
}

/**
 * The verification state machine's failure path: keeps on the ledger why Apollo did not return
 * the contact, for the operator. Apart from `ContactVerification` (lib/verification.ts), so that
 * its function bundles neither the Apollo client nor libphonenumber.
 */
export class VerificationFailureRecorder {
  private readonly now: () => number;

  constructor(private readonly deps: VerificationFailureDependencies) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Records `verification_failed` with the reason. Throws VerdictNotRecordedError when nothing
   * could be written and the record has no verdict either (the state machine retries, then fails
   * the execution loudly); a record verified meanwhile (by a re-driven verification) keeps its
   * verdict.
   */
  async recordFailure(
    input: VerificationFailureInput,
  ): Promise<{ status: 'verification_failed' | 'verified'; reason: string }> {
    const { ledger } = this.deps;
    const reason = describeFailure(input.error);
    const recorded = await ledger.markVerificationFailed({ key: input.key, reason, nowMs: this.now() });
    if (!recorded) {
      const record = await ledger.get({ key: input.key });
      if (record?.status !== 'verified' && record?.status !== 'verification_failed') {
        throw new VerdictNotRecordedError(
          `verification failed (${reason.split(':')[0]}), but the record is ${record?.status ?? 'missing'}: no verdict recorded`,
        );
      }
      logger.info('verification failure not recorded: the record has a verdict already', {
        person: personRef(input.key),
        status: record.status,
      });
      return { status: record.status, reason };
    }
    logger.warn('verification failed', { person: personRef(input.key), reason });
    return { status: 'verification_failed', reason };
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
