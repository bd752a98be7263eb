import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Bundle } from './bundles';
import { contactsPerPerson } from './contacts';
import { BENCH_WEBHOOK_SECRET, signedWebhookEvent, toReply } from './lambda-events';
import { benchPerson, enrichmentCompletedBody, NO_RATE_LIMIT, type BenchPerson } from './people';
import { startQueueStack } from './queue-stack';
import type { DeployedService } from './serverless-config';
import { round } from './stats';

export interface RateLimitOptions {
  /** bulk_create (and single create) calls Apollo allows a minute here, scaled down from 200. */
  createLimitPerMinute: number;
  senders: number;
  /** How long senders deliver new people (closed loop, 1 to 5 people per delivery). */
  durationMs: number;
  /** After the senders stop, how long the consumer may go on (the run ends then, drained or not). */
  settleMs: number;
  log: (line: string) => void;
}

export interface RateLimitResults {
  createLimitPerMinute: number;
  senders: number;
  seconds: number;
  deliveries: number;
  peopleDelivered: number;
  answersByStatus: Record<string, number>;
  answers5xx: number;
  /** bulk_create + single create requests, and the 429s Apollo answered them. */
  createRequests: number;
  createRequestsByStatus: Record<string, number>;
  tooManyRequestsPerCreate: number;
  /** Creates that succeeded, and the seconds from the first to the last (Apollo's window is a fixed minute). */
  successfulCreates: number;
  successfulCreatesSpanSeconds: number;
  peopleConverted: number;
  drained: boolean;
  /** No person has two contacts, and no contact belongs to nobody (people still queued have none). */
  noDuplicateContact: boolean;
}

const CREATE_PATHS = new Set(['/contacts/bulk_create', '/contacts']);

/**
 * Senders deliver new people faster than Apollo's create limit allows (scaled down so that a
 * minute shows it): the consumer must pace itself on Apollo's rate-limit headers so that 429s are
 * rare, and never answer a sender 5xx. Bounded by `durationMs + settleMs`.
 */
export async function measureRateLimit(
  service: DeployedService,
  bundles: Map<string, Bundle>,
  options: RateLimitOptions,
): Promise<RateLimitResults> {
  const stack = await startQueueStack(service, bundles, {
    tableName: 'bench-rate-limit',
    apollo: {
      latencyMs: 0,
      rateLimitPerMinute: NO_RATE_LIMIT,
      rateLimits: {
        'POST /contacts/bulk_create': { minute: options.createLimitPerMinute },
        'POST /contacts': { minute: options.createLimitPerMinute },
      },
    },
    stepFunctionsWaitSeconds: 0,
  });
  const started = performance.now();
  try {
    const people: BenchPerson[] = [];
    const answersByStatus: Record<string, number> = {};
    let deliveries = 0;
    let answers5xx = 0;
    const deadline = started + options.durationMs;
    const sender = async (senderIndex: number) => {
      for (let n = 0; performance.now() < deadline; n++) {
        const size = 1 + ((senderIndex + n) % 5);
        const batch = Array.from({ length: size }, () => {
          const person = benchPerson('l', people.length);
          people.push(person);
          return person;
        });
        const delivery = {
          id: `msg_${randomUUID()}`,
          body: enrichmentCompletedBody(batch.map((p) => p.input)),
        };
        const reply = toReply(
          await stack.webhook(signedWebhookEvent(BENCH_WEBHOOK_SECRET, delivery), stack.webhookContext()),
        );
        deliveries += 1;
        answersByStatus[reply.status] = (answersByStatus[reply.status] ?? 0) + 1;
        if (reply.status >= 500) answers5xx += 1;
      }
    };
    options.log(
      `  ${options.senders} senders for ${round(options.durationMs / 1000, 0)} s, Apollo allowing ${options.createLimitPerMinute} creates a minute`,
    );
    await Promise.all(Array.from({ length: options.senders }, (_, i) => sender(i)));
    const drained = await stack.drained(options.settleMs);

    const creates = stack.apollo.requests().filter((r) => r.method === 'POST' && CREATE_PATHS.has(r.path));
    const createRequestsByStatus: Record<string, number> = {};
    for (const request of creates) {
      createRequestsByStatus[request.status] = (createRequestsByStatus[request.status] ?? 0) + 1;
    }
    const succeeded = creates.filter((r) => r.status >= 200 && r.status < 300);
    const spanSeconds =
      succeeded.length < 2 ? 0 : ((succeeded.at(-1)?.at ?? 0) - (succeeded[0]?.at ?? 0)) / 1000;
    const records = (await stack.dynamo.items(stack.tableName)).filter(
      (item) => item.status?.S !== undefined,
    );
    const converted = records.filter((item) => item.contact_id?.S !== undefined).length;
    const contacts = contactsPerPerson(stack.apollo, people);
    return {
      createLimitPerMinute: options.createLimitPerMinute,
      senders: options.senders,
      seconds: round((performance.now() - started) / 1000, 1),
      deliveries,
      peopleDelivered: people.length,
      answersByStatus,
      answers5xx,
      createRequests: creates.length,
      createRequestsByStatus,
      tooManyRequestsPerCreate: round((createRequestsByStatus['429'] ?? 0) / Math.max(1, creates.length), 4),
      successfulCreates: succeeded.length,
      successfulCreatesSpanSeconds: round(spanSeconds, 1),
      peopleConverted: converted,
      drained,
      noDuplicateContact: contacts.max <= 1 && contacts.strangers === 0,
    };
  } finally {
    await stack.close();
  }
}
