import fc from 'fast-check';
import {
  ORG_ID,
  PIPEDRIVE_BASIC_AUTH,
  SALESFORCE_SECRET,
  basicAuthorization,
  outboundMessage,
  pipedrivePerson,
  pipedriveV1,
  pipedriveV2,
} from './crm-messages';

/**
 * fast-check arbitraries for the CRM doors' hostile-input properties
 * (test/crm-doors-fuzz.property.test.ts). Each generated request carries a `kind`, so the
 * properties can check that every kind was tried, and a short `label` for failure reports.
 */

const MAX_BODY_BYTES = 1024 * 1024;

export interface SalesforceRequest {
  kind: string;
  label: string;
  body: string | Buffer;
  secret?: string;
}

export interface PipedriveRequest {
  kind: string;
  label: string;
  body: string;
  authorization?: string | null;
}

const preview = (text: string) =>
  text.length > 160 ? `${JSON.stringify(text.slice(0, 160))}…` : JSON.stringify(text);

/** A valid message of 1 to 3 Contacts with plain example.test emails. */
const validMessage = fc.integer({ min: 1, max: 3 }).map((count) =>
  outboundMessage(
    Array.from({ length: count }, (_, index) => ({
      type: 'Contact',
      fields: { Email: `fuzz${index}@doors.example`, FirstName: 'Fuzz', LastName: `Person ${index}` },
    })),
  ),
);

// ---------------------------------------------------------------------------------------------
// Salesforce: bodies that are not Outbound Messages, or are refused for what they declare
// ---------------------------------------------------------------------------------------------

/** Anything at all: text, bytes, JSON, markup-looking text. */
const salesforceGarbage: fc.Arbitrary<SalesforceRequest> = fc.oneof(
  fc.string({ maxLength: 300 }).map((body) => ({ kind: 'text', label: preview(body), body })),
  fc
    .string({ unit: 'binary', maxLength: 300 })
    .map((body) => ({ kind: 'unicode', label: preview(body), body })),
  fc
    .uint8Array({ maxLength: 300 })
    .map((bytes) => ({ kind: 'bytes', label: `${bytes.length} bytes`, body: Buffer.from(bytes) })),
  fc.jsonValue().map((value) => {
    const body = JSON.stringify(value) ?? 'null';
    return { kind: 'json', label: preview(body), body };
  }),
  fc
    .array(
      fc.constantFrom(
        '<',
        '>',
        '/',
        '&',
        ';',
        '"',
        '=',
        ':',
        '!',
        '?',
        '[',
        ']',
        'a',
        'xmlns',
        'sObject',
        '#x0;',
        ' ',
      ),
      {
        maxLength: 80,
      },
    )
    .map((parts) => {
      const body = parts.join('');
      return { kind: 'markup', label: preview(body), body };
    }),
);

/** A DTD in any of its forms, before, inside or instead of a valid message. */
const dtdAttack: fc.Arbitrary<SalesforceRequest> = fc
  .record({
    declaration: fc.constantFrom(
      '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>',
      '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
      '<!DOCTYPE foo SYSTEM "http://127.0.0.1:9/evil.dtd">',
      '<!DOCTYPE foo [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
      '<!doctype foo>',
      '<!DOCTYPE\nfoo [ <!ELEMENT foo ANY> ]>',
      '<!ENTITY stray "x">',
      '<! DOCTYPE foo>',
    ),
    where: fc.constantFrom('prolog', 'body', 'only'),
    entity: fc.constantFrom('&lol2;', '&xxe;', '&p;', ''),
    message: validMessage,
  })
  .map(({ declaration, where, entity, message }) => {
    const withoutDeclaration = message.replace('<?xml version="1.0" encoding="UTF-8"?>\n', '');
    const body =
      where === 'only'
        ? declaration
        : where === 'prolog'
          ? `<?xml version="1.0"?>${declaration}${withoutDeclaration.replace('<sf:FirstName>Fuzz', `<sf:FirstName>Fuzz${entity}`)}`
          : withoutDeclaration.replace('<Notification>', `${declaration}<Notification>`);
    return { kind: 'dtd', label: `${declaration.slice(0, 40)} in ${where}`, body };
  });

/** A valid message with something refused inside: a bad reference, a bad id, a wrong count, deep nesting. */
const brokenMessage: fc.Arbitrary<SalesforceRequest> = fc.oneof(
  fc
    .record({
      reference: fc.oneof(
        fc.constantFrom(
          '&#0;',
          '&#xD800;',
          '&#x110000;',
          '&nbsp;',
          '&lol;',
          '& ',
          '&amp',
          '&#;',
          '&#x;',
          '&#12a;',
        ),
        fc
          .stringMatching(/^&[a-z]{1,8};$/)
          .filter((text) => !['&amp;', '&lt;', '&gt;', '&quot;', '&apos;'].includes(text)),
      ),
      message: validMessage,
    })
    .map(({ reference, message }) => ({
      kind: 'bad-reference',
      label: reference,
      body: message.replace('<sf:FirstName>Fuzz', `<sf:FirstName>Fuzz${reference}`),
    })),
  fc
    .oneof(
      fc.constantFrom(
        '',
        'x',
        '00D',
        '00D00000000000',
        '00D000000000001EAAX',
        '00D000000000001AAA',
        '00D00000000000!',
      ),
      fc.string({ maxLength: 30 }).filter((text) => !/^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/.test(text.trim())),
    )
    .map((organizationId) => ({
      kind: 'bad-org-id',
      label: JSON.stringify(organizationId),
      body: outboundMessage([{ type: 'Contact', fields: { Email: 'a@doors.example' } }], {
        organizationId: organizationId.replace(/[<&]/g, ''),
      }),
    })),
  fc.constantFrom(0, 101, 150).map((count) => ({
    kind: 'notification-count',
    label: `${count} notifications`,
    body: outboundMessage(
      Array.from({ length: count }, (_, index) => ({
        type: 'Contact',
        fields: { Email: `n${index}@doors.example` },
      })),
    ),
  })),
  fc.integer({ min: 17, max: 3000 }).map((depth) => ({
    kind: 'deep',
    label: `${depth} levels`,
    body: outboundMessage([
      {
        type: 'Contact',
        fields: { Email: 'a@doors.example' },
        raw: `${'<sf:X>'.repeat(depth)}${'</sf:X>'.repeat(depth)}`,
      },
    ]),
  })),
  fc
    .record({ message: validMessage, cut: fc.nat(), length: fc.integer({ min: 1, max: 40 }) })
    .map(({ message, cut, length }) => {
      // Cutting inside the markup (never inside a text or between elements): the tags no longer pair up.
      const tags = [...message.matchAll(/<[^>]+>/g)];
      const tag = tags[cut % tags.length] as RegExpMatchArray;
      const start = (tag.index ?? 0) + 1;
      const body = message.slice(0, start) + message.slice(start + Math.min(length, tag[0].length - 2));
      return { kind: 'truncated-tag', label: `${tag[0]} cut by ${length}`, body };
    })
    .filter(({ body }) => !body.includes('<>')),
  fc.integer({ min: MAX_BODY_BYTES + 1, max: MAX_BODY_BYTES + 50_000 }).map((bytes) => ({
    kind: 'oversized',
    label: `${bytes} bytes`,
    body: `<a>${'x'.repeat(bytes - 7)}</a>`,
  })),
);

/** A valid message sent with a secret that is not the configured one. */
const wrongSecret: fc.Arbitrary<SalesforceRequest> = fc
  .record({
    secret: fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom(
        '',
        SALESFORCE_SECRET.toUpperCase(),
        `${SALESFORCE_SECRET} `,
        SALESFORCE_SECRET.slice(0, -1),
      ),
    ),
    message: validMessage,
  })
  .filter(({ secret }) => secret !== SALESFORCE_SECRET)
  .map(({ secret, message }) => ({
    kind: 'wrong-secret',
    label: JSON.stringify(secret),
    body: message,
    secret,
  }));

/** A valid message from an org that is not configured (a well-formed id). */
const otherOrg: fc.Arbitrary<SalesforceRequest> = fc
  .stringMatching(/^00D[A-Za-z0-9]{12}$/)
  .filter((id) => id !== ORG_ID.slice(0, 15))
  .map((organizationId) => ({
    kind: 'other-org',
    label: organizationId,
    body: outboundMessage([{ type: 'Contact', fields: { Email: 'a@doors.example' } }], { organizationId }),
  }));

/** Refused whole: 400, 401 or 413, never a 5xx, nothing written. */
export const refusedSalesforceRequest: fc.Arbitrary<SalesforceRequest> = fc.oneof(
  { weight: 4, arbitrary: salesforceGarbage },
  { weight: 2, arbitrary: dtdAttack },
  { weight: 4, arbitrary: brokenMessage },
  { weight: 2, arbitrary: wrongSecret },
  { weight: 1, arbitrary: otherOrg },
);

/** Any field text, escaped as XML so the message stays well-formed. */
const escapedText = fc
  .oneof(
    fc.string({ maxLength: 80 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom('', ' ', 'N/A', '☎️', '+1 555'),
  )
  .map((text) =>
    // Raw control characters stay (the reader tolerates them; the person's text is cleaned after).
    text.toWellFormed().replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
  );

const CONTACT_FIELD_NAMES = [
  'FirstName',
  'LastName',
  'Email',
  'Title',
  'Phone',
  'MobilePhone',
  'HomePhone',
  'OtherPhone',
  'MailingCity',
  'Id',
  'Unknown__c',
];

/**
 * Well-formed messages of Contacts and Leads whose fields are anything: each notification is
 * converted or answered `invalid`, and the message is acknowledged.
 */
export const hostileSalesforceMessage: fc.Arbitrary<SalesforceRequest> = fc
  .array(
    fc.record({
      type: fc.constantFrom('Contact', 'Lead', 'Account'),
      fields: fc.dictionary(fc.constantFrom(...CONTACT_FIELD_NAMES, 'Company', 'Website'), escapedText, {
        maxKeys: 8,
      }),
      // Half the people get a real address, so some are converted and some are not.
      email: fc.option(fc.constantFrom('lower', 'UPPER', ' padded '), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((specs) => {
    const notifications = specs.map(({ type, fields, email }, index) => {
      const address = `fuzz${index}@doors.example`;
      const spelled =
        email === 'UPPER' ? address.toUpperCase() : email === ' padded ' ? ` ${address} ` : address;
      return { type, fields: email === undefined ? fields : { ...fields, Email: spelled } };
    });
    return {
      kind: 'hostile-fields',
      label: JSON.stringify(notifications).slice(0, 200),
      body: outboundMessage(notifications),
    };
  });

// ---------------------------------------------------------------------------------------------
// Pipedrive
// ---------------------------------------------------------------------------------------------

/** Refused whole: 400, 401 or 413, never a 5xx, nothing written. */
export const refusedPipedriveRequest: fc.Arbitrary<PipedriveRequest> = fc.oneof(
  fc
    .string({ maxLength: 200 })
    .filter((text) => {
      try {
        const parsed: unknown = JSON.parse(text);
        return typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !('meta' in parsed);
      } catch {
        return true;
      }
    })
    .map((body) => ({ kind: 'not-json', label: preview(body), body })),
  fc
    .jsonValue()
    .filter(
      (value) => typeof value !== 'object' || value === null || Array.isArray(value) || !('meta' in value),
    )
    .map((value) => {
      const body = JSON.stringify(value) ?? 'null';
      return { kind: 'json-without-meta', label: preview(body), body };
    }),
  fc
    .dictionary(
      fc.constantFrom('action', 'id', 'attempt', 'timestamp', 'company_id', 'vv', 'versions'),
      fc.jsonValue(),
      { maxKeys: 5 },
    )
    .map((meta) => ({
      kind: 'unknown-meta',
      label: JSON.stringify(meta).slice(0, 160),
      body: JSON.stringify({ meta, data: {} }),
    })),
  fc
    .record({
      action: fc.constantFrom('create', 'change', 'added', 'updated'),
      data: fc.oneof(
        fc.constant(null),
        fc.string(),
        fc.integer(),
        fc.array(fc.jsonValue(), { maxLength: 3 }),
        fc.boolean(),
      ),
    })
    .map(({ action, data }) => {
      const body = ['added', 'updated'].includes(action)
        ? pipedriveV1(action, null)
        : pipedriveV2(action, null);
      if (['added', 'updated'].includes(action)) body.current = data;
      else body.data = data;
      return {
        kind: 'person-not-an-object',
        label: `${action}: ${JSON.stringify(data)}`.slice(0, 160),
        body: JSON.stringify(body),
      };
    }),
  fc
    .record({
      authorization: fc.oneof(
        fc.constant(null),
        fc.string({ maxLength: 80 }),
        fc.string({ maxLength: 40 }).map((credentials) => basicAuthorization(credentials)),
        fc.constantFrom(
          basicAuthorization(PIPEDRIVE_BASIC_AUTH.toUpperCase()),
          basicAuthorization(`${PIPEDRIVE_BASIC_AUTH} `),
          `Bearer ${Buffer.from(PIPEDRIVE_BASIC_AUTH).toString('base64')}`,
          `Basic ${Buffer.from(PIPEDRIVE_BASIC_AUTH).toString('base64')}!`,
        ),
      ),
    })
    .filter(({ authorization }) => authorization !== basicAuthorization())
    .map(({ authorization }) => ({
      kind: 'wrong-credentials',
      label: JSON.stringify(authorization),
      body: JSON.stringify(pipedriveV2('create', pipedrivePerson())),
      authorization,
    })),
  fc.integer({ min: MAX_BODY_BYTES + 1, max: MAX_BODY_BYTES + 50_000 }).map((bytes) => {
    const event = pipedriveV2('create', pipedrivePerson({ padding: '' }));
    const base = JSON.stringify(event).length;
    const body = JSON.stringify(
      pipedriveV2('create', pipedrivePerson({ padding: 'x'.repeat(bytes - base) })),
    );
    return { kind: 'oversized', label: `${body.length} bytes`, body };
  }),
);

/** Events Pipedrive acknowledges and the door ignores: deletions, other entities, other actions. */
export const ignoredPipedriveEvent: fc.Arbitrary<PipedriveRequest> = fc
  .record({
    version: fc.constantFrom(1, 2),
    action: fc.oneof(
      fc.constantFrom('delete', 'deleted', 'create', 'change', 'added', 'updated'),
      fc.string({ maxLength: 20 }),
    ),
    entity: fc.oneof(
      fc.constantFrom('person', 'deal', 'organization', 'lead', 'activity', 'Person'),
      fc.string({ maxLength: 20 }),
    ),
    data: fc.oneof(fc.constant(null), fc.jsonValue()),
  })
  .filter(({ version, action, entity }) => {
    const converts = version === 2 ? ['create', 'change'] : ['added', 'updated', 'merged'];
    return !(entity === 'person' && converts.includes(action));
  })
  .map(({ version, action, entity, data }) => {
    const person = (
      typeof data === 'object' && data !== null && !Array.isArray(data) ? data : null
    ) as Record<string, unknown> | null;
    const body = version === 2 ? pipedriveV2(action, person, { entity }) : pipedriveV1(action, person);
    if (version === 1) (body.meta as Record<string, unknown>).object = entity;
    return { kind: `ignored-v${version}`, label: `${action}.${entity}`, body: JSON.stringify(body) };
  });

const PERSON_KEYS = [
  'first_name',
  'last_name',
  'name',
  'emails',
  'email',
  'phones',
  'phone',
  'org_id',
  'org_name',
  'job_title',
  'organization',
  'id',
];

/** A person field's value as anything JSON can hold, or as Pipedrive's own shapes with hostile values. */
const hostileValue = fc.oneof(
  fc.jsonValue(),
  fc.string({ maxLength: 400 }),
  fc.array(
    fc.record(
      {
        value: fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.integer(),
          fc.constant(null),
          fc.constantFrom('a@b.example', '555-123-4567'),
        ),
        label: fc.oneof(
          fc.constantFrom('work', 'mobile', 'home', 'other', 'WORK', ''),
          fc.string({ maxLength: 10 }),
          fc.integer(),
        ),
        primary: fc.oneof(fc.boolean(), fc.constant('true'), fc.constant(null)),
      },
      { requiredKeys: [] },
    ),
    { maxLength: 4 },
  ),
);

/** Person events (v2 and v1) whose person fields are anything: answered 200, converted or `invalid`. */
export const hostilePipedrivePerson: fc.Arbitrary<PipedriveRequest> = fc
  .record({
    version: fc.constantFrom(1, 2),
    person: fc.dictionary(fc.constantFrom(...PERSON_KEYS), hostileValue, { maxKeys: 8 }),
    previous: fc.oneof(
      fc.constant(null),
      fc.dictionary(fc.constantFrom(...PERSON_KEYS), fc.jsonValue(), { maxKeys: 3 }),
    ),
  })
  .map(({ version, person, previous }) => {
    const body =
      version === 2 ? pipedriveV2('change', person, { previous }) : pipedriveV1('updated', person, previous);
    return {
      kind: `person-v${version}`,
      label: JSON.stringify(person).slice(0, 200),
      body: JSON.stringify(body),
    };
  });
