import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldCompany, identitiesOf, identityKey, registrableDomain, type Identity } from '../lib/identity';
import { DynamoDbLedger } from '../lib/dynamodb-ledger';
import { AMBIGUOUS_NAME_REASON, IdentityResolution } from '../lib/identity-resolution';
import { toPerson } from '../lib/person';
import {
  enrichmentCompleted,
  useServiceHarness,
  type HttpReply,
  type ServiceHarness,
} from './support/service-harness';

/**
 * One person, one key, one contact: every spelling of one (fictional) person ends in one record
 * and one contact; different people never share a key; keys have a fixed length.
 */
const options = { defaultPhoneCountry: 'US' as const };

/** Characters nobody sees: zero-width space/joiner/non-joiner, soft hyphen, bidi marks, BOM, word joiner. */
const INVISIBLES = [
  '\u200b',
  '\u200c',
  '\u200d',
  '\u00ad',
  '\u200e',
  '\u200f',
  '\u202a',
  '\u2066',
  '\ufeff',
  '\u2060',
];

/** A text as someone else may have typed it: other case, extra spaces, invisible characters. */
const retyped = (text: string) =>
  fc
    .record({
      casing: fc.constantFrom('same', 'upper', 'lower'),
      pad: fc.constantFrom('', ' ', '  ', '\t'),
      invisibles: fc.array(fc.tuple(fc.nat(text.length), fc.constantFrom(...INVISIBLES)), { maxLength: 3 }),
    })
    .map(({ casing, pad, invisibles }) => {
      let value = casing === 'upper' ? text.toUpperCase() : casing === 'lower' ? text.toLowerCase() : text;
      for (const [at, mark] of invisibles) value = value.slice(0, at) + mark + value.slice(at);
      return `${pad}${value.replace(/ /g, pad === '' ? ' ' : ` ${pad}`)}${pad}`;
    });

const ADA = {
  first_name: 'Ada',
  last_name: 'Quillfeather',
  email: 'ada.quillfeather@seq.example',
  companies: ['Seq Co.', 'Seq Co', 'SEQ', 'Seq, Inc.', 'Seq Company Ltd'],
  websites: ['https://www.seq.example', 'seq.example', 'http://careers.seq.example/jobs', 'WWW.SEQ.EXAMPLE/'],
};

/** One delivery of Ada: with or without email, by organisation and/or website, however spelled. */
const adaVariant = (shared: 'org' | 'website') =>
  fc
    .record({
      first_name: retyped(ADA.first_name),
      last_name: retyped(ADA.last_name),
      email: fc.option(retyped(ADA.email), { nil: undefined }),
      organization_name: fc.constantFrom(...ADA.companies).chain(retyped),
      website_url: fc.constantFrom(...ADA.websites),
      other: fc.boolean(),
    })
    .map(({ other, ...input }) => {
      // Every delivery carries the shared company field; the other one sometimes.
      if (!other && shared === 'org') delete (input as { website_url?: string }).website_url;
      if (!other && shared === 'website') delete (input as { organization_name?: string }).organization_name;
      if (input.email === undefined) delete input.email;
      return input;
    });

describe('Identity keys (lib/identity.ts)', () => {
  it('gives every spelling of one person the same identities', () => {
    fc.assert(
      fc.property(adaVariant('org'), adaVariant('org'), (a, b) => {
        const name = (input: typeof a) =>
          toPerson(input, 'body', options).identities.filter(([kind]) => kind === 'name_org');
        expect(name(a)).toEqual(name(b));
        expect(name(a)).toEqual([['name_org', 'ada', 'quillfeather', 'seq']]);
      }),
      { numRuns: 200 },
    );
    expect(new Set(ADA.companies.map(foldCompany))).toEqual(new Set(['seq']));
    expect(new Set(ADA.websites.map((w) => registrableDomain(w)))).toEqual(new Set(['seq.example']));
  });

  it('never gives two different people one key, separators or spaces notwithstanding', () => {
    // The collisions of `name:${first} ${last}|${company}`.
    const key = (first_name: string, last_name: string, organization_name: string) =>
      toPerson({ first_name, last_name, organization_name }, 'body', options).key;
    expect(key('Ann', 'X|Y', 'Z')).not.toBe(key('Ann', 'X', 'Y|Z'));
    expect(key('Ann Marie', 'Smith', 'Z')).not.toBe(key('Ann', 'Marie Smith', 'Z'));

    const part = fc.stringMatching(/^[a-z|: ]{1,12}$/).filter((s) => s.trim() !== '');
    fc.assert(
      fc.property(fc.tuple(part, part, part), fc.tuple(part, part, part), (a, b) => {
        const identity = (t: string[]): Identity => ['name_org', ...(t as [string, string, string])];
        fc.pre(JSON.stringify(a) !== JSON.stringify(b));
        expect(identityKey(identity(a))).not.toBe(identityKey(identity(b)));
      }),
      { numRuns: 500 },
    );
  });

  it('gives every name and company that has something visible an identity (punctuation, unassigned code points)', () => {
    expect(
      toPerson({ first_name: '\u{3347a}', last_name: '!', organization_name: '&' }, 'b', options).identities,
    ).toEqual([['name_org', '\u{3347a}', '!', '&']]);
    const visible = fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).filter((text) => {
      const cleaned = text.toWellFormed().replace(/[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\s]/gu, '');
      return cleaned !== '';
    });
    fc.assert(
      fc.property(visible, visible, visible, (first_name, last_name, organization_name) => {
        expect(() => toPerson({ first_name, last_name, organization_name }, 'b', options)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it('makes keys of a fixed length far below the 2,048-byte partition key limit, whatever the names', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }), (text) => {
        for (const identity of identitiesOf({
          first_name: text,
          last_name: text,
          organization_name: text,
          email: text,
        })) {
          expect(Buffer.byteLength(identityKey(identity))).toBe(46);
        }
      }),
    );
  });
});

describe('Identity resolution: one person, one record, one contact (real handlers, dynalite, Apollo sandbox)', () => {
  const harness = useServiceHarness();

  const records = async (h: ServiceHarness) => (await h.ledgerItems()).filter((item) => 'status' in item);
  const resultOf = (reply: HttpReply) => reply.body.results[0];
  /** `POST /contacts?wait=15`: queued, converted by the consumer, answered with the final results. */
  const convert = (body: unknown) => harness.createContacts(body, undefined, 15);

  it('ends every sequence of spellings of one person (with and without email, organisation or website) in one record and one contact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom<'org' | 'website'>('org', 'website')
          .chain((shared) => fc.array(adaVariant(shared), { minLength: 2, maxLength: 5 })),
        async (variants) => {
          await harness.reset();
          for (const variant of variants) {
            const reply = await harness.webhook(enrichmentCompleted({ person: variant }));
            expect([200, 202]).toContain(reply.status);
            expect(['queued', 'duplicate']).toContain(resultOf(reply)?.status);
          }
          await harness.settled();
          expect(harness.apollo.contacts()).toHaveLength(1);
          expect(await records(harness)).toHaveLength(1);
        },
      ),
      { numRuns: 8 },
    );
  });

  it('makes one contact when the same person arrives with and without email at the same moment', async () => {
    const withEmail = {
      first_name: 'Ada',
      last_name: 'Quillfeather',
      email: ADA.email,
      organization_name: 'Seq Co.',
    };
    const without = { first_name: 'ADA', last_name: 'quillfeather', organization_name: 'Seq Co' };
    for (let round = 0; round < 3; round += 1) {
      await harness.reset();
      const inputs = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? withEmail : without));
      const replies = await Promise.all(inputs.map((input) => harness.createContacts(input)));
      // Queued (202), or, for a person whose identity another request is deciding right now,
      // 503 in_progress (a sender drops a 200), never refused: the retry is accepted.
      const accepted = (status: number | undefined) => status === 202 || status === 200;
      for (const reply of replies) {
        if (!accepted(reply.status)) {
          expect(reply.status).toBe(503);
          expect(reply.body.results[0]?.status).toBe('in_progress');
        }
      }
      const retries = await Promise.all(
        inputs.filter((_, i) => !accepted(replies[i]?.status)).map((input) => harness.createContacts(input)),
      );
      for (const reply of retries) expect(accepted(reply.status)).toBe(true);
      await harness.settled();
      expect(harness.apollo.contacts()).toHaveLength(1);
      expect(await records(harness)).toHaveLength(1);
    }
  });

  it('resolves a person without email to the contact of the person with email of that name and company', async () => {
    const first = await convert({ ...ADA_INPUT, email: ADA.email });
    const later = await convert({ ...ADA_INPUT, organization_name: 'SEQ Co' });

    expect(resultOf(later)).toEqual({ ...resultOf(first), status: 'duplicate' });
    expect(harness.apollo.contacts()).toHaveLength(1);
    expect(await harness.conversionIdOf({ ...ADA_INPUT })).toBe(resultOf(first)?.id);
  });

  it('never merges two people with different emails; a person without email of that name and company is refused with the reason', async () => {
    const one = await convert({ ...ADA_INPUT, email: 'ada.one@seq.example' });
    const two = await convert({ ...ADA_INPUT, email: 'ada.two@seq.example' });
    const noEmail = await convert({ ...ADA_INPUT });

    expect(resultOf(one)?.status).toBe('created');
    expect(resultOf(two)?.status).toBe('created');
    expect(resultOf(two)?.id).not.toBe(resultOf(one)?.id);
    expect(harness.apollo.contacts()).toHaveLength(2);
    expect(noEmail.status).toBe(200);
    expect(resultOf(noEmail)).toEqual({
      id: null,
      status: 'rejected',
      contact_id: null,
      reason: AMBIGUOUS_NAME_REASON,
    });
    expect(harness.apollo.contacts()).toHaveLength(2);
    expect((await harness.lookupConversion({ ...ADA_INPUT })).status).toBe(404);
    expect(await harness.conversionIdOf('ada.two@seq.example')).toBe(resultOf(two)?.id);
  });

  it('adopts the record of a person converted without email when the same person comes with one', async () => {
    const noEmail = await convert({ ...ADA_INPUT });
    const withEmail = await convert({
      ...ADA_INPUT,
      email: ADA.email,
      website_url: 'seq.example',
    });

    expect(resultOf(noEmail)?.status).toBe('created');
    expect(resultOf(withEmail)).toEqual({ ...resultOf(noEmail), status: 'duplicate' });
    expect(harness.apollo.contacts()).toHaveLength(1);
    expect(await harness.conversionIdOf(ADA.email)).toBe(resultOf(noEmail)?.id);
    expect(
      await harness.conversionIdOf({
        ...ADA_INPUT,
        organization_name: undefined,
        website_url: 'https://www.seq.example',
      }),
    ).toBe(resultOf(noEmail)?.id);
  });

  it('answers a person with names at the field limits in 4-byte characters per person, never 500', async () => {
    const long = '𝔄'.repeat(100); // 200 UTF-16 units, 400 bytes of UTF-8
    const person = {
      first_name: long,
      last_name: long,
      organization_name: '𝔅'.repeat(150),
      website_url: `https://${'a'.repeat(60)}.example/${'𝔇'.repeat(400)}`,
      linkedin_url: `https://linkedin.com/in/${'𝔈'.repeat(1000)}`,
    };
    const reply = await harness.webhook(
      enrichmentCompleted({ people: [person, { ...ADA_INPUT, email: ADA.email }] }),
    );
    await harness.settled();

    expect(reply.status).toBe(202);
    expect(reply.body.results.map((r) => r.status)).toEqual(['queued', 'queued']);
    expect(harness.apollo.contacts()).toHaveLength(2);
    const again = await harness.webhook(enrichmentCompleted({ person }));
    expect(resultOf(again)).toEqual({
      ...reply.body.results[0],
      status: 'duplicate',
      contact_id: expect.any(String) as unknown,
    });
    const id = reply.body.results[0]?.id ?? null;
    expect(id).not.toBeNull();
    expect((await harness.getConversion(id as string)).status).toBe(200);
  });

  it('agrees on one record for a person without email even when a lock lapsed and two deliveries anchor at once', async () => {
    const ledger = new DynamoDbLedger(harness.dynamo.client, harness.tableName);
    // Every lock "succeeds": as if each delivery found the other's lock lapsed.
    const lapsing = Object.assign(Object.create(ledger) as DynamoDbLedger, {
      lockIdentity: () => Promise.resolve(true),
    });
    const person = toPerson({ ...ADA_INPUT, website_url: 'seq.example' }, 'body', options);
    const resolutions = await Promise.all(
      Array.from({ length: 6 }, () =>
        new IdentityResolution({ ledger: lapsing }).resolve(person, { deadline: Date.now() + 10_000 }),
      ),
    );
    expect(new Set(resolutions.map((r) => (r.kind === 'record' ? r.key : r.kind))).size).toBe(1);
  });

  it('re-enriches by name and organisation a person converted by email without calling people/match', async () => {
    const converted = await convert({ ...ADA_INPUT, email: ADA.email });
    await harness.settled();
    const matchesBefore = harness.apollo.countRequests('POST', '/people/match');

    const reply = await harness.enrich({
      first_name: 'ada',
      last_name: 'QUILLFEATHER',
      organization_name: 'Seq Inc.',
    });

    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      id: resultOf(converted)?.id,
      status: 'duplicate',
      contact_id: resultOf(converted)?.contact_id,
      credits_consumed: 0,
      credits_saved: true,
    });
    expect(harness.apollo.countRequests('POST', '/people/match')).toBe(matchesBefore);
  });
});

const ADA_INPUT = { first_name: 'Ada', last_name: 'Quillfeather', organization_name: 'Seq Co.' } as Record<
  string,
  string | undefined
>;
