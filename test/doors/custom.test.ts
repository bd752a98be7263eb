import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  authenticateCustom,
  customDelivery,
  customSource,
  formatPath,
  parseCustomBody,
  parseCustomSources,
  parsePath,
  type CustomSource,
} from '../../lib/doors/custom';
import { personInputSchema, type Person } from '../../lib/person';
import { CUSTOM_FIELDS } from '../../lib/doors/custom-sources';
import { isInvalidPerson } from '../../lib/requests';

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const OPTIONS = { defaultPhoneCountry: 'US' as const };
/** The ready-made maps the README documents. */
const EXAMPLES = parseCustomSources(read('docs/crm/custom-sources.example.json'));
const source = (name: string) => customSource(EXAMPLES, name);
const SECRET = 'a-long-enough-test-secret-1';

function sources(overrides: Record<string, unknown>): string {
  return JSON.stringify({
    clay: { secrets: [SECRET], fields: { email: 'email' }, ...overrides },
  });
}

describe('Function: parsePath', () => {
  it.each([
    ['email', ['email']],
    ['$.email', ['email']],
    ['$', []],
    ['person.work_email', ['person', 'work_email']],
    ['rows[0].email', ['rows', 0, 'email']],
    ['["Work Email"]', ['Work Email']],
    ['$["a.b"]["c \\"d\\""][12]', ['a.b', 'c "d"', 12]],
    ['data.first-name', ['data', 'first-name']],
  ])('reads %s', (text, steps) => {
    expect(parsePath(text)).toEqual(steps);
    expect(parsePath(`$${formatPath(steps)}`)).toEqual(steps);
  });

  it.each(['a..b', 'a[b]', 'a[-1]', '["unterminated]', 'a b', 'a.'])('refuses %s', (text) => {
    expect(() => parsePath(text)).toThrow(/is not a path/);
  });
});

describe('Function: parseCustomSources', () => {
  it('accepts the ready-made maps of the README, for Clay, Zapier, Make and n8n', () => {
    expect([...EXAMPLES.keys()]).toEqual(['clay', 'zapier', 'make', 'n8n']);
    expect(source('make')).toMatchObject({
      auth: 'secret',
      header: 'x-make-secret',
      people: ['people'],
      deliveryIdHeader: 'x-make-execution-id',
      labels: ['Make'],
    });
    expect(source('n8n')).toMatchObject({ auth: 'hmac-sha256', header: 'x-n8n-signature', people: [] });
  });

  it.each([
    ['not JSON', '{clay: 1}', 'CUSTOM_SOURCES: must be a JSON object of source name → source'],
    ['a list', '[]', 'CUSTOM_SOURCES: must be a JSON object of source name → source'],
    [
      'a source name that cannot be a path',
      JSON.stringify({ 'Clay Table': {} }),
      'CUSTOM_SOURCES: Clay Table: a source name is',
    ],
    [
      'a source that is not an object',
      JSON.stringify({ clay: 'x' }),
      'CUSTOM_SOURCES: clay: must be an object',
    ],
    ['an unknown setting', sources({ secret: 'x' }), 'CUSTOM_SOURCES: clay.secret: not a setting'],
    [
      'an unknown auth',
      sources({ auth: 'basic' }),
      'CUSTOM_SOURCES: clay.auth: must be "secret" or "hmac-sha256"',
    ],
    [
      'no secrets',
      sources({ secrets: [] }),
      'CUSTOM_SOURCES: clay.secrets: must be a list of one or two secrets',
    ],
    [
      'three secrets',
      sources({ secrets: [SECRET, SECRET, SECRET] }),
      'CUSTOM_SOURCES: clay.secrets: must be a list',
    ],
    ['a short secret', sources({ secrets: ['short'] }), 'CUSTOM_SOURCES: clay.secrets: must be a list'],
    [
      'a secret with a space',
      sources({ secrets: [`${SECRET} x`] }),
      'CUSTOM_SOURCES: clay.secrets: must be a list',
    ],
    ['no fields', sources({ fields: {} }), 'CUSTOM_SOURCES: clay.fields: must be an object'],
    [
      'an unknown field',
      sources({ fields: { emial: 'email' } }),
      'CUSTOM_SOURCES: clay.fields.emial: not a person field',
    ],
    [
      'a bad path',
      sources({ fields: { email: 'a..b' } }),
      'CUSTOM_SOURCES: clay.fields.email: "a..b" is not a path',
    ],
    [
      'a bad path in a list',
      sources({ fields: { email: ['ok', 1] } }),
      'CUSTOM_SOURCES: clay.fields.email[1]: must be a path',
    ],
    [
      'an empty list of paths',
      sources({ fields: { email: [] } }),
      'CUSTOM_SOURCES: clay.fields.email: needs at least one path',
    ],
    [
      'a bad people path',
      sources({ people: 'rows[x]' }),
      'CUSTOM_SOURCES: clay.people: "rows[x]" is not a path',
    ],
    ['a bad header', sources({ header: 'x secret' }), 'CUSTOM_SOURCES: clay.header: must be a header name'],
    ['bad labels', sources({ labels: 'Clay' }), 'CUSTOM_SOURCES: clay.labels: must be a list of list names'],
  ])('names the source and the setting or path at fault: %s', (_case, text, message) => {
    expect(() => parseCustomSources(text)).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: expect.stringContaining(message) as unknown,
      }),
    );
  });

  it('answers a source that is not configured with NotFoundError', () => {
    expect(() => customSource(EXAMPLES, 'hubspot')).toThrow(
      expect.objectContaining({ name: 'NotFoundError' }),
    );
  });
});

describe('Function: authenticateCustom', () => {
  const body = Buffer.from(read('events/custom-clay.json'));
  const rotating: CustomSource = { ...source('clay'), secrets: [SECRET, 'the-next-secret-of-the-rotation'] };
  const hmac = (secret: string, encoding: 'hex' | 'base64' | 'base64url') =>
    createHmac('sha256', secret).update(body).digest(encoding);
  const signed: CustomSource = { ...source('n8n'), secrets: [SECRET, 'the-next-secret-of-the-rotation'] };

  it('accepts either secret of a rotation in the source header', () => {
    for (const secret of rotating.secrets) {
      expect(() => authenticateCustom(rotating, { 'x-clay-secret': secret }, body)).not.toThrow();
    }
  });

  it.each([
    ['no header', {}],
    ['another secret', { 'x-clay-secret': 'local-zapier-secret-not-for-production' }],
    ['the secret under another header', { 'x-webhook-secret': SECRET }],
    ['a prefix of the secret', { 'x-clay-secret': SECRET.slice(0, -1) }],
  ])('refuses %s', (_case, headers) => {
    expect(() => authenticateCustom(rotating, headers, body)).toThrow(
      expect.objectContaining({ name: 'UnauthorizedError' }),
    );
  });

  it('accepts the HMAC-SHA256 of the raw body in hex, base64 or base64url, with or without sha256=, with either secret', () => {
    for (const secret of signed.secrets) {
      for (const given of [
        hmac(secret, 'hex'),
        hmac(secret, 'base64'),
        hmac(secret, 'base64url'),
        `sha256=${hmac(secret, 'hex')}`,
      ]) {
        expect(() => authenticateCustom(signed, { 'x-n8n-signature': given }, body)).not.toThrow();
      }
    }
  });

  it.each([
    ['no signature', undefined],
    ['the secret itself', SECRET],
    [
      'an HMAC under another secret',
      createHmac('sha256', 'some-other-secret-entirely').update(body).digest('hex'),
    ],
    ['an HMAC of another body', createHmac('sha256', SECRET).update('{}').digest('hex')],
    ['junk', 'sha256=zz'],
  ])('refuses %s in the signature header', (_case, given) => {
    expect(() =>
      authenticateCustom(signed, given === undefined ? {} : { 'x-n8n-signature': given }, body),
    ).toThrow(expect.objectContaining({ name: 'UnauthorizedError' }));
  });
});

describe('Function: parseCustomBody', () => {
  it("reads Clay's templated body: empty columns are absent, the source's labels are added", () => {
    const [person] = parseCustomBody(source('clay'), read('events/custom-clay.json'), OPTIONS) as Person[];

    expect(person?.fields).toEqual({
      email: 'dorothy.vaughan@fortranlab.example',
      first_name: 'Dorothy',
      last_name: 'Vaughan',
      organization_name: 'Fortran Lab',
      website_url: 'fortranlab.example',
      title: 'Supervisor, West Area Computing',
      mobile_phone: '+15550101910',
      label_names: ['Clay'],
    });
  });

  it("reads Zapier's flat body, numbers as text and the HubSpot id as an identity", () => {
    const [person] = parseCustomBody(
      source('zapier'),
      read('events/custom-zapier.json'),
      OPTIONS,
    ) as Person[];

    expect(person?.fields).toMatchObject({
      direct_phone: '+15550101921',
      hubspot_id: '1504',
      label_names: ['Zapier'],
    });
    expect(person?.identities).toContainEqual(['crm', 'hubspot', '1504']);
  });

  it("reads Make's list of people with nested paths, one person without email", () => {
    const people = parseCustomBody(source('make'), read('events/custom-make.json'), OPTIONS) as Person[];

    expect(people.map((person) => person.fields)).toEqual([
      {
        email: 'annie.easley@centaur.example',
        first_name: 'Annie',
        last_name: 'Easley',
        organization_name: 'Centaur Rockets',
        website_url: 'centaur.example',
        title: 'Computer Scientist',
        direct_phone: '+15550101933',
        label_names: ['Make'],
      },
      {
        first_name: 'Christine',
        last_name: 'Darden',
        organization_name: 'Sonic Boom Labs',
        mobile_phone: '+15550101942',
        label_names: ['Make'],
      },
    ]);
  });

  it('reads a top-level list (n8n), trying the paths of a field in order', () => {
    const body = JSON.stringify([
      { Email: 'first@ex.example' },
      { email: 'second@ex.example', Email: 'ignored@ex.example', firstName: 'Sec' },
    ]);

    const people = parseCustomBody(source('n8n'), body, OPTIONS) as Person[];

    expect(people.map((person) => person.fields.email)).toEqual(['first@ex.example', 'second@ex.example']);
  });

  it('answers each invalid person at its position in the list, and converts the others', () => {
    const body = JSON.stringify({
      people: [
        { email: 'ok@ex.example' },
        'not a person',
        { email: 'nope' },
        { first_name: 'No', last_name: 'Company' },
      ],
    });

    const entries = parseCustomBody(source('make'), body, OPTIONS);

    expect(entries.map((entry) => (isInvalidPerson(entry) ? entry.field : 'valid'))).toEqual([
      'valid',
      'body.people[1]',
      'body.people[2].email',
      'body.people[3]',
    ]);
  });

  it('never reads inherited properties: constructor, toString or __proto__ find nothing unless the body has them', () => {
    const tricky = parseCustomSources(
      sources({ fields: { email: ['constructor.name', 'toString', '__proto__.email', 'email'] } }),
    );

    const [person] = parseCustomBody(
      customSource(tricky, 'clay'),
      '{"email": "real@ex.example"}',
      OPTIONS,
    ) as Person[];

    expect(person?.fields.email).toBe('real@ex.example');
  });

  it.each([
    ['make', 'not JSON', '{"people": [', /^body: not valid JSON/],
    [
      'make',
      'no list',
      '{"people": {"email": "a@b.example"}}',
      /^body\.people: must be a list of 1 to 100 people/,
    ],
    ['make', 'an empty list', '{"people": []}', /^body\.people: must be a list of 1 to 100 people/],
    [
      'make',
      '101 people',
      JSON.stringify({ people: Array.from({ length: 101 }, (_, i) => ({ email: `p${i}@ex.example` })) }),
      /^body\.people: must be a list of 1 to 100/,
    ],
    [
      'make',
      'only invalid people',
      '{"people": [{"email": "nope"}, {}]}',
      /^body\.people\[0\]\.email: not an email address/,
    ],
    [
      'clay',
      'a list for one person',
      '[{"email": "a@b.example"}]',
      /^body: must be a JSON object \(one person\)/,
    ],
    ['clay', 'a person without identity', '{"first_name": "Ada"}', /^body: no identity/],
    ['clay', 'an object where text is due', '{"email": {"value": "a@b.example"}}', /^body\.email: /],
  ])('refuses %s: %s with a 400 naming the field', (name, _case, body, message) => {
    expect(() => parseCustomBody(source(name), body, OPTIONS)).toThrow(
      expect.objectContaining({
        name: 'InvalidRequestError',
        message: expect.stringMatching(message) as unknown,
      }),
    );
  });
});

describe('Function: customDelivery', () => {
  it("answers a delivery once per the sender's id, kept apart from other doors' ids", () => {
    const body = Buffer.from('{}');

    expect(customDelivery(source('make'), { 'x-make-execution-id': ' 42 ' }, body)).toEqual({
      id: 'custom:make:42',
      body,
    });
    expect(customDelivery(source('make'), {}, body)).toBeUndefined();
    expect(customDelivery(source('clay'), { 'x-make-execution-id': '42' }, body)).toBeUndefined();
  });
});

describe('CUSTOM_FIELDS', () => {
  it('lists every field of the person input, and nothing else (a map may fill any of them)', () => {
    expect([...CUSTOM_FIELDS].sort()).toEqual(Object.keys(personInputSchema.def.shape).sort());
  });
});
