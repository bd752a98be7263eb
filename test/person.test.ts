import { describe, expect, it } from 'vitest';
import { isError } from '../lib/errors';
import { identityKey } from '../lib/identity';
import { personInputSchema, phoneHash, toE164, toPerson, websiteDomain } from '../lib/person';
import {
  isInvalidPerson,
  parseContactsRequest,
  parseEnrichmentWebhook,
  type PersonEntry,
} from '../lib/requests';

/** A position's record key: null for an invalid person (nothing is written for it). */
const keyOf = (entry: PersonEntry) => (isInvalidPerson(entry) ? null : entry.key);

const options = { defaultPhoneCountry: 'US' as const };
const emailKey = (email: string) => identityKey(['email', email]);

describe('Function: toPerson', () => {
  it('keys a person by the trimmed, lower-cased email and sends phones in E.164', () => {
    // Act
    const person = toPerson(
      {
        first_name: ' Mark ',
        last_name: 'Twain',
        email: '  Mark.Twain@GreatAmericanWriters.example ',
        organization_name: 'Great American Writers Co.',
        direct_phone: '555-123-4567',
        mobile_phone: '(555) 765-4321',
      },
      'body',
      options,
    );

    // Assess
    expect(person.key).toBe(identityKey(['email', 'mark.twain@greatamericanwriters.example']));
    expect(person.identities).toEqual([
      ['email', 'mark.twain@greatamericanwriters.example'],
      ['name_org', 'mark', 'twain', 'great american writers'],
    ]);
    expect(person.match).toEqual({ email: 'mark.twain@greatamericanwriters.example' });
    expect(person.fields).toEqual({
      first_name: 'Mark',
      last_name: 'Twain',
      email: 'mark.twain@greatamericanwriters.example',
      organization_name: 'Great American Writers Co.',
      direct_phone: '+15551234567',
      mobile_phone: '+15557654321',
    });
    expect(person.phones).toEqual(['+15551234567', '+15557654321']);
  });

  it('keys a person without email by name and company, folding case and spacing', () => {
    const a = toPerson(
      { first_name: 'Mark', last_name: 'Twain', organization_name: 'Great  American Writers' },
      'b',
      options,
    );
    const b = toPerson(
      { first_name: 'MARK ', last_name: 'twain', organization_name: 'great american writers' },
      'b',
      options,
    );

    expect(a.key).toBe(identityKey(['name_org', 'mark', 'twain', 'great american writers']));
    expect(b.key).toBe(a.key);
    expect(a.match).toEqual({
      first_name: 'Mark',
      last_name: 'Twain',
      organization_name: 'Great American Writers',
    });
  });

  it('falls back to the website domain as the company', () => {
    const person = toPerson(
      {
        first_name: 'Mark',
        last_name: 'Twain',
        website_url: 'https://www.GreatAmericanWriters.example/about',
      },
      'b',
      options,
    );

    expect(person.key).toBe(identityKey(['name_domain', 'mark', 'twain', 'greatamericanwriters.example']));
    expect(person.match).toEqual({
      first_name: 'Mark',
      last_name: 'Twain',
      domain: 'greatamericanwriters.example',
    });
  });

  it('refuses a person with no identity, naming where it is', () => {
    expect(() =>
      toPerson({ first_name: 'Mark', organization_name: 'X' }, 'body.data.people[2]', options),
    ).toThrow(/^body\.data\.people\[2\]: no identity/);
  });

  it('refuses an email that is not an email, naming the field', () => {
    let thrown: unknown;
    try {
      toPerson({ email: 'not-an-email' }, 'body.data.people[0]', options);
    } catch (error) {
      thrown = error;
    }
    expect(isError(thrown, 'InvalidRequestError')).toBe(true);
    expect((thrown as Error).message).toBe('body.data.people[0].email: not an email address');
  });

  it('drops empty strings, control characters and unreadable phones instead of sending them', () => {
    const person = toPerson(
      {
        email: 'a@b.example',
        first_name: '',
        last_name: 'Tw\u0000ain\n',
        title: '   ',
        direct_phone: 'call me maybe',
        other_phone: '+44 20 7946 0958',
        label_names: ['', 'vip', 'vip'],
      },
      'b',
      options,
    );

    expect(person.fields).toEqual({
      email: 'a@b.example',
      last_name: 'Tw ain',
      other_phone: '+442079460958',
      label_names: ['vip'],
    });
    expect(person.droppedPhones).toEqual(['direct_phone']);
    expect(Object.values(person.fields)).not.toContain('');
  });

  it('gives the same fingerprint to the same data and another to changed data', () => {
    const a = toPerson({ email: 'a@b.example', title: 'CEO' }, 'b', options);
    const b = toPerson({ title: 'CEO', email: 'A@B.example' }, 'b', options);
    const c = toPerson({ email: 'a@b.example', title: 'CTO' }, 'b', options);

    expect(b.fingerprint).toBe(a.fingerprint);
    expect(c.fingerprint).not.toBe(a.fingerprint);
  });

  it('carries Salesforce record ids in their 18-character form, as a CRM identity after the email', () => {
    const given15 = toPerson(
      { email: 'a@b.example', salesforce_contact_id: ' 0035e00000MaRyS ' },
      'b',
      options,
    );
    const given18 = toPerson(
      { email: 'a@b.example', salesforce_contact_id: '0035e00000MaRySaav' },
      'b',
      options,
    );
    const lead = toPerson({ email: 'a@b.example', salesforce_lead_id: '00Q5e00000JaNeA' }, 'b', options);

    expect(given15.fields).toEqual({ email: 'a@b.example', salesforce_contact_id: '0035e00000MaRySAAV' });
    expect(given18.fields).toEqual(given15.fields);
    expect(given18.fingerprint).toBe(given15.fingerprint);
    expect(lead.fields.salesforce_lead_id).toBe('00Q5e00000JaNeAEAV');
    expect(given15.identities).toEqual([
      ['email', 'a@b.example'],
      ['crm', 'salesforce', '0035e00000MaRySAAV'],
    ]);
  });

  it('refuses a Salesforce record id that is not one, naming the field', () => {
    for (const id of ['003', '0035e00000MaRyS!', '0035e00000MaRySXYZ']) {
      expect(() =>
        toPerson({ email: 'a@b.example', salesforce_lead_id: id }, 'body.person', options),
      ).toThrow(/^body\.person\.salesforce_lead_id: not a Salesforce record id$/);
    }
  });
});

describe('Function: toE164 and friends', () => {
  it.each([
    ['555-123-4567', '+15551234567'],
    ['(555) 123 4567', '+15551234567'],
    ['+1 555.123.4567', '+15551234567'],
    ['1-555-123-4567', '+15551234567'],
    ['011 49 30 901820', '+4930901820'],
    ['+49 30 901820', '+4930901820'],
  ])('reads %s as %s', (raw, e164) => {
    expect(toE164(raw, 'US')).toBe(e164);
  });

  it('reads nonsense as no number', () => {
    expect(toE164('12', 'US')).toBeUndefined();
    expect(toE164('n/a', 'US')).toBeUndefined();
  });

  it('hashes phones so the ledger never stores them', () => {
    expect(phoneHash('+15551234567')).not.toContain('5551234567');
    expect(phoneHash('+15551234567')).toBe(phoneHash('+15551234567'));
  });

  it('finds the domain of a website written in any common way', () => {
    expect(websiteDomain('greatamericanwriters.example')).toBe('greatamericanwriters.example');
    expect(websiteDomain('http://WWW.x.example/path?q=1')).toBe('x.example');
    expect(websiteDomain('not a url')).toBeUndefined();
  });
});

describe('Function: parseEnrichmentWebhook', () => {
  const event = (data: unknown, type = 'person.enrichment.completed') =>
    JSON.stringify({ type, timestamp: '2026-11-26T10:00:00Z', data });

  it('reads one person or a list of people', () => {
    const one = parseEnrichmentWebhook(event({ person: { email: 'a@b.example' } }), options);
    const many = parseEnrichmentWebhook(
      event({ people: [{ email: 'a@b.example' }, { email: 'c@d.example' }] }),
      options,
    );

    expect(one.kind === 'people' && one.people.map(keyOf)).toEqual([emailKey('a@b.example')]);
    expect(many.kind === 'people' && many.people.map(keyOf)).toEqual([
      emailKey('a@b.example'),
      emailKey('c@d.example'),
    ]);
  });

  it('ignores other event types without reading their data', () => {
    expect(parseEnrichmentWebhook(event('anything', 'person.deleted'), options)).toEqual({
      kind: 'ignored',
      type: 'person.deleted',
    });
  });

  it.each([
    ['not JSON', '{not json', 'body: not valid JSON'],
    ['an array', '[]', 'body: must be a JSON object'],
    ['no type', JSON.stringify({ timestamp: 'x' }), 'body.type: '],
    ['no timestamp', JSON.stringify({ type: 'person.enrichment.completed', data: {} }), 'body.timestamp: '],
    ['no person', event({}), 'body.data: must have "person" or "people"'],
    ['an empty list', event({ people: [] }), 'body.data.people: '],
    [
      '101 people',
      event({ people: Array.from({ length: 101 }, (_, i) => ({ email: `p${i}@x.example` })) }),
      'body.data.people: ',
    ],
    ['a number as email', event({ people: [{ email: 42 }] }), 'body.data.people[0].email: '],
    [
      'only people that cannot be converted',
      event({ people: [{ email: 'not-an-email' }, { email: 42 }] }),
      'body.data.people[0].email: not an email address',
    ],
    ['a single invalid person', event({ person: { email: 'not-an-email' } }), 'body.data.person.email: '],
    [
      'an over-long name',
      event({ person: { first_name: 'x'.repeat(201), email: 'a@b.example' } }),
      'body.data.person.first_name: ',
    ],
  ])('refuses %s with a message naming the field', (_case, body, message) => {
    expect(() => parseEnrichmentWebhook(body, options)).toThrow(message);
  });
});

describe('Partial acceptance: a list of people with invalid ones', () => {
  const event = (data: unknown) =>
    JSON.stringify({ type: 'person.enrichment.completed', timestamp: '2026-11-26T10:00:00Z', data });

  it('answers each invalid person at its index with the field and reason, and keeps the others', () => {
    const parsed = parseEnrichmentWebhook(
      event({
        people: [
          { email: 'a@b.example' },
          { email: 'not-an-email' },
          { email: 42 },
          null,
          { first_name: 'Ada' },
          { email: 'c@d.example' },
        ],
      }),
      options,
    );

    expect(parsed.kind).toBe('people');
    const entries = parsed.kind === 'people' ? parsed.people : [];
    expect(entries.map((entry) => (isInvalidPerson(entry) ? entry : entry.fields.email))).toEqual([
      'a@b.example',
      {
        id: null,
        status: 'invalid',
        contact_id: null,
        field: 'body.data.people[1].email',
        reason: 'not an email address',
      },
      expect.objectContaining({ status: 'invalid', field: 'body.data.people[2].email' }),
      expect.objectContaining({ status: 'invalid', field: 'body.data.people[3]' }),
      expect.objectContaining({
        status: 'invalid',
        field: 'body.data.people[4]',
        reason: expect.stringMatching(/^no identity/) as unknown,
      }),
      'c@d.example',
    ]);
  });

  it('makes only the person whose email holds a lone surrogate invalid', () => {
    const entries = parseContactsRequest(
      JSON.stringify({ people: [{ email: 'ok@b.example' }, { email: 'bad\ud800@b.example' }] }),
      options,
    );

    expect(entries[0]).toMatchObject({ fields: { email: 'ok@b.example' } });
    expect(entries[1]).toMatchObject({
      status: 'invalid',
      field: 'body.people[1].email',
      reason: 'not an email address',
    });
  });
});

describe('Emails beyond ASCII', () => {
  it.each([
    [
      'an IDN domain, sent to Apollo and keyed in punycode',
      'Ana@Bücher.example',
      'ana@xn--bcher-kva.example',
    ],
    [
      'a Unicode local part',
      'márk.twain@greatamericanwriters.example',
      'márk.twain@greatamericanwriters.example',
    ],
    ['both, in another script', '马克.吐温@例子.广告', '马克.吐温@xn--fsqu00a.xn--4rr70v'],
  ])('accepts %s', (_case, email, sent) => {
    const person = toPerson({ email }, 'body', options);

    expect(person.fields.email).toBe(sent);
    expect(person.match).toEqual({ email: sent });
  });

  it.each([
    ['an emoji local part', '📧@📧.example'],
    ['a full-width @', 'mark.twain\uFF20greatamericanwriters.example'],
    ['a space in the domain', 'a@b c.example'],
    ['a domain label starting with a hyphen', 'a@-b.example'],
    ['a doubled dot', 'a..b@c.example'],
    ['an over-long local part', `${'é'.repeat(33)}@b.example`],
  ])('still refuses %s', (_case, email) => {
    expect(() => toPerson({ email }, 'body', options)).toThrow('body.email: not an email address');
  });
});

describe('Function: parseContactsRequest', () => {
  it('reads a bare person or {people: [...]}', () => {
    expect(parseContactsRequest(JSON.stringify({ email: 'a@b.example' }), options).map(keyOf)).toEqual([
      emailKey('a@b.example'),
    ]);
    expect(
      parseContactsRequest(JSON.stringify({ people: [{ email: 'a@b.example' }] }), options).map(keyOf),
    ).toEqual([emailKey('a@b.example')]);
  });
});

describe('CRM record ids', () => {
  it('sends the ids to Apollo and makes each a CRM identity after the email', () => {
    // Act
    const person = toPerson(
      {
        email: 'ada@seq.example',
        hubspot_id: ' 1501 ',
        salesforce_contact_id: '003A0000006Vm9rIAC',
        salesforce_lead_id: '',
      },
      'body',
      options,
    );

    // Assess
    expect(person.fields).toEqual({
      email: 'ada@seq.example',
      hubspot_id: '1501',
      salesforce_contact_id: '003A0000006Vm9rIAC',
    });
    expect(person.identities).toEqual([
      ['email', 'ada@seq.example'],
      ['crm', 'hubspot', '1501'],
      ['crm', 'salesforce', '003A0000006Vm9rIAC'],
    ]);
  });

  it('gives a Salesforce record one identity whichever form the sender used (15 or 18 characters)', () => {
    const of = (id: string) =>
      toPerson(
        { first_name: 'Ada', last_name: 'Lovelace', salesforce_lead_id: id, organization_name: 'Seq' },
        'b',
        options,
      );

    expect(of('00QA0000006Vm9r').identities).toContainEqual(['crm', 'salesforce', '00QA0000006Vm9rMAC']);
    expect(of('00QA0000006Vm9rMAC').identities).toEqual(of('00QA0000006Vm9r').identities);
    expect(of('00QA0000006Vm9rmac').key).toBe(of('00QA0000006Vm9r').key);
  });

  it.each([
    ['hubspot_id', 'abc', 'not a HubSpot record id (digits)'],
    ['hubspot_id', '1'.repeat(21), 'not a HubSpot record id (digits)'],
    ['salesforce_contact_id', '003A0000006Vm9', 'not a Salesforce id (15 or 18 letters and digits)'],
    ['salesforce_lead_id', '00QA0000006Vm9r-AC', 'not a Salesforce id (15 or 18 letters and digits)'],
  ])('refuses a %s of the wrong form (%s)', (field, id, message) => {
    const parsed = personInputSchema.safeParse({ email: 'ada@seq.example', [field]: id });

    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({ path: [field], message });
  });
});
