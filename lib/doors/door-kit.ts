import { createHash, timingSafeEqual } from 'node:crypto';
import { convertEntries, type PersonResult } from '../batch';
import type { ConversionResult } from '../conversion';
import { ConfigurationError, InvalidRequestError, isError } from '../errors';
import {
  describeIssue,
  personInputSchema,
  toPerson,
  type Person,
  type PersonInput,
  type PersonOptions,
} from '../person';
import { isInvalidPerson, type InvalidPersonResult, type PersonEntry } from '../requests';
import type { WebhookAnswer } from '../webhook-deliveries';

/**
 * What the Salesforce and Pipedrive doors share: turning a sender's person into the canonical
 * entry, secrets with rotation compared in constant time, and the hand-over to the conversion.
 *
 * NOTE for the merge: the `doors-a` branch builds `lib/doors/common.ts` on the same idea; this file
 * is its equivalent for the doors of `doors-b` and is meant to be folded into it.
 */

/** What a door answers: one result per person, in the sender's order. */
export interface DoorAnswer extends WebhookAnswer {
  results: PersonResult[];
}

/** The services a hand-over needs (`Services` has both). */
export interface HandOverServices {
  conversion: {
    deliver(people: readonly Person[], options: { deadline: number }): Promise<ConversionResult[]>;
  };
  webhookDeliveries: {
    answerOnce<A extends WebhookAnswer>(
      delivery: { id: string; body: Buffer; deadline: number },
      answer: () => Promise<A>,
    ): Promise<A>;
  };
}

/**
 * Hands a delivery's people over exactly as `functions/enrichment-webhook.ts` does: their
 * conversion (`convertEntries`), inside `webhookDeliveries.answerOnce` when the sender names the
 * delivery (a replay is answered from the ledger). A delivery none of whose people can be converted
 * is answered with their `invalid` results and writes nothing, not even the delivery's memory.
 *
 * `delivery.id` must be unique across senders (prefix it with the sender's name); `delivery.body`
 * is what tells a replay from a different delivery under the same id (its hash is compared).
 */
export async function handOver(
  services: HandOverServices,
  entries: readonly PersonEntry[],
  request: { deadline: number },
  delivery?: { id: string; body: Buffer },
): Promise<DoorAnswer> {
  if (entries.every(isInvalidPerson)) return { results: [...entries] as InvalidPersonResult[] };
  const convert = async (): Promise<DoorAnswer> => ({
    results: await convertEntries(services.conversion, entries, request),
  });
  if (delivery === undefined) return convert();
  return services.webhookDeliveries.answerOnce(
    { id: delivery.id, body: delivery.body, deadline: request.deadline },
    convert,
  );
}

/**
 * One person as a door read it: validated into a Person, or its `invalid` result (field and
 * reason) when it cannot be converted. `location` names it in results (`body.data`).
 */
export function toEntry(input: PersonInput, location: string, options: PersonOptions): PersonEntry {
  try {
    const parsed = personInputSchema.safeParse(input);
    if (!parsed.success) throw new InvalidRequestError(describeIssue(parsed.error, location));
    return toPerson(parsed.data, location, options);
  } catch (error) {
    if (isError(error, 'InvalidRequestError')) return invalidEntry(error.field, error.reason);
    throw error;
  }
}

export function invalidEntry(field: string, reason: string): InvalidPersonResult {
  return { id: null, status: 'invalid', contact_id: null, field, reason };
}

/** Both sides hashed first, so neither their content nor their lengths leak through timing. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Whether `given` equals one of `secrets`, compared in constant time against every one of them
 * (no early exit, so timing does not tell which matched, or how many are configured).
 */
export function matchesAnySecret(given: string, secrets: readonly string[]): boolean {
  const givenDigest = digest(given);
  let matched = false;
  for (const secret of secrets) matched = timingSafeEqual(givenDigest, digest(secret)) || matched;
  return given !== '' && matched;
}

const secretListCache = new Map<string, string[]>();

/**
 * The secrets of a rotation: the setting's value split on whitespace (usually the new one and the
 * old one, both accepted until the sender has the new one), each checked by `check`, which returns
 * why a secret is unusable or undefined. Throws ConfigurationError naming the setting (never the
 * value). Cached per value, so a warm container checks once.
 */
export function secretList(
  name: string,
  value: string,
  check: (secret: string) => string | undefined,
): string[] {
  const cacheKey = `${name}\u0000${value}`;
  const cached = secretListCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const secrets = value.split(/\s+/).filter((secret) => secret !== '');
  if (secrets.length === 0) throw new ConfigurationError(`${name} holds no secret`);
  if (secrets.length > 2) {
    throw new ConfigurationError(`${name} holds ${secrets.length} secrets; at most 2 (the new and the old)`);
  }
  secrets.forEach((secret, index) => {
    const problem = check(secret);
    if (problem !== undefined) throw new ConfigurationError(`${name}: secret ${index + 1} ${problem}`);
  });
  secretListCache.set(cacheKey, secrets);
  return secrets;
}
