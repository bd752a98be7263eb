import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultRule } from '../../local/apollo-sandbox';
import { enrichmentCompleted, type HttpReply, type ServiceHarness } from './service-harness';

/**
 * A webhook sender that behaves like a real one (it re-delivers on any 5xx and records every
 * status it sees), and a storm of them: many deliveries of many people, many in flight, some after
 * an injected Apollo fault.
 */

export interface Sent {
  /** Every HTTP status the sender saw, in order. */
  statuses: number[];
  replies: HttpReply[];
  /** The last reply (the one the sender stopped at). */
  last: HttpReply;
}

export interface SendOptions {
  /** Deliveries at most, the first included. */
  maxTries?: number;
  /** Runs after a 5xx, before the re-delivery: what honouring Retry-After buys (default: nothing). */
  beforeRetry?: (reply: HttpReply) => void | Promise<void>;
  /** Pause between deliveries. */
  pauseMs?: number;
}

/**
 * A webhook sender: delivers `body` signed under one webhook-id and timestamp, and re-delivers the
 * same bytes on any 5xx, after a short Retry-After (longer ones are simulated as "now"), and after
 * `beforeRetry` when it waits for something.
 */
export async function send(harness: ServiceHarness, body: unknown, options: SendOptions = {}): Promise<Sent> {
  const { maxTries = 10, beforeRetry, pauseMs = 0 } = options;
  const id = `msg_${randomUUID()}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const replies: HttpReply[] = [];
  for (let attempt = 1; ; attempt++) {
    const reply = await harness.webhook(body, { id, timestamp });
    replies.push(reply);
    if (reply.status < 500 || attempt >= maxTries) {
      return { statuses: replies.map((r) => r.status), replies, last: reply };
    }
    await beforeRetry?.(reply);
    if (pauseMs > 0) await sleep(pauseMs);
    // Honour a short Retry-After (the 1 s quiet period); longer ones are simulated as already over.
    const retryAfter = Number(reply.headers['retry-after']);
    if (retryAfter > 0 && retryAfter <= 2) await sleep(retryAfter * 1000);
  }
}

export interface StormPerson {
  /** What `POST /conversions/lookup` finds the person by: the email, else name + company. */
  lookup: Record<string, string>;
  name: string;
  input: Record<string, string>;
}

const STORM_FIRST_NAMES = [
  'Ada',
  'Basil',
  'Clara',
  'Dorian',
  'Edith',
  'Felix',
  'Greta',
  'Horace',
  'Iris',
  'Jasper',
];
const STORM_LAST_NAMES = [
  'Ashdown',
  'Brightwater',
  'Cobblestone',
  'Dunmore',
  'Evergreen',
  'Fairweather',
  'Glenwood',
  'Hollowell',
  'Ironside',
  'Juniper',
];
const STORM_COMPANIES = ['Lantern Works', 'Quill & Ink', 'Northwind Mills', 'Copperleaf', 'Tidewater Press'];

/** 100 fictional people with distinct names; every fifth has no email (name + company identify them). */
export function stormPopulation(): StormPerson[] {
  return Array.from({ length: 100 }, (_, i) => {
    const first = STORM_FIRST_NAMES[i % 10] as string;
    const last = STORM_LAST_NAMES[Math.floor(i / 10)] as string;
    const company = STORM_COMPANIES[i % STORM_COMPANIES.length] as string;
    const input: Record<string, string> = {
      first_name: first,
      last_name: last,
      organization_name: company,
      title: i % 3 === 0 ? 'Editor' : 'Author',
    };
    if (i % 2 === 0) input.mobile_phone = `555-${String(200 + i)}-${String(1000 + i)}`;
    const withEmail = i % 5 !== 4;
    if (withEmail) {
      input.email = `${first}.${last}.${i}@${company.toLowerCase().replace(/[^a-z]+/g, '')}.example`;
    }
    const lookup: Record<string, string> = withEmail
      ? { email: input.email as string }
      : { first_name: first, last_name: last, organization_name: company };
    return { lookup, name: `${first} ${last}`, input };
  });
}

/**
 * The faults a storm draws from, one at a time (times: 1): on the consumer's bulk calls and on the
 * verification's people/match. Retry-afters are short: the consumer paces itself on real time.
 */
const STORM_FAULTS: FaultRule[] = [
  { method: 'POST', path: '/contacts/bulk_create', status: 429, retryAfterSeconds: 3 },
  { method: 'POST', path: '/contacts/bulk_create', status: 500 },
  { method: 'POST', path: '/contacts/bulk_create', action: 'create-then-fail' },
  { method: 'POST', path: '/contacts/bulk_create', action: 'reset' },
  { method: 'POST', path: '/contacts/bulk_update', status: 503, times: 3 },
  { method: 'POST', path: '/people/match', status: 503 },
  { method: 'POST', path: '/people/match', status: 200, body: { person: null } },
];

export interface StormDelivery {
  /** Indexes into the population. */
  people: number[];
  fault: FaultRule | undefined;
}

/** `count` deliveries: the first 10 cover everyone, then 1 to 10 random people; ~10% preceded by a fault. */
export function stormDeliveries(random: () => number, count: number): StormDelivery[] {
  return Array.from({ length: count }, (_, index) => {
    const people =
      index < 10
        ? Array.from({ length: 10 }, (_, offset) => index * 10 + offset)
        : Array.from({ length: 1 + Math.floor(random() * 10) }, () => Math.floor(random() * 100));
    const fault = random() < 0.1 ? STORM_FAULTS[Math.floor(random() * STORM_FAULTS.length)] : undefined;
    return { people, fault };
  });
}

export interface Storm {
  /** What each delivery's sender saw, by delivery index. */
  outcomes: Sent[];
  /** Faults injected (a fault is skipped while one waits at the same endpoint). */
  injected: number;
}

/**
 * Sends every delivery through `lanes` senders at once (each takes the next delivery when it is
 * done), injecting a delivery's fault just before sending it.
 */
export async function sendStorm(
  harness: ServiceHarness,
  population: StormPerson[],
  deliveries: StormDelivery[],
  lanes: number,
): Promise<Storm> {
  const outcomes: Sent[] = [];
  let next = 0;
  let injected = 0;
  // At most one fault waits per endpoint. Faults are used up by whichever request comes next,
  // so unbounded, the ones drawn after everyone is converted would pile up and all hit the last
  // person still converting (that is the bounded-attempts case, tested on its own).
  const pendingAt = new Map<string, number>();
  const injectUnlessPending = (fault: FaultRule): boolean => {
    const path = fault.path as string;
    const count = harness.apollo.countRequests('POST', path);
    const waiting = pendingAt.get(path);
    if (waiting !== undefined && count <= waiting) return false;
    pendingAt.set(path, count);
    harness.apollo.inject(fault);
    return true;
  };
  const lane = async () => {
    for (let index = next++; index < deliveries.length; index = next++) {
      const delivery = deliveries[index] as StormDelivery;
      if (delivery.fault) injected += injectUnlessPending(delivery.fault) ? 1 : 0;
      const people = delivery.people.map((person) => population[person]?.input);
      outcomes[index] = await send(harness, enrichmentCompleted({ people }), {
        maxTries: 30,
        pauseMs: 5,
      });
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return { outcomes, injected };
}
