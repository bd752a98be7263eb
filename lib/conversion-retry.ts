import type { ConversionQueue } from './conversion-queue';
import { InvalidRequestError, NotFoundError, NotRetryableError, errorMessage } from './errors';
import { isConversionId } from './identity';
import type { ConversionRecord, ConversionRetryLedger, RecordStatus } from './ledger';
import { logger, personRef } from './logger';
import type { VerificationRedriver } from './verification-sweep';

export interface ConversionRetryDependencies {
  ledger: ConversionRetryLedger;
  queue: ConversionQueue;
  redrives: VerificationRedriver;
  now?: () => number;
}

/**
 * What a retry did:
 * - `requeued`: a failed record that still holds its person is `queued` again, its key sent.
 * - `resent`: a `queued` record's key sent again (its message was lost, or it waits too long);
 *   an extra message is harmless, the consumer's claim converts the person once.
 * - `verification_restarted`: a `verification_failed` record is `created` again and its
 *   verification re-driven; the contact exists, so nothing is created.
 * - `awaiting_resend`: a rejected or failed record whose person the ledger no longer holds (its
 *   phones are forgotten once it ends): the next delivery of the person, unchanged, queues it.
 */
export type RetryAction = 'requeued' | 'resent' | 'verification_restarted' | 'awaiting_resend';

export interface RetryResult {
  id: string;
  /** The record's status after the retry. */
  status: RecordStatus;
  action: RetryAction;
  /** False when the queue refused the send: the stranded-send sweep sends it later. */
  sent?: boolean;
  message?: string;
}

/** A record being converted or converted: the retry leaves it alone. */
const NOT_RETRYABLE: Record<'creating' | 'created' | 'verified', string> = {
  creating: 'the record is being converted right now',
  created: 'the record is converted; its verification is running',
  verified: 'the record is converted and verified',
};

/**
 * An operator's retry of one record (`POST /conversions/{id}/retry`), through the ledger and the
 * conversion queue the pipeline uses: each step is a conditional write on the status it leaves, so
 * a record that a consumer claimed, converted or verified meanwhile is never touched, and a retry
 * repeated or raced by another is harmless.
 */
export class ConversionRetry {
  private readonly now: () => number;

  constructor(private readonly deps: ConversionRetryDependencies) {
    this.now = deps.now ?? Date.now;
  }

  async retry(id: string): Promise<RetryResult> {
    if (!isConversionId(id)) throw new InvalidRequestError('id: not a conversion id (c_ and 22 characters)');
    // A record that changes between the read and the write is read again, a few times at most.
    for (let round = 0; round < 3; round++) {
      const record = await this.deps.ledger.get({ key: id });
      if (record === null) throw new NotFoundError('no conversion with this id');
      const result = await this.retryRecord(record);
      if (result !== null) return result;
    }
    throw new NotRetryableError('the record kept changing; look at it again', 'changing');
  }

  /** The retry the record's status calls for; null when the record changed under it. */
  private async retryRecord(record: ConversionRecord): Promise<RetryResult | null> {
    const { ledger } = this.deps;
    const nowMs = this.now();
    const key = record.key;
    switch (record.status) {
      case 'queued':
        return { id: key, status: 'queued', action: 'resent', sent: await this.send(key) };
      case 'failed':
      case 'rejected':
        if (record.holdsQueuedContact && record.status === 'failed') {
          if (!(await ledger.requeueFailed({ key, nowMs }))) return null;
          logger.info('failed person queued again by an operator', { person: personRef(key) });
          return { id: key, status: 'queued', action: 'requeued', sent: await this.send(key) };
        }
        if (!(await ledger.reopenForResend({ key, nowMs }))) return null;
        return {
          id: key,
          status: record.status,
          action: 'awaiting_resend',
          message:
            'the ledger no longer holds this person: send the person again (POST /contacts, or the import), ' +
            'corrected if Apollo refused the data; it is queued then',
        };
      case 'verification_failed': {
        const redrive = await ledger.reopenVerification({ key, nowMs });
        if (redrive === null) return null;
        const contactId = record.contactId as string;
        try {
          await this.deps.redrives.redrive({ key, contact_id: contactId }, redrive);
        } catch (error) {
          // The record waits for a verdict in the sweep's index: the sweep re-drives it.
          logger.error('could not start a verification', {
            person: personRef(key),
            error: errorMessage(error),
          });
        }
        return { id: key, status: 'created', action: 'verification_restarted' };
      }
      case 'creating':
      case 'created':
      case 'verified':
        throw new NotRetryableError(NOT_RETRYABLE[record.status], record.status);
    }
  }

  /** Hands the key to the queue; false (and the record marked unsent) when it was refused. */
  private async send(key: string): Promise<boolean> {
    try {
      const { failedKeys } = await this.deps.queue.enqueue([key]);
      if (failedKeys.length === 0) return true;
    } catch (error) {
      logger.error('the conversion queue refused a send', { error: errorMessage(error), people: 1 });
    }
    await this.deps.ledger.markUnsent({ key }).catch(() => undefined);
    return false;
  }
}
