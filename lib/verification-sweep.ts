import { errorMessage } from './errors';
import type { AwaitingVerdict, ConversionRecord, VerificationSweepLedger } from './ledger';
import { logger, personRef } from './logger';
import { verificationExecutionName, type PersonToVerify } from './schedulers';

/**
 * Starts a re-driven verification of one person (a batch of one on the same state machine): a new
 * execution, since a Standard execution name is taken for 90 days.
 */
export interface VerificationRedriver {
  redrive(person: PersonToVerify, redrive: number): Promise<void>;
}

/** Step Functions allows 80 characters in an execution name. */
const MAX_EXECUTION_NAME = 80;

/**
 * The execution name of a key's `redrive`-th re-driven verification: the name of a verification
 * of that key alone with `-r<n>`, so each re-drive starts once, however many sweeps and deliveries
 * try. It never equals a batch's name (those have no suffix).
 */
export function redriveExecutionName(key: string, redrive: number, secret: string): string {
  const suffix = `-r${redrive}`;
  return `${verificationExecutionName([key], secret).slice(0, MAX_EXECUTION_NAME - suffix.length)}${suffix}`;
}

export interface VerificationSweepDependencies {
  ledger: VerificationSweepLedger;
  verifications: VerificationRedriver;
  /** A record waiting this long for its verdict (since completed, or last re-driven) is re-driven. */
  staleAfterMs: number;
  /** Re-drives of one record; once they are spent, the next sweep records `verification_failed`. */
  maxRedrives: number;
  /** Records handled per sweep at most; the next sweep takes the rest. */
  batchSize: number;
  now?: () => number;
}

export interface SweepReport {
  /** Records found waiting too long for a verdict. */
  found: number;
  redriven: number;
  /** Recorded `verification_failed`: their re-drives were spent. */
  gaveUp: number;
  /** Taken by another sweep or delivery, or decided, between the query and the write. */
  skipped: number;
}

/**
 * Re-drives verifications that ended without a verdict (an execution that failed before it could
 * record one, a start that never happened, a lost execution), so no record stays `created` for
 * ever. Finds them through the ledger's sparse index, never by a scan; bounds the re-drives.
 */
export class VerificationSweep {
  private readonly now: () => number;

  constructor(private readonly deps: VerificationSweepDependencies) {
    this.now = deps.now ?? Date.now;
  }

  /** The scheduled sweep. Throws after handling every record if any of them could not be re-driven. */
  async sweep(): Promise<SweepReport> {
    const waiting = await this.deps.ledger.awaitingVerdict({
      olderThanMs: this.now() - this.deps.staleAfterMs,
      limit: this.deps.batchSize,
    });
    const report: SweepReport = { found: waiting.length, redriven: 0, gaveUp: 0, skipped: 0 };
    const failures: unknown[] = [];
    for (const record of waiting) {
      try {
        const outcome = await this.redrive(record);
        report[outcome] += 1;
      } catch (error) {
        failures.push(error);
        logger.error('could not re-drive a verification', {
          person: personRef(record.key),
          error: errorMessage(error),
        });
      }
    }
    logger.info('verification sweep', { ...report, errors: failures.length });
    if (failures.length > 0) {
      throw new Error(`${failures.length} of ${waiting.length} verifications could not be re-driven`, {
        cause: failures[0],
      });
    }
    return report;
  }

  /**
   * A redelivery of a person whose record is `created` and has waited too long for a verdict
   * re-drives its verification too (the sweep would, later). False when nothing was due.
   */
  async redriveIfStale(record: ConversionRecord): Promise<boolean> {
    if (record.status !== 'created' || record.contactId === null) return false;
    const since =
      record.awaitingVerdictSinceMs ??
      (record.verificationStartedAt === null ? null : Date.parse(record.verificationStartedAt));
    // Never started: the caller starts the first verification itself.
    if (since === null || this.now() - since < this.deps.staleAfterMs) return false;
    const outcome = await this.redrive({
      key: record.key,
      contactId: record.contactId,
      awaitingSinceMs: record.awaitingVerdictSinceMs ?? null,
      redrives: record.verificationRedrives ?? 0,
    });
    return outcome !== 'skipped';
  }

  private async redrive(
    waiting: Omit<AwaitingVerdict, 'awaitingSinceMs'> & { awaitingSinceMs: number | null },
  ): Promise<'redriven' | 'gaveUp' | 'skipped'> {
    const { ledger, verifications, maxRedrives } = this.deps;
    if (waiting.redrives >= maxRedrives) {
      const reason = `no verdict after ${waiting.redrives} re-driven verifications`;
      if (!(await ledger.markVerificationFailed({ key: waiting.key, reason, nowMs: this.now() }))) {
        return 'skipped';
      }
      logger.warn('verification failed', { person: personRef(waiting.key), reason });
      return 'gaveUp';
    }
    const redrive = await ledger.markRedriven({
      key: waiting.key,
      awaitingSinceMs: waiting.awaitingSinceMs,
      nowMs: this.now(),
    });
    if (redrive === null) return 'skipped';
    // If this start fails, the record waits again from now: the sweep after next retries it.
    await verifications.redrive({ key: waiting.key, contact_id: waiting.contactId }, redrive);
    logger.info('verification re-driven', { person: personRef(waiting.key), redrive });
    return 'redriven';
  }
}
