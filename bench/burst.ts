import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { seededRandom } from '../local/seeded-random';
import type { Bundle } from './bundles';
import { contactsPerPerson } from './contacts';
import { itemBytes } from './counting-dynamodb';
import type { LogSink } from './log-sink';
import { BENCH_WEBHOOK_SECRET, signedWebhookEvent, toReply } from './lambda-events';
import { enrichmentCompletedBody, messyBenchPerson, type BenchPerson } from './people';
import { startQueueStack, type QueueStack } from './queue-stack';
import type { DeployedService } from './serverless-config';
import { median, percentile, round } from './stats';

export interface BurstOptions {
  people: number;
  /** Deliveries carry 1 to this many people (seeded sizes). */
  maxPeoplePerDelivery: number;
  /** Deliveries in flight at once. */
  inFlight: number;
  /** Requests a minute Apollo allows per endpoint (people/bulk_match gets half of people/match's). */
  apolloLimitPerMinute: number;
  /** A delivery answered 5xx is re-sent after its Retry-After at most this often. */
  maxResends: number;
  /** How long the queue may take to empty after the last delivery. */
  maxDrainMs: number;
  /** How long verification may run after the last person is `created` (bounded: see verification). */
  maxVerifyMs: number;
  seed: number;
  log: (line: string) => void;
  /** Counts the handlers' log bytes (CloudWatch Logs is billed by them); none in a smoke run. */
  sink?: LogSink;
}

/** Apollo endpoints that create or change contacts, and those that only read them (verification). */
const CREATE_ENDPOINTS = ['POST /contacts/bulk_create', 'POST /contacts'];
const UPDATE_ENDPOINTS = ['POST /contacts/bulk_update'];
const VERIFY_ENDPOINTS = ['POST /people/bulk_match', 'POST /people/match', 'POST /contacts/search'];

export interface BurstResults {
  people: number;
  peopleWithoutEmail: number;
  deliveries: number;
  inFlight: number;
  apolloLimits: Record<string, number>;
  consumer: QueueStack['consumer'];
  answersByStatus: Record<string, number>;
  /** Sender-visible 5xx answers (goal 0). */
  answers5xx: number;
  webhookMs: { median: number; max: number };
  /** First delivery sent → last delivery answered. */
  acceptSeconds: number;
  /** First delivery sent → the last person's `converted_at` in the ledger. */
  convertSeconds: number;
  peoplePerMinute: number;
  ledgerStatuses: Record<string, number>;
  /** Apollo requests by `METHOD /path status`. */
  apolloRequests: Record<string, number>;
  /** bulk_create + create + bulk_update + bulk_match + match + contacts search, 429s included, per person. */
  apolloCallsPerNewPerson: number;
  apolloCallsPerNewPersonByKind: { create: number; update: number; verify: number };
  /** 429s answered to create requests (bulk_create, single create) per create request. */
  tooManyRequestsPerCreate: number;
  tooManyRequests: Record<string, number>;
  contactsPerPerson: { min: number; max: number; total: number; strangers: number };
  exactlyOneContactPerPerson: boolean;
  consumerInvocations: number;
  messagesPerInvocation: number;
  consumerMsPerInvocation: { median: number; max: number };
  verification: {
    /** Bound of the wait after the last `created`; verification goes on beyond it on AWS. */
    maxWaitSeconds: number;
    finishedWithinBound: boolean;
    verified: number;
    verificationFailed: number;
    /** Still waiting for a verdict when the bound was reached. */
    pending: number;
    /** First delivery → last `verified_at`, over the people verified. */
    lastVerifiedSeconds: number | null;
    verifiedPerMinute: number;
    executions: Record<string, number>;
    verifyContactInvocations: number;
    recordFailureInvocations: number;
    verifyContactMs: { median: number; max: number };
    /** Standard transitions: start + WaitForApollo per execution, one per task attempt, one per Fail state. */
    stateTransitions: number;
    failureReasons: Record<string, number>;
  };
  dynamoDbOperations: Record<string, number>;
  sqsRequests: Record<string, number>;
  largestLedgerItemBytes: number;
  /** 90th percentile of the ledger's item sizes (records and identity items): what sets the units billed. */
  ledgerItemBytesP90: number;
  logBytes: number;
  seconds: number;
}

/** Delivery sizes from 1 to `max` (seeded) adding up to exactly `people`. */
export function burstSizes(people: number, max: number, random: () => number): number[] {
  const sizes: number[] = [];
  for (let left = people; left > 0;) {
    const size = Math.min(left, 1 + Math.floor(random() * max));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

function count(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

const isoMs = (item: Record<string, AttributeValue>, name: string) => {
  const text = item[name]?.S;
  return text === undefined ? undefined : Date.parse(text);
};

/** The person records of the ledger (alias items carry no status). */
async function personRecords(stack: QueueStack): Promise<Array<Record<string, AttributeValue>>> {
  return (await stack.dynamo.items(stack.tableName)).filter((item) => item.status?.S !== undefined);
}

/**
 * 10,000 new people at once, as a CRM list enrichment fires them: deliveries of 1 to 100 people
 * (seeded sizes), 50 in flight, signed, through the bundled webhook into the real queue path
 * (bench/queue-stack.ts), against Apollo limited as a paid plan is.
 */
export async function measureBurst(
  service: DeployedService,
  bundles: Map<string, Bundle>,
  options: BurstOptions,
): Promise<BurstResults> {
  const random = seededRandom(options.seed);
  const people: BenchPerson[] = Array.from({ length: options.people }, (_, i) => messyBenchPerson('b', i));
  const sizes = burstSizes(people.length, options.maxPeoplePerDelivery, random);
  const deliveries: Array<{ id: string; body: string }> = [];
  for (let start = 0, n = 0; n < sizes.length; n++) {
    const size = sizes[n] as number;
    const batch = people.slice(start, start + size);
    start += size;
    deliveries.push({ id: `msg_${randomUUID()}`, body: enrichmentCompletedBody(batch.map((p) => p.input)) });
  }
  const stack = await startQueueStack(service, bundles, {
    tableName: 'bench-burst',
    apollo: { latencyMs: 0, rateLimitPerMinute: options.apolloLimitPerMinute },
    // Apollo's limits make the waits matter: the state machine's own (10 s, then backoff).
    stepFunctionsWaitSeconds: 'as-defined',
  });
  const logBytesBefore = options.sink?.bytes ?? 0;
  const started = performance.now();
  const startedAtMs = Date.now();
  try {
    const answersByStatus: Record<string, number> = {};
    const webhookMs: number[] = [];
    let answers5xx = 0;
    let next = 0;
    const sender = async () => {
      for (let index = next++; index < deliveries.length; index = next++) {
        const delivery = deliveries[index] as (typeof deliveries)[number];
        for (let attempt = 0; ; attempt++) {
          const begin = performance.now();
          const reply = toReply(
            await stack.webhook(signedWebhookEvent(BENCH_WEBHOOK_SECRET, delivery), stack.webhookContext()),
          );
          webhookMs.push(performance.now() - begin);
          count(answersByStatus, String(reply.status));
          if (reply.status < 500) {
            if (reply.status >= 300)
              throw new Error(`webhook answered ${reply.status}: ${JSON.stringify(reply.body)}`);
            break;
          }
          answers5xx += 1;
          if (attempt >= options.maxResends) break;
          await sleep(Number(reply.headers['retry-after'] ?? '1') * 1000);
        }
      }
    };
    options.log(
      `  ${deliveries.length} deliveries of ${people.length} people, ${options.inFlight} in flight, Apollo at ${options.apolloLimitPerMinute}/min per endpoint`,
    );
    await Promise.all(Array.from({ length: options.inFlight }, sender));
    const acceptSeconds = (performance.now() - started) / 1000;
    options.log(`  accepted in ${round(acceptSeconds, 1)} s; converting`);
    if (!(await stack.drained(options.maxDrainMs))) options.log('  the queue did not empty in time');
    const converted = await personRecords(stack);
    const lastConvertedMs = Math.max(...converted.map((item) => isoMs(item, 'converted_at') ?? 0));
    const convertSeconds = (lastConvertedMs - startedAtMs) / 1000;
    options.log(
      `  converted in ${round(convertSeconds, 1)} s; verifying (at most ${options.maxVerifyMs / 1000} s)`,
    );

    const verifyBound = Math.max(0, options.maxVerifyMs - (Date.now() - lastConvertedMs));
    // Polled rather than waitForIdle, which rejects at the first failed execution.
    const verifyDeadline = performance.now() + verifyBound;
    const running = () => stack.stepFunctions.executions().some((e) => e.status === 'RUNNING');
    while (running() && performance.now() < verifyDeadline) await sleep(1000);
    const finishedWithinBound = !running();
    const records = await personRecords(stack);
    const ledgerStatuses: Record<string, number> = {};
    const failureReasons: Record<string, number> = {};
    for (const item of records) {
      count(ledgerStatuses, item.status?.S ?? '?');
      if (item.status?.S === 'verification_failed') {
        count(failureReasons, (item.last_error?.S ?? '?').split(':')[0] ?? '?');
      }
    }
    const verifiedTimes = records.map((item) => isoMs(item, 'verified_at')).filter((t) => t !== undefined);
    const lastVerifiedMs = verifiedTimes.length === 0 ? undefined : Math.max(...verifiedTimes);

    const apolloRequests: Record<string, number> = {};
    const byEndpoint: Record<string, number> = {};
    const tooManyRequests: Record<string, number> = {};
    for (const request of stack.apollo.requests()) {
      const endpoint = `${request.method} ${request.path}`;
      count(apolloRequests, `${endpoint} ${request.status}`);
      count(byEndpoint, endpoint);
      if (request.status === 429) count(tooManyRequests, endpoint);
    }
    const sum = (endpoints: string[], map: Record<string, number>) =>
      endpoints.reduce((total, endpoint) => total + (map[endpoint] ?? 0), 0);
    const perPerson = (n: number) => round(n / people.length, 4);
    const contacts = contactsPerPerson(stack.apollo, people);
    const invocations = stack.consumerInvocations();
    const verifyMs = stack.verifyInvocations();
    const executions: Record<string, number> = {};
    for (const execution of stack.stepFunctions.executions()) count(executions, execution.status);
    const executionCount = Object.values(executions).reduce((a, b) => a + b, 0);
    const failedExecutions = executions.FAILED ?? 0;
    const recordFailureInvocations = stack.recordFailureInvocations();
    const itemSizes = (await stack.dynamo.items(stack.tableName)).map(itemBytes);
    const operations = stack.dynamo.operations();
    for (const name of ['CreateTable', 'DescribeTable', 'Scan']) delete operations[name];
    const verified = ledgerStatuses.verified ?? 0;
    const verifySpanMinutes = lastVerifiedMs === undefined ? 0 : (lastVerifiedMs - startedAtMs) / 60_000;
    return {
      people: people.length,
      peopleWithoutEmail: people.filter((p) => p.input.email === undefined).length,
      deliveries: deliveries.length,
      inFlight: options.inFlight,
      apolloLimits: {
        'POST /contacts/bulk_create': options.apolloLimitPerMinute,
        'POST /people/match': options.apolloLimitPerMinute,
        'POST /people/bulk_match': Math.floor(options.apolloLimitPerMinute / 2),
      },
      consumer: stack.consumer,
      answersByStatus,
      answers5xx,
      webhookMs: { median: round(median(webhookMs), 2), max: round(Math.max(...webhookMs), 1) },
      acceptSeconds: round(acceptSeconds, 1),
      convertSeconds: round(convertSeconds, 1),
      peoplePerMinute: round(people.length / (convertSeconds / 60), 0),
      ledgerStatuses,
      apolloRequests,
      apolloCallsPerNewPerson: perPerson(
        sum([...CREATE_ENDPOINTS, ...UPDATE_ENDPOINTS, ...VERIFY_ENDPOINTS], byEndpoint),
      ),
      apolloCallsPerNewPersonByKind: {
        create: perPerson(sum(CREATE_ENDPOINTS, byEndpoint)),
        update: perPerson(sum(UPDATE_ENDPOINTS, byEndpoint)),
        verify: perPerson(sum(VERIFY_ENDPOINTS, byEndpoint)),
      },
      tooManyRequestsPerCreate: round(
        sum(CREATE_ENDPOINTS, tooManyRequests) / Math.max(1, sum(CREATE_ENDPOINTS, byEndpoint)),
        4,
      ),
      tooManyRequests,
      contactsPerPerson: {
        min: contacts.min,
        max: contacts.max,
        total: contacts.total,
        strangers: contacts.strangers,
      },
      exactlyOneContactPerPerson: contacts.exactlyOne,
      consumerInvocations: invocations.length,
      messagesPerInvocation: round(
        invocations.reduce((a, b) => a + b.messages, 0) / Math.max(1, invocations.length),
        1,
      ),
      consumerMsPerInvocation: {
        median: round(median(invocations.map((i) => i.ms)), 1),
        max: round(Math.max(0, ...invocations.map((i) => i.ms)), 1),
      },
      verification: {
        maxWaitSeconds: round(options.maxVerifyMs / 1000, 0),
        finishedWithinBound,
        verified,
        verificationFailed: ledgerStatuses.verification_failed ?? 0,
        pending: records.length - verified - (ledgerStatuses.verification_failed ?? 0),
        lastVerifiedSeconds:
          lastVerifiedMs === undefined ? null : round((lastVerifiedMs - startedAtMs) / 1000, 1),
        verifiedPerMinute: verifySpanMinutes === 0 ? 0 : round(verified / verifySpanMinutes, 0),
        executions,
        verifyContactInvocations: verifyMs.length,
        recordFailureInvocations,
        verifyContactMs: { median: round(median(verifyMs), 1), max: round(Math.max(0, ...verifyMs), 1) },
        stateTransitions: executionCount * 2 + verifyMs.length + recordFailureInvocations + failedExecutions,
        failureReasons,
      },
      dynamoDbOperations: operations,
      sqsRequests: stack.sqsRequests(),
      largestLedgerItemBytes: Math.max(0, ...itemSizes),
      ledgerItemBytesP90: itemSizes.length === 0 ? 0 : Math.round(percentile(itemSizes, 90)),
      logBytes: (options.sink?.bytes ?? 0) - logBytesBefore,
      seconds: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    await stack.close();
  }
}
