/**
 * Metrics as CloudWatch reads them: Embedded Metric Format lines on stdout. These tests capture
 * what a handler (and the adapter) writes and read the `_aws` structure CloudWatch Logs turns into
 * metrics: namespace, metric names, units, dimensions and values.
 */
import type { Context, SQSEvent } from 'aws-lambda';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApolloHttpClient } from '../lib/apollo/http-client';
import { BulkConversion } from '../lib/bulk-conversion';
import { queueConsumer } from '../lib/queue-consumer';
import { PowertoolsServiceMetrics } from '../lib/powertools-metrics';
import { RateLimitPacer } from '../lib/rate-limit-pacer';
import { serviceMetrics } from '../lib/roots/shared/metrics';
import { fakeServices, juno, wren } from './support/fakes';

const NAMESPACE = 'apollo-contact-converter/test';
const SERVICE = 'contact-converter';

interface EmfLine {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: string }>;
    }>;
  };
  [field: string]: unknown;
}

/** The EMF lines written to stdout while `run` runs. */
async function emfLinesOf(run: () => Promise<unknown>): Promise<EmfLine[]> {
  const written: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    await run();
  } finally {
    write.mockRestore();
  }
  return written
    .join('')
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfLine);
}

/** Each metric of the lines as `{name, unit, value, dimensions}` (dimension names and values). */
function metricsOf(lines: EmfLine[]) {
  return lines.flatMap((line) =>
    line._aws.CloudWatchMetrics.flatMap(({ Namespace, Dimensions, Metrics: defined }) =>
      defined.map(({ Name, Unit }) => ({
        namespace: Namespace,
        name: Name,
        unit: Unit,
        value: line[Name],
        dimensions: Object.fromEntries((Dimensions[0] ?? []).map((name) => [name, line[name]])),
      })),
    ),
  );
}

const context = {
  functionName: 'convertQueued',
  awsRequestId: 'metrics-test-request',
  getRemainingTimeInMillis: () => 60_000,
} as Context;

beforeAll(() => {
  // The tests' environment disables metrics (vitest.config.mts); these tests are about them.
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', NAMESPACE);
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', SERVICE);
  vi.stubEnv('LOG_HASH_SECRET', 'metrics-test-log-hash-secret');
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Metrics: EMF through Powertools', () => {
  it('writes the counts of an invocation as one line, and Apollo requests one line per endpoint and status', async () => {
    // Prepare
    const metrics = new PowertoolsServiceMetrics(new Metrics());
    metrics.conversions('created', 2);
    metrics.conversions('created');
    metrics.conversions('rejected');
    metrics.creditsSpent(3);
    metrics.creditsSaved(1);
    metrics.verificationVerdicts('verified', 2);
    metrics.queuedMessageAge(1_500);
    metrics.queuedMessageAge(4_000);
    metrics.apolloRequest('POST /contacts/bulk_create', 200);
    metrics.apolloRequest('POST /contacts/bulk_create', 429);
    metrics.apolloRequest('POST /contacts/bulk_create', 429);

    // Act
    const lines = await emfLinesOf(() => Promise.resolve(metrics.publish()));

    // Assess
    expect(lines).toHaveLength(3);
    const service = { service: SERVICE };
    expect(metricsOf(lines)).toEqual(
      expect.arrayContaining([
        { namespace: NAMESPACE, name: 'ConversionsCreated', unit: 'Count', value: 3, dimensions: service },
        { namespace: NAMESPACE, name: 'ConversionsRejected', unit: 'Count', value: 1, dimensions: service },
        { namespace: NAMESPACE, name: 'CreditsSpent', unit: 'Count', value: 3, dimensions: service },
        { namespace: NAMESPACE, name: 'CreditsSaved', unit: 'Count', value: 1, dimensions: service },
        { namespace: NAMESPACE, name: 'VerificationsVerified', unit: 'Count', value: 2, dimensions: service },
        { namespace: NAMESPACE, name: 'ApolloRateLimited', unit: 'Count', value: 2, dimensions: service },
        {
          namespace: NAMESPACE,
          name: 'QueuedMessageAge',
          unit: 'Milliseconds',
          value: 4_000,
          dimensions: service,
        },
        {
          namespace: NAMESPACE,
          name: 'ApolloRequests',
          unit: 'Count',
          value: 1,
          dimensions: { ...service, endpoint: 'POST /contacts/bulk_create', status: '200' },
        },
        {
          namespace: NAMESPACE,
          name: 'ApolloRequests',
          unit: 'Count',
          value: 2,
          dimensions: { ...service, endpoint: 'POST /contacts/bulk_create', status: '429' },
        },
      ]),
    );
    expect(metricsOf(lines)).toHaveLength(9);
    // Published counts start afresh: the next invocation writes nothing it did not count.
    expect(await emfLinesOf(() => Promise.resolve(metrics.publish()))).toEqual([]);
  });

  it("counts every Apollo request by endpoint and status through the client's hook, a failed one as no_reply", async () => {
    // Prepare
    const statuses: Array<[string, number | 'no_reply']> = [];
    const replies = [
      () => new Response('{"error":"rate limited"}', { status: 429, headers: { 'retry-after': '60' } }),
      () => Response.json({ person: null }),
      () => {
        throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      },
    ];
    const apollo = new ApolloHttpClient({
      baseUrl: 'https://apollo.example.test/api/v1',
      apiKey: () => Promise.resolve('apollo-test-key'),
      timeoutMs: 1_000,
      maxRetryWaitSeconds: 0,
      fetch: () => Promise.resolve((replies.shift() as () => Response)()),
      onResponse: (endpoint, status) => statuses.push([endpoint, status]),
    });
    const call = () => apollo.matchPerson({ email: 'wren@example.test' }, { deadline: Date.now() + 500 });

    // Act
    await expect(call()).rejects.toMatchObject({ name: 'ApolloRateLimitError' });
    await expect(call()).resolves.toBeNull();
    await expect(call()).rejects.toMatchObject({ name: 'ApolloUnavailableError' });

    // Assess
    expect(statuses).toEqual([
      ['POST /people/match', 429],
      ['POST /people/match', 200],
      ['POST /people/match', 'no_reply'],
    ]);
  });

  it('the queue consumer handler publishes its conversions and the queue age at the end of the invocation', async () => {
    // Prepare: the consumer over in-memory ports, counting through the roots' adapter.
    const s = fakeServices();
    await s.intake.accept([wren(), juno()], s.request());
    const consumer = new BulkConversion({
      ledger: s.ledger,
      apollo: s.apollo,
      queue: s.queue,
      verifications: s.batchVerifications,
      pacer: new RateLimitPacer(s.clock.now),
      maxReceives: s.settings.maxReceives,
      rejectedRecordTtlSeconds: s.settings.rejectedRecordTtlSeconds,
      quietPeriodSeconds: s.settings.unavailableRetryAfterSeconds,
      metrics: serviceMetrics(),
      now: s.clock.now,
    });
    const handler = queueConsumer((messages, deadline) => consumer.convert(messages, { deadline }));
    const sentAtMs = s.clock.now() - 4_000;
    const event: SQSEvent = {
      Records: s.queue.receive(10).map((message) => ({
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: message.body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(sentAtMs),
          SenderId: 'metrics-test',
          ApproximateFirstReceiveTimestamp: String(s.clock.now()),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:conversions',
        awsRegion: 'us-east-1',
      })),
    };

    // Act
    let reply: unknown;
    const lines = await emfLinesOf(async () => {
      reply = await handler(event, context);
    });

    // Assess
    expect(reply).toEqual({ batchItemFailures: [] });
    expect(lines).toHaveLength(1);
    expect(lines[0]?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: NAMESPACE,
        Dimensions: [['service']],
        Metrics: expect.arrayContaining([
          { Name: 'ConversionsCreated', Unit: 'Count' },
          { Name: 'QueuedMessageAge', Unit: 'Milliseconds' },
        ]) as unknown,
      },
    ]);
    expect(lines[0]).toMatchObject({ service: SERVICE, ConversionsCreated: 2, QueuedMessageAge: 4_000 });
  });
});
