import { createHmac } from 'node:crypto';
import type { Config } from '../config';
import { ConfigurationError, InvalidRequestError, UnauthorizedError } from '../errors';
import type { HttpRequest } from '../http/api';
import type { PersonInput, PersonOptions } from '../person';
import { parseJsonObject, personEntries, type PersonEntry } from '../requests';
import { doorSecrets, matchesAnySecret, sameSignature } from './common';
import { HUBSPOT_MAPPED_FIELDS, type HubSpotSettings } from './hubspot-settings';

export {
  DEFAULT_HUBSPOT_PROPERTIES,
  HUBSPOT_MAPPED_FIELDS,
  hubSpotSettings,
  type HubSpotMappedField,
  type HubSpotSettings,
} from './hubspot-settings';

/**
 * HubSpot's workflow action "Send a webhook" (docs/crm/crm-sources.md): one contact per request,
 * signed with a HubSpot app's client secret (signature v3) or carrying an API key the user named.
 * HubSpot's app webhooks (Webhooks API subscriptions) carry ids only and are not taken here.
 */

/**
 * How long the door gives itself to answer, from API Gateway's receipt. HubSpot's app webhooks
 * give up after 5 s (its workflows after 30 s) and retry 5xx. The intake calls no Apollo and
 * usually answers in a few hundred ms; should the ledger or the queue be slow, it stops in time
 * and answers 503 rather than being cut off.
 */
export const HUBSPOT_ANSWER_BUDGET_MS = 4_000;

/** HubSpot refuses timestamps older than this; the door refuses them this far in the future too. */
const SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

/** The escapes HubSpot decodes in the URI before signing it, and only these. */
const HUBSPOT_DECODED_ESCAPES = /%(?:3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi;

/**
 * The URI HubSpot signed: the API's public origin (the one HubSpot calls), then the path and query
 * exactly as they arrived (API Gateway's `rawPath`, which holds any stage prefix, and
 * `rawQueryString`), with HubSpot's decoded escapes decoded; every other escape stays as sent.
 */
export function hubSpotSignedUri(publicApiUrl: string, rawPath: string, rawQueryString: string): string {
  const uri = `${new URL(publicApiUrl).origin}${rawPath}${rawQueryString === '' ? '' : `?${rawQueryString}`}`;
  return uri.replace(HUBSPOT_DECODED_ESCAPES, (escape) => decodeURIComponent(escape));
}

/** HubSpot's v3 signature: base64 HMAC-SHA256, keyed with the client secret, of method + URI + raw body + timestamp. */
export function hubSpotSignatureV3(
  clientSecret: string,
  request: { method: string; uri: string; body: Buffer; timestamp: string },
): string {
  return createHmac('sha256', clientSecret)
    .update(`${request.method}${request.uri}`, 'utf8')
    .update(request.body)
    .update(request.timestamp, 'utf8')
    .digest('base64');
}

/**
 * Checks `X-HubSpot-Signature-v3` against every configured client secret (two during a rotation),
 * over the body's bytes as received and the timestamp HubSpot sent (Unix ms, at most 5 minutes
 * away). Throws UnauthorizedError; the reason is logged, never told to the sender.
 */
export function verifyHubSpotSignature(
  request: { method: string; uri: string; body: Buffer; headers: Record<string, string | undefined> },
  clientSecrets: readonly string[],
  nowMs: number,
): void {
  const signature = request.headers['x-hubspot-signature-v3'] ?? '';
  const timestamp = request.headers['x-hubspot-request-timestamp'] ?? '';
  if (signature === '' || timestamp === '') {
    throw new UnauthorizedError('missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp');
  }
  if (!/^\d{1,15}$/.test(timestamp))
    throw new UnauthorizedError('X-HubSpot-Request-Timestamp is not Unix ms');
  if (Math.abs(nowMs - Number(timestamp)) > SIGNATURE_TOLERANCE_MS) {
    throw new UnauthorizedError('X-HubSpot-Request-Timestamp is more than 5 minutes away');
  }
  if (clientSecrets.length === 0) throw new UnauthorizedError('no HubSpot client secret configured');
  const given = Buffer.from(signature);
  let matched = false;
  for (const secret of clientSecrets) {
    const expected = Buffer.from(hubSpotSignatureV3(secret, { ...request, timestamp }));
    matched = sameSignature(given, expected) || matched;
  }
  if (!matched) throw new UnauthorizedError('HubSpot signature v3 rejected');
}

/**
 * Authenticates a request to the HubSpot door the way the workflow action was set up: signature
 * v3 with the app's client secret, or the API key the user named, in a header or the query.
 */
export async function authenticateHubSpot(
  request: Pick<HttpRequest, 'method' | 'rawPath' | 'rawQueryString' | 'headers' | 'query'>,
  body: Buffer,
  config: Pick<Config, 'secret' | 'publicApiUrl' | 'hubspot'>,
  nowMs = Date.now(),
): Promise<void> {
  const settings = config.hubspot;
  if (settings.auth === 'api_key') {
    const given =
      (settings.apiKeyIn === 'header' ? request.headers : request.query)[settings.apiKeyName] ?? '';
    if (!matchesAnySecret(given, await doorSecrets(config, 'HUBSPOT_API_KEY'))) {
      throw new UnauthorizedError(
        `HubSpot API key (${settings.apiKeyIn} ${settings.apiKeyName}) missing or wrong`,
      );
    }
    return;
  }
  if (!config.publicApiUrl) {
    throw new ConfigurationError(
      'PUBLIC_API_URL must be set to check HubSpot signatures (the URL HubSpot calls)',
    );
  }
  const uri = hubSpotSignedUri(config.publicApiUrl, request.rawPath, request.rawQueryString);
  const secrets = await doorSecrets(config, 'HUBSPOT_CLIENT_SECRET');
  verifyHubSpotSignature({ method: request.method, uri, body, headers: request.headers }, secrets, nowMs);
}

// ---------------------------------------------------------------------------------------------
// The body
// ---------------------------------------------------------------------------------------------

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A scalar as text (HubSpot sends strings; a customised body may hold numbers); others as they are, for the schema to refuse. */
function asText(value: unknown): unknown {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return value;
}

/**
 * A property of the legacy ("all contact properties") body: `properties.{name}.value`, or, when a
 * property carries only its history, the newest of its `versions` (HubSpot lists them newest first).
 */
function legacyProperty(properties: JsonObject, name: string): unknown {
  const property = properties[name];
  if (!isObject(property)) return property;
  if (property.value !== undefined && property.value !== null && property.value !== '') return property.value;
  const versions = property.versions;
  if (Array.isArray(versions)) {
    const newest: unknown = versions.find((version) => isObject(version) && version.value != null);
    if (isObject(newest)) return newest.value;
  }
  return property.value;
}

/** The legacy body's primary email from `identity-profiles`, for a contact whose `email` property is empty. */
function identityProfileEmail(body: JsonObject): unknown {
  const profiles: unknown = body['identity-profiles'];
  if (!Array.isArray(profiles)) return undefined;
  const emails = (profiles as unknown[])
    .flatMap((profile): unknown[] =>
      isObject(profile) && Array.isArray(profile.identities) ? (profile.identities as unknown[]) : [],
    )
    .filter((identity): identity is JsonObject => isObject(identity) && identity.type === 'EMAIL');
  return (emails.find((identity) => identity['is-primary'] === true) ?? emails[0])?.value;
}

const present = (value: unknown) => value !== undefined && value !== null && value !== '';

/**
 * Reads HubSpot's workflow webhook body into the person it names: the legacy shape
 * (`{"vid", "canonical-vid", "properties": {"email": {"value", "versions"}, ...}}`) or the
 * customised flat body (`{"email": "...", "firstname": "...", "hs_object_id": "..."}`), through
 * the property map. The record id comes from `canonical-vid` (the surviving record after a merge),
 * `vid`, or the mapped properties. A person that cannot be converted makes the request a 400:
 * HubSpot does not retry it, and a retry could not change it.
 */
export function parseHubSpotContact(
  rawBody: string,
  settings: Pick<HubSpotSettings, 'properties'>,
  options: PersonOptions,
): PersonEntry[] {
  const body = parseJsonObject(rawBody);
  const legacy = isObject(body.properties);
  const properties = legacy ? (body.properties as JsonObject) : body;
  const read = (name: string) => asText(legacy ? legacyProperty(properties, name) : properties[name]);
  const first = (names: readonly string[]) => names.map(read).find(present);

  const input: Record<string, unknown> = {};
  for (const field of HUBSPOT_MAPPED_FIELDS) {
    const names = settings.properties[field];
    if (field === 'present_raw_address') {
      const parts = names.map(read).filter(present);
      if (parts.length > 0)
        input[field] = parts.every((part) => typeof part === 'string') ? parts.join(', ') : parts;
    } else {
      input[field] = first(names);
    }
  }
  if (legacy) {
    input.hubspot_id = asText(body['canonical-vid'] ?? body.vid) ?? input.hubspot_id;
    if (!present(input.email)) input.email = asText(identityProfileEmail(body));
  }
  for (const field of Object.keys(input)) if (input[field] === undefined) delete input[field];
  if (Object.keys(input).length === 0) {
    throw new InvalidRequestError(
      'body: not a HubSpot contact (no "properties", and none of the mapped properties at the top level)',
    );
  }
  return personEntries([input satisfies Partial<Record<keyof PersonInput, unknown>>], () => 'body', options);
}
