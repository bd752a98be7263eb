import { randomUUID } from 'node:crypto';
import type { Apollo, ApolloContact, BulkContact } from './apollo/apollo';
import { toBulkContact } from './apollo/bulk-contacts';
import { eachLimit } from './bounded';
import { mapBulkCreateReply } from './apollo/bulk-replies';
import { parseConversionMessage, type ConversionQueue } from './conversion-queue';
import { errorMessage, isApolloConfigurationError, isError } from './errors';
import { isConversionId } from './identity';
import type { ConversionOutcome, ConversionRecord, QueuedContact, QueuedConversionLedger } from './ledger';
import type { MatchIdentity } from './person';
import { logger, personRef } from './logger';
import { noMetrics, type ServiceMetrics } from './metrics';
import type { ContactFields } from './person';
import { MAX_PACING_SECONDS } from './rate-limit-pacer';
import type { VerificationScheduler } from './schedulers';

/** The endpoint the consumer paces itself on (`RateLimitPacer`), as the Apollo client names it. */
export const BULK_CREATE_ENDPOINT = 'POST /contacts/bulk_create';
/** The single create, used for people Apollo's dedupe merged into someone else. */
const CREATE_ENDPOINT = 'POST /contacts';
const BULK_UPDATE_ENDPOINT = 'POST /contacts/bulk_update';

/** One message of the conversion queue, as the consumer receives it (no AWS types). */
export interface QueuedMessage {
  messageId: string;
  receiptHandle: string;
  /** `{"key": "c_…"}`. */
  body: string;
  /** How many times the queue has handed this message out, this time included (ApproximateReceiveCount). */
  receiveCount: number;
  /** Epoch ms when the message was first sent to the queue (SentTimestamp), if known. */
  sentAtMs?: number;
}

/** Holds calls to an Apollo endpoint back while its limits are spent (`RateLimitPacer`). */
export interface Pacer {
  waitSeconds(endpoint: string): number;
  block(endpoint: string, retryAfterSeconds: number): void;
}

export interface BulkConversionDependencies {
  ledger: QueuedConversionLedger;
  apollo: Pick<Apollo, 'bulkCreateContacts' | 'bulkUpdateContacts' | 'createContact' | 'matchPerson'>;
  /** For fresh messages (a batch held back on its last allowed receive) and postponing. */
  queue: ConversionQueue;
  verifications: VerificationScheduler;
  pacer: Pacer;
  /** The dead-letter queue's maxReceiveCount: the receive at which a failing message is poison. */
  maxReceives: number;
  /** How long a failed or rejected record is kept before DynamoDB's TTL removes it. */
  rejectedRecordTtlSeconds: number;
  /**
   * After a create of unknown outcome, Apollo may still be carrying it out: nothing is created for
   * the person again until this much time has passed since the first such failure.
   */
  quietPeriodSeconds: number;
  /** Ledger calls made at once (claims, completions). */
  concurrency?: number;
  /** Counts outcomes and how long messages waited in the queue (default: counts nothing). */
  metrics?: ServiceMetrics;
  now?: () => number;
  newToken?: () => string;
}

/** Kept back from the deadline for the ledger writes after the last Apollo call. */
const DEADLINE_RESERVE_MS = 3000;
const DEFAULT_CONCURRENCY = 16;

/** A person this invocation holds the claim on. */
interface Held {
  key: string;
  token: string;
  contact: QueuedContact;
  /** An earlier try may have created the contact (it released after an unknown outcome, or died). */
  uncertain: boolean;
  /** Epoch ms of the first unknown outcome, if any (the quiet period counts from it). */
  uncertainSinceMs: number | null;
  /** How people/match finds the person. */
  match: MatchIdentity;
  /** The most times one of its messages was received. */
  receives: number;
  /** Claims that called Apollo for this person, this one included (refunded ones not counted). */
  attempts: number;
}

/** A held person's contact: what it is, and whether its typed phones are set already. */
interface Converted {
  held: Held;
  contactId: string;
  outcome: ConversionOutcome;
  phonesSet: boolean;
}

/** What becomes of a key's messages: deleted (`ack`), back after the visibility timeout, or later. */
type Fate =
  | { kind: 'ack' }
  | { kind: 'retry' }
  | { kind: 'postpone'; seconds: number }
  /** Replaced by a fresh message (receive count 1), the old one deleted. */
  | { kind: 'fresh' };

const ACK: Fate = { kind: 'ack' };
const RETRY: Fate = { kind: 'retry' };

/** The key of a message body `{"key": "c_…"}`, or undefined when it is not one. */
function keyOf(body: string): string | undefined {
  const key = parseConversionMessage(body)?.key;
  return key !== undefined && isConversionId(key) ? key : undefined;
}

/** What bulk_create gets: the fields its schema documents, with the CRM ids and LinkedIn URL. */
function bulkContactOf(contact: QueuedContact): BulkContact {
  const { linkedin_url, hubspot_id, salesforce_contact_id, salesforce_lead_id } = contact;
  return toBulkContact(contactFieldsOf(contact), {
    linkedin_url,
    hubspot_id,
    salesforce_contact_id,
    salesforce_lead_id,
  }).contact;
}

/** The single create's fields: typed phones and the CRM record ids included (it takes both), no LinkedIn URL. */
function contactFieldsOf(contact: QueuedContact): ContactFields {
  const { linkedin_url, ...fields } = contact;
  void linkedin_url;
  return fields;
}

/**
 * What bulk_create cannot take and bulk_update sets afterwards (typed phones, website, lists), or
 * undefined when there is nothing.
 */
function followUpOf(contact: QueuedContact): ContactFields | undefined {
  return toBulkContact(contactFieldsOf(contact)).followUp;
}

/**
 * The contact a bulk_create of one entry answered, when the reply holds exactly one and nothing
 * says it is someone else: one sent, one back, no index needed (an entry with neither email nor
 * company name cannot be mapped otherwise). An existing contact that does not show the email sent
 * may be Apollo's false merge: not taken.
 */
function onlyContactOf(
  sent: BulkContact,
  reply: { created: ApolloContact[]; existing: ApolloContact[] },
): { contact: ApolloContact; outcome: 'created' | 'existing' } | undefined {
  const all = [
    ...reply.created.map((contact) => ({ contact, outcome: 'created' as const })),
    ...reply.existing.map((contact) => ({ contact, outcome: 'existing' as const })),
  ];
  const [only, ...more] = all;
  if (only === undefined || more.length > 0) return undefined;
  const shown = only.contact.email?.trim().toLowerCase();
  // Existing: this person only if the contact shows the email sent (another email is Apollo's false
  // merge; none shown proves nothing). Created: the one entry's own new contact.
  if (only.outcome === 'existing' && sent.email !== undefined && shown !== sent.email.toLowerCase()) {
    return undefined;
  }
  return only;
}

/**
 * Logs a failed Apollo call once: Apollo refusing the service's key or scopes as an error the
 * operator must act on (the person is not at fault and stays queued), anything else as a warning.
 */
function logFailure(error: unknown, about: Record<string, unknown>): void {
  if (isApolloConfigurationError(error)) {
    logger.error('Apollo refused the service credentials: operator action needed', {
      ...about,
      errorName: error.name,
      reason: errorMessage(error),
    });
  } else {
    logger.warn('Apollo call failed', { ...about, error: errorMessage(error) });
  }
}

/** A person bulk_create's dedupe cannot match: neither an email nor a company name. */
function undedupable(person: { contact: QueuedContact }): boolean {
  return person.contact.email === undefined && person.contact.organization_name === undefined;
}

/**
 * The conversion queue's consumer: converts a batch of queued people (up to 100) with one
 * `bulk_create` (`run_dedupe: true`) and starts one verification for the batch.
 *
 * 1. Claims each person by key (the ledger's fenced conditional write; the record holds the person).
 * 2. One bulk_create with dedupe, without phones. Its reply has no index: `mapBulkCreateReply`
 *    pairs contacts with people. A contact Apollo matched by name and company but with another
 *    email is someone else (Apollo's false merge): that person is created on their own, without
 *    dedupe. People the reply does not tell apart are sent alone, each in a bulk_create of one.
 * 3. The typed phones (`direct_phone` stays `work_direct`, ...) with one bulk_update for the
 *    contacts this service made; then each outcome is recorded as the claim holder, `created`
 *    also for a contact an earlier try of unknown outcome made (dedupe returns it as existing).
 * 4. One verification execution for the batch.
 *
 * What cannot finish goes back to the queue with the reason (`requeue`, the message reported as
 * failed): after a timeout or 5xx, with the doubt that the contact exists, and the retry's dedupe
 * returns what the first try made, never a second contact. A 429 (or spent limits seen in Apollo's
 * headers, before calling) hides the batch's messages for Apollo's retry-after, refunding the
 * attempt. A message that fails on its last allowed receive, for a person Apollo was tried for
 * that many times, is poison: its record says `failed` with the reason (`failQueued`) and it goes
 * to the dead-letter queue. One whose earlier receives only waited (rate limits, a quiet period,
 * another holder) is replaced by a fresh message instead: waiting is not failing.
 */
export class BulkConversion {
  private readonly now: () => number;
  private readonly newToken: () => string;
  private readonly metrics: ServiceMetrics;

  constructor(private readonly deps: BulkConversionDependencies) {
    this.now = deps.now ?? Date.now;
    this.newToken = deps.newToken ?? randomUUID;
    this.metrics = deps.metrics ?? noMetrics;
  }

  /**
   * Converts the people of a batch of messages; returns the ids of the messages to report as
   * failed (left on the queue: retried, postponed, or sent to the dead-letter queue).
   */
  async convert(
    messages: readonly QueuedMessage[],
    { deadline }: { deadline: number },
  ): Promise<{ failedMessageIds: string[] }> {
    const failedMessageIds: string[] = [];
    const byKey = new Map<string, QueuedMessage[]>();
    const receivedAtMs = this.now();
    for (const message of messages) {
      if (message.sentAtMs !== undefined) this.metrics.queuedMessageAge(receivedAtMs - message.sentAtMs);
      const key = keyOf(message.body);
      if (key === undefined) {
        // Poison from the start: no key, nothing to mark. The dead-letter queue keeps it.
        logger.error('unreadable conversion message', { messageId: message.messageId });
        failedMessageIds.push(message.messageId);
        continue;
      }
      byKey.set(key, [...(byKey.get(key) ?? []), message]);
    }

    const fates = new Map<string, Fate>();
    const paced = this.deps.pacer.waitSeconds(BULK_CREATE_ENDPOINT);
    if (paced > 0) {
      logger.info('batch held back: Apollo bulk_create limit spent', { seconds: paced, people: byKey.size });
      for (const key of byKey.keys()) fates.set(key, { kind: 'postpone', seconds: paced });
    } else {
      await this.convertKeys(byKey, fates, deadline);
    }
    failedMessageIds.push(...(await this.settle(byKey, fates)));
    return { failedMessageIds };
  }

  private async convertKeys(
    byKey: Map<string, QueuedMessage[]>,
    fates: Map<string, Fate>,
    deadline: number,
  ): Promise<void> {
    const held: Held[] = [];
    const finished: Array<{ key: string; contact_id: string }> = [];
    await eachLimit([...byKey.keys()], this.concurrency(), async (key) => {
      const receives = Math.max(...(byKey.get(key) ?? []).map((m) => m.receiveCount));
      const token = this.newToken();
      try {
        const claim = await this.deps.ledger.claimQueued({
          key,
          token,
          lockExpiresAtMs: deadline,
          nowMs: this.now(),
        });
        if (!claim.claimed) {
          fates.set(key, this.unclaimedFate(claim.record, finished));
          return;
        }
        const previous = claim.previous;
        held.push({
          key,
          token,
          contact: claim.contact,
          uncertain:
            previous.createUncertain || (previous.status === 'creating' && previous.lockToken !== null),
          uncertainSinceMs: previous.createUncertainSinceMs,
          match: previous.match,
          receives,
          attempts: previous.attempts + 1,
        });
      } catch (error) {
        logger.error('could not claim a queued person', {
          person: personRef(key),
          error: errorMessage(error),
        });
        fates.set(key, RETRY);
      }
    });

    const waited = await this.waitOutQuietPeriods(held, fates);
    const { found, ready } = await this.findUndedupable(waited, fates, deadline);
    // Neither email nor company name: dedupe cannot find them, and a batch's reply cannot tell them
    // apart. Each gets the single create, which takes the website (bulk_create has no such field)
    // and the typed phones, so that people/match by name and domain finds the contact after an
    // unknown outcome (`findUndedupable`).
    const alone = ready.filter(undedupable);
    const batched = ready.filter((person) => !undedupable(person));
    const converted = [
      ...found,
      ...(batched.length === 0 ? [] : await this.createBatch(batched, fates, deadline)),
      ...(await this.each(alone, (person) => this.createWithoutDedupe(person, fates, deadline, false))),
    ];
    const phoned = await this.setPhones(converted, fates, deadline);
    const completed = await this.complete(phoned, fates);
    await this.startVerification([...completed, ...finished], fates);
  }

  /** What to do with a key this invocation could not claim. */
  private unclaimedFate(
    record: ConversionRecord | null,
    finished: Array<{ key: string; contact_id: string }>,
  ): Fate {
    if (record === null) return ACK; // expired, or never written: nothing to convert
    switch (record.status) {
      case 'created':
      case 'verified':
      case 'verification_failed':
        // Converted already; if its verification never started (the consumer died in between),
        // this batch's verification takes it along.
        if (record.contactId !== null && record.verificationStartedAt === null) {
          finished.push({ key: record.key, contact_id: record.contactId });
        }
        return ACK;
      case 'creating':
        if (record.lockExpiresAtMs !== null && record.lockExpiresAtMs >= this.now()) {
          // Another invocation holds it: come back when its lock has lapsed; by then it is done,
          // or this message converts it.
          return { kind: 'postpone', seconds: Math.ceil((record.lockExpiresAtMs - this.now()) / 1000) + 1 };
        }
        // A lapsed claim that holds no queued person: the synchronous path's, not the queue's.
        logger.warn('queued message for a person the queue does not hold', { person: personRef(record.key) });
        return ACK;
      case 'queued':
        return RETRY; // not reached: a queued record is claimable; the retry settles it
      case 'rejected':
      case 'failed':
        return ACK;
    }
  }

  /**
   * People whose earlier create of unknown outcome may still reach Apollo wait out the quiet
   * period, so that dedupe can see what it made: given back (refunded) and postponed.
   */
  private async waitOutQuietPeriods(held: Held[], fates: Map<string, Fate>): Promise<Held[]> {
    const ready: Held[] = [];
    await eachLimit(held, this.concurrency(), async (person) => {
      const quietUntil =
        person.uncertainSinceMs === null ? 0 : person.uncertainSinceMs + this.deps.quietPeriodSeconds * 1000;
      if (this.now() >= quietUntil) {
        ready.push(person);
        return;
      }
      const seconds = Math.ceil((quietUntil - this.now()) / 1000);
      await this.requeue(person, 'an earlier create may still reach Apollo: waiting', fates, {
        refundAttempt: true,
        fate: { kind: 'postpone', seconds },
      });
    });
    return ready;
  }

  /**
   * bulk_create's dedupe matches on email, or a name with the company's name (or email domain): a
   * person with neither an email nor a company name (a name and a website) would not be matched.
   * So people/match (by name and domain; free for a saved contact, no reveal flags) looks first,
   * as the synchronous conversion does: for a contact Apollo already holds (the same person
   * converted with an email and the organisation, whose domain Apollo resolved), and for what an
   * earlier try of ours may have created. The verification asks people/bulk_match the same
   * question, so a contact created beside the one it finds would end `verification_failed`.
   */
  private async findUndedupable(
    held: Held[],
    fates: Map<string, Fate>,
    deadline: number,
  ): Promise<{ found: Converted[]; ready: Held[] }> {
    const found: Converted[] = [];
    const ready: Held[] = [];
    await eachLimit(held, this.concurrency(), async (person) => {
      if (!undedupable(person)) {
        ready.push(person);
        return;
      }
      try {
        const matched = await this.deps.apollo.matchPerson(person.match, {
          deadline: deadline - DEADLINE_RESERVE_MS,
        });
        const contactId = matched?.contact_id ?? matched?.contact?.id ?? undefined;
        if (contactId === undefined) ready.push(person);
        // An earlier try of ours may have made it: then it counts as created by this service.
        else
          found.push({
            held: person,
            contactId,
            outcome: person.uncertain ? 'created' : 'existing',
            phonesSet: false,
          });
      } catch (error) {
        await this.giveBackOne(person, error, fates, {
          endpoint: 'POST /people/match',
          mayHaveCreated: false,
        });
      }
    });
    return { found, ready };
  }

  /** One bulk_create with dedupe for the batch, then each person paired with its contact. */
  private async createBatch(ready: Held[], fates: Map<string, Fate>, deadline: number): Promise<Converted[]> {
    const sent = ready.map((person) => ({ ref: person.key, contact: bulkContactOf(person.contact) }));
    let reply: { created: ApolloContact[]; existing: ApolloContact[] };
    try {
      reply = await this.deps.apollo.bulkCreateContacts(
        sent.map((entry) => entry.contact),
        { deadline: deadline - DEADLINE_RESERVE_MS, runDedupe: true },
      );
    } catch (error) {
      if (isError(error, 'ApolloRejectedError')) {
        // The batch was refused whole (one person's data, most likely): each on their own, so
        // only that person is rejected. Nothing was created.
        return this.each(ready, (person) => this.createAlone(person, null, fates, deadline));
      }
      await this.giveBackBatch(ready, error, fates);
      return [];
    }
    const mapping = mapBulkCreateReply(sent, reply);
    const batch = {
      created: new Set(reply.created.map((contact) => contact.id)),
      existing: new Set(reply.existing.map((contact) => contact.id)),
    };
    const converted: Converted[] = [];
    const alone: Held[] = [];
    for (const person of ready) {
      const matched = mapping.matched.get(person.key);
      if (matched === undefined) {
        if (!mapping.falseMerges.includes(person.key)) alone.push(person);
        continue;
      }
      converted.push({
        held: person,
        contactId: matched.contact.id,
        outcome: matched.outcome === 'created' || person.uncertain ? 'created' : 'existing',
        phonesSet: false,
      });
    }
    const falseMerged = ready.filter((person) => mapping.falseMerges.includes(person.key));
    if (falseMerged.length > 0 || alone.length > 0) {
      logger.info('bulk_create reply: people resolved on their own', {
        falseMerges: falseMerged.length,
        unknown: alone.length,
      });
    }
    converted.push(
      ...(await this.each(falseMerged, (person) => this.createWithoutDedupe(person, fates, deadline, true))),
      ...(await this.each(alone, (person) => this.createAlone(person, batch, fates, deadline))),
    );
    return converted;
  }

  /**
   * One person the batch reply did not tell apart (or a batch refused whole: `batch` null): a
   * bulk_create of one with dedupe, whose reply is unambiguous. It returns what the batch made for
   * the person, if anything, as existing, and never overwrites a contact. Such a contact counts as
   * created if the batch's reply listed it as created, or did not list it as existing: the batch
   * may well have made it (one contact can be listed both ways: made for one entry, matched for another).
   */
  private async createAlone(
    person: Held,
    batch: { created: ReadonlySet<string>; existing: ReadonlySet<string> } | null,
    fates: Map<string, Fate>,
    deadline: number,
  ): Promise<Converted | undefined> {
    const contact = bulkContactOf(person.contact);
    const mayHaveCreated = batch !== null;
    try {
      const reply = await this.deps.apollo.bulkCreateContacts([contact], {
        deadline: deadline - DEADLINE_RESERVE_MS,
        runDedupe: true,
      });
      const mapping = mapBulkCreateReply([{ ref: person.key, contact }], reply);
      const matched = mapping.matched.get(person.key) ?? onlyContactOf(contact, reply);
      if (matched !== undefined) {
        const made =
          matched.outcome === 'created' ||
          person.uncertain ||
          (batch !== null &&
            (batch.created.has(matched.contact.id) || !batch.existing.has(matched.contact.id)));
        return {
          held: person,
          contactId: matched.contact.id,
          outcome: made ? 'created' : 'existing',
          phonesSet: false,
        };
      }
      if (mapping.falseMerges.length > 0)
        return await this.createWithoutDedupe(person, fates, deadline, false);
      // Still no telling: the retry's dedupe will.
      await this.requeue(person, 'bulk_create reply could not be mapped to the person', fates, {
        createUncertain: true,
        quietPeriod: false,
      });
      return undefined;
    } catch (error) {
      await this.giveBackOne(person, error, fates, {
        endpoint: BULK_CREATE_ENDPOINT,
        mayHaveCreated: mayHaveCreated || this.outcomeUnknown(error),
        inFlight: this.outcomeUnknown(error),
      });
      return undefined;
    }
  }

  /**
   * A person Apollo's dedupe merged into another contact by name and company (another email): a
   * contact of their own, without dedupe, typed phones included. If this create's outcome is
   * unknown, the retry's bulk_create with dedupe matches by email before name and company, so it
   * finds what this create made: no blind second create.
   */
  private async createWithoutDedupe(
    person: Held,
    fates: Map<string, Fate>,
    deadline: number,
    logMerge: boolean,
  ): Promise<Converted | undefined> {
    if (logMerge)
      logger.info('Apollo matched another person by name and company', { person: personRef(person.key) });
    try {
      const contact = await this.deps.apollo.createContact(contactFieldsOf(person.contact), {
        deadline: deadline - DEADLINE_RESERVE_MS,
        runDedupe: false,
      });
      return { held: person, contactId: contact.id, outcome: 'created', phonesSet: true };
    } catch (error) {
      await this.giveBackOne(person, error, fates, {
        endpoint: CREATE_ENDPOINT,
        mayHaveCreated: this.outcomeUnknown(error),
      });
      return undefined;
    }
  }

  /**
   * The typed phones of the contacts this service made, with one bulk_update (bulk_create documents
   * no typed phones). If it fails, those people go back to the queue knowing their contact exists:
   * the retry finds it through dedupe, counts it created, and sets the phones again. If Apollo
   * refuses the phones, the people are recorded without them: their verification reports the
   * missing numbers.
   */
  private async setPhones(
    converted: Converted[],
    fates: Map<string, Fate>,
    deadline: number,
  ): Promise<Converted[]> {
    const updates = converted.flatMap((c) => {
      const followUp = c.outcome === 'created' && !c.phonesSet ? followUpOf(c.held.contact) : undefined;
      return followUp === undefined ? [] : [{ converted: c, fields: { id: c.contactId, ...followUp } }];
    });
    const needing = updates.map((update) => update.converted);
    if (needing.length === 0) return converted;
    try {
      await this.deps.apollo.bulkUpdateContacts(
        updates.map((update) => update.fields),
        { deadline: deadline - DEADLINE_RESERVE_MS },
      );
      return converted;
    } catch (error) {
      if (isError(error, 'ApolloRejectedError')) {
        logger.warn('Apollo refused the typed phones of a batch', { people: needing.length });
        return converted;
      }
      logFailure(error, { people: needing.length });
      await eachLimit(needing, this.concurrency(), (c) =>
        this.giveBackOne(c.held, error, fates, {
          endpoint: BULK_UPDATE_ENDPOINT,
          mayHaveCreated: true,
          inFlight: false,
          quiet: true,
        }),
      );
      return converted.filter((c) => !needing.includes(c));
    }
  }

  /** Records each outcome as the claim holder. Returns the people completed. */
  private async complete(converted: Converted[], fates: Map<string, Fate>) {
    const completed: Array<{ key: string; contact_id: string }> = [];
    await eachLimit(converted, this.concurrency(), async ({ held, contactId, outcome }) => {
      try {
        await this.deps.ledger.complete({
          key: held.key,
          token: held.token,
          outcome,
          contactId,
          nowMs: this.now(),
        });
        logger.info('person converted', { person: personRef(held.key), contactId, outcome });
        this.metrics.conversions(outcome);
        completed.push({ key: held.key, contact_id: contactId });
        fates.set(held.key, ACK);
      } catch (error) {
        // Taken over (its lock lapsed): the new holder finishes it. Else the message comes back
        // after the lock lapsed, and the retry's dedupe returns the contact (counted created).
        const lost = isError(error, 'LockLostError');
        logger.warn('could not record a conversion', {
          person: personRef(held.key),
          error: errorMessage(error),
        });
        fates.set(held.key, lost ? ACK : RETRY);
      }
    });
    return completed;
  }

  /**
   * One verification for the batch: the people converted now, and converted ones found without a
   * started verification. If it cannot start, their messages come back and the retry starts it.
   */
  private async startVerification(
    people: Array<{ key: string; contact_id: string }>,
    fates: Map<string, Fate>,
  ) {
    if (people.length === 0) return;
    try {
      await this.deps.verifications.start({ people });
    } catch (error) {
      logger.error('could not start the verification of a batch', {
        people: people.length,
        error: errorMessage(error),
      });
      for (const { key } of people) fates.set(key, RETRY);
      return;
    }
    const nowMs = this.now();
    await eachLimit(people, this.concurrency(), async ({ key }) => {
      // Best effort: a start that is not recorded is at worst started again (harmless).
      await this.deps.ledger.markVerificationStarted({ key, nowMs }).catch((error: unknown) => {
        logger.warn('could not record a verification start', {
          person: personRef(key),
          error: errorMessage(error),
        });
      });
    });
  }

  /** The whole batch's bulk_create failed: every person goes back, or is given up on. */
  private async giveBackBatch(ready: Held[], error: unknown, fates: Map<string, Fate>): Promise<void> {
    logFailure(error, { people: ready.length });
    const mayHaveCreated = this.outcomeUnknown(error);
    await eachLimit(ready, this.concurrency(), (person) =>
      this.giveBackOne(person, error, fates, { endpoint: BULK_CREATE_ENDPOINT, mayHaveCreated, quiet: true }),
    );
  }

  /**
   * One person's Apollo call failed. Apollo refused the data: rejected. Rate limited: back on the
   * queue after retry-after, the attempt refunded. Anything else: back on the queue with the
   * reason (and the doubt, if the call may have created the contact); poison on its last receive.
   */
  private async giveBackOne(
    person: Held,
    error: unknown,
    fates: Map<string, Fate>,
    how: {
      endpoint: string;
      mayHaveCreated: boolean;
      /** A create of unknown outcome may still be running at Apollo (default: `mayHaveCreated`). */
      inFlight?: boolean;
      quiet?: boolean;
    },
  ): Promise<void> {
    const reason = errorMessage(error);
    if (isError(error, 'ApolloRejectedError')) {
      const recorded = await this.finish(person, fates, () =>
        this.deps.ledger.reject({
          key: person.key,
          token: person.token,
          reason,
          nowMs: this.now(),
          expiresAtSeconds: this.expiry(),
        }),
      );
      // Not the message: Apollo may quote the submitted data in it. The ledger keeps it.
      logger.warn('Apollo rejected a person', { person: personRef(person.key) });
      if (recorded) this.metrics.conversions('rejected');
      return;
    }
    if (isError(error, 'ApolloRateLimitError')) {
      this.deps.pacer.block(how.endpoint, error.retryAfterSeconds);
      await this.requeue(person, reason, fates, {
        createUncertain: how.mayHaveCreated,
        quietPeriod: how.inFlight ?? how.mayHaveCreated,
        refundAttempt: !how.mayHaveCreated,
        fate: { kind: 'postpone', seconds: error.retryAfterSeconds },
      });
      return;
    }
    if (!how.quiet) logFailure(error, { person: personRef(person.key) });
    if (person.receives >= this.deps.maxReceives && person.attempts < this.deps.maxReceives) {
      // The last receive the queue allows, but earlier ones only waited (rate limits, a quiet
      // period, another holder): not poison yet. A fresh message brings the person back.
      await this.requeue(person, reason, fates, {
        createUncertain: how.mayHaveCreated,
        quietPeriod: how.inFlight ?? how.mayHaveCreated,
        fate: { kind: 'fresh' },
      });
      return;
    }
    if (person.receives >= this.deps.maxReceives) {
      const uncertain = person.uncertain || how.mayHaveCreated;
      const given = `gave up after ${person.attempts} attempts (${person.receives} receives from the conversion queue); last error: ${reason}${
        uncertain ? '; a contact may exist in Apollo' : ''
      }`;
      const recorded = await this.finish(person, fates, () =>
        this.deps.ledger.failQueued({
          key: person.key,
          token: person.token,
          reason: given,
          createUncertain: how.mayHaveCreated,
          nowMs: this.now(),
          expiresAtSeconds: this.expiry(),
        }),
      );
      logger.error('gave up converting a person: its message goes to the dead-letter queue', {
        person: personRef(person.key),
        receives: person.receives,
      });
      if (recorded) this.metrics.conversions('failed');
      // Reported failed on its last receive: the dead-letter queue keeps it, and its alarm fires.
      fates.set(person.key, RETRY);
      return;
    }
    await this.requeue(person, reason, fates, {
      createUncertain: how.mayHaveCreated,
      quietPeriod: how.inFlight ?? how.mayHaveCreated,
    });
  }

  /** Gives the claim back to the queue; the message is retried (or postponed: `fate`). */
  private async requeue(
    person: Held,
    reason: string,
    fates: Map<string, Fate>,
    options: { createUncertain?: boolean; quietPeriod?: boolean; refundAttempt?: boolean; fate?: Fate } = {},
  ): Promise<void> {
    try {
      await this.deps.ledger.requeue({
        key: person.key,
        token: person.token,
        error: reason,
        createUncertain: options.createUncertain ?? false,
        quietPeriod: options.quietPeriod,
        nowMs: this.now(),
        refundAttempt: options.refundAttempt ?? false,
      });
    } catch (error) {
      // The lock lapses at the deadline by itself; the message comes back after that.
      logger.error('could not give a person back to the queue', {
        person: personRef(person.key),
        error: errorMessage(error),
      });
      fates.set(person.key, RETRY);
      return;
    }
    fates.set(person.key, options.fate ?? RETRY);
  }

  /** Records a final state as the claim holder (its message is done); true if it was written. */
  private async finish(person: Held, fates: Map<string, Fate>, write: () => Promise<void>): Promise<boolean> {
    try {
      await write();
      fates.set(person.key, ACK);
      return true;
    } catch (error) {
      logger.error('could not record a person', {
        person: personRef(person.key),
        error: errorMessage(error),
      });
      fates.set(person.key, isError(error, 'LockLostError') ? ACK : RETRY);
      return false;
    }
  }

  /**
   * Applies the fates to the messages; returns the ids to report as failed. Postponed messages are
   * hidden for their delay; on their last allowed receive they are replaced by a fresh message
   * instead (waiting for Apollo's limits, or for another holder, is not failing).
   */
  private async settle(byKey: Map<string, QueuedMessage[]>, fates: Map<string, Fate>): Promise<string[]> {
    const failed: string[] = [];
    const postpones = new Map<number, string[]>();
    const fresh: string[] = [];
    for (const [key, messages] of byKey) {
      const fate = fates.get(key) ?? RETRY;
      if (fate.kind === 'ack') continue;
      if (fate.kind === 'retry') {
        failed.push(...messages.map((m) => m.messageId));
        continue;
      }
      if (fate.kind === 'fresh' || messages.some((m) => m.receiveCount >= this.deps.maxReceives)) {
        fresh.push(key);
        continue;
      }
      const seconds = Math.min(MAX_PACING_SECONDS, Math.max(1, fate.seconds));
      postpones.set(seconds, [...(postpones.get(seconds) ?? []), key]);
      failed.push(...messages.map((m) => m.messageId));
    }
    for (const [seconds, keys] of postpones) {
      const handles = keys.flatMap((key) => (byKey.get(key) ?? []).map((m) => m.receiptHandle));
      // If this fails, the messages come back after the visibility timeout instead: still later.
      await this.deps.queue.postpone(handles, seconds).catch((error: unknown) => {
        logger.warn('could not postpone messages', { messages: handles.length, error: errorMessage(error) });
      });
    }
    if (fresh.length > 0) {
      let refused: string[];
      try {
        ({ failedKeys: refused } = await this.deps.queue.enqueue(fresh));
      } catch (error) {
        logger.error('could not replace messages on their last receive', { error: errorMessage(error) });
        refused = fresh;
      }
      // Sent afresh: the old messages are done. Refused: reported failed (the dead-letter queue
      // keeps them; the record stays queued, and the stranded-send sweep sends it again).
      for (const key of refused) failed.push(...(byKey.get(key) ?? []).map((m) => m.messageId));
    }
    return failed;
  }

  /** Runs `work` for each person (bounded), keeping what converted. */
  private async each(
    people: Held[],
    work: (person: Held) => Promise<Converted | undefined>,
  ): Promise<Converted[]> {
    const converted: Converted[] = [];
    await eachLimit(people, this.concurrency(), async (person) => {
      const result = await work(person);
      if (result !== undefined) converted.push(result);
    });
    return converted;
  }

  /** Whether a failed call may have been carried out by Apollo anyway. */
  private outcomeUnknown(error: unknown): boolean {
    if (isError(error, 'ApolloUnavailableError')) return error.outcomeUnknown;
    if (isError(error, 'ApolloRateLimitError') || isError(error, 'ApolloRejectedError')) return false;
    if (isError(error, 'ApolloAuthError') || isError(error, 'ApolloForbiddenError')) return false;
    return !isError(error, 'ConfigurationError');
  }

  private concurrency(): number {
    return this.deps.concurrency ?? DEFAULT_CONCURRENCY;
  }

  /** Epoch seconds when a rejected or failed record expires. */
  private expiry(): number {
    return Math.floor(this.now() / 1000) + this.deps.rejectedRecordTtlSeconds;
  }
}
