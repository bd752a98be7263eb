import { InvalidRequestError, UnauthorizedError } from '../errors';
import type { PersonInput, PersonOptions } from '../person';
import { parseJsonObject, type PersonEntry } from '../requests';
import { matchesAnySecret, secretList, toEntry } from './common';

/**
 * The Pipedrive door: webhooks v2 (`{meta, data, previous}`) of persons, and the v1 shape
 * (`{meta, current, previous, event}`) that webhooks created as version 1.0 still send. No AWS
 * here; `functions/pipedrive-webhook.ts` wires it. Facts and assumptions, with their sources:
 * `docs/crm/pipedrive.md`.
 *
 * Pipedrive does not document every v2 person field, so the reading is tolerant: a field of an
 * unexpected type or shape is left out (never a 400), unknown fields are ignored, and the plural
 * and singular spellings (`emails` / `email`, `phones` / `phone`) are both read.
 */

/** What a Pipedrive webhook comes to. */
export type PipedriveEvent =
  | {
      kind: 'person';
      /** The person, or why it cannot be converted (one per event). */
      entry: PersonEntry;
      /** Names the delivery for `answerOnce` (v2: the event's `meta.id`), when the event has one. */
      delivery?: { id: string; body: Buffer };
    }
  | { kind: 'ignored'; event: string };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

interface Labelled {
  value: string;
  label: string;
  primary: boolean;
}

/**
 * `[{value, label, primary}]`, a list of strings, or one string: Pipedrive's API accepts all three
 * for emails and phones, so a webhook may show any of them.
 */
function labelledValues(value: unknown): Labelled[] {
  const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return items.flatMap((item): Labelled[] => {
    if (isObject(item)) {
      const itemValue = text(item.value);
      if (itemValue === undefined) return [];
      const label = typeof item.label === 'string' ? item.label.trim().toLowerCase() : '';
      return [{ value: itemValue, label, primary: item.primary === true || item.primary === 'true' }];
    }
    const itemValue = text(item);
    return itemValue === undefined ? [] : [{ value: itemValue, label: '', primary: false }];
  });
}

/** The primary one, else the first. */
function preferred(values: readonly Labelled[]): string | undefined {
  return (values.find((value) => value.primary) ?? values[0])?.value;
}

/** Phone labels and the Apollo field each goes to; any other label (home, other, none) goes to `other_phone`. */
const PHONE_FIELD_BY_LABEL: Record<string, 'mobile_phone' | 'direct_phone'> = {
  mobile: 'mobile_phone',
  work: 'direct_phone',
};

function phoneFields(person: Json): Partial<PersonInput> {
  const phones = labelledValues(person.phones ?? person.phone);
  const fields: Partial<Record<'mobile_phone' | 'direct_phone' | 'other_phone', string>> = {};
  for (const field of ['mobile_phone', 'direct_phone', 'other_phone'] as const) {
    const labelled = phones.filter(({ label }) => (PHONE_FIELD_BY_LABEL[label] ?? 'other_phone') === field);
    const value = preferred(labelled);
    if (value !== undefined) fields[field] = value;
  }
  return fields;
}

/** The organisation's name when the event carries it (v2 sends only `org_id`, a number, as far as documented). */
function organizationName(person: Json): string | undefined {
  return (
    text(person.org_name) ??
    (isObject(person.org_id) ? text(person.org_id.name) : undefined) ??
    (isObject(person.organization) ? text(person.organization.name) : undefined)
  );
}

/** First and last name; from `name` (first word, the rest) only when neither is given. */
function names(person: Json): { first_name?: string; last_name?: string } {
  const first = text(person.first_name);
  const last = text(person.last_name);
  if (first !== undefined || last !== undefined) return { first_name: first, last_name: last };
  const full = text(person.name)?.trim().split(/\s+/);
  if (full === undefined || full.length < 2) return {};
  return { first_name: full[0], last_name: full.slice(1).join(' ') };
}

/** A Pipedrive person as the canonical input. */
export function pipedrivePersonInput(person: Json): PersonInput {
  return {
    ...names(person),
    email: preferred(labelledValues(person.emails ?? person.email)),
    organization_name: organizationName(person),
    title: text(person.job_title),
    ...phoneFields(person),
  };
}

/** v2 actions that carry a person to convert; `delete` (and anything new) is acknowledged and ignored. */
const V2_PERSON_ACTIONS = new Set(['create', 'change']);
/** v1 actions that carry one (`merged` carries the surviving person). */
const V1_PERSON_ACTIONS = new Set(['added', 'updated', 'merged']);

/** The person object of an event that should carry one: 400 when it does not. */
function personOf(value: unknown, location: string): Json {
  if (!isObject(value)) throw new InvalidRequestError(`${location}: must be the person (an object)`);
  return value;
}

/**
 * Reads a Pipedrive webhook body. v2: `meta.version` "2.0" (or `meta.entity`), `meta.action`
 * `create` | `change` | `delete`, the person in `data`, the changed fields' old values in `previous`
 * (not needed: `data` holds the whole person). v1: `meta.object` and `meta.action` `added` |
 * `updated` | `merged` | `deleted`, the person in `current`. Other entities and deletions are
 * `ignored`. A person that cannot be converted is an `invalid` entry, not a 400: retrying would not
 * change it, and Pipedrive pauses a webhook that keeps failing.
 */
export function parsePipedriveWebhook(rawBody: string, options: PersonOptions): PipedriveEvent {
  const body = parseJsonObject(rawBody);
  const meta = body.meta;
  if (!isObject(meta)) throw new InvalidRequestError('body.meta: must be an object (a Pipedrive webhook)');

  const isV2 = meta.version === '2.0' || meta.version === 2 || typeof meta.entity === 'string';
  const isV1 = !isV2 && (meta.v === 1 || meta.v === '1' || typeof meta.object === 'string');
  if (!isV2 && !isV1) {
    throw new InvalidRequestError('body.meta: not a Pipedrive webhook (neither version 2.0 nor 1)');
  }
  const entity = text(isV2 ? meta.entity : meta.object) ?? '';
  const action = text(meta.action) ?? '';
  const actions = isV2 ? V2_PERSON_ACTIONS : V1_PERSON_ACTIONS;
  if (entity !== 'person' || !actions.has(action)) {
    return { kind: 'ignored', event: `${action}.${entity}`.slice(0, 200) };
  }

  const location = isV2 ? 'body.data' : 'body.current';
  const person = personOf(isV2 ? body.data : body.current, location);
  const entry = toEntry(pipedrivePersonInput(person), location, options);
  if (!isV2) return { kind: 'person', entry };

  // Each event has its own `meta.id`; its retries repeat it with `meta.attempt` counted up, so
  // the attempt is left out of what tells a replay from another delivery under the same id.
  const eventId = text(meta.id);
  if (eventId === undefined) return { kind: 'person', entry };
  const replayed = { ...body, meta: { ...meta, attempt: undefined } };
  return {
    kind: 'person',
    entry,
    delivery: { id: `pipedrive:${eventId.slice(0, 200)}`, body: Buffer.from(JSON.stringify(replayed)) },
  };
}

/**
 * The HTTP Basic credentials of `PIPEDRIVE_BASIC_AUTH`: `user:password`, a non-empty user without
 * `:`, no whitespace. Two may be set while the webhook's credentials are being changed.
 */
export function basicCredentials(value: string): string[] {
  return secretList('PIPEDRIVE_BASIC_AUTH', value, (secret) => {
    const colon = secret.indexOf(':');
    if (colon <= 0) return 'must be user:password';
    if (secret.length - colon - 1 < 16) return 'must have a password of at least 16 characters';
    return undefined;
  });
}

/**
 * Checks the `Authorization: Basic ...` header against the configured credentials, in constant
 * time. Pipedrive signs nothing: these credentials, set on the webhook, are all it offers.
 */
export function requireBasicAuth(authorization: string | undefined, configured: string): void {
  const credentials = basicCredentials(configured);
  const match = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization ?? '');
  const given = match ? Buffer.from(match[1] as string, 'base64').toString('utf8') : '';
  if (!matchesAnySecret(given, credentials)) {
    throw new UnauthorizedError('Pipedrive basic credentials missing or wrong');
  }
}
