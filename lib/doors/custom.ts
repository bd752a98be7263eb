import { createHmac } from 'node:crypto';
import { ConfigurationError, InvalidRequestError, NotFoundError, UnauthorizedError } from '../errors';
import type { HttpRequest } from '../http/api';
import { MAX_PEOPLE_PER_REQUEST, personInputSchema, type PersonOptions } from '../person';
import { personEntries, type PersonEntry } from '../requests';
import { matchesAnySecret, sameSignature, type DoorDelivery } from './common';

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

/** A step of a path: an object's property or a list's index. */
type Step = string | number;

export interface CustomSource {
  name: string;
  /** `secret`: the header carries a secret; `hmac-sha256`: it carries the HMAC-SHA256 of the raw body. */
  auth: 'secret' | 'hmac-sha256';
  /** Lower case, as the door reads headers. */
  header: string;
  /** One, or two during a rotation. */
  secrets: string[];
  /** Where the list of people is; undefined: the body is one person. */
  people?: Step[];
  /** Each person field, and the paths (relative to a person) tried in order for it. */
  fields: Partial<Record<CustomField, Step[][]>>;
  /** Lists (Apollo labels) every person of this source is added to. */
  labels: string[];
  /** A header the sender puts a delivery id in: a repeated delivery is answered once. */
  deliveryIdHeader?: string;
}

export type CustomSources = ReadonlyMap<string, CustomSource>;

/** The person fields a map may fill: every field of the person input. */
export const CUSTOM_FIELDS = Object.keys(personInputSchema.def.shape) as CustomField[];
export type CustomField = keyof typeof personInputSchema.def.shape;

const SOURCE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
const MIN_SECRET_LENGTH = 16;
const SOURCE_KEYS = ['auth', 'header', 'secrets', 'people', 'fields', 'labels', 'delivery_id_header'];

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

const NAME_STEP = /^\.?([^.[\]"\s]+)/;
const QUOTED_STEP = /^\[("(?:[^"\\]|\\.)*")\]/;
const INDEX_STEP = /^\[(\d{1,6})\]/;

/**
 * Parses a path into a body: `email`, `person.work_email`, `rows[0].email`, `["Work Email"]`,
 * `data["first name"]`; a leading `$` (or `$.`) stands for the body itself, and `$` alone is the
 * body. Throws a plain message; `parseCustomSources` says where.
 */
export function parsePath(path: string): Step[] {
  let rest = path.trim().replace(/^\$/, '');
  const steps: Step[] = [];
  while (rest !== '') {
    const quoted = QUOTED_STEP.exec(rest);
    const index = quoted ? null : INDEX_STEP.exec(rest);
    const name = quoted || index ? null : NAME_STEP.exec(rest);
    const match = quoted ?? index ?? name;
    if (match === null) {
      throw new Error(`"${path}" is not a path (write a.b, a[0] or ["a b"]); stuck at "${rest}"`);
    }
    if (quoted) steps.push(JSON.parse(quoted[1] as string) as string);
    else if (index) steps.push(Number(index[1]));
    else steps.push(match[1] as string);
    rest = rest.slice(match[0].length);
  }
  return steps;
}

/** A path as the README writes it, after `body`: `.rows[3]`, `["Work Email"]`. */
export function formatPath(steps: readonly Step[]): string {
  return steps
    .map((step) =>
      typeof step === 'number'
        ? `[${step}]`
        : /^[A-Za-z_$][\w$-]*$/.test(step)
          ? `.${step}`
          : `[${JSON.stringify(step)}]`,
    )
    .join('');
}

/** The value at `steps` under `value`: own properties only, so `__proto__` or `constructor` find nothing. */
function valueAt(value: unknown, steps: readonly Step[]): unknown {
  let current = value;
  for (const step of steps) {
    if (typeof step === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[step];
    } else {
      if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
      if (!Object.hasOwn(current, step)) return undefined;
      current = (current as Record<string, unknown>)[step];
    }
  }
  return current;
}

// ---------------------------------------------------------------------------------------------
// The configuration
// ---------------------------------------------------------------------------------------------

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function configError(where: string, what: string): ConfigurationError {
  return new ConfigurationError(`CUSTOM_SOURCES: ${where}: ${what}`);
}

function pathAt(where: string, path: unknown): Step[] {
  if (typeof path !== 'string' || path.trim() === '') throw configError(where, 'must be a path (text)');
  try {
    return parsePath(path);
  } catch (error) {
    throw configError(where, (error as Error).message);
  }
}

function headerAt(where: string, value: unknown, fallback: string): string {
  const header = value ?? fallback;
  if (typeof header !== 'string' || !HEADER_NAME.test(header)) {
    throw configError(where, `must be a header name, not ${JSON.stringify(header)}`);
  }
  return header.toLowerCase();
}

function parseSource(name: string, raw: unknown): CustomSource {
  if (!SOURCE_NAME.test(name)) {
    throw configError(
      name,
      'a source name is 1 to 64 lower-case letters, digits, "-" or "_" (it is the URL path)',
    );
  }
  if (!isObject(raw)) throw configError(name, 'must be an object');
  const unknown = Object.keys(raw).filter((key) => !SOURCE_KEYS.includes(key));
  if (unknown.length > 0) {
    throw configError(`${name}.${unknown[0]}`, `not a setting (one of ${SOURCE_KEYS.join(', ')})`);
  }
  const auth = raw.auth ?? 'secret';
  if (auth !== 'secret' && auth !== 'hmac-sha256') {
    throw configError(`${name}.auth`, `must be "secret" or "hmac-sha256", not ${JSON.stringify(auth)}`);
  }
  const secrets = raw.secrets;
  if (
    !Array.isArray(secrets) ||
    secrets.length < 1 ||
    secrets.length > 2 ||
    !secrets.every(
      (secret) => typeof secret === 'string' && secret.length >= MIN_SECRET_LENGTH && !/\s/.test(secret),
    )
  ) {
    throw configError(
      `${name}.secrets`,
      `must be a list of one or two secrets (two during a rotation), each at least ${MIN_SECRET_LENGTH} characters without spaces`,
    );
  }
  if (!isObject(raw.fields) || Object.keys(raw.fields).length === 0) {
    throw configError(`${name}.fields`, 'must be an object of person field → path in the body');
  }
  const fields: CustomSource['fields'] = {};
  for (const [field, paths] of Object.entries(raw.fields)) {
    if (!(CUSTOM_FIELDS as string[]).includes(field)) {
      throw configError(`${name}.fields.${field}`, `not a person field (one of ${CUSTOM_FIELDS.join(', ')})`);
    }
    const list: unknown[] = Array.isArray(paths) ? paths : [paths];
    if (list.length === 0) throw configError(`${name}.fields.${field}`, 'needs at least one path');
    fields[field as CustomField] = list.map((path, index) =>
      pathAt(Array.isArray(paths) ? `${name}.fields.${field}[${index}]` : `${name}.fields.${field}`, path),
    );
  }
  const labels = raw.labels ?? [];
  if (
    !Array.isArray(labels) ||
    !labels.every((label) => typeof label === 'string' && label.trim() !== '' && label.length <= 200)
  ) {
    throw configError(`${name}.labels`, 'must be a list of list names');
  }
  return {
    name,
    auth,
    header: headerAt(
      `${name}.header`,
      raw.header,
      auth === 'secret' ? 'x-webhook-secret' : 'x-webhook-signature',
    ),
    secrets: secrets as string[],
    people: raw.people === undefined ? undefined : pathAt(`${name}.people`, raw.people),
    fields,
    labels: labels as string[],
    deliveryIdHeader:
      raw.delivery_id_header === undefined
        ? undefined
        : headerAt(`${name}.delivery_id_header`, raw.delivery_id_header, ''),
  };
}

const parsedSources = new Map<string, CustomSources>();

/**
 * Reads and validates `CUSTOM_SOURCES` (once per distinct text). Throws ConfigurationError naming
 * the source and the setting or path at fault, e.g. `CUSTOM_SOURCES: clay.fields.email: "a..b" is
 * not a path`.
 */
export function parseCustomSources(text: string): CustomSources {
  const cached = parsedSources.get(text);
  if (cached !== undefined) return cached;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigurationError('CUSTOM_SOURCES: must be a JSON object of source name → source');
  }
  if (!isObject(raw))
    throw new ConfigurationError('CUSTOM_SOURCES: must be a JSON object of source name → source');
  const sources = new Map(Object.entries(raw).map(([name, source]) => [name, parseSource(name, source)]));
  parsedSources.set(text, sources);
  return sources;
}

/** The source a request names; NotFoundError for one that is not configured. */
export function customSource(sources: CustomSources, name: string): CustomSource {
  const source = sources.get(name);
  if (source === undefined)
    throw new NotFoundError(`no custom source named "${name.slice(0, 64)}" is configured`);
  return source;
}

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
