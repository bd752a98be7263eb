import * as z from 'zod/mini';
import { InvalidRequestError } from './errors';
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

export type EnrichmentWebhook = { kind: 'ignored'; type: string } | { kind: 'people'; people: Person[] };

const envelopeSchema = z.object({
  type: z.string().check(z.minLength(1), z.maxLength(200)),
  timestamp: z.optional(z.string()),
  data: z.optional(z.unknown()),
});

const peopleSchema = z.array(personInputSchema).check(z.minLength(1), z.maxLength(MAX_PEOPLE_PER_REQUEST));

function parseJsonObject(rawBody: string): Record<string, unknown> {
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

/** Reads `{person: P}` or `{people: [P, ...]}` found at `location` into validated people. */
function parsePeople(container: unknown, location: string, options: PersonOptions): Person[] {
  if (typeof container !== 'object' || container === null || Array.isArray(container)) {
    throw new InvalidRequestError(`${location}: must be an object with "person" or "people"`);
  }
  if ('people' in container) {
    const inputs = parseWith(peopleSchema, container.people, `${location}.people`);
    return inputs.map((input, index) => toPerson(input, `${location}.people[${index}]`, options));
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
  if (envelope.timestamp === undefined || Number.isNaN(Date.parse(envelope.timestamp))) {
    throw new InvalidRequestError('body.timestamp: must be an ISO 8601 date-time');
  }
  return { kind: 'people', people: parsePeople(envelope.data, 'body.data', options) };
}

/** Parses the on-demand body: one person, or `{"people": [P, ...]}`. */
export function parseContactsRequest(rawBody: string, options: PersonOptions): Person[] {
  const body = parseJsonObject(rawBody);
  if ('people' in body || 'person' in body) return parsePeople(body, 'body', options);
  return [toPerson(parseWith(personInputSchema, body, 'body'), 'body', options)];
}
