import { createHash, timingSafeEqual } from 'node:crypto';
import { convertEntries } from '../batch';
import type { Config, SecretName } from '../config';
import type { HttpRequest } from '../http/api';
import { json, type HttpResponse } from '../http/responses';
import type { PersonEntry } from '../requests';
import type { Services } from '../services';

/**
 * What every front door shares once it has authenticated its sender and read the sender's body
 * into people: the secrets it checks (with rotation), constant-time comparisons, and the one
 * hand-over to the conversion. A door is `lib/doors/<sender>.ts` (auth and parsing, no AWS) plus a
 * few lines in `functions/`.
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
 * senders that give up (and retry) sooner than the Lambda's own timeout: the conversion then stops
 * calling Apollo in time and answers 503 with `Retry-After` rather than being cut off mid-way.
 */
export function withinBudget<R extends Pick<HttpRequest, 'deadline' | 'receivedAtMs'>>(
  request: R,
  budgetMs: number,
): R {
  return { ...request, deadline: Math.min(request.deadline, request.receivedAtMs + budgetMs) };
}

/** A delivery a sender identifies (and repeats under the same id): answered once, see WebhookDeliveryMemory. */
export interface DoorDelivery {
  /** Unique across doors: prefixed by the door (`custom:clay:…`) unless it is the sender's own webhook-id. */
  id: string;
  /** The raw body: a replay must carry the same bytes to get the remembered answer. */
  body: Buffer;
}

/**
 * The hand-over, the same for every door: the people (converted, or `invalid` at their position)
 * go to the conversion; a delivery the sender identifies is answered once per id. Switching the
 * doors to another hand-over (the queue) is a change to this function only.
 */
export async function handOver(
  services: Pick<Services, 'conversion' | 'webhookDeliveries'>,
  people: PersonEntry[],
  request: Pick<HttpRequest, 'deadline'>,
  delivery?: DoorDelivery,
): Promise<HttpResponse> {
  const { conversion, webhookDeliveries } = services;
  const convert = async () => ({ results: await convertEntries(conversion, people, request) });
  if (delivery === undefined) return json(200, await convert());
  return json(200, await webhookDeliveries.answerOnce({ ...delivery, deadline: request.deadline }, convert));
}
