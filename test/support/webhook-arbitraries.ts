import { domainToASCII } from 'node:url';
import fc from 'fast-check';
import { signedWebhookHeaders } from '../../lib/webhook-signature';
import { stripInvisible } from '../../lib/identity';
import { MARK_TWAIN } from './people';
import { WEBHOOK_SECRET } from './service-harness';

/**
 * fast-check arbitraries for the webhook handler's property tests (test/webhook-fuzz.property.test.ts):
 * badly signed deliveries, correctly signed bodies that are not valid requests, event types the
 * service ignores, and batches of valid people with hostile content.
 *
 * Every generated request is a small description plus the raw body; the signature headers are made
 * when the request is sent, so a case replayed while shrinking is still fresh (or stale) as meant.
 */

const ENRICHMENT_COMPLETED = 'person.enrichment.completed';
export const MAX_BODY_BYTES = 1024 * 1024;
export const PHONE_FIELDS = [
  'direct_phone',
  'corporate_phone',
  'mobile_phone',
  'home_phone',
  'other_phone',
] as const;
type PhoneField = (typeof PHONE_FIELDS)[number];
export const E164 = /^\+\d{6,15}$/;
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const BLANK_OR_CONTROL = /[\u0000-\u001f\u007f-\u009f\s]/g;
/** A deliberately loose email shape: whatever fails it is not an email by any standard. */
const LOOSE_EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const nowSeconds = () => Math.floor(Date.now() / 1000);
/** Blank as the service sees it: nothing left once whitespace, controls and invisible characters are gone. */
export const isBlank = (text: string) => stripInvisible(text).replace(BLANK_OR_CONTROL, '') === '';
/** What a text field comes to once control characters and surrounding whitespace are gone. */
/** As the service cleans text: invisible characters (`stripInvisible`) dropped, blanks and controls as spaces. */
const cleaned = (text: string) =>
  stripInvisible(text).normalize('NFC').replace(BLANK_OR_CONTROL, ' ').replace(/\s+/g, ' ').trim();

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

function preview(text: string, max = 240): string {
  return text.length > max
    ? `${JSON.stringify(text.slice(0, max))}… (${text.length} chars)`
    : JSON.stringify(text);
}

export function envelope(data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: ENRICHMENT_COMPLETED, timestamp: new Date().toISOString(), data, ...extra };
}

/** JSON text with the string `"__RAW__"` replaced by `raw` (for nesting too deep to build as objects). */
export function withRaw(value: unknown, raw: string): string {
  return JSON.stringify(value).replace('"__RAW__"', () => raw);
}

function signedHeaders(
  body: string,
  { id = 'msg_fuzz', timestamp = nowSeconds(), secret = WEBHOOK_SECRET } = {},
): Record<string, string> {
  return {
    'content-type': 'application/json',
    ...signedWebhookHeaders(body, secret, { id, timestampSeconds: timestamp }),
  };
}

/**
 * One generated request. `headers` runs at send time (undefined: signed correctly by the harness).
 * Printed in counterexamples as its label and the start of the body.
 */
export class Delivery {
  constructor(
    /** Which kind of case this is, to check the generators reach every kind. */
    readonly kind: string,
    readonly label: string,
    readonly body: string,
    readonly headers?: (now: number) => Record<string, string>,
  ) {}

  [fc.toStringMethod](): string {
    return `Delivery<${this.kind}: ${this.label}> body=${preview(this.body)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile text
// ---------------------------------------------------------------------------------------------

export const controlCharacter = fc
  .oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f }))
  .map((code) => String.fromCharCode(code));

const HOSTILE_WORDS = [
  'Zoë',
  'José Ñúñez',
  '李小龙',
  'محمد بن سلمان',
  'שָׁלוֹם',
  '\u202Eevil\u202C',
  '\u200F\u05d0\u05d1\u200E',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  "O'Brien",
  'Ⅻ',
  'ﬁnance',
  'ǅ',
  'İstanbul',
  'Straße',
  'Ὀδυσσεύς',
  'e\u0301',
  'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗͓̎',
  '\u200B',
  '\uFEFF',
  'x\u2028y',
  'a\u00A0b',
  '<script>alert(1)</script>',
  "'; DROP TABLE contacts; --",
  '${jndi:ldap://x}',
  '%s%n',
  'null',
  'undefined',
  '\\',
  '"',
  '{}',
  '\ud83d',
  '\udc00',
];

export const blankPadding = fc
  .array(fc.oneof(controlCharacter, fc.constantFrom(' ', '\t', '\n', '\r\n', '\u00A0', '\u3000')), {
    maxLength: 3,
  })
  .map((parts) => parts.join(''));

/** Unicode, emojis, RTL, combining marks, control characters: anything a name field may carry. */
export const hostileText = (maxLength = 60) =>
  fc
    .oneof(
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom(...HOSTILE_WORDS),
      fc
        .array(
          fc.oneof(
            controlCharacter,
            fc.constantFrom(...HOSTILE_WORDS),
            fc.string({ unit: 'grapheme', maxLength: 4 }),
            fc.constantFrom(' ', '\t', '\n', '\r\n'),
          ),
          { maxLength: 8 },
        )
        .map((parts) => parts.join('')),
    )
    .filter((text) => text.length <= maxLength);

export const nonBlankHostileText = (maxLength = 60) =>
  hostileText(maxLength).filter((text) => !isBlank(text));

// ---------------------------------------------------------------------------------------------
// Valid deliveries (the bodies the signature tests tamper with)
// ---------------------------------------------------------------------------------------------

const validBody = fc
  .record({
    n: fc.nat({ max: 9999 }),
    shape: fc.constantFrom('person', 'people'),
    title: hostileText(),
  })
  .map(({ n, shape, title }) => {
    const person = { ...MARK_TWAIN, title, email: `mark.twain+${n}@greatamericanwriters.example` };
    return JSON.stringify(envelope(shape === 'person' ? { person } : { people: [person] }));
  });

// ---------------------------------------------------------------------------------------------
// 1. Signatures that must be refused
// ---------------------------------------------------------------------------------------------

const SIGNATURE_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

const otherSecret = fc
  .uint8Array({ minLength: 8, maxLength: 64 })
  .map((bytes) => 'whsec_' + Buffer.from(bytes).toString('base64'))
  .filter((secret) => secret !== WEBHOOK_SECRET);

const garbageSignature = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.base64String({ minLength: 4, maxLength: 88 }).map((b64) => `v1,${b64}`),
  fc
    .uint8Array({ minLength: 32, maxLength: 32 })
    .map((bytes) => `v1,${Buffer.from(bytes).toString('base64')}`),
  fc.string({ maxLength: 60 }).map((text) => `v1,${text}`),
  fc.constantFrom('v1,', 'v1', ',', 'v1, ', 'v1,=', 'v1,AAAA', 'v2,'),
  fc
    .array(fc.base64String({ minLength: 44, maxLength: 44 }), { minLength: 2, maxLength: 4 })
    .map((sigs) => sigs.map((sig) => `v1,${sig}`).join(' ')),
);

/** Timestamp headers that are not a plain count of seconds; signed for the current second. */
const malformedTimestamp = fc.oneof(
  fc.constantFrom(
    '12abc',
    '',
    ' ',
    '-5',
    '-1',
    '1e9',
    '0x65',
    '1.5',
    'NaN',
    'Infinity',
    '99999999999999999999',
  ),
  fc.constantFrom('abc', 'Z', ' ', '.0', 'e3', '\u0000', '٣').map((suffix) => ({ suffix })),
  fc.constantFrom('+', '-', ' ', '\t', '0x').map((prefix) => ({ prefix })),
  fc.string().filter((text) => !/^\d+$/.test(text)),
);

type SignatureFault =
  | { kind: 'missing'; headers: string[] }
  | { kind: 'emptied'; headers: string[]; value: string }
  | { kind: 'garbage-signature'; signature: string }
  | { kind: 'wrong-version'; prefix: string }
  | { kind: 'signed-other-body'; change: 'append' | 'flip' | 'other'; other: string; at: number }
  | { kind: 'other-secret'; secret: string }
  | { kind: 'other-id'; id: string }
  | { kind: 'malformed-timestamp'; value: string | { suffix: string } | { prefix: string } }
  | { kind: 'stale' | 'future'; offsetSeconds: number }
  | { kind: 'huge-timestamp'; digits: string };

const signatureFault: fc.Arbitrary<SignatureFault> = fc.oneof(
  fc
    .subarray([...SIGNATURE_HEADERS], { minLength: 1 })
    .map((headers): SignatureFault => ({ kind: 'missing', headers })),
  fc
    .record({
      headers: fc.subarray([...SIGNATURE_HEADERS], { minLength: 1 }),
      value: fc.constantFrom('', ' ', '\t'),
    })
    .map((fault): SignatureFault => ({ kind: 'emptied', ...fault })),
  garbageSignature.map((signature): SignatureFault => ({ kind: 'garbage-signature', signature })),
  fc
    .constantFrom('v2,', 'V1,', 'v0,', 'v1a,', 'v1;', 'v1:', 'v1a2,', '', 'v1,v1,', 'v1 ')
    .map((prefix): SignatureFault => ({ kind: 'wrong-version', prefix })),
  fc
    .record({
      change: fc.constantFrom('append', 'flip', 'other'),
      other: validBody,
      at: fc.nat(),
    })
    .map((fault): SignatureFault => ({ kind: 'signed-other-body', ...fault })),
  otherSecret.map((secret): SignatureFault => ({ kind: 'other-secret', secret })),
  fc
    .string({ minLength: 1, maxLength: 40 })
    .filter((id) => id !== 'msg_fuzz' && id.trim() !== '')
    .map((id): SignatureFault => ({ kind: 'other-id', id })),
  malformedTimestamp.map((value): SignatureFault => ({ kind: 'malformed-timestamp', value })),
  fc
    .oneof(fc.integer({ min: 301, max: 400 }), fc.integer({ min: 301, max: 1_500_000_000 }))
    .map((offsetSeconds): SignatureFault => ({ kind: 'stale', offsetSeconds })),
  fc
    .oneof(fc.integer({ min: 305, max: 400 }), fc.integer({ min: 305, max: 100_000_000_000 }))
    .map((offsetSeconds): SignatureFault => ({ kind: 'future', offsetSeconds })),
  fc.stringMatching(/^[1-9]\d{12,30}$/).map((digits): SignatureFault => ({ kind: 'huge-timestamp', digits })),
);

/** Flips one character of `body` to another ASCII character. */
function flipOne(body: string, at: number): string {
  const index = at % body.length;
  const replacement = body[index] === 'x' ? 'y' : 'x';
  return body.slice(0, index) + replacement + body.slice(index + 1);
}

function faultyHeaders(fault: SignatureFault, body: string, now: number): Record<string, string> {
  const headers = signedHeaders(body, { timestamp: now });
  const signature = headers['webhook-signature'] as string;
  switch (fault.kind) {
    case 'missing':
      for (const name of fault.headers) delete headers[name];
      return headers;
    case 'emptied':
      for (const name of fault.headers) headers[name] = fault.value;
      return headers;
    case 'garbage-signature':
      return { ...headers, 'webhook-signature': fault.signature };
    case 'wrong-version':
      return { ...headers, 'webhook-signature': signature.replace(/^v1,/, fault.prefix) };
    case 'signed-other-body': {
      const signedBody =
        fault.change === 'append'
          ? `${body} `
          : fault.change === 'flip'
            ? flipOne(body, fault.at)
            : fault.other === body
              ? `${body}\n`
              : fault.other;
      return signedHeaders(signedBody, { timestamp: now });
    }
    case 'other-secret':
      return signedHeaders(body, { timestamp: now, secret: fault.secret });
    case 'other-id':
      return { ...signedHeaders(body, { timestamp: now, id: fault.id }), 'webhook-id': 'msg_fuzz' };
    case 'malformed-timestamp': {
      const value = fault.value;
      const timestamp =
        typeof value === 'string'
          ? value
          : 'suffix' in value
            ? `${now}${value.suffix}`
            : `${value.prefix}${now}`;
      return { ...headers, 'webhook-timestamp': timestamp };
    }
    case 'stale':
      return signedHeaders(body, { timestamp: now - fault.offsetSeconds });
    case 'future':
      return signedHeaders(body, { timestamp: now + fault.offsetSeconds });
    case 'huge-timestamp':
      return { ...headers, 'webhook-timestamp': fault.digits };
  }
}

export const badlySignedDelivery = fc
  .record({
    body: fc.oneof(
      { weight: 4, arbitrary: validBody },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
      { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    ),
    fault: signatureFault,
  })
  .map(
    ({ body, fault }) =>
      new Delivery(fault.kind, JSON.stringify(fault), body, (now) => faultyHeaders(fault, body, now)),
  );

// ---------------------------------------------------------------------------------------------
// 2. Correctly signed bodies that are not valid requests
// ---------------------------------------------------------------------------------------------

/** A body the handler must refuse with `status`. */
export class Invalid extends Delivery {
  constructor(
    kind: string,
    label: string,
    body: string,
    readonly status: 400 | 413,
    headers?: (now: number) => Record<string, string>,
  ) {
    super(kind, label, body, headers);
  }
}

const VALID_TWAIN_BODY = JSON.stringify(envelope({ person: MARK_TWAIN }));

const notJson = fc
  .oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.nat().map((at) => VALID_TWAIN_BODY.slice(0, at % VALID_TWAIN_BODY.length)),
    fc.constantFrom(
      `${VALID_TWAIN_BODY}}`,
      `${VALID_TWAIN_BODY}x`,
      `\uFEFF${VALID_TWAIN_BODY}`,
      VALID_TWAIN_BODY.replace(/"/g, "'"),
      VALID_TWAIN_BODY.replace('}', ',}'),
      `{"type": "${ENRICHMENT_COMPLETED}", "data": NaN}`,
      `{"type": "${ENRICHMENT_COMPLETED}" /* comment */}`,
      '',
      'null',
      '{',
      '}{',
    ),
  )
  .filter((text) => !isJsonObject(text))
  .map((text) => new Invalid('not-json', 'not JSON, or JSON that is not an object', text, 400));

const jsonNotObject = fc
  .jsonValue()
  .filter((value) => typeof value !== 'object' || value === null || Array.isArray(value))
  .map((value) => new Invalid('json-not-object', 'JSON that is not an object', JSON.stringify(value), 400));

const NEST_LOCATIONS = [
  'top',
  'type',
  'timestamp',
  'data',
  'person',
  'people',
  'people[0]',
  'first_name',
  'email',
  'label_names',
  'label_names[0]',
] as const;

export function nested(depth: number, shape: 'array' | 'object'): string {
  return shape === 'array'
    ? '['.repeat(depth) + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + '{}' + '}'.repeat(depth);
}

function deeplyNestedBody(at: (typeof NEST_LOCATIONS)[number], raw: string): string {
  const RAW = '__RAW__';
  switch (at) {
    case 'top':
      return raw;
    case 'type':
      return withRaw(envelope({ person: MARK_TWAIN }, { type: RAW }), raw);
    case 'timestamp':
      return withRaw(envelope({ person: MARK_TWAIN }, { timestamp: RAW }), raw);
    case 'data':
      return withRaw(envelope(RAW), raw);
    case 'person':
      return withRaw(envelope({ person: RAW }), raw);
    case 'people':
      return withRaw(envelope({ people: RAW }), raw);
    case 'people[0]':
      // Alone: beside a valid person it would be that batch's one invalid person (partlyInvalidDelivery).
      return withRaw(envelope({ people: [RAW] }), raw);
    case 'first_name':
      return withRaw(envelope({ person: { ...MARK_TWAIN, first_name: RAW } }), raw);
    case 'email':
      return withRaw(envelope({ person: { ...MARK_TWAIN, email: RAW } }), raw);
    case 'label_names':
      return withRaw(envelope({ person: { ...MARK_TWAIN, label_names: RAW } }), raw);
    case 'label_names[0]':
      return withRaw(envelope({ person: { ...MARK_TWAIN, label_names: [RAW] } }), raw);
  }
}

const deeplyNested = fc
  .record({
    depth: fc.oneof(
      fc.integer({ min: 2, max: 100 }),
      fc.integer({ min: 1000, max: 5000 }),
      fc.constant(5000),
    ),
    shape: fc.constantFrom('array', 'object'),
    at: fc.constantFrom(...NEST_LOCATIONS),
  })
  .map(
    ({ depth, shape, at }) =>
      new Invalid(
        'deeply-nested',
        `${depth} levels of ${shape}s at ${at}`,
        deeplyNestedBody(at, nested(depth, shape)),
        400,
      ),
  );

/** Each text field's limit, in characters (code points). */
export const TEXT_LIMITS = {
  first_name: 200,
  last_name: 200,
  email: 320,
  organization_name: 300,
  website_url: 2048,
  title: 300,
  linkedin_url: 2048,
  present_raw_address: 1000,
  direct_phone: 64,
  corporate_phone: 64,
  mobile_phone: 64,
  home_phone: 64,
  other_phone: 64,
} as const;
type TextField = keyof typeof TEXT_LIMITS;
const TEXT_FIELDS = Object.keys(TEXT_LIMITS) as TextField[];

const hugeString = fc
  .record({
    field: fc.constantFrom<TextField | 'type' | 'label'>(...TEXT_FIELDS, 'type', 'label'),
    extra: fc.oneof(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 300_000 })),
    char: fc.constantFrom('x', 'é', '€', '😀', '\u0000', ' '),
  })
  .map(({ field, extra, char }) => {
    const limit = field === 'type' ? 200 : field === 'label' ? 200 : TEXT_LIMITS[field];
    // Characters (code points, as the limits count them) over the limit, bytes well under 1 MB.
    const bytesPerChar = Buffer.byteLength(JSON.stringify(char)) - 2;
    const text = char.repeat(Math.min(limit + extra, Math.floor(900_000 / bytesPerChar)));
    const body =
      field === 'type'
        ? JSON.stringify(envelope({ person: MARK_TWAIN }, { type: text }))
        : field === 'label'
          ? JSON.stringify(envelope({ person: { ...MARK_TWAIN, label_names: ['ok', text] } }))
          : JSON.stringify(envelope({ person: { ...MARK_TWAIN, [field]: text } }));
    return new Invalid('huge-string', `${field} of ${[...text].length} × ${JSON.stringify(char)}`, body, 400);
  });

/** Any JSON value that is not a string (and not null, which person fields allow). */
export const notAString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  fc.constant([MARK_TWAIN.email]),
  fc.constant({ value: MARK_TWAIN.email }),
);

type WrongType =
  | { at: 'type' | 'timestamp'; value: unknown }
  | { at: 'data' | 'person' | 'people'; value: unknown }
  | { at: 'field'; field: TextField; value: unknown; inPeople: boolean }
  | { at: 'label_names'; value: unknown };

const wrongType: fc.Arbitrary<WrongType> = fc.oneof(
  fc.record({
    at: fc.constant('type' as const),
    value: fc.oneof(notAString, fc.constant(null), fc.constant('')),
  }),
  fc.record({ at: fc.constant('timestamp' as const), value: fc.oneof(notAString, fc.constant(null)) }),
  fc.record({
    at: fc.constant('data' as const),
    value: fc.oneof(
      fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
      fc.constant({}),
      fc.constant({ persons: [MARK_TWAIN] }),
      fc.constant({ Person: MARK_TWAIN }),
      fc.constant([{ person: MARK_TWAIN }]),
    ),
  }),
  fc.record({
    at: fc.constant('person' as const),
    value: fc.oneof(
      fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
      fc.constant([MARK_TWAIN]),
    ),
  }),
  fc.record({
    at: fc.constant('people' as const),
    value: fc.oneof(
      fc.jsonValue().filter((v) => !Array.isArray(v)),
      fc.constant(MARK_TWAIN),
      fc.constant([[MARK_TWAIN]]),
      fc.constant([null]),
      fc.constant(['mark.twain@greatamericanwriters.example']),
    ),
  }),
  fc.record({
    at: fc.constant('field' as const),
    field: fc.constantFrom(...TEXT_FIELDS),
    value: notAString,
    inPeople: fc.boolean(),
  }),
  fc.record({
    at: fc.constant('label_names' as const),
    value: fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant({ a: 'b' }),
      fc
        .array(fc.oneof(notAString, fc.constant(null)), { minLength: 1, maxLength: 3 })
        .map((bad) => ['ok', ...bad]),
      fc.constant(Array.from({ length: 51 }, (_, i) => `label ${i}`)),
    ),
  }),
);

function wrongTypeBody(wrong: WrongType): string {
  switch (wrong.at) {
    case 'type':
    case 'timestamp':
      return JSON.stringify(envelope({ person: MARK_TWAIN }, { [wrong.at]: wrong.value }));
    case 'data':
      return JSON.stringify(envelope(wrong.value));
    case 'person':
      return JSON.stringify(envelope({ person: wrong.value }));
    case 'people':
      return JSON.stringify(envelope({ people: wrong.value }));
    case 'field': {
      const person = { ...MARK_TWAIN, [wrong.field]: wrong.value };
      return JSON.stringify(envelope(wrong.inPeople ? { people: [person] } : { person }));
    }
    case 'label_names':
      return JSON.stringify(envelope({ person: { ...MARK_TWAIN, label_names: wrong.value } }));
  }
}

const wrongTypes = wrongType.map(
  (wrong) => new Invalid('wrong-type', JSON.stringify(wrong).slice(0, 300), wrongTypeBody(wrong), 400),
);

/** `people` with 0 or more than 100 people, all of them valid. */
const wrongPeopleCount = fc.oneof(fc.constant(0), fc.integer({ min: 101, max: 140 })).map((count) => {
  const people = Array.from({ length: count }, (_, i) => ({ ...MARK_TWAIN, email: `p${i}@people.example` }));
  return new Invalid('people-count', `people of ${count}`, JSON.stringify(envelope({ people })), 400);
});

/** A person with no way to be identified: no email, and not first + last + company/domain. */
export const personWithoutIdentity = fc.oneof(
  fc.constant({}),
  fc.record({ first_name: nonBlankHostileText() }),
  fc.record({ last_name: nonBlankHostileText(), organization_name: nonBlankHostileText() }),
  fc.record({ first_name: nonBlankHostileText(), organization_name: nonBlankHostileText() }),
  fc.record({ first_name: nonBlankHostileText(), last_name: nonBlankHostileText() }),
  fc.record({
    first_name: nonBlankHostileText(),
    last_name: nonBlankHostileText(),
    website_url: fc.constantFrom(
      'localhost',
      'intranet',
      'http://',
      'not a url',
      'https://',
      '://',
      'mailto:x',
    ),
  }),
  fc.record({
    first_name: blankPadding,
    last_name: nonBlankHostileText(),
    organization_name: nonBlankHostileText(),
    email: fc.option(blankPadding, { nil: null }),
  }),
  fc.record({
    first_name: nonBlankHostileText(),
    last_name: nonBlankHostileText(),
    organization_name: blankPadding,
    email: fc.constant(null),
  }),
  fc.record({
    title: hostileText(),
    direct_phone: fc.constant('555-123-4567'),
    label_names: fc.array(hostileText(), { maxLength: 3 }),
    linkedin_url: fc.constant('https://www.linkedin.com/in/marktwain'),
  }),
);

/**
 * Strings that are not emails, including after control characters are blanked: not even of the loose
 * `x@y.z` shape, malformed in ways RFC 5321 forbids, or not ASCII (the service takes ASCII emails only).
 */
export const notAnEmail = fc
  .oneof(
    fc.string(),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      'mark at twain',
      '@@',
      'a@@b.co',
      'a@b',
      '@b.co',
      'a@',
      'a b@c.co',
      'a@b c.co',
      'mark.twain@',
      'a@b..co',
      '.a@b.co',
      'a..b@c.co',
      'a@-b.co',
      'a@b.co,c@d.co',
      '<a@b.co>',
      'Mark Twain <mark.twain@greatamericanwriters.example>',
      'mailto:mark.twain@greatamericanwriters.example',
      'mark.twain@greatamericanwriters',
      'mark.twain.greatamericanwriters.example',
      // Unicode that is no address: a full-width @, an emoji local part, an invisible space in the
      // local part. (Letters of any script, and internationalised domains, are addresses.)
      'mark.twain\uFF20greatamericanwriters.example',
      '📧@📧.example',
      'mark\u200B.twain@greatamericanwriters.example',
    ),
    // A real address with a control character or space inside it.
    fc
      .record({
        at: fc.integer({ min: 1, max: MARK_TWAIN.email.length - 1 }),
        inserted: fc.oneof(controlCharacter, fc.constantFrom(' ', '\t', '\u00A0')),
      })
      .map(({ at, inserted }) => MARK_TWAIN.email.slice(0, at) + inserted + MARK_TWAIN.email.slice(at)),
  )
  .filter((text) => !isBlank(text) && text.length <= 320)
  .filter(
    (text) =>
      !LOOSE_EMAIL.test(cleaned(text).toLowerCase()) ||
      /^[.]|\.\.|@-|,|^</.test(cleaned(text)) ||
      notAnAddressBeyondAscii(cleaned(text)),
  );

/**
 * Beyond ASCII, a local part may hold letters, marks and digits of any script (RFC 6531) and the
 * domain may be internationalised (IDNA): anything else outside ASCII makes it no address.
 */
function notAnAddressBeyondAscii(text: string): boolean {
  const at = text.lastIndexOf('@');
  if (at < 0) return true;
  return /[^\x21-\x7e\p{L}\p{M}\p{N}]/u.test(text.slice(0, at)) || domainToASCII(text.slice(at + 1)) === '';
}

const badPerson = fc.oneof(
  personWithoutIdentity.map((person) => ({ why: 'no-identity', person })),
  notAnEmail.map((email) => ({ why: 'not-an-email', person: { ...MARK_TWAIN, email } })),
  notAnEmail.map((email) => ({ why: 'not-an-email', person: { email } })),
);

/** Bad people alone: a `person`, or a list of them only (no usable person, so the whole delivery is refused). */
const invalidPeople = fc
  .record({
    bad: fc.array(badPerson, { minLength: 1, maxLength: 3 }),
    shape: fc.constantFrom('person', 'people'),
  })
  .map(({ bad, shape }) => {
    const [first] = bad as [{ why: string; person: Record<string, unknown> }];
    const data = shape === 'person' ? { person: first.person } : { people: bad.map((b) => b.person) };
    return new Invalid(first.why, JSON.stringify(data).slice(0, 300), JSON.stringify(envelope(data)), 400);
  });

const badEnvelopeTimestamp = fc
  .oneof(
    fc.constant(undefined),
    fc
      .oneof(fc.constantFrom('', 'yesterday', 'not a date', '2024-13-45T99:99:99Z', 'T', '--'), fc.string())
      .filter((text) => Number.isNaN(Date.parse(text))),
  )
  .map((timestamp) => {
    const body = { type: ENRICHMENT_COMPLETED, timestamp, data: { person: MARK_TWAIN } };
    return new Invalid(
      'envelope-timestamp',
      JSON.stringify(timestamp) ?? 'missing',
      JSON.stringify(body),
      400,
    );
  });

/** Over 1 MB in bytes (some under it in characters); refused before the signature is even read. */
const oversized = fc
  .record({
    bytes: fc.oneof(fc.constant(MAX_BODY_BYTES + 1), fc.integer({ min: MAX_BODY_BYTES + 1, max: 1_400_000 })),
    char: fc.constantFrom('x', 'é', '😀'),
    wrapped: fc.boolean(),
    signed: fc.boolean(),
  })
  .map(({ bytes, char, wrapped, signed }) => {
    const charBytes = Buffer.byteLength(char);
    const overhead = wrapped
      ? Buffer.byteLength(withRaw(envelope({ person: { ...MARK_TWAIN, padding: '__RAW__' } }), '""'))
      : 0;
    const padding = char.repeat(Math.ceil((bytes - overhead) / charBytes));
    const body = wrapped
      ? withRaw(envelope({ person: { ...MARK_TWAIN, padding: '__RAW__' } }), JSON.stringify(padding))
      : padding;
    return new Invalid(
      'oversized',
      `${Buffer.byteLength(body)} bytes of ${JSON.stringify(char)}${wrapped ? ' in a valid body' : ''}${signed ? '' : ', unsigned'}`,
      body,
      413,
      signed ? undefined : () => ({ 'content-type': 'application/json' }),
    );
  });

export const invalidDelivery: fc.Arbitrary<Invalid> = fc.oneof(
  { weight: 3, arbitrary: notJson },
  { weight: 2, arbitrary: jsonNotObject },
  { weight: 2, arbitrary: deeplyNested },
  { weight: 2, arbitrary: hugeString },
  { weight: 5, arbitrary: wrongTypes },
  { weight: 1, arbitrary: wrongPeopleCount },
  { weight: 6, arbitrary: invalidPeople },
  { weight: 2, arbitrary: badEnvelopeTimestamp },
  { weight: 1, arbitrary: oversized },
);

// ---------------------------------------------------------------------------------------------
// 2b. Batches with some invalid people among valid ones
// ---------------------------------------------------------------------------------------------

/** What one position of a partly invalid batch must come to. */
export type ExpectedPosition = { valid: string } | { invalid: string; why: string };

/** A correctly signed batch whose valid people are converted and whose invalid ones get their own result. */
export class PartlyInvalid extends Delivery {
  constructor(
    kind: string,
    label: string,
    body: string,
    readonly expected: ExpectedPosition[],
  ) {
    super(kind, label, body);
  }
}

/** A person the list cannot convert, whatever its shape: bad fields, wrong types, not even an object. */
export const badEntry = fc.oneof(
  badPerson,
  fc
    .record({ field: fc.constantFrom(...TEXT_FIELDS), value: notAString })
    .map(({ field, value }) => ({ why: 'wrong-type', person: { ...MARK_TWAIN, [field]: value } })),
  fc
    .oneof(fc.constant(null), fc.constant(MARK_TWAIN.email), fc.constant([MARK_TWAIN]), fc.integer())
    .map((person) => ({ why: 'not-an-object', person })),
  fc
    .record({ field: fc.constantFrom(...TEXT_FIELDS), extra: fc.integer({ min: 1, max: 50 }) })
    .map(({ field, extra }) => ({
      why: 'huge-string',
      person: { ...MARK_TWAIN, [field]: 'x'.repeat(TEXT_LIMITS[field] + extra) },
    })),
);

export const partlyInvalidDelivery: fc.Arbitrary<PartlyInvalid> = fc
  .array(fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: badEntry }), {
    minLength: 2,
    maxLength: 8,
  })
  .filter((slots) => slots.some((slot) => slot === null) && slots.some((slot) => slot !== null))
  .map((slots) => {
    const people: unknown[] = [];
    const expected: ExpectedPosition[] = [];
    slots.forEach((slot, index) => {
      if (slot === null) {
        const email = `p${index}@people.example`;
        // Each valid person a name of its own: people of one batch sharing a name and company wait
        // on each other's name lock (at most 1 s), and on a loaded machine that wait ran out (503
        // in_progress), which is not what this property is about.
        people.push({ ...MARK_TWAIN, last_name: `Twain ${index}`, email });
        expected.push({ valid: email });
      } else {
        people.push(slot.person);
        expected.push({ invalid: `body.data.people[${index}]`, why: slot.why });
      }
    });
    const kinds = [...new Set(slots.flatMap((slot) => (slot === null ? [] : [slot.why])))].sort();
    return new PartlyInvalid(
      kinds.join('+'),
      expected.map((position) => ('valid' in position ? 'valid' : position.why)).join(', '),
      JSON.stringify(envelope({ people })),
      expected,
    );
  });

// ---------------------------------------------------------------------------------------------
// 3. Event types the service ignores
// ---------------------------------------------------------------------------------------------

const ignoredType = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 60 }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }),
    fc.constantFrom(
      'person.updated',
      'person.enrichment.failed',
      'person.enrichment.complete',
      ' person.enrichment.completed',
      'person.enrichment.completed ',
      'PERSON.ENRICHMENT.COMPLETED',
      'person.enrichment.completed\u0000',
      'person\u200B.enrichment.completed',
    ),
  )
  .filter((type) => type !== ENRICHMENT_COMPLETED && type.length <= 200);

const garbageData = fc.oneof(
  fc.jsonValue(),
  fc.constant({ person: MARK_TWAIN }),
  fc.constant({ people: [MARK_TWAIN, MARK_TWAIN] }),
  fc.constant({ people: [] }),
  fc.constant({ person: { email: 'mark at twain' } }),
  fc.record({ person: fc.dictionary(fc.constantFrom(...TEXT_FIELDS), notAString) }),
  fc.integer({ min: 1, max: 5000 }).map((depth) => ({ nested: depth })),
);

export const ignoredDelivery = fc
  .record({
    type: ignoredType,
    timestamp: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
    data: fc.option(garbageData, { nil: undefined }),
  })
  .map(({ type, timestamp, data }) => {
    const fields = { type, ...(timestamp !== undefined && { timestamp }) };
    const nestedDepth =
      typeof data === 'object' && data !== null && 'nested' in data && typeof data.nested === 'number'
        ? data.nested
        : undefined;
    const body =
      nestedDepth !== undefined
        ? withRaw({ ...fields, data: '__RAW__' }, nested(nestedDepth, 'array'))
        : JSON.stringify({ ...fields, ...(data !== undefined && { data }) });
    return Object.assign(new Delivery('ignored-type', JSON.stringify(type), body), { type });
  });

// ---------------------------------------------------------------------------------------------
// 4. Valid people with hostile content
// ---------------------------------------------------------------------------------------------

/** Phone formats that are numbers, and their E.164 form (default country US). */
const READABLE_PHONES: Array<[string, string]> = [
  ['555-123-4567', '+15551234567'],
  ['(555) 123-4567', '+15551234567'],
  ['555.123.4567', '+15551234567'],
  ['5551234567', '+15551234567'],
  ['+1 555 123 4567', '+15551234567'],
  ['1-555-123-4567', '+15551234567'],
  ['+15551234567', '+15551234567'],
  ['+1 (555) 123-4567 ext. 12', '+15551234567'],
  ['555 123 4567 x89', '+15551234567'],
  ['555-765-4321', '+15557654321'],
  ['+44 20 7946 0958', '+442079460958'],
  ['011 44 20 7946 0958', '+442079460958'],
  ['+49 30 901820', '+4930901820'],
  ['+33 1 23 45 67 89', '+33123456789'],
  ['+81 3-1234-5678', '+81312345678'],
  ['+91 98765 43210', '+919876543210'],
  ['+٩٧١ ٥٠ ١٢٣ ٤٥٦٧', '+971501234567'],
  ['（５５５）１２３−４５６７', '+15551234567'],
  ['tel:+1-555-123-4567', '+15551234567'],
  ['+1\u00A0555\u00A0123\u00A04567', '+15551234567'],
  ['555\u2011123\u20114567', '+15551234567'],
];

/** Phone fields that are not phone numbers: dropped and reported. */
const GARBAGE_PHONES = [
  'abc',
  'N/A',
  '12',
  '0',
  '0000',
  'call me',
  '☎️',
  '+',
  '++1',
  '123456789012345678901',
  '+999 123',
  '--',
  '555-12',
  'unknown',
  '+1 555',
  '1234',
  '1-800-FLOWERS',
  '00 44 20 7946 0958',
  '+0 123 456',
  '+1 555 123 4567 8901',
  '999',
];

type PhoneSpec =
  | { kind: 'readable'; raw: string; e164: string }
  | { kind: 'garbage'; raw: string }
  | { kind: 'random'; raw: string };

const phoneSpec: fc.Arbitrary<PhoneSpec> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({
        phone: fc.constantFrom(...READABLE_PHONES),
        noise: fc.option(controlCharacter, { nil: undefined }),
      })
      .map(({ phone: [raw, e164], noise }): PhoneSpec => ({
        kind: 'readable',
        // A control character in place of a separator reads as a space.
        raw: noise === undefined ? raw : raw.replace(/[ -]/, noise),
        e164,
      })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom(...GARBAGE_PHONES),
        fc
          .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
          .filter((text) => !/\p{Nd}/u.test(text) && !isBlank(text)),
      )
      .map((raw): PhoneSpec => ({ kind: 'garbage', raw })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.stringMatching(/^\+?[0-9 ().-]{1,30}$/),
        fc.string({ unit: fc.constantFrom(...'0123456789+-() .x#*'), maxLength: 30 }),
        blankPadding,
      )
      .filter((raw) => raw.length <= 64)
      .map((raw): PhoneSpec => ({ kind: 'random', raw })),
  },
);

type Identity = 'email' | 'name' | 'website';

export interface PersonSpec {
  identity: Identity;
  emailCase: 'lower' | 'upper' | 'mixed';
  emailPadding: [string, string];
  first_name: string;
  last_name: string;
  organization_name: string;
  title: string | null;
  present_raw_address: string | null;
  website_url: string | null;
  phones: Partial<Record<PhoneField, PhoneSpec>>;
  label_names: string[] | null | undefined;
}

export const personSpec: fc.Arbitrary<PersonSpec> = fc.record({
  identity: fc.constantFrom<Identity>('email', 'email', 'name', 'website'),
  emailCase: fc.constantFrom<PersonSpec['emailCase']>('lower', 'upper', 'mixed'),
  emailPadding: fc.tuple(blankPadding, blankPadding),
  first_name: nonBlankHostileText(),
  last_name: nonBlankHostileText(),
  organization_name: hostileText(),
  title: fc.option(hostileText(), { nil: null }),
  present_raw_address: fc.option(hostileText(200), { nil: null }),
  website_url: fc.option(hostileText(), { nil: null }),
  phones: fc.record(
    Object.fromEntries(PHONE_FIELDS.map((field) => [field, phoneSpec])) as Record<
      PhoneField,
      typeof phoneSpec
    >,
    { requiredKeys: [] },
  ),
  label_names: fc.oneof(fc.constant(undefined), fc.constant(null), fc.array(hostileText(), { maxLength: 6 })),
});

export function emailOf(index: number): string {
  return `p${index}.fuzz@example-${index}.example`;
}

export function spelledEmail(index: number, spec: PersonSpec): string {
  const email = emailOf(index);
  const spelled =
    spec.emailCase === 'lower'
      ? email
      : spec.emailCase === 'upper'
        ? email.toUpperCase()
        : [...email].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
  return `${spec.emailPadding[0]}${spelled}${spec.emailPadding[1]}`;
}

/** The person as sent: unique per index (email, company or website), everything else hostile. */
export function personInput(index: number, spec: PersonSpec): Record<string, unknown> {
  const input: Record<string, unknown> = {
    first_name: spec.first_name,
    last_name: spec.last_name,
    title: spec.title,
    present_raw_address: spec.present_raw_address,
  };
  for (const [field, phone] of Object.entries(spec.phones)) input[field] = phone.raw;
  if (spec.label_names !== undefined) input.label_names = spec.label_names;
  if (spec.identity === 'email') {
    input.email = spelledEmail(index, spec);
    input.organization_name = spec.organization_name;
    input.website_url = spec.website_url;
  } else if (spec.identity === 'name') {
    input.organization_name = `${spec.organization_name} #${index}`;
    input.website_url = spec.website_url;
  } else {
    input.website_url = `https://www.Fuzz-${index}.example/about`;
  }
  return input;
}

/** Finds the create request sent for person `index` by what makes it unique. */
export function isCreateFor(index: number, spec: PersonSpec, body: Record<string, unknown>): boolean {
  switch (spec.identity) {
    case 'email':
      return body.email === emailOf(index);
    case 'name':
      return typeof body.organization_name === 'string' && body.organization_name.endsWith(`#${index}`);
    case 'website':
      return body.website_url === `https://www.Fuzz-${index}.example/about`;
  }
}

export const hostileBatch = fc.record({
  people: fc.array(personSpec, { minLength: 1, maxLength: 5 }),
  repeats: fc.array(
    fc.record({
      of: fc.nat(),
      emailCase: fc.constantFrom<PersonSpec['emailCase']>('lower', 'upper', 'mixed'),
    }),
    {
      maxLength: 2,
    },
  ),
  shape: fc.constantFrom('person', 'people'),
});
