import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApolloSandbox, type SandboxRequest } from '../local/apollo-sandbox';
import { loadFreshBundle, type Bundle } from './bundles';
import { startCountingDynamoDb } from './counting-dynamodb';
import {
  BENCH_WEBHOOK_SECRET,
  lambdaContext,
  signedWebhookEvent,
  toReply,
  type HttpHandler,
} from './lambda-events';
import { benchPerson, enrichmentCompletedBody } from './people';
import { configureService, createTable } from './service-env';
import type { DeployedService } from './serverless-config';
import { startStartExecutionStub } from './start-execution-stub';
import { round } from './stats';

export interface RateLimitOptions {
  /** Creates (and searches) Apollo allows per minute, scaled down from a real plan. */
  limitPerMinute: number;
  senders: number;
  /** How long after the first request senders keep going: one full window and the start of the next. */
  durationMs: number;
  log: (line: string) => void;
}

/** The sandbox's fixed window (60 s, starting at an endpoint's first request), as Apollo counts. */
const WINDOW_MS = 60_000;

export interface RateLimitResults {
  limitPerMinute: number;
  senders: number;
  seconds: number;
  /** Successful creates in each fixed window of POST /contacts (the last one is partial). */
  createsPerWindow: number[];
  /** Creates of the first full window / N. */
  firstWindowFraction: number;
  /** Seconds from the second window's opening to its N-th create (how fast senders resume). */
  secondWindowFilledAfterSeconds: number | null;
  /** 429s Apollo answered, by endpoint: the calls the service provoked while limited. */
  tooManyRequests: Record<string, number>;
  tooManyRequestsPerCreate: number;
  /** Deliveries the service answered 503 + Retry-After; senders waited that long and re-sent. */
  answered503: number;
  deliveries: number;
  peopleConverted: number;
  exactlyOneContactPerPerson: boolean;
}

/** Creates per fixed window, replaying the sandbox's window logic over the request times. */
function createsPerWindow(requests: SandboxRequest[]): { counts: number[]; starts: number[] } {
  const counts: number[] = [];
  const starts: number[] = [];
  for (const request of requests.filter((r) => r.method === 'POST' && r.path === '/contacts')) {
    const start = starts.at(-1);
    if (start === undefined || request.at - start >= WINDOW_MS) {
      starts.push(request.at);
      counts.push(0);
    }
    if (request.status >= 200 && request.status < 300) counts[counts.length - 1] = (counts.at(-1) ?? 0) + 1;
  }
  return { counts, starts };
}

/**
 * Senders (closed loop, one new person per delivery) against Apollo limited to N creates a
 * minute. A 503 is re-sent after its Retry-After, as Standard Webhooks senders do; sleeps that end
 * after the run are cut short, so the run is bounded by `durationMs`.
 */
export async function measureRateLimit(
  service: DeployedService,
  bundles: Map<string, Bundle>,
  options: RateLimitOptions,
): Promise<RateLimitResults> {
  const dynamo = await startCountingDynamoDb();
  const apollo = await startApolloSandbox({ latencyMs: 0, rateLimitPerMinute: options.limitPerMinute });
  const stepFunctions = await startStartExecutionStub();
  const stop = new AbortController();
  try {
    const tableName = 'bench-rate-limit';
    await createTable(dynamo.endpoint, tableName);
    configureService({
      dynamoDbEndpoint: dynamo.endpoint,
      tableName,
      apolloBaseUrl: apollo.url,
      apolloApiKey: apollo.apiKey,
      stepFunctionsEndpoint: stepFunctions.url,
      stateMachineArn: stepFunctions.stateMachineArn,
    });
    const fn = service.fn('enrichmentWebhook');
    const bundle = bundles.get(fn.name) as Bundle;
    const webhook = loadFreshBundle<{ handler: HttpHandler }>(bundle.file).handler;

    let nextIndex = 0;
    let deliveries = 0;
    let answered503 = 0;
    const converted: Array<ReturnType<typeof benchPerson>> = [];
    const started = performance.now();
    const deadline = started + options.durationMs;
    const timer = setTimeout(() => stop.abort(), options.durationMs);

    const sender = async () => {
      while (performance.now() < deadline) {
        const person = benchPerson('l', nextIndex++);
        const delivery = { id: `msg_${randomUUID()}`, body: enrichmentCompletedBody([person.input]) };
        for (;;) {
          const reply = toReply(
            await webhook(
              signedWebhookEvent(BENCH_WEBHOOK_SECRET, delivery),
              lambdaContext(fn.name, fn.timeoutSeconds, fn.memoryMb),
            ),
          );
          deliveries += 1;
          if (reply.status === 200) {
            converted.push(person);
            break;
          }
          if (reply.status !== 503)
            throw new Error(`webhook answered ${reply.status}: ${JSON.stringify(reply.body)}`);
          answered503 += 1;
          const waitMs = Number(reply.headers['retry-after'] ?? '1') * 1000;
          // A retry that would come after the run is not waited for: the run ends sooner.
          if (performance.now() + waitMs > deadline) return;
          const waited = await sleep(waitMs, true, { signal: stop.signal }).catch(() => false);
          if (!waited) return;
        }
      }
    };
    options.log(
      `rate limit: ${options.senders} senders, Apollo allowing ${options.limitPerMinute} creates a minute, ${round(options.durationMs / 1000, 0)} s`,
    );
    await Promise.all(Array.from({ length: options.senders }, sender));
    clearTimeout(timer);

    const requests = apollo.requests();
    const windows = createsPerWindow(requests);
    const secondWindowStart = windows.starts[1];
    const secondWindowCreates = requests.filter(
      (r) =>
        r.method === 'POST' &&
        r.path === '/contacts' &&
        r.status < 300 &&
        secondWindowStart !== undefined &&
        r.at >= secondWindowStart,
    );
    const filled = secondWindowCreates[options.limitPerMinute - 1];
    const tooManyRequests: Record<string, number> = {};
    for (const r of requests.filter((request) => request.status === 429)) {
      tooManyRequests[`${r.method} ${r.path}`] = (tooManyRequests[`${r.method} ${r.path}`] ?? 0) + 1;
    }
    const total429 = Object.values(tooManyRequests).reduce((a, b) => a + b, 0);
    const creates = windows.counts.reduce((a, b) => a + b, 0);
    const byEmail = new Map<string, number>();
    for (const contact of apollo.contacts()) {
      byEmail.set(contact.email ?? '', (byEmail.get(contact.email ?? '') ?? 0) + 1);
    }
    return {
      limitPerMinute: options.limitPerMinute,
      senders: options.senders,
      seconds: round((performance.now() - started) / 1000, 1),
      createsPerWindow: windows.counts,
      firstWindowFraction: round((windows.counts[0] ?? 0) / options.limitPerMinute, 3),
      secondWindowFilledAfterSeconds:
        filled !== undefined && secondWindowStart !== undefined
          ? round((filled.at - secondWindowStart) / 1000, 2)
          : null,
      tooManyRequests,
      tooManyRequestsPerCreate: round(total429 / Math.max(1, creates), 3),
      answered503,
      deliveries,
      peopleConverted: converted.length,
      exactlyOneContactPerPerson:
        converted.every((p) => byEmail.get(p.identity) === 1) && byEmail.size === converted.length,
    };
  } finally {
    stop.abort();
    await stepFunctions.close();
    await apollo.close();
    await dynamo.close();
  }
}
