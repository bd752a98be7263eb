import { createHmac } from 'node:crypto';
import { InvalidRequestError, UnauthorizedError } from '../errors';
import type { HttpRequest } from '../http/api';
import { MAX_PEOPLE_PER_REQUEST, type PersonOptions } from '../person';
import { personEntries, type PersonEntry } from '../requests';
import { matchesAnySecret, sameSignature, type DoorDelivery } from './common';
import { formatPath, isObject, valueAt, type CustomSource } from './custom-sources';

export {
  CUSTOM_FIELDS,
  customSource,
  formatPath,
  parseCustomSources,
  parsePath,
  type CustomField,
  type CustomSource,
  type CustomSources,
} from './custom-sources';

/**
 * The door for any JSON sender (Clay's HTTP API column, Webhooks by Zapier, Make's HTTP module,
 * n8n, a Salesforce Flow callout): `POST /webhooks/custom/{source}`. None of them signs anything
 * and each sends the JSON its user templates, so each configured source has a declarative field
 * map (paths into the body, for one person or a list) and a secret of its own.
 *
 * Every source lives in one JSON document, `CUSTOM_SOURCES` (an SSM SecureString in AWS, an
 * environment variable locally):
 *
 * ```json
 * {
 *   "clay": {
 *     "header": "x-clay-secret",
 *     "secrets": ["a long random secret"],
 *     "people": "rows",
 *     "fields": { "email": "Work Email", "first_name": "person.first", "mobile_phone": ["mobile", "phone"] },
 *     "labels": ["From Clay"],
 *     "delivery_id_header": "x-request-id"
 *   }
 * }
 * ```
 */

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

/** An HMAC-SHA256 as senders write it: hex or base64, optionally after `sha256=`. */
function signatureBytes(given: string): Buffer | undefined {
  const value = given.trim().replace(/^sha256=/i, '');
  if (/^[0-9a-f]{64}$/i.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(value) || /^[A-Za-z0-9_-]{43}$/.test(value)) {
    return Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  }
  return undefined;
}

/**
 * Checks the source's header: its secret (compared in constant time with each secret of the
 * source), or the HMAC-SHA256 of the raw body keyed with one of them. Throws UnauthorizedError.
 */
export function authenticateCustom(
  source: CustomSource,
  headers: HttpRequest['headers'],
  body: Buffer,
): void {
  const given = headers[source.header] ?? '';
  if (source.auth === 'secret') {
    if (!matchesAnySecret(given, source.secrets)) {
      throw new UnauthorizedError(`custom source ${source.name}: ${source.header} missing or wrong`);
    }
    return;
  }
  const signature = signatureBytes(given);
  let matched = false;
  for (const secret of source.secrets) {
    const expected = createHmac('sha256', secret).update(body).digest();
    matched = (signature !== undefined && sameSignature(signature, expected)) || matched;
  }
  if (!matched)
    throw new UnauthorizedError(`custom source ${source.name}: ${source.header} HMAC missing or wrong`);
}

/** The delivery a sender identifies in its delivery id header, if the source names one and it came. */
export function customDelivery(
  source: CustomSource,
  headers: HttpRequest['headers'],
  body: Buffer,
): DoorDelivery | undefined {
  const id = source.deliveryIdHeader === undefined ? undefined : headers[source.deliveryIdHeader]?.trim();
  return id ? { id: `custom:${source.name}:${id}`, body } : undefined;
}

// ---------------------------------------------------------------------------------------------
// The body
// ---------------------------------------------------------------------------------------------

/** A scalar as text (tools send numbers for phones and ids); anything else as it is, for the schema to refuse. */
function asText(value: unknown): unknown {
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

const present = (value: unknown) => value !== undefined && value !== null && value !== '';

/** One person as the source's map reads it: each field from the first of its paths with a value. */
function personInput(source: CustomSource, person: unknown): unknown {
  if (!isObject(person)) return person;
  const input: Record<string, unknown> = {};
  for (const [field, paths] of Object.entries(source.fields)) {
    const value = paths.map((steps) => valueAt(person, steps)).find(present);
    if (value === undefined) continue;
    input[field] =
      field === 'label_names' ? (Array.isArray(value) ? value : [value]).map(asText) : asText(value);
  }
  if (source.labels.length > 0) {
    const given = Array.isArray(input.label_names) ? (input.label_names as unknown[]) : [];
    input.label_names = [...given, ...source.labels];
  }
  return input;
}

/**
 * Reads a custom source's body into people through its map: the list at `people` (1 to 100), or
 * the body as one person. Each person is validated on its own (an invalid one gets its own result
 * at its position, e.g. `body.rows[2].email`); a body without one usable person is a 400.
 */
export function parseCustomBody(
  source: CustomSource,
  rawBody: string,
  options: PersonOptions,
): PersonEntry[] {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    throw new InvalidRequestError('body: not valid JSON');
  }
  if (source.people === undefined) {
    if (!isObject(body)) throw new InvalidRequestError('body: must be a JSON object (one person)');
    return personEntries([personInput(source, body)], () => 'body', options);
  }
  const where = `body${formatPath(source.people)}`;
  const list = valueAt(body, source.people);
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_PEOPLE_PER_REQUEST) {
    throw new InvalidRequestError(`${where}: must be a list of 1 to ${MAX_PEOPLE_PER_REQUEST} people`);
  }
  return personEntries(
    list.map((person) => personInput(source, person)),
    (index) => `${where}[${index}]`,
    options,
  );
}
