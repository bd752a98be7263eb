import { ConfigurationError, NotFoundError } from '../errors';
import type { PersonInput } from '../person';
import { PERSON_INPUT_FIELDS } from '../person-fields';

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

/**
 * The person fields a map may fill: every field of the person input (`PERSON_INPUT_FIELDS`, named
 * apart from person parsing, which reading the configuration at every function's startup must not
 * bundle).
 */
export const CUSTOM_FIELDS = PERSON_INPUT_FIELDS satisfies ReadonlyArray<keyof PersonInput>;
export type CustomField = (typeof CUSTOM_FIELDS)[number];

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
export function valueAt(value: unknown, steps: readonly Step[]): unknown {
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
export const isObject = (value: unknown): value is JsonObject =>
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
    if (!(CUSTOM_FIELDS as readonly string[]).includes(field)) {
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
