import * as z from 'zod/mini';
import type { PhoneRevealPayload } from './apollo/apollo';
import { parseApolloJson, phoneRevealPayloadSchema } from './apollo/schemas';
import type { EnrichmentRequest } from './enrichment';
import { InvalidRequestError, isError } from './errors';
import {
  MAX_PEOPLE_PER_REQUEST,
  describeIssue,
  personInputSchema,
  toPerson,
  type Person,
  type PersonOptions,
} from './person';

/** The only event type the webhook acts on; others are acknowledged and ignored. */
export const ENRICHMENT_COMPLETED = 'person.enrichment.completed';

export type EnrichmentWebhook = { kind: 'ignored'; type: string } | { kind: 'people'; people: PersonEntry[] };

const envelopeSchema = z.object({
  type: z.string().check(z.minLength(1), z.maxLength(200)),
  timestamp: z.optional(z.string()),
  data: z.optional(z.unknown()),
});

const isoDateTime = z.iso.datetime({ offset: true });

/** The list itself; each of its people is validated on its own (`parseEntry`). */
const peopleListSchema = z.array(z.unknown()).check(z.minLength(1), z.maxLength(MAX_PEOPLE_PER_REQUEST));

export function parseJsonObject(rawBody: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody);
  } catch {
    throw new InvalidRequestError('body: not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidRequestError('body: must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function parseWith<T>(schema: z.ZodMiniType<T>, value: unknown, location: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidRequestError(describeIssue(result.error, location));
  return result.data;
}

/**
 * A person a request named that cannot be converted: answered at its position with the field and
 * the reason, and never written anywhere. The other people of the request are converted.
 */
export interface InvalidPersonResult {
  /** No conversion id: nothing is written for an invalid person. */
  id: null;
  status: 'invalid';
  contact_id: null;
  /** Where the problem is, e.g. `body.data.people[3].email`. */
  field: string;
  /** What is wrong there, e.g. `not an email address`. */
  reason: string;
}

/** One position of a request: a person to convert, or why it cannot be. */
export type PersonEntry = Person | InvalidPersonResult;

export function isInvalidPerson(entry: PersonEntry): entry is InvalidPersonResult {
  return 'status' in entry && entry.status === 'invalid';
}

function invalidPerson(error: InvalidRequestError): InvalidPersonResult {
  return { id: null, status: 'invalid', contact_id: null, field: error.field, reason: error.reason };
}

/** One person of a list: validated, or the reason it is invalid. */
function parseEntry(input: unknown, location: string, options: PersonOptions): PersonEntry {
  try {
    return toPerson(parseWith(personInputSchema, input, location), location, options);
  } catch (error) {
    if (isError(error, 'InvalidRequestError')) return invalidPerson(error);
    throw error;
  }
}

/**
 * The people of a request, each validated on its own (`personInputSchema`, then `toPerson`): an
 * invalid one becomes its own `invalid` result at its position, named by `locationOf(index)`, and
 * the others are converted. A request without one usable person is refused whole
 * (InvalidRequestError naming the first problem). Every door reads its people through this.
 */
export function personEntries(
  inputs: readonly unknown[],
  locationOf: (index: number) => string,
  options: PersonOptions,
): PersonEntry[] {
  const entries = inputs.map((input, index) => parseEntry(input, locationOf(index), options));
  const firstInvalid = entries.find(isInvalidPerson);
  if (firstInvalid !== undefined && entries.every(isInvalidPerson)) {
    throw new InvalidRequestError(`${firstInvalid.field}: ${firstInvalid.reason}`);
  }
  return entries;
}

/**
 * Reads `{person: P}` or `{people: [P, ...]}` found at `location` into validated people. In a
 * list, each invalid person becomes its own result and the others are converted; a request
 * without one usable person is refused whole (InvalidRequestError naming the first problem).
 */
function parsePeople(container: unknown, location: string, options: PersonOptions): PersonEntry[] {
  if (typeof container !== 'object' || container === null || Array.isArray(container)) {
    throw new InvalidRequestError(`${location}: must be an object with "person" or "people"`);
  }
  if ('people' in container && 'person' in container) {
    throw new InvalidRequestError(`${location}: has both "person" and "people"; send one`);
  }
  if ('people' in container) {
    const inputs = parseWith(peopleListSchema, container.people, `${location}.people`);
    return personEntries(inputs, (index) => `${location}.people[${index}]`, options);
  }
  if ('person' in container) {
    const input = parseWith(personInputSchema, container.person, `${location}.person`);
    return [toPerson(input, `${location}.person`, options)];
  }
  throw new InvalidRequestError(`${location}: must have "person" or "people"`);
}

/**
 * Parses a verified webhook body: `{"type": "person.enrichment.completed", "timestamp": ...,
 * "data": {"person": P}}` or `"data": {"people": [P, ...]}`.
 */
export function parseEnrichmentWebhook(rawBody: string, options: PersonOptions): EnrichmentWebhook {
  const envelope = parseWith(envelopeSchema, parseJsonObject(rawBody), 'body');
  if (envelope.type !== ENRICHMENT_COMPLETED) return { kind: 'ignored', type: envelope.type };
  if (envelope.timestamp === undefined || !isoDateTime.safeParse(envelope.timestamp).success) {
    throw new InvalidRequestError('body.timestamp: must be an ISO 8601 date-time');
  }
  return { kind: 'people', people: parsePeople(envelope.data, 'body.data', options) };
}

/**
 * `POST /contacts?wait=N`: how long to wait for final results, in seconds, from 0 (the default: do
 * not wait) up to `maxSeconds`; more is clamped to `maxSeconds`. Not a number: refused (400).
 */
export function parseWaitSeconds(wait: string | undefined, maxSeconds: number): number {
  if (wait === undefined || wait.trim() === '') return 0;
  if (!/^\d+(\.\d+)?$/.test(wait.trim())) {
    throw new InvalidRequestError(`query.wait: must be a number of seconds from 0 to ${maxSeconds}`);
  }
  return Math.min(maxSeconds, Number(wait));
}

/** Parses the on-demand body: one person, or `{"people": [P, ...]}`. */
export function parseContactsRequest(rawBody: string, options: PersonOptions): PersonEntry[] {
  const body = parseJsonObject(rawBody);
  if ('people' in body || 'person' in body) return parsePeople(body, 'body', options);
  return [toPerson(parseWith(personInputSchema, body, 'body'), 'body', options)];
}

const identifier = (max: number) => z.optional(z.string().check(z.trim(), z.minLength(1), z.maxLength(max)));

const enrichmentRequestSchema = z.object({
  email: identifier(320),
  first_name: identifier(200),
  last_name: identifier(200),
  organization_name: identifier(300),
  domain: identifier(300),
  linkedin_url: identifier(2048),
  id: z.optional(z.string().check(z.regex(/^[A-Za-z0-9]{1,64}$/, 'must be an Apollo person id'))),
  reveal_phone_number: z.optional(z.boolean()),
});

/**
 * Parses `POST /enrichments`: one person's identifiers (email; or first_name + last_name with
 * organization_name or domain; or linkedin_url; or Apollo person `id`), and `reveal_phone_number`.
 */
export function parseEnrichmentRequest(rawBody: string, options: PersonOptions): EnrichmentRequest {
  const body = parseWith(enrichmentRequestSchema, parseJsonObject(rawBody), 'body');
  const revealPhoneNumber = body.reveal_phone_number ?? false;
  if (body.email !== undefined) {
    const person = toPerson({ email: body.email }, 'body', options);
    return { identity: { email: person.fields.email as string }, revealPhoneNumber };
  }
  if (body.id !== undefined) return { identity: { id: body.id }, revealPhoneNumber };
  if (body.linkedin_url !== undefined) {
    if (!/linkedin\.com\//i.test(body.linkedin_url)) {
      throw new InvalidRequestError('body.linkedin_url: not a LinkedIn profile URL');
    }
    return { identity: { linkedin_url: body.linkedin_url }, revealPhoneNumber };
  }
  const { first_name, last_name, organization_name, domain } = body;
  if (first_name === undefined || last_name === undefined || (organization_name ?? domain) === undefined) {
    throw new InvalidRequestError(
      'body: needs email, id, linkedin_url, or first_name and last_name with organization_name or domain',
    );
  }
  const identity =
    organization_name !== undefined
      ? { first_name, last_name, organization_name }
      : { first_name, last_name, domain };
  return { identity, revealPhoneNumber };
}

/** Parses Apollo's phone-reveal callback, keeping `request_id`s digit for digit. */
export function parsePhoneRevealCallback(rawBody: string): PhoneRevealPayload {
  let parsed: unknown;
  try {
    parsed = parseApolloJson(rawBody);
  } catch {
    throw new InvalidRequestError('body: not valid JSON');
  }
  return parseWith(phoneRevealPayloadSchema, parsed, 'body');
}
