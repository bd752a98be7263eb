import { createHash, timingSafeEqual } from 'node:crypto';
import type { PersonResult } from '../batch';
import type { Config, SecretName } from '../config';
import { ConfigurationError, InvalidRequestError, isError } from '../errors';
import type { HttpRequest } from '../http/api';
import { json, type HttpResponse } from '../http/responses';
import { acceptedStatusCode } from '../intake';
import { describeIssue, personInputSchema, toPerson, type PersonInput, type PersonOptions } from '../person';
import { isInvalidPerson, type InvalidPersonResult, type PersonEntry } from '../requests';
import type { WebhookAnswer } from '../webhook-deliveries';

/**
 * What every front door shares once it has authenticated its sender and read the sender's body
 * into people: the secrets it checks (with rotation), constant-time comparisons, a person's entry,
 * and the one hand-over to the intake (`ConversionIntake`: ledger `queued`, then the conversion
 * queue). A door is `lib/doors/<sender>.ts` (auth and parsing, no AWS) plus a few lines in
 * `functions/` on the doors' composition root (`lib/roots/conversion.ts`).
 */

/**
 * The secrets configured under `name` (a value, or the SSM parameter `<name>_PARAMETER`): one, or
 * two separated by whitespace while a rotation is under way, so deliveries signed with the old
 * secret and with the new one are both accepted. A secret cannot contain whitespace.
 */
export async function doorSecrets(config: Pick<Config, 'secret'>, name: SecretName): Promise<string[]> {
  return splitSecrets(await config.secret(name));
}

export function splitSecrets(value: string): string[] {
  return value.split(/\s+/).filter((secret) => secret !== '');
}

const secretListCache = new Map<string, string[]>();

/**
 * The secrets of a rotation, checked: the setting's value split on whitespace (usually the new one
 * and the old one, both accepted until the sender has the new one), each checked by `check`, which
 * returns why a secret is unusable or undefined. Throws ConfigurationError naming the setting
 * (never the value). Cached per value, so a warm container checks once.
 */
export function secretList(
  name: string,
  value: string,
  check: (secret: string) => string | undefined,
): string[] {
  const cacheKey = `${name}\u0000${value}`;
  const cached = secretListCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const secrets = splitSecrets(value);
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

const sha256 = (value: string | Buffer) => createHash('sha256').update(value).digest();

/**
 * Whether `given` equals one of `secrets`, in constant time: both sides are hashed first (their
 * lengths cannot leak), and every secret is compared (which one matched cannot leak either).
 */
export function matchesAnySecret(given: string, secrets: readonly string[]): boolean {
  if (given === '') return false;
  const digest = sha256(given);
  let matched = false;
  for (const secret of secrets) matched = timingSafeEqual(digest, sha256(secret)) || matched;
  return matched;
}

/** Whether a signature a sender sent equals the one computed, in constant time (bytes, any encoding). */
export function sameSignature(given: Buffer, expected: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The request with its deadline brought forward to `budgetMs` after API Gateway received it, for
 * senders that give up (and retry) sooner than the Lambda's own timeout: the intake then stops in
 * time and answers 503 with `Retry-After` rather than being cut off mid-way.
 */
export function withinBudget<R extends Pick<HttpRequest, 'deadline' | 'receivedAtMs'>>(
  request: R,
  budgetMs: number,
): R {
  return { ...request, deadline: Math.min(request.deadline, request.receivedAtMs + budgetMs) };
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

/** A delivery a sender identifies (and repeats under the same id): answered once, see WebhookDeliveryMemory. */
export interface DoorDelivery {
  /** Unique across doors: prefixed by the door (`custom:clay:…`) unless it is the sender's own webhook-id. */
  id: string;
  /** The raw body: a replay must carry the same bytes to get the remembered answer. */
  body: Buffer;
}

/** What a door answers: one result per person, in the sender's order (the webhook door's shape). */
export interface DoorAnswer extends WebhookAnswer {
  results: PersonResult[];
}

/** What a hand-over needs from the doors' root (`lib/roots/conversion.ts` has both). */
export interface HandOverServices {
  intake: {
    accept(entries: readonly PersonEntry[], request: { deadline: number }): Promise<PersonResult[]>;
  };
  webhookDeliveries: {
    answerOnce<A extends WebhookAnswer>(
      delivery: { id: string; body: Buffer; deadline: number },
      answer: () => Promise<A>,
    ): Promise<A>;
  };
}

/**
 * The hand-over, the same for every door and the same as the Standard Webhooks door's: the people
 * go to the intake (`queued`, or answered from the ledger), `invalid` ones keep their position;
 * a delivery the sender identifies is answered once per id. Resolves once every person is safely
 * recorded and handed to the queue; throws RetryLaterError (503, every result carried) when the
 * queue refused a send or another delivery holds a person. A delivery none of whose people can be
 * converted is answered with their `invalid` results and writes nothing, not even the delivery's
 * memory.
 */
export async function handOver(
  services: HandOverServices,
  entries: readonly PersonEntry[],
  request: { deadline: number },
  delivery?: DoorDelivery,
): Promise<DoorAnswer> {
  if (entries.every(isInvalidPerson)) return { results: [...entries] as InvalidPersonResult[] };
  const accept = async (): Promise<DoorAnswer> => ({
    results: await services.intake.accept(entries, request),
  });
  if (delivery === undefined) return accept();
  return services.webhookDeliveries.answerOnce({ ...delivery, deadline: request.deadline }, accept);
}

/** A JSON door's answer: 202 while some person is `queued`, 200 when every result is final. */
export function doorReply(answer: DoorAnswer): HttpResponse {
  return json(acceptedStatusCode(answer.results), answer);
}
