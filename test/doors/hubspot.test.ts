import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HUBSPOT_PROPERTIES,
  authenticateHubSpot,
  hubSpotSettings,
  hubSpotSignedUri,
  parseHubSpotContact,
  verifyHubSpotSignature,
} from '../../lib/doors/hubspot';
import type { SecretName } from '../../lib/config';
import type { Person } from '../../lib/person';

const OPTIONS = { defaultPhoneCountry: 'US' as const };
const SETTINGS = hubSpotSettings({});
const event = (name: string) => readFileSync(path.resolve(__dirname, '../../events', name), 'utf8');

/**
 * HubSpot's v3 formula exactly as its documentation words it, written apart from the service's code:
 * the UTF-8 string method + URI + body + timestamp, HMAC-SHA256 with the client secret, base64.
 */
function documentedV3(secret: string, method: string, uri: string, body: string, timestamp: string): string {
  return createHmac('sha256', secret)
    .update(Buffer.from(`${method}${uri}${body}${timestamp}`, 'utf8'))
    .digest('base64');
}

const SECRET = 'hubspot-app-secret-for-tests-0001';
const OTHER_SECRET = 'hubspot-app-secret-for-tests-0002';
const URI = 'https://api.example.test/webhooks/hubspot';
const NOW = 1_795_687_200_000;

function signed(body: string, { secret = SECRET, uri = URI, method = 'POST', timestamp = String(NOW) } = {}) {
  return {
    method: 'POST',
    uri: URI,
    body: Buffer.from(body),
    headers: {
      'x-hubspot-signature-v3': documentedV3(secret, method, uri, body, timestamp),
      'x-hubspot-request-timestamp': timestamp,
    } as Record<string, string | undefined>,
  };
}

const only = (entries: ReturnType<typeof parseHubSpotContact>) => {
  expect(entries).toHaveLength(1);
  return entries[0] as Person;
};

describe('Function: hubSpotSignedUri', () => {
  it("matches HubSpot's published v2 examples, which sign the same method + exact URI + body as v3", () => {
    // docs/crm/SOURCE.md: HubSpot publishes v1 and v2 examples, none for v3.
    const clientSecret = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
    const uri = hubSpotSignedUri('https://www.example.com', '/webhook_uri', '');
    const v2 = (method: string, body: string) =>
      createHash('sha256').update(`${clientSecret}${method}${uri}${body}`, 'utf8').digest('hex');

    expect(uri).toBe('https://www.example.com/webhook_uri');
    expect(v2('GET', '')).toBe('eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e');
    expect(v2('POST', '{"example_field":"example_value"}')).toBe(
      '9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900',
    );
  });

  it('decodes exactly the escapes HubSpot decodes, in either case, and keeps every other escape', () => {
    const uri = hubSpotSignedUri(
      'https://api.example.test',
      '/webhooks/hubspot',
      'a=%3A%2f%3F%40%21%24%27%28%29%2A%2C%3b&b=%20%2B%25%26%3D&c=x+y',
    );

    expect(uri).toBe("https://api.example.test/webhooks/hubspot?a=:/?@!$'()*,;&b=%20%2B%25%26%3D&c=x+y");
  });

  it('takes only the public origin, and the path as API Gateway passed it (a stage prefix included)', () => {
    expect(
      hubSpotSignedUri('https://abc123.execute-api.eu-west-1.amazonaws.com/', '/prod/webhooks/hubspot', ''),
    ).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com/prod/webhooks/hubspot');
    expect(hubSpotSignedUri('http://127.0.0.1:3000', '/webhooks/hubspot', 'portal=62515')).toBe(
      'http://127.0.0.1:3000/webhooks/hubspot?portal=62515',
    );
  });
});

describe('Function: verifyHubSpotSignature', () => {
  const body = event('hubspot-custom-body.json');

  it('accepts a signature made with the documented formula, over the raw bytes', () => {
    expect(() => verifyHubSpotSignature(signed(body), [SECRET], NOW)).not.toThrow();
  });

  it('accepts a body in any script, signed as UTF-8', () => {
    const text = JSON.stringify({ firstname: 'Zoë', lastname: '李', company: 'Bücher ✓' });

    expect(() => verifyHubSpotSignature(signed(text), [SECRET], NOW)).not.toThrow();
  });

  it('accepts either of two secrets during a rotation', () => {
    expect(() =>
      verifyHubSpotSignature(signed(body, { secret: OTHER_SECRET }), [SECRET, OTHER_SECRET], NOW),
    ).not.toThrow();
  });

  it('accepts timestamps up to 5 minutes old or early, and no further', () => {
    expect(() => verifyHubSpotSignature(signed(body), [SECRET], NOW + 300_000)).not.toThrow();
    expect(() => verifyHubSpotSignature(signed(body), [SECRET], NOW - 300_000)).not.toThrow();
    expect(() => verifyHubSpotSignature(signed(body), [SECRET], NOW + 300_001)).toThrow(/5 minutes/);
    expect(() => verifyHubSpotSignature(signed(body), [SECRET], NOW - 300_001)).toThrow(/5 minutes/);
  });

  it.each([
    ['another secret', () => signed(body, { secret: OTHER_SECRET })],
    ['another body', () => ({ ...signed(body), body: Buffer.from(body.replace('Katherine', 'Kathrine')) })],
    ['another URI', () => signed(body, { uri: `${URI}?x=1` })],
    ['another method', () => signed(body, { method: 'GET' })],
    [
      'a timestamp other than the one signed',
      () => {
        const request = signed(body);
        return {
          ...request,
          headers: { ...request.headers, 'x-hubspot-request-timestamp': String(NOW + 1) },
        };
      },
    ],
    ['a timestamp in seconds', () => signed(body, { timestamp: String(NOW / 1000) })],
    ['a timestamp with junk', () => signed(body, { timestamp: `${NOW}x` })],
    ['no signature', () => ({ ...signed(body), headers: { 'x-hubspot-request-timestamp': String(NOW) } })],
    ['no timestamp', () => ({ ...signed(body), headers: { 'x-hubspot-signature-v3': 'AAAA' } })],
    [
      'a v2 signature in the v3 header',
      () => ({
        ...signed(body),
        headers: {
          'x-hubspot-request-timestamp': String(NOW),
          'x-hubspot-signature-v3': createHash('sha256').update(`${SECRET}POST${URI}${body}`).digest('hex'),
        },
      }),
    ],
  ])('refuses %s with UnauthorizedError', (_case, request) => {
    expect(() => verifyHubSpotSignature(request(), [SECRET], NOW)).toThrow(
      expect.objectContaining({ name: 'UnauthorizedError' }),
    );
  });

  it('refuses everything when no secret is configured', () => {
    expect(() => verifyHubSpotSignature(signed(body), [], NOW)).toThrow(
      expect.objectContaining({ name: 'UnauthorizedError' }),
    );
  });
});

describe('Function: authenticateHubSpot', () => {
  const body = event('hubspot-custom-body.json');
  const config = (env: Record<string, string>, secrets: Partial<Record<SecretName, string>>) => ({
    publicApiUrl: 'https://api.example.test',
    hubspot: hubSpotSettings(env),
    secret: (name: SecretName) =>
      secrets[name] === undefined
        ? Promise.reject(new Error(`${name} unset`))
        : Promise.resolve(secrets[name]),
  });
  const request = (
    headers: Record<string, string | undefined>,
    query: Record<string, string> = {},
    rawQueryString = '',
  ) => ({
    method: 'POST',
    rawPath: '/webhooks/hubspot',
    rawQueryString,
    headers,
    query,
  });

  it('checks the v3 signature over the URI rebuilt from the public URL, with both secrets of a rotation', async () => {
    const { headers } = signed(body, { secret: OTHER_SECRET, uri: `${URI}?source=workflow:42` });
    const sent = request(headers, { source: 'workflow:42' }, 'source=workflow%3A42');

    await expect(
      authenticateHubSpot(
        sent,
        Buffer.from(body),
        config({}, { HUBSPOT_CLIENT_SECRET: `${SECRET} ${OTHER_SECRET}` }),
        NOW,
      ),
    ).resolves.toBeUndefined();
    await expect(
      authenticateHubSpot(sent, Buffer.from(body), config({}, { HUBSPOT_CLIENT_SECRET: SECRET }), NOW),
    ).rejects.toMatchObject({ name: 'UnauthorizedError' });
  });

  it('needs PUBLIC_API_URL to rebuild the URI: a configuration error, not the sender fault', async () => {
    const { headers } = signed(body);

    await expect(
      authenticateHubSpot(
        request(headers),
        Buffer.from(body),
        { ...config({}, { HUBSPOT_CLIENT_SECRET: SECRET }), publicApiUrl: undefined },
        NOW,
      ),
    ).rejects.toMatchObject({ name: 'ConfigurationError' });
  });

  it('takes the named API key from a header, or from the query, as configured (any of two)', async () => {
    const headerMode = config(
      { HUBSPOT_AUTH: 'api_key', HUBSPOT_API_KEY_NAME: 'X-Workflow-Key' },
      { HUBSPOT_API_KEY: 'k-old k-new' },
    );
    const queryMode = config(
      { HUBSPOT_AUTH: 'api_key', HUBSPOT_API_KEY_IN: 'query', HUBSPOT_API_KEY_NAME: 'key' },
      { HUBSPOT_API_KEY: 'k-new' },
    );

    await expect(
      authenticateHubSpot(request({ 'x-workflow-key': 'k-new' }), Buffer.from(body), headerMode),
    ).resolves.toBeUndefined();
    await expect(
      authenticateHubSpot(request({ 'x-workflow-key': 'k-old' }), Buffer.from(body), headerMode),
    ).resolves.toBeUndefined();
    await expect(
      authenticateHubSpot(request({}, { key: 'k-new' }), Buffer.from(body), queryMode),
    ).resolves.toBeUndefined();
    for (const [sent, mode] of [
      [request({ 'x-workflow-key': 'k-other' }), headerMode],
      [request({}, { 'x-workflow-key': 'k-new' }), headerMode],
      [request({ key: 'k-new' }), queryMode],
      [request({}), queryMode],
    ] as const) {
      await expect(authenticateHubSpot(sent, Buffer.from(body), mode)).rejects.toMatchObject({
        name: 'UnauthorizedError',
      });
    }
  });
});

describe('Function: hubSpotSettings', () => {
  it('defaults to signature v3 and the standard contact properties', () => {
    expect(SETTINGS).toEqual({
      auth: 'signature',
      apiKeyIn: 'header',
      apiKeyName: 'x-hubspot-key',
      properties: DEFAULT_HUBSPOT_PROPERTIES,
    });
  });

  it('replaces the properties a map names, and only those', () => {
    const settings = hubSpotSettings({
      HUBSPOT_PROPERTY_MAP:
        '{"mobile_phone": ["hs_whatsapp_phone_number", "mobilephone"], "linkedin_url": "linkedin_profile", "direct_phone": []}',
    });

    expect(settings.properties.mobile_phone).toEqual(['hs_whatsapp_phone_number', 'mobilephone']);
    expect(settings.properties.linkedin_url).toEqual(['linkedin_profile']);
    expect(settings.properties.direct_phone).toEqual([]);
    expect(settings.properties.email).toEqual(['email']);
  });

  it.each([
    ['HUBSPOT_AUTH', { HUBSPOT_AUTH: 'basic' }, /^HUBSPOT_AUTH must be one of signature, api_key/],
    [
      'HUBSPOT_API_KEY_IN',
      { HUBSPOT_API_KEY_IN: 'body' },
      /^HUBSPOT_API_KEY_IN must be one of header, query/,
    ],
    ['HUBSPOT_API_KEY_NAME', { HUBSPOT_API_KEY_NAME: 'x key' }, /^HUBSPOT_API_KEY_NAME must be/],
    [
      'the map, not JSON',
      { HUBSPOT_PROPERTY_MAP: '{mobile_phone: x}' },
      /^HUBSPOT_PROPERTY_MAP must be a JSON object/,
    ],
    [
      'the map, an unknown field',
      { HUBSPOT_PROPERTY_MAP: '{"fax": "fax"}' },
      /^HUBSPOT_PROPERTY_MAP\.fax: not a field/,
    ],
    [
      'the map, a bad name',
      { HUBSPOT_PROPERTY_MAP: '{"email": [""]}' },
      /^HUBSPOT_PROPERTY_MAP\.email: must be a property name/,
    ],
  ])('names the variable and the field at fault: %s', (_case, env, message) => {
    expect(() => hubSpotSettings(env)).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: expect.stringMatching(message) as unknown,
      }),
    );
  });
});

describe('Function: parseHubSpotContact', () => {
  it('reads the legacy "all contact properties" body: values, the record id, the address parts, E.164 phones', () => {
    const person = only(parseHubSpotContact(event('hubspot-all-properties.json'), SETTINGS, OPTIONS));

    expect(person.fields).toEqual({
      first_name: 'Grace',
      last_name: 'Hopper',
      email: 'grace.hopper@cobolworks.example',
      organization_name: 'COBOL Works Inc.',
      website_url: 'https://www.cobolworks.example',
      title: 'Rear Admiral',
      present_raw_address: '1 Harvard Way, Arlington, VA, United States',
      direct_phone: '+15550101906',
      mobile_phone: '+15550101992',
      hubspot_id: '1501',
    });
    expect(person.identities).toContainEqual(['crm', 'hubspot', '1501']);
    expect(person.identities).toContainEqual(['linkedin', 'linkedin.com/in/grace-hopper-example']);
  });

  it("takes canonical-vid (the merged record's survivor) over vid and hs_object_id", () => {
    const body = {
      vid: 7,
      'canonical-vid': 9,
      properties: { email: { value: 'a@b.example' }, hs_object_id: { value: '7' } },
    };

    expect(only(parseHubSpotContact(JSON.stringify(body), SETTINGS, OPTIONS)).fields.hubspot_id).toBe('9');
  });

  it('reads a property that only has its history from the newest of its versions', () => {
    const body = {
      vid: 12,
      properties: {
        email: {
          versions: [
            { value: 'new@cobolworks.example', timestamp: 2 },
            { value: 'old@cobolworks.example', timestamp: 1 },
          ],
        },
        firstname: { value: '', versions: [{ value: 'Grace' }] },
      },
    };

    expect(only(parseHubSpotContact(JSON.stringify(body), SETTINGS, OPTIONS)).fields).toMatchObject({
      email: 'new@cobolworks.example',
      first_name: 'Grace',
    });
  });

  it('falls back on the primary EMAIL identity profile when the email property is empty', () => {
    const body = {
      vid: 13,
      properties: { email: { value: '' }, firstname: { value: 'Grace' } },
      'identity-profiles': [
        {
          identities: [
            { type: 'LEAD_GUID', value: 'x' },
            { type: 'EMAIL', value: 'second@ex.example' },
            { type: 'EMAIL', value: 'primary@ex.example', 'is-primary': true },
          ],
        },
      ],
    };

    expect(only(parseHubSpotContact(JSON.stringify(body), SETTINGS, OPTIONS)).fields.email).toBe(
      'primary@ex.example',
    );
  });

  it('reads the customised flat body under the property names, numbers as text', () => {
    const person = only(parseHubSpotContact(event('hubspot-custom-body.json'), SETTINGS, OPTIONS));
    const numeric = only(
      parseHubSpotContact(
        JSON.stringify({ hs_object_id: 1503, email: 'n@orbitmath.example', phone: 5550101234 }),
        SETTINGS,
        OPTIONS,
      ),
    );

    expect(person.fields).toEqual({
      first_name: 'Katherine',
      last_name: 'Johnson',
      email: 'katherine.johnson@orbitmath.example',
      organization_name: 'Orbit Math LLC',
      website_url: 'orbitmath.example',
      title: 'Research Mathematician',
      mobile_phone: '+15550101918',
      hubspot_id: '1502',
    });
    expect(numeric.fields).toMatchObject({ hubspot_id: '1503', direct_phone: '+15550101234' });
  });

  it('reads custom property names from the map, in both shapes', () => {
    const settings = hubSpotSettings({
      HUBSPOT_PROPERTY_MAP: '{"mobile_phone": "hs_whatsapp_phone_number", "email": ["work_email", "email"]}',
    });
    const flat = {
      email: 'home@ex.example',
      work_email: 'work@ex.example',
      hs_whatsapp_phone_number: '555-010-2000',
      mobilephone: '555-010-3000',
    };
    const legacy = {
      vid: 5,
      properties: Object.fromEntries(Object.entries(flat).map(([k, v]) => [k, { value: v }])),
    };

    for (const body of [flat, legacy]) {
      expect(only(parseHubSpotContact(JSON.stringify(body), settings, OPTIONS)).fields).toMatchObject({
        email: 'work@ex.example',
        mobile_phone: '+15550102000',
      });
    }
  });

  it('keeps a person without email when name and company identify them, by CRM id too', () => {
    const person = only(
      parseHubSpotContact(
        JSON.stringify({ hs_object_id: '88', firstname: 'Ada', lastname: 'Byron', company: 'Engines Ltd' }),
        SETTINGS,
        OPTIONS,
      ),
    );

    expect(person.match).toEqual({ first_name: 'Ada', last_name: 'Byron', organization_name: 'Engines Ltd' });
    expect(person.identities[0]).toEqual(['crm', 'hubspot', '88']);
  });

  it.each([
    ['not JSON', '{"email": ', /^body: not valid JSON/],
    ['an array', '[{"email": "a@b.example"}]', /^body: must be a JSON object/],
    ['nothing HubSpot', '{"event": "ping"}', /^body: not a HubSpot contact/],
    ['no identity', '{"firstname": "Ada"}', /^body: no identity/],
    ['a bad email', '{"email": "not-an-email"}', /^body\.email: not an email address/],
    ['an object for a value', '{"properties": {"email": {"value": {"x": 1}}}}', /^body\.email: /],
    [
      'a record id that is not HubSpot',
      '{"email": "a@b.example", "hs_object_id": "12ab"}',
      /^body\.hubspot_id: not a HubSpot record id/,
    ],
    [
      'a legacy vid that is not an id',
      '{"vid": -4, "properties": {"email": {"value": "a@b.example"}}}',
      /^body\.hubspot_id: not a HubSpot record id/,
    ],
  ])('refuses %s with a 400 naming the field', (_case, body, message) => {
    expect(() => parseHubSpotContact(body, SETTINGS, OPTIONS)).toThrow(
      expect.objectContaining({
        name: 'InvalidRequestError',
        message: expect.stringMatching(message) as unknown,
      }),
    );
  });
});
