/**
 * fast-check: `mapBulkCreateReply` against Apollo's bulk_create as the in-memory fake plays it
 * (`FakeApollo.bulkCreateContacts`, which keeps the truth the reply does not tell). Over generated
 * batches of messy people (namesakes at one company, emails in other cases and in punycode,
 * people without email, CRM ids, duplicates within the batch, contacts Apollo already has) and
 * shuffled replies: every person is matched to its own contact with the right outcome, reported as
 * a false merge only when Apollo really merged it onto someone else's contact, or left unknown.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BulkContact } from '../lib/apollo/apollo';
import { mapBulkCreateReply, normaliseEmail } from '../lib/apollo/bulk-replies';
import { FakeApollo } from './support/fakes';

const CALL = { deadline: Date.parse('2026-11-26T10:00:00Z') + 20_000 };

/** Few names and companies, so namesakes at one company are common. */
const NAMES = [
  ['Wren', 'Halloway'],
  ['Juno', 'Marsh'],
  ['Ottilie', 'Fenwick'],
] as const;
const COMPANIES = ['Lanternfish Labs', 'Brackenridge Mills'];
/** Few mailboxes, each in several spellings one mailbox may arrive in. */
const MAILBOXES = [
  ['wren.halloway@lanternfish.example', 'Wren.Halloway@LANTERNFISH.example'],
  ['w.halloway@lanternfish.example', ' w.halloway@lanternfish.example '],
  ['juno.marsh@brackenridge.example', 'JUNO.MARSH@brackenridge.example'],
  ['ana@bücher.example', 'ana@xn--bcher-kva.example', 'Ana@BÜCHER.example'],
];

const bulkContact: fc.Arbitrary<BulkContact> = fc
  .record({
    name: fc.option(fc.constantFrom(...NAMES), { nil: undefined, freq: 6 }),
    company: fc.option(fc.constantFrom(...COMPANIES), { nil: undefined, freq: 4 }),
    email: fc.option(fc.constantFrom(...MAILBOXES.flat()), { nil: undefined, freq: 3 }),
    salesforce: fc.option(fc.constantFrom('003A', '003B'), { nil: undefined, freq: 8 }),
    hubspot: fc.option(fc.constantFrom('11', '22'), { nil: undefined, freq: 8 }),
  })
  .map(({ name, company, email, salesforce, hubspot }) => ({
    ...(name && { first_name: name[0], last_name: name[1] }),
    ...(company && { organization_name: company }),
    ...(email && { email }),
    ...(salesforce && { salesforce_contact_id: salesforce }),
    ...(hubspot && { hubspot_id: hubspot }),
  }));

const scenario = fc.record({
  /** Contacts the team already has in Apollo. */
  existing: fc.array(bulkContact, { maxLength: 4 }),
  batch: fc.array(bulkContact, { minLength: 1, maxLength: 12 }),
  runDedupe: fc.boolean(),
  shuffleSeed: fc.integer(),
});

/** A deterministic shuffle (mulberry32), so a failing case replays. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** Runs the batch through the fake: Apollo's reply, and the truth about each contact sent. */
async function bulkCreate(existing: BulkContact[], batch: BulkContact[], runDedupe: boolean) {
  const apollo = new FakeApollo();
  for (const contact of existing) apollo.addContact(contact);
  const reply = await apollo.bulkCreateContacts(batch, { ...CALL, runDedupe });
  const truth = apollo.received.bulkCreateContacts[0]?.results ?? [];
  const emailOf = new Map(apollo.contacts.map((contact) => [contact.id, contact.fields.email]));
  return { reply, truth, emailOf };
}

function summary(result: ReturnType<typeof mapBulkCreateReply>) {
  return {
    matched: [...result.matched].map(([ref, { contact, outcome }]) => [ref, contact.id, outcome]).sort(),
    falseMerges: [...result.falseMerges].sort(),
    unknown: [...result.unknown].sort(),
  };
}

describe('Property: mapBulkCreateReply', () => {
  it('maps every person to its own contact, a real false merge, or unknown, whatever the order of the reply', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ existing, batch, runDedupe, shuffleSeed }) => {
        // Prepare
        const { reply, truth, emailOf } = await bulkCreate(existing, batch, runDedupe);
        const sent = batch.map((contact, index) => ({ ref: `c_${index}`, contact }));
        const reordered = {
          created: shuffled(reply.created, shuffleSeed),
          existing: shuffled(reply.existing, shuffleSeed + 1),
        };

        // Act
        const result = mapBulkCreateReply(sent, reordered);

        // Assess: each ref once, in one of the three.
        const refs = [...result.matched.keys(), ...result.falseMerges, ...result.unknown];
        expect(refs.sort()).toEqual(sent.map(({ ref }) => ref).sort());
        // No two people share a matched contact.
        const matchedIds = [...result.matched.values()].map(({ contact }) => contact.id);
        expect(new Set(matchedIds).size).toBe(matchedIds.length);
        for (const [ref, { contact, outcome }] of result.matched) {
          const index = Number(ref.slice(2));
          // The very contact Apollo made or found for this person, with the outcome Apollo meant.
          expect({ contactId: contact.id, outcome }).toEqual(truth[index]);
          // Never someone else's contact: a person with an email has that email on its contact.
          const email = normaliseEmail(sent[index]?.contact.email);
          if (email !== undefined) expect(normaliseEmail(contact.email)).toBe(email);
        }
        for (const ref of result.falseMerges) {
          const index = Number(ref.slice(2));
          const sentEmail = normaliseEmail(sent[index]?.contact.email);
          const merged = truth[index];
          // A false merge is real: Apollo returned an existing contact of another email.
          expect(merged?.outcome).toBe('existing');
          expect(sentEmail).toBeDefined();
          expect(normaliseEmail(emailOf.get(merged?.contactId ?? ''))).not.toBe(sentEmail);
        }
        // The order of the reply changes nothing.
        expect(summary(mapBulkCreateReply(sent, reply))).toEqual(summary(result));
      }),
      { numRuns: 500 },
    );
  });

  it('leaves nobody unknown when each person has its own email and Apollo has none of them yet', async () => {
    const distinct = fc
      .record({
        size: fc.integer({ min: 1, max: MAILBOXES.length }),
        names: fc.array(fc.constantFrom(...NAMES), {
          minLength: MAILBOXES.length,
          maxLength: MAILBOXES.length,
        }),
        spellings: fc.array(fc.nat(), { minLength: MAILBOXES.length, maxLength: MAILBOXES.length }),
        company: fc.constantFrom(...COMPANIES),
        runDedupe: fc.boolean(),
        shuffleSeed: fc.integer(),
      })
      .map(({ size, names, spellings, company, runDedupe, shuffleSeed }) => ({
        batch: MAILBOXES.slice(0, size).map((spellingsOf, index) => ({
          first_name: names[index]?.[0],
          last_name: names[index]?.[1],
          organization_name: company,
          email: spellingsOf[(spellings[index] ?? 0) % spellingsOf.length],
        })),
        runDedupe,
        shuffleSeed,
      }));

    await fc.assert(
      fc.asyncProperty(distinct, async ({ batch, runDedupe, shuffleSeed }) => {
        // Prepare: namesakes at one company, each with their own email (so run_dedupe may merge them).
        const { reply, truth } = await bulkCreate([], batch, runDedupe);
        const sent = batch.map((contact, index) => ({ ref: `c_${index}`, contact }));

        // Act
        const result = mapBulkCreateReply(sent, {
          created: shuffled(reply.created, shuffleSeed),
          existing: shuffled(reply.existing, shuffleSeed),
        });

        // Assess: people Apollo gave their own contact are matched, and those it merged onto a
        // namesake's contact (by name + company, the email differing) are all false merges.
        const ownContacts = truth.filter(({ outcome }) => outcome === 'created').length;
        expect(result.matched.size).toBe(ownContacts);
        expect(result.falseMerges.length).toBe(batch.length - ownContacts);
        expect(result.unknown).toEqual([]);
        if (!runDedupe) expect(result.matched.size).toBe(batch.length);
      }),
      { numRuns: 300 },
    );
  });
});
