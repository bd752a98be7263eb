import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { MARK_TWAIN } from './people';
import { HUBSPOT_CLIENT_SECRET } from './service-harness';
import {
  Delivery,
  MAX_BODY_BYTES,
  TEXT_LIMITS,
  badEntry,
  hostileText,
  nested,
  notAString,
  notAnEmail,
  personInput,
  personSpec,
  personWithoutIdentity,
  withRaw,
  type ExpectedPosition,
  type PersonSpec,
} from './webhook-arbitraries';

/**
 * fast-check arbitraries for the CRM doors' property tests (test/doors/doors-fuzz.property.test.ts):
 * HubSpot deliveries signed wrongly and bodies HubSpot could send that are no contact, custom
 * sources' bad secrets, unknown sources and bad bodies, and valid people with hostile content in
 * each door's own shape. They reuse the Standard Webhooks door's generators
 * (test/support/webhook-arbitraries.ts) for the people themselves.
 */

// ---------------------------------------------------------------------------------------------
// HubSpot
// ---------------------------------------------------------------------------------------------

/** The person fields HubSpot's standard properties carry (lib/doors/hubspot.ts's defaults). */
const HUBSPOT_PROPERTY: Record<string, string> = {
  first_name: 'firstname',
  last_name: 'lastname',
  email: 'email',
  organization_name: 'company',
  website_url: 'website',
  title: 'jobtitle',
  direct_phone: 'phone',
  mobile_phone: 'mobilephone',
  linkedin_url: 'hs_linkedin_url',
  present_raw_address: 'address',
};
const MAPPED_NAMES = new Set([
  ...Object.values(HUBSPOT_PROPERTY),
  'city',
  'state',
  'zip',
  'country',
  'hs_object_id',
  'hubspot_id',
  'vid',
  'objectId',
  'linkedin_url',
]);

export type HubSpotShape = 'flat' | 'legacy';

/** A person (in the service's field names) as HubSpot sends it, in either body shape. */
export function hubSpotBody(
  person: Record<string, unknown>,
  shape: HubSpotShape,
  recordId?: unknown,
): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(person)) {
    const name = HUBSPOT_PROPERTY[field];
    if (name !== undefined) properties[name] = value;
  }
  if (shape === 'flat')
    return recordId === undefined ? properties : { hs_object_id: recordId, ...properties };
  return {
    ...(recordId !== undefined && { vid: recordId, 'canonical-vid': recordId }),
    'portal-id': 62515,
    'is-contact': true,
    properties: Object.fromEntries(
      Object.entries(properties).map(([name, value]) => [
        name,
        { value, versions: [{ value, 'source-type': 'CRM_UI', timestamp: 1795687100000, selected: false }] },
      ]),
    ),
  };
}

/** HubSpot's v3 formula as its documentation words it (apart from the service's code). */
export function documentedV3(
  secret: string,
  method: string,
  uri: string,
  body: string,
  timestamp: string,
): string {
  return createHmac('sha256', secret).update(`${method}${uri}${body}${timestamp}`, 'utf8').digest('base64');
}

const validHubSpotBody = fc
  .record({
    n: fc.nat({ max: 9999 }),
    shape: fc.constantFrom<HubSpotShape>('flat', 'legacy'),
    title: hostileText(),
  })
  .map(({ n, shape, title }) =>
    JSON.stringify(
      hubSpotBody(
        { ...MARK_TWAIN, title, email: `mark.twain+${n}@greatamericanwriters.example` },
        shape,
        String(n + 1),
      ),
    ),
  );

type HubSpotFault =
  | { kind: 'missing'; headers: Array<'x-hubspot-signature-v3' | 'x-hubspot-request-timestamp'> }
  | { kind: 'garbage-signature'; signature: string }
  | { kind: 'other-secret'; secret: string }
  | { kind: 'signed-other-body'; other: string }
  | { kind: 'signed-other-uri'; uri: string }
  | { kind: 'signed-other-method'; method: string }
  | { kind: 'malformed-timestamp'; timestamp: string }
  | { kind: 'stale' | 'future'; offsetMs: number }
  | { kind: 'v2-signature' };

const hubSpotFault: fc.Arbitrary<HubSpotFault> = fc.oneof(
  fc
    .subarray(['x-hubspot-signature-v3', 'x-hubspot-request-timestamp'] as const, { minLength: 1 })
    .map((headers): HubSpotFault => ({ kind: 'missing', headers: [...headers] })),
  fc
    .oneof(
      fc.string(),
      fc.base64String({ minLength: 4, maxLength: 64 }),
      fc.constantFrom('', ' ', 'v3,', '=='),
    )
    .map((signature): HubSpotFault => ({ kind: 'garbage-signature', signature })),
  fc
    .string({ minLength: 1, maxLength: 60 })
    .filter((secret) => secret !== HUBSPOT_CLIENT_SECRET)
    .map((secret): HubSpotFault => ({ kind: 'other-secret', secret })),
  fc
    .oneof(fc.string({ maxLength: 100 }), validHubSpotBody)
    .map((other): HubSpotFault => ({ kind: 'signed-other-body', other })),
  fc
    .constantFrom(
      '/webhooks/hubspot?x=1',
      '/webhooks/hubspot/',
      '/webhooks/HubSpot',
      '/prod/webhooks/hubspot',
      '/webhooks/custom/clay',
    )
    .map((uri): HubSpotFault => ({ kind: 'signed-other-uri', uri })),
  fc
    .constantFrom('GET', 'PUT', 'post', '')
    .map((method): HubSpotFault => ({ kind: 'signed-other-method', method })),
  fc
    .oneof(
      fc.constantFrom('', ' ', '-1', '1e12', '0x1', 'NaN', '1.5', '9'.repeat(16)),
      fc.string().filter((text) => !/^\d{1,15}$/.test(text)),
    )
    .map((timestamp): HubSpotFault => ({ kind: 'malformed-timestamp', timestamp })),
  fc.integer({ min: 300_001, max: 10 ** 12 }).map((offsetMs): HubSpotFault => ({ kind: 'stale', offsetMs })),
  fc.integer({ min: 300_001, max: 10 ** 12 }).map((offsetMs): HubSpotFault => ({ kind: 'future', offsetMs })),
  fc.constant<HubSpotFault>({ kind: 'v2-signature' }),
);

/** The headers of a HubSpot delivery of `body` to `baseUrl` at `nowMs`, with `fault` in them. */
function hubSpotHeaders(
  fault: HubSpotFault,
  body: string,
  baseUrl: string,
  nowMs: number,
): Record<string, string> {
  const uri = `${baseUrl}/webhooks/hubspot`;
  const sign = (
    overrides: { secret?: string; body?: string; uri?: string; method?: string; timestampMs?: number } = {},
  ) => {
    const timestamp = String(overrides.timestampMs ?? nowMs);
    return {
      'content-type': 'application/json',
      'x-hubspot-request-timestamp': timestamp,
      'x-hubspot-signature-v3': documentedV3(
        overrides.secret ?? HUBSPOT_CLIENT_SECRET,
        overrides.method ?? 'POST',
        overrides.uri ?? uri,
        overrides.body ?? body,
        timestamp,
      ),
    } as Record<string, string>;
  };
  switch (fault.kind) {
    case 'missing': {
      const headers = sign();
      for (const name of fault.headers) delete headers[name];
      return headers;
    }
    case 'garbage-signature':
      return { ...sign(), 'x-hubspot-signature-v3': fault.signature };
    case 'other-secret':
      return sign({ secret: fault.secret });
    case 'signed-other-body':
      return sign({ body: fault.other === body ? `${body} ` : fault.other });
    case 'signed-other-uri':
      return sign({ uri: `${baseUrl}${fault.uri}` });
    case 'signed-other-method':
      return sign({ method: fault.method });
    case 'malformed-timestamp':
      return { ...sign(), 'x-hubspot-request-timestamp': fault.timestamp };
    case 'stale':
      return sign({ timestampMs: nowMs - fault.offsetMs });
    case 'future':
      return sign({ timestampMs: nowMs + fault.offsetMs });
    case 'v2-signature':
      return {
        ...sign(),
        'x-hubspot-signature-v3': createHash('sha256')
          .update(`${HUBSPOT_CLIENT_SECRET}POST${uri}${body}`)
          .digest('hex'),
      };
  }
}

/** A HubSpot delivery whose headers are made at send time, for the harness's public URL. */
export class HubSpotDelivery extends Delivery {
  constructor(
    kind: string,
    label: string,
    body: string,
    readonly hubSpotHeaders?: (baseUrl: string, nowMs: number) => Record<string, string>,
  ) {
    super(kind, label, body);
  }
}

export const badlySignedHubSpot = fc
  .record({
    body: fc.oneof(
      { weight: 4, arbitrary: validHubSpotBody },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    ),
    fault: hubSpotFault,
  })
  .map(
    ({ body, fault }) =>
      new HubSpotDelivery(fault.kind, JSON.stringify(fault).slice(0, 200), body, (baseUrl, nowMs) =>
        hubSpotHeaders(fault, body, baseUrl, nowMs),
      ),
  );

/** A correctly signed HubSpot body the door must refuse with `status` (413 is refused unsigned too). */
export class InvalidHubSpot extends HubSpotDelivery {
  constructor(
    kind: string,
    label: string,
    body: string,
    readonly status: 400 | 413,
  ) {
    super(kind, label, body);
  }
}

const hubSpotShape = fc.constantFrom<HubSpotShape>('flat', 'legacy');

const invalidHubSpotBodies: fc.Arbitrary<InvalidHubSpot> = fc.oneof(
  fc
    .oneof(fc.string(), fc.constantFrom('', '{', 'null', '{"email": }', '}{'))
    .filter((text) => {
      try {
        const value: unknown = JSON.parse(text);
        return typeof value !== 'object' || value === null || Array.isArray(value);
      } catch {
        return true;
      }
    })
    .map((text) => new InvalidHubSpot('not-json', 'not JSON, or not an object', text, 400)),
  fc
    .jsonValue()
    .filter((value) => typeof value !== 'object' || value === null || Array.isArray(value))
    .map(
      (value) =>
        new InvalidHubSpot('json-not-object', 'JSON that is not an object', JSON.stringify(value), 400),
    ),
  fc
    .dictionary(
      fc.string({ maxLength: 12 }).filter((key) => !MAPPED_NAMES.has(key) && key !== 'properties'),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 5 },
    )
    .map((body) => new InvalidHubSpot('not-a-contact', 'no HubSpot property', JSON.stringify(body), 400)),
  fc
    .record({ person: personWithoutIdentity, shape: hubSpotShape })
    .map(
      ({ person, shape }) =>
        new InvalidHubSpot(
          'no-identity',
          JSON.stringify(person).slice(0, 200),
          JSON.stringify(hubSpotBody(person, shape, '7')),
          400,
        ),
    ),
  fc
    .record({ email: notAnEmail, shape: hubSpotShape })
    .map(
      ({ email, shape }) =>
        new InvalidHubSpot(
          'not-an-email',
          JSON.stringify(email),
          JSON.stringify(hubSpotBody({ ...MARK_TWAIN, email }, shape, '7')),
          400,
        ),
    ),
  fc
    .record({
      id: fc.oneof(
        fc
          .string({ minLength: 1, maxLength: 30 })
          .filter((id) => !/^\s*\d{1,20}\s*$/.test(id) && id.trim() !== ''),
        fc.stringMatching(/^[1-9]\d{20,30}$/),
        fc.integer({ max: -1 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
      ),
      shape: hubSpotShape,
    })
    .map(
      ({ id, shape }) =>
        new InvalidHubSpot(
          'bad-record-id',
          JSON.stringify(id),
          JSON.stringify(hubSpotBody(MARK_TWAIN, shape, id)),
          400,
        ),
    ),
  fc
    .record({
      field: fc.constantFrom(
        ...Object.keys(HUBSPOT_PROPERTY).filter((field) => field !== 'present_raw_address'),
      ),
      value: notAString.filter((value) => typeof value === 'object' && value !== null),
      shape: hubSpotShape,
    })
    .map(
      ({ field, value, shape }) =>
        new InvalidHubSpot(
          'wrong-type',
          `${field}: ${JSON.stringify(value).slice(0, 100)}`,
          JSON.stringify(hubSpotBody({ ...MARK_TWAIN, [field]: value }, shape, '7')),
          400,
        ),
    ),
  fc
    .record({
      field: fc.constantFrom(...(Object.keys(HUBSPOT_PROPERTY) as Array<keyof typeof TEXT_LIMITS>)),
      extra: fc.integer({ min: 1, max: 200_000 }),
      shape: hubSpotShape,
    })
    .map(({ field, extra, shape }) => {
      // present_raw_address comes from the address parts joined: over the limit all the same.
      const text = 'x'.repeat(TEXT_LIMITS[field] + extra);
      return new InvalidHubSpot(
        'huge-string',
        `${field} of ${text.length}`,
        JSON.stringify(hubSpotBody({ ...MARK_TWAIN, [field]: text }, shape, '7')),
        400,
      );
    }),
  fc
    .record({
      depth: fc.integer({ min: 2, max: 5000 }),
      shape: fc.constantFrom<'array' | 'object'>('array', 'object'),
      at: fc.constantFrom('top', 'properties', 'email'),
    })
    .map(({ depth, shape, at }) => {
      const raw = nested(depth, shape);
      const body =
        at === 'top'
          ? raw
          : at === 'properties'
            ? withRaw({ vid: 7, properties: '__RAW__' }, raw)
            : withRaw({ email: '__RAW__' }, raw);
      return new InvalidHubSpot('deeply-nested', `${depth} ${shape}s at ${at}`, body, 400);
    }),
  fc.integer({ min: MAX_BODY_BYTES + 1, max: 1_300_000 }).map((bytes) => {
    const padding = 'x'.repeat(bytes);
    return new InvalidHubSpot(
      'oversized',
      `${bytes} bytes`,
      JSON.stringify({ ...hubSpotBody(MARK_TWAIN, 'flat', '7'), padding }),
      413,
    );
  }),
);

export const invalidHubSpot = invalidHubSpotBodies;

/** A valid HubSpot contact with hostile content: one person per delivery, in either shape. */
export const hostileHubSpot = fc.record({
  spec: personSpec,
  shape: hubSpotShape,
  recordId: fc.oneof(
    fc.stringMatching(/^[1-9]\d{0,19}$/),
    fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  ),
});

/** The person `spec` describes, as HubSpot carries it: only the fields its standard properties hold. */
export function hubSpotPerson(index: number, spec: PersonSpec): Record<string, unknown> {
  const person = personInput(index, spec);
  return Object.fromEntries(Object.entries(person).filter(([field]) => field in HUBSPOT_PROPERTY));
}

// ---------------------------------------------------------------------------------------------
// Custom sources
// ---------------------------------------------------------------------------------------------

export const FUZZ_SECRET = 'fuzz-source-secret-0123456789';
export const FUZZ_HMAC_SECRET = 'fuzz-hmac-secret-0123456789ab';

/** Two sources whose map is the service's own field names: `fuzz` (secret header) and `fuzzhmac` (HMAC). */
export const FUZZ_SOURCES = JSON.stringify({
  fuzz: {
    header: 'x-fuzz-secret',
    secrets: [FUZZ_SECRET],
    people: 'people',
    fields: Object.fromEntries(
      [...Object.keys(TEXT_LIMITS), 'label_names', 'hubspot_id'].map((field) => [field, field]),
    ),
    labels: ['Fuzz'],
  },
  fuzzhmac: {
    auth: 'hmac-sha256',
    header: 'x-fuzz-signature',
    secrets: [FUZZ_HMAC_SECRET],
    fields: {
      email: 'email',
      first_name: 'first_name',
      last_name: 'last_name',
      organization_name: 'organization_name',
    },
  },
});

/** A custom delivery: the source it goes to and its headers (made at send time), or the source's own. */
export class CustomDelivery extends Delivery {
  constructor(
    kind: string,
    label: string,
    body: string,
    readonly source: string,
    readonly customHeaders?: Record<string, string>,
  ) {
    super(kind, label, body);
  }
}

const hmacHex = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');
const validFuzzBody = fc
  .nat({ max: 9999 })
  .map((n) => JSON.stringify({ people: [{ ...MARK_TWAIN, email: `p${n}@fuzz.example` }] }));
const validHmacBody = fc
  .nat({ max: 9999 })
  .map((n) => JSON.stringify({ email: `p${n}@fuzz.example`, first_name: 'Ada' }));

export const badlyAuthenticatedCustom: fc.Arbitrary<CustomDelivery> = fc.oneof(
  fc
    .record({
      body: validFuzzBody,
      secret: fc
        .oneof(
          fc.string({ maxLength: 60 }),
          fc.constantFrom(
            ` ${FUZZ_SECRET}`,
            `${FUZZ_SECRET}\n`,
            FUZZ_SECRET.slice(1),
            `${FUZZ_SECRET}x`,
            FUZZ_SECRET.toUpperCase(),
            FUZZ_HMAC_SECRET,
            'local-clay-secret-not-for-production',
          ),
        )
        .filter((secret) => secret !== FUZZ_SECRET),
      header: fc.constantFrom('x-fuzz-secret', 'x-webhook-secret', 'authorization'),
    })
    .map(
      ({ body, secret, header }) =>
        new CustomDelivery('wrong-secret', `${header}: ${JSON.stringify(secret)}`, body, 'fuzz', {
          [header]: secret,
        }),
    ),
  validFuzzBody.map((body) => new CustomDelivery('missing-secret', 'no header', body, 'fuzz', {})),
  fc
    .record({
      body: validHmacBody,
      signature: fc.oneof(
        fc.string({ maxLength: 80 }),
        fc.stringMatching(/^[0-9a-f]{64}$/),
        fc.base64String({ minLength: 44, maxLength: 44 }),
        fc.constantFrom('sha256=', FUZZ_HMAC_SECRET),
      ),
    })
    .map(
      ({ body, signature }) =>
        new CustomDelivery('garbage-hmac', JSON.stringify(signature), body, 'fuzzhmac', {
          'x-fuzz-signature': signature,
        }),
    ),
  fc
    .record({
      body: validHmacBody,
      other: fc.string({ maxLength: 100 }),
      secret: fc.string({ minLength: 1, maxLength: 40 }),
    })
    .chain(({ body, other, secret }) =>
      fc.constantFrom(
        new CustomDelivery('hmac-of-other-body', JSON.stringify(other), body, 'fuzzhmac', {
          'x-fuzz-signature': hmacHex(FUZZ_HMAC_SECRET, other === body ? `${body} ` : other),
        }),
        new CustomDelivery('hmac-under-other-secret', JSON.stringify(secret), body, 'fuzzhmac', {
          'x-fuzz-signature': hmacHex(secret === FUZZ_HMAC_SECRET ? `${secret}x` : secret, body),
        }),
        new CustomDelivery('hmac-truncated', 'first 63', body, 'fuzzhmac', {
          'x-fuzz-signature': hmacHex(FUZZ_HMAC_SECRET, body).slice(0, 63),
        }),
      ),
    ),
);

export const unknownSource: fc.Arbitrary<CustomDelivery> = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 80 }),
    fc.constantFrom(
      'FUZZ',
      'fuzz ',
      ' fuzz',
      'fuzz/',
      '..',
      'clay',
      '__proto__',
      'constructor',
      'toString',
      'fuzz%20',
    ),
  )
  .filter((name) => name !== 'fuzz' && name !== 'fuzzhmac')
  .chain((source) =>
    validFuzzBody.map(
      (body) =>
        new CustomDelivery('unknown-source', JSON.stringify(source), body, source, {
          'x-fuzz-secret': FUZZ_SECRET,
        }),
    ),
  );

/**
 * A person a custom list cannot convert. A custom source reads numbers and booleans as text (tools
 * send phones and ids as numbers), so a wrong type here is a list or an object.
 */
const badCustomEntry = badEntry.filter(
  (entry) =>
    entry.why !== 'wrong-type' ||
    Object.values(entry.person as Record<string, unknown>).some(
      (value) => typeof value === 'object' && value !== null,
    ),
);

/** A correctly authenticated custom body that `fuzz` must refuse with `status`. */
export class InvalidCustom extends CustomDelivery {
  constructor(
    kind: string,
    label: string,
    body: string,
    readonly status: 400 | 413,
  ) {
    super(kind, label, body, 'fuzz');
  }
}

export const invalidCustom: fc.Arbitrary<InvalidCustom> = fc.oneof(
  fc
    .string()
    .filter((text) => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    })
    .map((text) => new InvalidCustom('not-json', 'not JSON', text, 400)),
  fc
    .oneof(
      fc.jsonValue(),
      fc.constant({ person: MARK_TWAIN }),
      fc.constant([MARK_TWAIN]),
      fc.constant({ People: [MARK_TWAIN] }),
    )
    .filter(
      (value) => !(typeof value === 'object' && value !== null && !Array.isArray(value) && 'people' in value),
    )
    .map((value) => new InvalidCustom('no-list', 'no people list', JSON.stringify(value), 400)),
  fc
    .oneof(
      fc.jsonValue().filter((value) => !Array.isArray(value)),
      fc.constant([]),
      fc
        .integer({ min: 101, max: 130 })
        .map((n) => Array.from({ length: n }, (_, i) => ({ ...MARK_TWAIN, email: `p${i}@fuzz.example` }))),
    )
    .map(
      (people) =>
        new InvalidCustom(
          'people-count',
          Array.isArray(people) ? `${people.length} people` : JSON.stringify(people).slice(0, 100),
          JSON.stringify({ people }),
          400,
        ),
    ),
  fc
    .array(badCustomEntry, { minLength: 1, maxLength: 3 })
    .map(
      (bad) =>
        new InvalidCustom(
          `all-invalid:${bad[0]?.why}`,
          bad.map((entry) => entry.why).join(', '),
          JSON.stringify({ people: bad.map((entry) => entry.person) }),
          400,
        ),
    ),
  fc
    .record({
      depth: fc.integer({ min: 2, max: 5000 }),
      shape: fc.constantFrom<'array' | 'object'>('array', 'object'),
      inPeople: fc.boolean(),
    })
    .map(
      ({ depth, shape, inPeople }) =>
        new InvalidCustom(
          'deeply-nested',
          `${depth} ${shape}s`,
          inPeople ? withRaw({ people: '__RAW__' }, nested(depth, shape)) : nested(depth, shape),
          400,
        ),
    ),
  fc
    .integer({ min: MAX_BODY_BYTES + 1, max: 1_300_000 })
    .map(
      (bytes) =>
        new InvalidCustom(
          'oversized',
          `${bytes} bytes`,
          JSON.stringify({ people: [MARK_TWAIN], padding: 'x'.repeat(bytes) }),
          413,
        ),
    ),
);

/** A list for `fuzz` where some people are invalid: each gets its own result, the others are converted. */
export const partlyInvalidCustom = fc
  .array(fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: badCustomEntry }), {
    minLength: 2,
    maxLength: 6,
  })
  .filter((slots) => slots.some((slot) => slot === null) && slots.some((slot) => slot !== null))
  .map((slots) => {
    const people = slots.map((slot, index) =>
      // Each valid person a name of its own: people sharing one wait on each other's name lock.
      slot === null
        ? { ...MARK_TWAIN, last_name: `Twain ${index}`, email: `p${index}@people.example` }
        : slot.person,
    );
    const expected = slots.map((slot, index): ExpectedPosition =>
      slot === null
        ? { valid: `p${index}@people.example` }
        : { invalid: `body.people[${index}]`, why: slot.why },
    );
    return Object.assign(
      new CustomDelivery(
        'partly-invalid',
        expected.map((p) => ('valid' in p ? 'valid' : p.why)).join(', '),
        JSON.stringify({ people }),
        'fuzz',
      ),
      { expected },
    );
  });

export const hostileCustomBatch = fc.array(personSpec, { minLength: 1, maxLength: 4 });
