import { beforeEach, describe, expect, it, vi } from 'vitest';
import { BULK_CREATE_ENDPOINT } from '../../lib/bulk-conversion';
import {
  ApolloAuthError,
  ApolloRateLimitError,
  ApolloRejectedError,
  ApolloUnavailableError,
  LockLostError,
} from '../../lib/errors';
import type { Person } from '../../lib/person';
import {
  CONSUMER_MS,
  FAKE_SETTINGS,
  WREN_INPUT,
  fakeServices,
  juno,
  ottilie,
  person,
  tobin,
  wren,
  type FakeServices,
} from '../support/fakes';

const unknownOutcome = () => new ApolloUnavailableError('POST /contacts/bulk_create: 500', true);
const unreachable = () => new ApolloUnavailableError('POST /contacts/bulk_create: ECONNREFUSED', false);
const rateLimited = (retryAfterSeconds: number) =>
  new ApolloRateLimitError('POST /contacts/bulk_create: 429', retryAfterSeconds);

/** Queues `people` through the doors (the intake). */
async function queue(s: FakeServices, people: Person[]) {
  await s.intake.accept(people, s.request());
}

/** The contact id the ledger recorded for `who`. */
async function contactOf(s: FakeServices, who: Person) {
  return (await s.ledger.get({ key: s.keyOf(who) }))?.contactId;
}

/** Apollo's contacts holding `email`. */
const withEmail = (s: FakeServices, email: string) =>
  s.apollo.contacts.filter((c) => c.fields.email === email);

describe('Class: BulkConversion', () => {
  let s: FakeServices;

  beforeEach(() => {
    s = fakeServices();
  });

  describe('a batch of new people', () => {
    it('creates them with one bulk_create with dedupe and no phones, sets typed phones with one bulk_update, and starts one verification', async () => {
      // Prepare
      const people = [wren(), juno(), ottilie()];
      await queue(s, people);

      // Act
      const invocation = await s.consumeOnce();

      // Assess
      expect(invocation?.failedMessageIds).toEqual([]);
      expect(s.queue.depth).toBe(0);
      const withoutPhones = people.map(({ fields: { direct_phone: _phone, ...rest } }) => rest);
      expect(s.apollo.received.bulkCreateContacts).toEqual([
        { runDedupe: true, contacts: withoutPhones, results: expect.any(Array) as unknown },
      ]);
      const wrenContact = await contactOf(s, wren());
      expect(s.apollo.received.bulkUpdateContacts).toEqual([
        [{ id: wrenContact, direct_phone: '+12025550143' }],
      ]);
      expect(s.apollo.contacts).toHaveLength(3);
      expect(s.apollo.contact(wrenContact as string)?.fields.direct_phone).toBe('+12025550143');
      for (const who of people) {
        expect(await s.ledger.get({ key: s.keyOf(who) })).toMatchObject({
          status: 'created',
          outcome: 'created',
          attempts: 1,
          lockToken: null,
          verificationStartedAt: s.clock.iso(),
        });
        // The phone numbers left the ledger with the queued person: only their hashes stay.
        expect(s.ledger.item(s.keyOf(who))?.queuedContact).toBeUndefined();
      }
      expect(s.batchVerifications.started).toHaveLength(1);
      expect(s.batchVerifications.people).toEqual(
        expect.arrayContaining(
          await Promise.all(
            people.map(async (who) => ({ key: s.keyOf(who), contact_id: await contactOf(s, who) })),
          ),
        ),
      );
      expect(
        s.apollo.calls.createContact + s.apollo.calls.findContactsByEmail + s.apollo.calls.matchPerson,
      ).toBe(0);
      expect(s.metrics.conversionsByOutcome).toEqual({ created: 3 });
    });

    it('counts how long each message waited in the queue before this receive', async () => {
      // Prepare
      await queue(s, [wren(), juno()]);
      s.clock.advance(7_000);

      // Act
      await s.consumeOnce();

      // Assess
      expect(s.metrics.queuedMessageAgesMs).toEqual([7_000, 7_000]);
    });

    it('links a contact Apollo already holds with the email as existing, leaving it as it is', async () => {
      // Prepare
      const held = s.apollo.addContact({ email: 'wren.halloway@lanternfish.example', first_name: 'W.' });
      await queue(s, [wren()]);

      // Act
      await s.consumeOnce();

      // Assess
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'created',
        outcome: 'existing',
        contactId: held.id,
      });
      expect(s.apollo.contacts).toEqual([held]);
      expect(s.apollo.calls.bulkUpdateContacts).toBe(0);
      expect(s.metrics.conversionsByOutcome).toEqual({ existing: 1 });
    });

    it('links a person without email to the contact Apollo holds under that name and company', async () => {
      // Prepare
      const held = s.apollo.addContact({ ...ottilie().fields, email: 'ottilie@cobblestone.example' });
      await queue(s, [ottilie()]);

      // Act
      await s.consumeOnce();

      // Assess
      expect(await contactOf(s, ottilie())).toBe(held.id);
      expect(s.apollo.contacts).toHaveLength(1);
    });

    it('gives the single create the CRM record id too, so Apollo can match the contact on it later', async () => {
      // Prepare: a name and a website only, from HubSpot.
      const fromHubspot = person({
        first_name: 'Herman',
        last_name: 'Melville',
        website_url: 'pequod.example',
        hubspot_id: '1851',
      });
      await queue(s, [fromHubspot]);

      // Act
      await s.consumeOnce();

      // Assess
      expect(s.apollo.received.createContact.map((call) => call.fields.hubspot_id)).toEqual(['1851']);
      expect(s.apollo.contacts).toHaveLength(1);
    });

    it('creates people with neither email nor company name one by one (the single create, with their website): no bulk reply could tell them apart', async () => {
      // Prepare
      const herman = person({ first_name: 'Herman', last_name: 'Melville', website_url: 'pequod.example' });
      const ishmael = person({ first_name: 'Ishmael', last_name: 'Sailor', website_url: 'pequod.example' });
      await queue(s, [herman, ishmael, wren()]);

      // Act
      await s.consumeOnce();

      // Assess
      expect(s.apollo.received.bulkCreateContacts.map((call) => call.contacts.length)).toEqual([1]);
      expect(s.apollo.received.createContact.map((call) => call.fields.website_url).sort()).toEqual([
        'pequod.example',
        'pequod.example',
      ]);
      expect(s.apollo.contacts).toHaveLength(3);
      expect(await contactOf(s, herman)).not.toBe(await contactOf(s, ishmael));
      for (const who of [herman, ishmael]) {
        expect(await s.ledger.get({ key: s.keyOf(who) })).toMatchObject({
          status: 'created',
          outcome: 'created',
        });
      }
    });

    it('links a person with only a name and a website to the contact people/match finds by name and domain, instead of creating a second one', async () => {
      // Prepare: converted before with an email and the organisation; Apollo knows its website.
      const held = s.apollo.addContact({
        first_name: 'Herman',
        last_name: 'Melville',
        email: 'herman@pequod.example',
        organization_name: 'Pequod Whaling',
        website_url: 'https://www.pequod.example',
      });
      const byWebsite = person({
        first_name: 'Herman',
        last_name: 'Melville',
        website_url: 'pequod.example',
      });
      await queue(s, [byWebsite]);

      // Act
      await s.consumeOnce();

      // Assess
      expect(s.apollo.received.matchPerson).toEqual([byWebsite.match]);
      expect(s.apollo.calls.createContact + s.apollo.calls.bulkCreateContacts).toBe(0);
      expect(s.apollo.contacts).toEqual([held]);
      expect(await s.ledger.get({ key: s.keyOf(byWebsite) })).toMatchObject({
        status: 'created',
        outcome: 'existing',
        contactId: held.id,
      });
    });

    it('converts a key named by two messages of one batch once', async () => {
      // Prepare
      await queue(s, [wren()]);
      s.clock.advance(FAKE_SETTINGS.resendAfterMs);
      await queue(s, [wren()]);

      // Act
      const invocation = await s.consumeOnce();

      // Assess
      expect(invocation?.batch).toHaveLength(2);
      expect(invocation?.failedMessageIds).toEqual([]);
      expect(s.apollo.received.bulkCreateContacts[0]?.contacts).toHaveLength(1);
      expect(s.apollo.contacts).toHaveLength(1);
    });
  });

  describe("Apollo's false merge (another person of that name at that company)", () => {
    it('creates the person on their own, without dedupe and with typed phones, leaving the other contact alone', async () => {
      // Prepare
      const namesake = s.apollo.addContact({
        ...wren().fields,
        email: 'wren.h@elsewhere.example',
        direct_phone: undefined,
      });
      await queue(s, [wren()]);

      // Act
      await s.consumeOnce();

      // Assess
      const own = await contactOf(s, wren());
      expect(own).not.toBe(namesake.id);
      expect(s.apollo.received.createContact).toEqual([{ fields: wren().fields, runDedupe: false }]);
      expect(s.apollo.contact(namesake.id)).toEqual(namesake);
      expect(s.apollo.contact(own as string)?.fields).toMatchObject({
        email: 'wren.halloway@lanternfish.example',
        direct_phone: '+12025550143',
      });
      expect(s.apollo.calls.bulkUpdateContacts).toBe(0);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'created',
        outcome: 'created',
      });
    });

    it('creates both of two namesakes of one batch', async () => {
      // Prepare
      const other = person({ ...WREN_INPUT, email: 'wren.h@lanternfish.example' });
      await queue(s, [wren(), other]);

      // Act
      await s.consumeOnce();

      // Assess
      expect(s.apollo.contacts).toHaveLength(2);
      expect(await contactOf(s, wren())).not.toBe(await contactOf(s, other));
      expect(withEmail(s, 'wren.h@lanternfish.example')).toHaveLength(1);
    });

    it('retries a false-merge create of unknown outcome through dedupe, which finds it by email: one contact', async () => {
      // Prepare
      s.apollo.addContact({ ...wren().fields, email: 'wren.h@elsewhere.example' });
      s.apollo.failNext('createContact', new ApolloUnavailableError('POST /contacts: 502', true), {
        afterEffect: true,
      });
      await queue(s, [wren()]);

      // Act
      const first = await s.consumeOnce();
      const afterFirst = await s.ledger.get({ key: s.keyOf(wren()) });
      await s.drain();

      // Assess
      expect(first?.failedMessageIds).toHaveLength(1);
      expect(afterFirst).toMatchObject({ status: 'queued', createUncertain: true });
      expect(withEmail(s, 'wren.halloway@lanternfish.example')).toHaveLength(1);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'created',
        outcome: 'created',
      });
      expect(s.apollo.calls.createContact).toBe(1);
    });
  });

  describe('replies that cannot be mapped', () => {
    it('sends each unmapped person alone; dedupe returns what the batch made, counted created: one contact each', async () => {
      // Prepare: Apollo shows only ids, so nobody can be paired.
      s.apollo.transformNextBulkReply(({ created, existing }) => ({
        created: created.map(({ id }) => ({ id })),
        existing: existing.map(({ id }) => ({ id })),
      }));
      await queue(s, [wren(), juno(), ottilie()]);

      // Act
      const invocation = await s.consumeOnce();

      // Assess
      expect(invocation?.failedMessageIds).toEqual([]);
      expect(s.apollo.calls.bulkCreateContacts).toBe(4);
      expect(s.apollo.received.bulkCreateContacts.slice(1).map((call) => call.contacts.length)).toEqual([
        1, 1, 1,
      ]);
      expect(s.apollo.contacts).toHaveLength(3);
      const ids = await Promise.all([wren(), juno(), ottilie()].map((who) => contactOf(s, who)));
      expect(new Set(ids).size).toBe(3);
      for (const who of [wren(), juno(), ottilie()]) {
        expect(await s.ledger.get({ key: s.keyOf(who) })).toMatchObject({
          status: 'created',
          outcome: 'created',
        });
      }
      // Typed phones for the one who has them, after all.
      expect(s.apollo.contact(ids[0] as string)?.fields.direct_phone).toBe('+12025550143');
    });

    it('keeps a contact the unmappable reply listed as existing as existing, and the others created', async () => {
      // Prepare
      const held = s.apollo.addContact({ ...juno().fields });
      s.apollo.transformNextBulkReply(({ created, existing }) => ({
        created: created.map(({ id }) => ({ id })),
        existing: existing.map(({ id }) => ({ id })),
      }));
      await queue(s, [wren(), juno()]);

      // Act
      await s.consumeOnce();

      // Assess
      expect(await s.ledger.get({ key: s.keyOf(juno()) })).toMatchObject({
        outcome: 'existing',
        contactId: held.id,
      });
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({ outcome: 'created' });
      expect(s.apollo.contacts).toHaveLength(2);
    });

    it('counts a contact the reply listed both as created and as existing (matched for a namesake) as created', async () => {
      // Prepare: the namesake's entry is matched to Wren's new contact by name and company.
      const namesake = person({
        ...WREN_INPUT,
        email: 'w.halloway@lanternfish.example',
        direct_phone: undefined,
      });
      s.apollo.transformNextBulkReply(({ created, existing }) => ({
        created: created.map(({ id }) => ({ id })),
        existing: existing.map(({ id }) => ({ id })),
      }));
      await queue(s, [wren(), namesake]);

      // Act
      await s.consumeOnce();

      // Assess
      const own = await contactOf(s, wren());
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({ outcome: 'created' });
      expect(s.apollo.contact(own as string)?.fields.direct_phone).toBe('+12025550143');
      expect(await contactOf(s, namesake)).not.toBe(own);
      expect(s.apollo.contacts).toHaveLength(2);
    });

    it('gives a person back with the doubt when even the reply of one cannot be mapped', async () => {
      // Prepare
      const hide = ({
        created,
        existing,
      }: {
        created: Array<{ id: string }>;
        existing: Array<{ id: string }>;
      }) => ({
        created: created.map(({ id }) => ({ id })),
        existing: existing.map(({ id }) => ({ id })),
      });
      s.apollo.transformNextBulkReply(hide);
      s.apollo.transformNextBulkReply(() => ({ created: [], existing: [] }));
      await queue(s, [wren()]);

      // Act
      const first = await s.consumeOnce();
      const between = await s.ledger.get({ key: s.keyOf(wren()) });
      await s.drain();

      // Assess
      expect(first?.failedMessageIds).toHaveLength(1);
      expect(between).toMatchObject({ status: 'queued', createUncertain: true });
      expect(s.apollo.contacts).toHaveLength(1);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'created',
        outcome: 'created',
      });
    });
  });

  describe('faults on bulk_create', () => {
    it('succeeds but answers 500: the batch comes back, and dedupe returns what the first try made, counted created', async () => {
      // Prepare
      s.apollo.failNext('bulkCreateContacts', unknownOutcome(), { afterEffect: true });
      await queue(s, [wren(), juno()]);

      // Act
      const first = await s.consumeOnce();
      const between = await s.ledger.get({ key: s.keyOf(wren()) });
      await s.drain();

      // Assess
      expect(first?.failedMessageIds).toHaveLength(2);
      expect(between).toMatchObject({
        status: 'queued',
        createUncertain: true,
        lastError: expect.stringContaining('500') as unknown,
      });
      expect(s.apollo.contacts).toHaveLength(2);
      expect(s.apollo.received.bulkCreateContacts.map((call) => call.runDedupe)).toEqual([true, true]);
      for (const who of [wren(), juno()]) {
        expect(await s.ledger.get({ key: s.keyOf(who) })).toMatchObject({
          status: 'created',
          outcome: 'created',
          attempts: 2,
          createUncertain: false,
        });
      }
      // The phones are set on the retry, the contact being ours.
      expect(s.apollo.contact((await contactOf(s, wren())) as string)?.fields.direct_phone).toBe(
        '+12025550143',
      );
    });

    it('created, then 500, for a person with only a name and a website (which dedupe cannot match): people/match finds it first', async () => {
      // Prepare
      const byWebsite = person({
        first_name: 'Herman',
        last_name: 'Melville',
        website_url: 'https://pequod.example',
      });
      s.apollo.failNext('createContact', unknownOutcome(), { afterEffect: true });
      await queue(s, [byWebsite]);

      // Act
      await s.drain();

      // Assess
      expect(s.apollo.contacts).toHaveLength(1);
      // The first try looks before creating (nobody yet); the retry looks again and finds what it made.
      expect(s.apollo.received.matchPerson).toEqual([byWebsite.match, byWebsite.match]);
      expect(s.apollo.calls.createContact).toBe(1);
      expect(s.apollo.calls.bulkCreateContacts).toBe(0);
      expect(await s.ledger.get({ key: s.keyOf(byWebsite) })).toMatchObject({
        status: 'created',
        outcome: 'created',
      });
    });

    it('fails without creating (500): the retry creates, once', async () => {
      // Prepare
      s.apollo.failNext('bulkCreateContacts', unknownOutcome());
      await queue(s, [wren()]);

      // Act
      await s.drain();

      // Assess
      expect(s.apollo.contacts).toHaveLength(1);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'created',
        outcome: 'created',
      });
    });

    it('waits out the quiet period after an unknown outcome before sending the person again', async () => {
      // Prepare: the first try's outcome is unknown; a re-send brings the person back at once.
      s.apollo.failNext('bulkCreateContacts', unknownOutcome());
      await queue(s, [wren()]);
      await s.consumeOnce();
      await s.ledger.markUnsent({ key: s.keyOf(wren()) });
      await queue(s, [wren()]);

      // Act
      const early = await s.consumeOnce();

      // Assess
      expect(early?.failedMessageIds).toHaveLength(1);
      expect(s.apollo.calls.bulkCreateContacts).toBe(1);
      expect(s.queue.postponed.at(-1)?.delaySeconds).toBe(FAKE_SETTINGS.unavailableRetryAfterSeconds);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({ status: 'queued', attempts: 1 });
    });

    it('429: refunds the attempt, hides the batch for retry-after, and holds later batches back until then', async () => {
      // Prepare
      s.apollo.failNext('bulkCreateContacts', rateLimited(40));
      await queue(s, [wren()]);

      // Act
      const limited = await s.consumeOnce();
      const afterLimit = await s.ledger.get({ key: s.keyOf(wren()) });
      await queue(s, [juno()]);
      const held = await s.consumeOnce();
      await s.drain();

      // Assess
      expect(limited?.failedMessageIds).toHaveLength(1);
      expect(afterLimit).toMatchObject({ status: 'queued', attempts: 0, createUncertain: false });
      expect(s.queue.postponed[0]).toMatchObject({ delaySeconds: 40 });
      // Juno's batch is held back without calling Apollo or claiming anyone; then both go together.
      expect(held?.failedMessageIds).toHaveLength(1);
      expect(s.apollo.calls.bulkCreateContacts).toBe(2);
      expect(s.apollo.received.bulkCreateContacts[1]?.contacts).toHaveLength(2);
      expect(s.apollo.contacts).toHaveLength(2);
      expect(await s.ledger.get({ key: s.keyOf(juno()) })).toMatchObject({ status: 'created', attempts: 1 });
    });

    it("holds a batch back without calling Apollo when the last reply's minute window had no requests left", async () => {
      // Prepare
      s.pacer.observe(BULK_CREATE_ENDPOINT, [{ window: 'minute', limit: 200, used: 200, left: 0 }]);
      await queue(s, [wren()]);

      // Act
      const held = await s.consumeOnce();

      // Assess
      expect(held?.failedMessageIds).toHaveLength(1);
      expect(s.apollo.totalCalls).toBe(0);
      expect(s.queue.postponed).toEqual([
        { receiptHandles: [held?.batch[0]?.receiptHandle], delaySeconds: 60 },
      ]);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({ status: 'queued', attempts: 0 });
    });

    it('refused whole (422): each person on their own, so only the one Apollo refuses is rejected', async () => {
      // Prepare
      s.apollo.failNext('bulkCreateContacts', new ApolloRejectedError('invalid contact (422)'));
      s.apollo.failNext('bulkCreateContacts', new ApolloRejectedError('invalid title (422)'));
      await queue(s, [wren(), juno()]);

      // Act
      const invocation = await s.consumeOnce();

      // Assess
      expect(invocation?.failedMessageIds).toEqual([]);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'rejected',
        lastError: 'invalid title (422)',
      });
      expect(s.ledger.item(s.keyOf(wren()))?.queuedContact).toBeUndefined();
      expect(await s.ledger.get({ key: s.keyOf(juno()) })).toMatchObject({ status: 'created' });
      expect(s.apollo.contacts).toHaveLength(1);
      expect(s.metrics.conversionsByOutcome).toEqual({ rejected: 1, created: 1 });
    });

    it('Apollo unreachable: the batch comes back without doubt, and is converted once Apollo is back', async () => {
      // Prepare
      s.apollo.failNext('bulkCreateContacts', unreachable());
      await queue(s, [wren()]);

      // Act
      await s.consumeOnce();
      const between = await s.ledger.get({ key: s.keyOf(wren()) });
      await s.drain();

      // Assess
      expect(between).toMatchObject({ status: 'queued', createUncertain: false, attempts: 1 });
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'created',
        outcome: 'created',
      });
    });

    it("Apollo refusing the service's key: back on the queue until the operator fixes it", async () => {
      // Prepare
      s.apollo.failNext('bulkCreateContacts', new ApolloAuthError('POST /contacts/bulk_create: 401'));
      await queue(s, [wren()]);

      // Act
      const invocation = await s.consumeOnce();

      // Assess
      expect(invocation?.failedMessageIds).toHaveLength(1);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'queued',
        createUncertain: false,
      });
    });
  });

  describe('crash between bulk_create and the ledger update', () => {
    it('the consumer dies after Apollo created: the message comes back after its lock lapsed, and dedupe makes no second contact', async () => {
      // Prepare: every ledger write after bulk_create fails, as if the invocation died there.
      await queue(s, [wren(), juno()]);
      s.apollo.beforeNext('bulkCreateContacts', () => {
        const died = () => Promise.reject(new Error('the invocation died'));
        vi.spyOn(s.ledger, 'complete').mockImplementation(died);
        vi.spyOn(s.ledger, 'requeue').mockImplementation(died);
      });

      // Act
      const dying = await s.consumeOnce();
      vi.restoreAllMocks();
      const between = await s.ledger.get({ key: s.keyOf(wren()) });
      await s.drain();

      // Assess
      expect(dying?.failedMessageIds).toHaveLength(2);
      expect(between).toMatchObject({ status: 'creating', lockExpiresAtMs: expect.any(Number) as unknown });
      expect(s.apollo.contacts).toHaveLength(2);
      for (const who of [wren(), juno()]) {
        expect(await s.ledger.get({ key: s.keyOf(who) })).toMatchObject({
          status: 'created',
          outcome: 'created',
        });
      }
      expect(s.apollo.received.bulkCreateContacts).toHaveLength(2);
    });

    it('a claim lost to another consumer (its lock lapsed and was taken over) is left to the new holder', async () => {
      // Prepare
      await queue(s, [wren()]);
      vi.spyOn(s.ledger, 'complete').mockRejectedValueOnce(new LockLostError('taken over'));

      // Act
      const invocation = await s.consumeOnce();

      // Assess
      expect(invocation?.failedMessageIds).toEqual([]);
    });
  });

  describe('typed phones', () => {
    it('bulk_update failing: the people with phones come back knowing their contact exists; the others are done', async () => {
      // Prepare
      s.apollo.failNext(
        'bulkUpdateContacts',
        new ApolloUnavailableError('POST /contacts/bulk_update: 503', true),
      );
      await queue(s, [wren(), juno()]);

      // Act
      const first = await s.consumeOnce();
      const between = await s.ledger.get({ key: s.keyOf(wren()) });
      await s.drain();

      // Assess
      expect(first?.failedMessageIds).toHaveLength(1);
      // The contact exists (only the phones failed): no quiet period to wait out.
      expect(between).toMatchObject({
        status: 'queued',
        createUncertain: true,
        createUncertainSinceMs: null,
      });
      expect(await s.ledger.get({ key: s.keyOf(juno()) })).toMatchObject({ status: 'created', attempts: 1 });
      expect(s.apollo.contacts).toHaveLength(2);
      expect(s.apollo.contact((await contactOf(s, wren())) as string)?.fields.direct_phone).toBe(
        '+12025550143',
      );
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'created',
        outcome: 'created',
      });
    });

    it('Apollo refusing the phones: the people are recorded, and their verification reports the missing numbers', async () => {
      // Prepare
      s.apollo.failNext('bulkUpdateContacts', new ApolloRejectedError('invalid phone (422)'));
      await queue(s, [wren()]);

      // Act
      await s.consumeOnce();

      // Assess
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({ status: 'created' });
      expect(s.apollo.contact((await contactOf(s, wren())) as string)?.fields.direct_phone).toBeUndefined();
    });
  });

  describe('messages for people the consumer does not convert now', () => {
    it('a converted person whose verification never started: this batch verifies it, without Apollo', async () => {
      // Prepare
      await queue(s, [wren()]);
      s.batchVerifications.failNext();
      await s.consumeOnce();
      const callsBefore = s.apollo.totalCalls;

      // Act
      await s.drain();

      // Assess
      expect(s.apollo.totalCalls).toBe(callsBefore);
      expect(s.batchVerifications.people).toEqual([{ key: s.keyOf(wren()), contact_id: 'contact-1' }]);
      expect((await s.ledger.get({ key: s.keyOf(wren()) }))?.verificationStartedAt).toBe(s.clock.iso());
    });

    it('a person another consumer holds: postponed until its lock lapses, then done', async () => {
      // Prepare
      await queue(s, [wren()]);
      const key = s.keyOf(wren());
      await s.ledger.claimQueued({
        key,
        token: 'other',
        lockExpiresAtMs: s.clock.now() + 20_000,
        nowMs: s.clock.now(),
      });

      // Act
      const held = await s.consumeOnce();
      await s.drain();

      // Assess
      expect(held?.failedMessageIds).toHaveLength(1);
      expect(s.queue.postponed[0]?.delaySeconds).toBe(21);
      // The other holder died: its lapsed claim is taken over and the person converted.
      expect(await s.ledger.get({ key })).toMatchObject({ status: 'created', outcome: 'created' });
      expect(s.apollo.contacts).toHaveLength(1);
    });

    it("a record that is gone, rejected, or not the queue's: the message is dropped", async () => {
      // Prepare
      const gone = s.queue.injectRaw(JSON.stringify({ key: 'c_AAAAAAAAAAAAAAAAAAAAAA' }));

      // Act
      const { failedMessageIds } = await s.bulkConversion.convert([gone], {
        deadline: s.clock.now() + CONSUMER_MS,
      });

      // Assess
      expect(failedMessageIds).toEqual([]);
      expect(s.apollo.totalCalls).toBe(0);
    });
  });

  describe('poison messages', () => {
    it('reports a message that is not {"key": "c_…"} as failed, writing nothing', async () => {
      // Prepare
      const messages = ['not json', '{"key": 42}', '{"key": "mark@example.test"}', '[]', 'null'].map((body) =>
        s.queue.injectRaw(body),
      );

      // Act
      const { failedMessageIds } = await s.bulkConversion.convert(messages, {
        deadline: s.clock.now() + CONSUMER_MS,
      });

      // Assess
      expect(failedMessageIds).toEqual(messages.map((m) => m.messageId));
      expect(s.ledger.allItems()).toEqual([]);
    });

    it('records a person failed with the reason on the last allowed receive, and its message goes to the dead-letter queue', async () => {
      // Prepare
      for (let i = 0; i < FAKE_SETTINGS.maxReceives; i++)
        s.apollo.failNext('bulkCreateContacts', unknownOutcome());
      await queue(s, [wren()]);

      // Act
      await s.drain();

      // Assess
      expect(s.queue.deadLetters).toEqual([s.keyOf(wren())]);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'failed',
        lastError: expect.stringMatching(
          /^gave up after 5 attempts \(5 receives .*500; a contact may exist in Apollo$/,
        ) as unknown,
        holdsQueuedContact: true,
      });
      expect(s.metrics.conversionsByOutcome).toEqual({ failed: 1 });
    });

    it('converts a poison person once the dead-letter queue is redriven, after the cause is gone', async () => {
      // Prepare
      for (let i = 0; i < FAKE_SETTINGS.maxReceives; i++)
        s.apollo.failNext('bulkCreateContacts', unknownOutcome(), { afterEffect: i === 0 });
      await queue(s, [wren()]);
      await s.drain();

      // Act: the operator redrives the dead-letter queue.
      await s.queue.enqueue(s.queue.deadLetters);
      await s.drain();

      // Assess
      expect(s.apollo.contacts).toHaveLength(1);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({
        status: 'created',
        outcome: 'created',
      });
    });

    it('does not give up on the last allowed receive for a person Apollo was tried for fewer times: a fresh message', async () => {
      // Prepare: earlier receives only waited (rate limits, another holder); this one fails.
      await queue(s, [wren()]);
      const [message] = s.queue.receive(10);
      s.apollo.failNext('bulkCreateContacts', unknownOutcome());

      // Act
      const { failedMessageIds } = await s.bulkConversion.convert(
        [{ ...(message as NonNullable<typeof message>), receiveCount: FAKE_SETTINGS.maxReceives }],
        { deadline: s.clock.now() + CONSUMER_MS },
      );

      // Assess
      expect(failedMessageIds).toEqual([]);
      expect(s.queue.sent).toEqual([s.keyOf(wren()), s.keyOf(wren())]);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({ status: 'queued', attempts: 1 });
    });

    it('replaces a message held back by rate limits on its last allowed receive instead of giving up', async () => {
      // Prepare
      for (let i = 0; i < FAKE_SETTINGS.maxReceives + 1; i++)
        s.apollo.failNext('bulkCreateContacts', rateLimited(10));
      await queue(s, [wren()]);

      // Act
      await s.drain();

      // Assess
      expect(s.queue.deadLetters).toEqual([]);
      expect(s.queue.sent).toEqual([s.keyOf(wren()), s.keyOf(wren())]);
      expect(await s.ledger.get({ key: s.keyOf(wren()) })).toMatchObject({ status: 'created', attempts: 1 });
    });
  });

  it('never makes a second contact for a person converted through the synchronous path meanwhile', async () => {
    // Prepare
    await queue(s, [tobin()]);
    await s.conversion.convert([tobin()], s.request());

    // Act
    await s.drain();

    // Assess
    expect(s.apollo.contacts).toHaveLength(1);
    expect(s.apollo.calls.bulkCreateContacts).toBe(0);
  });
});
