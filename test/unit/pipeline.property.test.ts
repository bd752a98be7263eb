/**
 * Property: whatever messy deliveries come in (one person several times within a batch and across
 * batches, with and without email, in other spellings), however the consumer's invocations
 * interleave with them, and whatever bulk_create does wrong (creates then answers 500, fails, 429,
 * replies that cannot be mapped), every person ends with exactly one Apollo contact.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApolloRateLimitError, ApolloUnavailableError } from '../../lib/errors';
import type { PersonInput } from '../../lib/person';
import { fakeServices, person, type FakeServices } from '../support/fakes';

/** The people of the stream. Those marked `emailOnly` always come with their email (see below). */
const PEOPLE: Array<PersonInput & { emailOnly?: boolean }> = [
  { first_name: 'Wren', last_name: 'Halloway', email: 'wren.halloway@lanternfish.example', organization_name: 'Lanternfish Labs', direct_phone: '(202) 555-0143', emailOnly: true },
  // Apollo holds a stranger of this name at this company (another email): its dedupe merges them.
  { first_name: 'Juno', last_name: 'Marsh', email: 'juno.marsh@brackenridge.example', organization_name: 'Brackenridge Mills', emailOnly: true },
  { first_name: 'Tobin', last_name: 'Vale', email: 'tobin.vale@quillfeather.example', organization_name: 'Quillfeather & Sons', mobile_phone: '202-555-0177' },
  { first_name: 'Ottilie', last_name: 'Fenwick', email: 'ottilie.fenwick@cobblestone.example', organization_name: 'Cobblestone Cartography' },
  { first_name: 'Perrin', last_name: 'Ashdown', email: 'perrin.ashdown@tidewater.example', organization_name: 'Tidewater Looms', direct_phone: '202-555-0101' },
  // Wren's namesake at her company, with another email: a different person.
  { first_name: 'Wren', last_name: 'Halloway', email: 'w.halloway@lanternfish.example', organization_name: 'Lanternfish Labs', emailOnly: true },
]; // prettier-ignore

/**
 * People sharing a name and company with someone else come with their email: without it the
 * service cannot tell them apart (it refuses such a person, or Apollo's name match links them),
 * which `test/identity.property.test.ts` covers.
 */
const entry = fc
  .record({
    who: fc.nat(PEOPLE.length - 1),
    withoutEmail: fc.boolean(),
    upper: fc.boolean(),
    legalForm: fc.constantFrom('', ' Co.', ', Inc.'),
  })
  .map(({ who, withoutEmail, upper, legalForm }) => {
    const { emailOnly, ...input } = PEOPLE[who] as PersonInput & { emailOnly?: boolean };
    const spelled: PersonInput = {
      ...input,
      first_name: upper ? input.first_name?.toUpperCase() : input.first_name,
      organization_name: `${input.organization_name}${legalForm}`,
    };
    if (withoutEmail && !emailOnly) delete spelled.email;
    return { who, input: spelled };
  });

type Fault = 'none' | 'created-then-500' | '500' | '429' | 'unmappable';

const step = fc.record({
  delivery: fc.array(entry, { minLength: 1, maxLength: 8 }),
  /** Consumer invocations right after this delivery, each with its batch size. */
  consumers: fc.array(fc.integer({ min: 1, max: 10 }), { maxLength: 2 }),
  pauseMs: fc.integer({ min: 0, max: 40_000 }),
});

const scenario = fc.record({
  steps: fc.array(step, { minLength: 1, maxLength: 6 }),
  /** What the first bulk_create calls do; at most four failures, below the poison threshold. */
  faults: fc.array(fc.constantFrom<Fault>('none', 'created-then-500', '500', '429', 'unmappable'), {
    maxLength: 4,
  }),
  /** People Apollo holds a contact of already (by email). */
  preexisting: fc.subarray([2, 3, 4]),
});

function script(s: FakeServices, faults: Fault[]) {
  for (const fault of faults) {
    if (fault === 'none') s.apollo.beforeNext('bulkCreateContacts', () => undefined);
    if (fault === 'created-then-500') {
      s.apollo.failNext('bulkCreateContacts', new ApolloUnavailableError('bulk_create: 500', true), {
        afterEffect: true,
      });
    }
    if (fault === '500')
      s.apollo.failNext('bulkCreateContacts', new ApolloUnavailableError('bulk_create: 500', true));
    if (fault === '429')
      s.apollo.failNext('bulkCreateContacts', new ApolloRateLimitError('bulk_create: 429', 20));
    if (fault === 'unmappable') {
      s.apollo.transformNextBulkReply(({ created, existing }) => ({
        created: created.map(({ id }) => ({ id })),
        existing: existing.map(({ id }) => ({ id })),
      }));
    }
  }
}

describe('Property: the queued pipeline', () => {
  it('ends every person of any messy stream, under bulk_create faults, in exactly one contact', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ steps, faults, preexisting }) => {
        const s = fakeServices();
        const stranger = s.apollo.addContact({
          ...person(PEOPLE[1] as PersonInput).fields,
          email: 'juno.m@elsewhere.example',
        });
        const held = new Map(
          preexisting.map((who) => [who, s.apollo.addContact(person(PEOPLE[who] as PersonInput).fields).id]),
        );
        script(s, faults);

        /** Each person's record keys, as the intake answered them: one each, if all goes well. */
        const keys = new Map<number, Set<string | null>>();
        for (const { delivery, consumers, pauseMs } of steps) {
          const results = await s.intake.accept(
            delivery.map(({ who, input }) =>
              // Without an email, Apollo finds a contact it held before only under the company as
              // spelled there (its matching does not fold legal forms): delivered so.
              person(
                held.has(who) && input.email === undefined
                  ? { ...input, organization_name: PEOPLE[who]?.organization_name }
                  : input,
              ),
            ),
            s.request(),
          );
          delivery.forEach(({ who }, index) => {
            keys.set(who, new Set([...(keys.get(who) ?? []), results[index]?.id ?? null]));
          });
          for (const batchSize of consumers) await s.consumeOnce(batchSize);
          s.clock.advance(pauseMs);
        }
        await s.drain({ maxRounds: 300 });

        // Nothing left behind: no message, no dead letter, every record converted.
        expect(s.queue.depth).toBe(0);
        expect(s.queue.deadLetters).toEqual([]);
        const records = s.ledger.records();
        expect(records.map((record) => record.status)).toEqual(records.map(() => 'created'));
        // One record per person, and one contact per record, none shared.
        const delivered = [...keys.keys()];
        for (const who of delivered) expect(keys.get(who)?.size).toBe(1);
        const recordOf = (who: number) => records.find((r) => keys.get(who)?.has(r.key));
        expect(records).toHaveLength(delivered.length);
        expect(new Set(records.map((record) => record.contactId)).size).toBe(records.length);
        // Each person is its own contact: the one Apollo held, or one made for them; no other.
        for (const who of delivered) {
          const contactId = recordOf(who)?.contactId;
          if (held.has(who)) expect(contactId).toBe(held.get(who));
          expect(contactId).not.toBe(stranger.id);
          // Typed phones on the contacts it made.
          const phone = person(PEOPLE[who] as PersonInput).fields.direct_phone;
          if (phone !== undefined && !held.has(who)) {
            expect(s.apollo.contact(contactId as string)?.fields.direct_phone).toBe(phone);
          }
        }
        const made = s.apollo.contacts.length - held.size - 1;
        expect(made).toBe(delivered.filter((who) => !held.has(who)).length);
        // Every converted person's verification started.
        const verified = new Set(s.batchVerifications.people.map((p) => p.key));
        for (const record of records) expect(verified.has(record.key)).toBe(true);
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
