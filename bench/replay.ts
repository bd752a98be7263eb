import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultRule } from '../local/apollo-sandbox';
import { seededRandom } from '../local/seeded-random';
import type { Bundle } from './bundles';
import { contactsPerPerson } from './contacts';
import {
  BENCH_WEBHOOK_SECRET,
  signedWebhookEvent,
  toReply,
  type Delivery,
  type Reply,
} from './lambda-events';
import { benchPerson, enrichmentCompletedBody, NO_RATE_LIMIT, type BenchPerson } from './people';
import { startQueueStack } from './queue-stack';
import type { DeployedService } from './serverless-config';
import { round } from './stats';

export interface ReplayOptions {
  people: number;
  deliveries: number;
  /** Senders delivering at once; copies of one message sent together come on top. */
  senders: number;
  /** A sender re-sends a delivery answered 503 at most this often (after the rest of the stream). */
  maxRetriesAfter503: number;
  seed: number;
  log: (line: string) => void;
}

/** One webhook message; each delivery of it is signed anew (Standard Webhooks retries keep the id). */
interface Message extends Delivery {
  people: BenchPerson[];
}

/** One step of the stream: a message sent `copies` times at once (concurrent copies when > 1). */
interface Slot {
  message: Message;
  copies: number;
  kind: 'first' | 'batch' | 'duplicate' | 'retry' | 'concurrent';
  position: number;
}

export interface ReplayResults {
  people: number;
  peopleWithoutEmail: number;
  deliveries: number;
  deliveriesByKind: Record<string, number>;
  retriesAfter503: number;
  faultsInjected: number;
  answersByStatus: Record<string, number>;
  resultsByStatus: Record<string, number>;
  /** Apollo contacts stored per unique person: must be exactly 1 for every person. */
  contactsPerPerson: { min: number; max: number; total: number };
  exactlyOneContactPerPerson: boolean;
  createRequestsPerPerson: number;
  searchesPerPerson: number;
  matchesPerPerson: number;
  apolloRequests: Record<string, number>;
  deliveriesWithoutApolloCall: number;
  deliveriesWithoutApolloCallShare: number;
  verifiedPeople: number;
  executions: Record<string, number>;
  dynamoDbOperations: Record<string, number>;
  dynamoDbOperationsPerPerson: number;
  largestLedgerItemBytes: number;
  seconds: number;
}

/**
 * The faults a live Apollo shows now and then, scripted at fixed points of the stream: each makes
 * the service answer 503 or retry in place, and the senders' retries must still make one contact.
 */
/** Retry-After of a 503 when Apollo is unavailable (the service's default is 30 s). */
const RETRY_AFTER_SECONDS = 2;
/** The conversion queue's visibility timeout in this part, scaled down from 370 s as the rest. */
const VISIBILITY_TIMEOUT_SECONDS = 10;

const BULK_CREATE = '/contacts/bulk_create';
const FAULTS: Array<{ atSlot: number; rule: FaultRule }> = [
  { atSlot: 120, rule: { method: 'POST', path: BULK_CREATE, action: 'create-then-fail', status: 500 } },
  { atSlot: 320, rule: { method: 'POST', path: BULK_CREATE, action: 'reset' } },
  { atSlot: 520, rule: { method: 'POST', path: BULK_CREATE, status: 429, retryAfterSeconds: 1, times: 2 } },
  { atSlot: 720, rule: { method: 'POST', path: '/contacts/search', status: 500, times: 2 } },
  {
    atSlot: 920,
    rule: { method: 'POST', path: BULK_CREATE, action: 'create-then-fail', status: 502, times: 2 },
  },
  { atSlot: 1120, rule: { method: 'POST', path: '/people/bulk_match', status: 503, times: 2 } },
];

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function message(people: BenchPerson[]): Message {
  return { id: `msg_${randomUUID()}`, body: enrichmentCompletedBody(people.map((p) => p.input)), people };
}

/**
 * A realistic stream of exactly `deliveries` deliveries: every person's first message (a fifth of
 * them in batches of 2 to 10, some batches naming a person twice or a person seen before), then
 * re-enrichments of known people (new messages), sender retries of earlier messages (same id, a
 * little later), and messages delivered 2 to 4 times at once. Deterministic for a seed.
 */
export function buildStream(people: BenchPerson[], deliveries: number, random: () => number): Slot[] {
  const slots: Slot[] = [];
  const order = shuffle([...people], random);
  const seen: BenchPerson[] = [];
  for (let i = 0; i < order.length;) {
    if (random() < 0.2) {
      const size = 2 + Math.floor(random() * 9);
      const batch = order.slice(i, i + size);
      i += batch.length;
      if (random() < 0.3) batch.push(batch[0] as BenchPerson); // the same person twice in one batch
      if (seen.length > 0 && random() < 0.3)
        batch.push(seen[Math.floor(random() * seen.length)] as BenchPerson);
      seen.push(...batch);
      slots.push({ message: message(batch), copies: 1, kind: 'batch', position: slots.length });
    } else {
      const person = order[i++] as BenchPerson;
      seen.push(person);
      slots.push({ message: message([person]), copies: 1, kind: 'first', position: slots.length });
    }
  }
  const originals = [...slots];
  let remaining = deliveries - slots.length;
  if (remaining < 0) throw new Error(`${deliveries} deliveries cannot carry ${people.length} people`);
  const share = { duplicate: Math.floor(remaining * 0.3), retry: Math.floor(remaining * 0.4) };
  const later = (from: number, spread: number) => from + 1 + random() * spread;
  for (let n = 0; n < share.duplicate; n++) {
    const original = originals[Math.floor(random() * originals.length)] as Slot;
    const person = original.message.people[0] as BenchPerson;
    slots.push({
      message: message([person]),
      copies: 1,
      kind: 'duplicate',
      position: later(original.position, originals.length),
    });
  }
  for (let n = 0; n < share.retry; n++) {
    const original = originals[Math.floor(random() * originals.length)] as Slot;
    slots.push({
      message: original.message,
      copies: 1,
      kind: 'retry',
      position: later(original.position, 40),
    });
  }
  remaining -= share.duplicate + share.retry;
  while (remaining > 0) {
    const original = originals[Math.floor(random() * originals.length)] as Slot;
    const copies = Math.min(remaining, 2 + Math.floor(random() * 3));
    slots.push({
      message: original.message,
      copies,
      kind: 'concurrent',
      position: later(original.position, 20),
    });
    remaining -= copies;
  }
  return slots.sort((a, b) => a.position - b.position);
}

function count(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

export async function replayStream(
  service: DeployedService,
  bundles: Map<string, Bundle>,
  options: ReplayOptions,
): Promise<ReplayResults> {
  const random = seededRandom(options.seed);
  const people = Array.from({ length: options.people }, (_, i) =>
    benchPerson('r', i, { withEmail: i % 10 !== 9 }),
  );
  const stream = buildStream(people, options.deliveries, random);
  const stack = await startQueueStack(service, bundles, {
    tableName: 'bench-replay',
    apollo: { latencyMs: 0, rateLimitPerMinute: NO_RATE_LIMIT },
    stepFunctionsWaitSeconds: 0,
    // Scaled down from 30 s, as the faults are: a 503's Retry-After, and the quiet period after a
    // create with an unknown outcome, end within the run, and the senders really wait them out.
    env: { UNAVAILABLE_RETRY_AFTER_SECONDS: String(RETRY_AFTER_SECONDS) },
    // A batch that failed (a reset, a 500 after creating) comes back after this instead of 370 s.
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
  });
  const started = performance.now();
  try {
    const tableName = stack.tableName;
    const webhook = stack.webhook;
    /** People some earlier delivery handed over (answered 2xx): a delivery of only those asks Apollo nothing. */
    const handedOver = new Set<string>();

    const answersByStatus: Record<string, number> = {};
    const resultsByStatus: Record<string, number> = {};
    const deliveriesByKind: Record<string, number> = {};
    let withoutApollo = 0;
    let sent = 0;
    let retriesAfter503 = 0;
    const pendingRetries = new Set<Promise<void>>();
    const failures: unknown[] = [];

    const deliver = async (msg: Message, kind: string, attempt: number): Promise<void> => {
      const event = signedWebhookEvent(BENCH_WEBHOOK_SECRET, msg);
      const reply: Reply = toReply(await webhook(event, stack.webhookContext()));
      sent += 1;
      count(deliveriesByKind, kind);
      count(answersByStatus, String(reply.status));
      const results = reply.body.results ?? [];
      for (const result of results) count(resultsByStatus, result.status);
      // The doors never call Apollo; the consumer does, once per person (its claim decides), so a
      // delivery of people handed over before costs Apollo nothing.
      if (reply.status < 300) {
        if (msg.people.every((person) => handedOver.has(person.identity))) withoutApollo += 1;
        for (const person of msg.people) handedOver.add(person.identity);
      }
      if (reply.status === 503 && attempt < options.maxRetriesAfter503) {
        // A sender queues the message and re-sends it after Retry-After; it goes on meanwhile.
        const waitSeconds = Math.min(Number(reply.headers['retry-after'] ?? 1), RETRY_AFTER_SECONDS * 2);
        const retry = sleep(waitSeconds * 1000)
          .then(() => {
            retriesAfter503 += 1;
            return deliver(msg, 'retry after 503', attempt + 1);
          })
          .catch((error: unknown) => void failures.push(error))
          .finally(() => pendingRetries.delete(retry));
        pendingRetries.add(retry);
      } else if (reply.status >= 300) {
        throw new Error(`webhook answered ${reply.status}: ${JSON.stringify(reply.body)}`);
      }
    };

    let next = 0;
    const faults = new Map(FAULTS.map((fault) => [fault.atSlot, fault.rule]));
    const sender = async () => {
      for (let index = next++; index < stream.length; index = next++) {
        const slot = stream[index] as Slot;
        const fault = faults.get(index);
        if (fault) stack.apollo.inject(fault);
        await Promise.all(Array.from({ length: slot.copies }, () => deliver(slot.message, slot.kind, 0)));
      }
    };
    await Promise.all(Array.from({ length: options.senders }, sender));
    options.log(`  ${sent} deliveries in ${round((performance.now() - started) / 1000, 1)} s`);
    while (pendingRetries.size > 0) await Promise.all([...pendingRetries]);
    if (failures.length > 0) throw failures[0];
    if (!(await stack.drained(120_000))) {
      const records = await stack.dynamo.items(tableName);
      const statuses: Record<string, number> = {};
      for (const item of records) if (item.status?.S) count(statuses, item.status.S);
      throw new Error(`replay: the queue did not empty within 120 s; ledger ${JSON.stringify(statuses)}`);
    }
    await stack.stepFunctions.waitForIdle(60_000);

    const contacts = contactsPerPerson(stack.apollo, people);
    const apolloRequests: Record<string, number> = {};
    for (const request of stack.apollo.requests())
      count(apolloRequests, `${request.method} ${request.path} ${request.status}`);
    const endpointTotal = (method: string, path: string) => stack.apollo.countRequests(method, path);
    const executions: Record<string, number> = {};
    for (const execution of stack.stepFunctions.executions()) count(executions, execution.status);
    const items = await stack.dynamo.items(tableName);
    const verified = items.filter((item) => item.status?.S === 'verified').length;
    const operations = stack.dynamo.operations();
    delete operations.CreateTable;
    delete operations.DescribeTable;
    delete operations.Scan;
    const { min, max } = contacts;
    const perPerson = (n: number) => round(n / people.length, 3);
    return {
      people: people.length,
      peopleWithoutEmail: people.filter((p) => p.input.email === undefined).length,
      deliveries: sent,
      deliveriesByKind,
      retriesAfter503,
      faultsInjected: FAULTS.reduce((sum, fault) => sum + (fault.rule.times ?? 1), 0),
      answersByStatus,
      resultsByStatus,
      contactsPerPerson: { min, max, total: contacts.total },
      exactlyOneContactPerPerson: contacts.exactlyOne,
      createRequestsPerPerson: perPerson(
        endpointTotal('POST', BULK_CREATE) + endpointTotal('POST', '/contacts'),
      ),
      searchesPerPerson: perPerson(endpointTotal('POST', '/contacts/search')),
      matchesPerPerson: perPerson(
        endpointTotal('POST', '/people/bulk_match') + endpointTotal('POST', '/people/match'),
      ),
      apolloRequests,
      deliveriesWithoutApolloCall: withoutApollo,
      deliveriesWithoutApolloCallShare: round(withoutApollo / sent, 3),
      verifiedPeople: verified,
      executions,
      dynamoDbOperations: operations,
      dynamoDbOperationsPerPerson: perPerson(Object.values(operations).reduce((a, b) => a + b, 0)),
      largestLedgerItemBytes: await stack.dynamo.largestItemBytes(tableName),
      seconds: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    await stack.close();
  }
}
