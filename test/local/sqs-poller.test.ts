import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSqsEventSource } from '../../local/sqs-event-source';
import {
  failedMessageIds,
  startSqsPoller,
  type SqsPoller,
  type SqsPollerOptions,
} from '../../local/sqs-poller';
import { localQueueArn, startLocalSqs, type LocalSqs } from '../../local/sqs-server';
import { invokeLambdaOverHttp, LambdaFunctionError } from '../../local/step-functions-server';

/**
 * The local event source mapping against a real SQS-compatible server (local-aws-sqs), with test
 * handlers in place of the bundled consumer: what is deleted, what comes back and when, what ends
 * in the dead-letter queue, how batches fill and how many run at once.
 */

const QUEUE = 'conversions-test';
const DEAD_LETTERS = 'conversions-test-dlq';
const FUNCTION = 'apollo-contact-converter-test-convertQueued';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A local SQS server with the queue and its DLQ after `maxReceiveCount` receives. The visibility
 * timeout is 1 s so that failed messages come back quickly; tests with a batching window make it
 * longer than the window, as AWS requires (else a message comes back while its batch is gathered).
 */
async function queueServer(
  options: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {},
): Promise<LocalSqs> {
  const sqs = await startLocalSqs({
    queues: [
      { QueueName: DEAD_LETTERS },
      {
        QueueName: QUEUE,
        Attributes: {
          VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 1),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: localQueueArn(DEAD_LETTERS),
            maxReceiveCount: options.maxReceiveCount ?? 5,
          }),
        },
      },
    ],
  });
  cleanups.push(() => sqs.close());
  return sqs;
}

type Handler = (event: SQSEvent) => Promise<SQSBatchResponse | null | void>;

/** Runs the poller with an in-process handler that records every event it gets. */
function poll(sqs: LocalSqs, handler: Handler, options: Partial<SqsPollerOptions> = {}) {
  const events: SQSEvent[] = [];
  const poller: SqsPoller = startSqsPoller({
    client: sqs.client,
    queueUrl: sqs.queueUrl(QUEUE),
    queueArn: sqs.queueArn(QUEUE),
    region: sqs.region,
    functionName: FUNCTION,
    invokeLambda: async (functionName, payload) => {
      expect(functionName).toBe(FUNCTION);
      const event = payload as SQSEvent;
      events.push(event);
      return handler(event);
    },
    batchSize: 10,
    maximumBatchingWindowSeconds: 0,
    maximumConcurrency: 2,
    reportBatchItemFailures: true,
    idlePollMs: 20,
    log: () => undefined,
    ...options,
  });
  cleanups.push(() => poller.stop());
  const bodiesOf = (event: SQSEvent) => event.Records.map((record) => record.body).sort();
  return { poller, events, bodiesOf };
}

async function send(sqs: LocalSqs, bodies: string[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    const reply = await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl: sqs.queueUrl(QUEUE),
        Entries: bodies
          .slice(start, start + 10)
          .map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
    expect(reply.Failed ?? []).toEqual([]);
  }
}

/** Messages in the queue, visible or in flight. */
async function messagesIn(sqs: LocalSqs, queueName: string): Promise<number> {
  const { Attributes } = await sqs.client.send(
    new GetQueueAttributesCommand({
      QueueUrl: sqs.queueUrl(queueName),
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Local SQS poller (the consumer's event source mapping)", () => {
  it('hands the function real SQSEvent records and deletes them when it succeeds', async () => {
    // Prepare
    const sqs = await queueServer();
    const sentAtMs = Date.now();
    await send(sqs, ['{"key":"c_first"}', '{"key":"c_second"}']);

    // Act
    const { events } = poll(sqs, () => Promise.resolve(null));
    await until(() => events.length === 1);
    await until(async () => (await messagesIn(sqs, QUEUE)) === 0);

    // Assess
    const records = events[0]?.Records ?? [];
    expect(records.map((record) => record.body).sort()).toEqual(['{"key":"c_first"}', '{"key":"c_second"}']);
    for (const record of records) {
      expect(record).toMatchObject({
        messageId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        receiptHandle: expect.any(String) as unknown,
        md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/) as unknown,
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${QUEUE}`,
        awsRegion: 'us-east-1',
        messageAttributes: {},
      });
      expect(record.receiptHandle).not.toBe('');
      expect(record.attributes.ApproximateReceiveCount).toBe('1');
      expect(Number(record.attributes.SentTimestamp)).toBeGreaterThanOrEqual(sentAtMs - 1000);
      expect(Number(record.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(
        Number(record.attributes.SentTimestamp),
      );
    }
    await sleep(1200); // past the visibility timeout: nothing comes back
    expect(events).toHaveLength(1);
  });

  it('deletes the messages a partial batch failure does not name, and redelivers only the named ones', async () => {
    // Prepare
    const sqs = await queueServer();
    await send(sqs, ['m0', 'm1', 'm2', 'm3', 'm4']);

    // Act: m1 and m3 fail on their first receive
    const { events, bodiesOf } = poll(sqs, (event) =>
      Promise.resolve({
        batchItemFailures: event.Records.filter(
          (record) => ['m1', 'm3'].includes(record.body) && record.attributes.ApproximateReceiveCount === '1',
        ).map((record) => ({ itemIdentifier: record.messageId })),
      }),
    );
    await until(() => events.length === 2);
    await until(async () => (await messagesIn(sqs, QUEUE)) === 0);

    // Assess
    expect(bodiesOf(events[0] as SQSEvent)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(bodiesOf(events[1] as SQSEvent)).toEqual(['m1', 'm3']);
    expect(events[1]?.Records.map((record) => record.attributes.ApproximateReceiveCount)).toEqual(['2', '2']);
    await sleep(1200);
    expect(events).toHaveLength(2);
  });

  it('redelivers the whole batch when the function throws', async () => {
    // Prepare
    const sqs = await queueServer();
    await send(sqs, ['m0', 'm1', 'm2']);
    let calls = 0;

    // Act
    const { events, bodiesOf } = poll(sqs, () => {
      calls += 1;
      return calls === 1
        ? Promise.reject(new LambdaFunctionError('TypeError', 'boom'))
        : Promise.resolve(null);
    });
    await until(() => events.length === 2);
    await until(async () => (await messagesIn(sqs, QUEUE)) === 0);

    // Assess
    expect(bodiesOf(events[1] as SQSEvent)).toEqual(['m0', 'm1', 'm2']);
    expect(events[1]?.Records.every((record) => record.attributes.ApproximateReceiveCount === '2')).toBe(
      true,
    );
  });

  it('redelivers the whole batch when Lambda reports a function error over its Invoke API, and when the answer names a message it was not sent', async () => {
    // Prepare: a stand-in for serverless-offline's Invoke API (first an Unhandled error, then a
    // failure list naming an unknown message, then success)
    const sqs = await queueServer();
    await send(sqs, ['m0', 'm1']);
    const payloads: SQSEvent[] = [];
    const lambda: Server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        payloads.push(JSON.parse(body) as SQSEvent);
        if (payloads.length === 1) {
          response.writeHead(200, {
            'content-type': 'application/json',
            'x-amz-function-error': 'Unhandled',
          });
          response.end(
            JSON.stringify({ errorType: 'Error', errorMessage: 'crashed', trace: ['Error: crashed'] }),
          );
        } else if (payloads.length === 2) {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({ batchItemFailures: [{ itemIdentifier: 'not-a-message-of-this-batch' }] }),
          );
        } else {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ batchItemFailures: [] }));
        }
      });
    });
    await new Promise<void>((resolve) => lambda.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => lambda.close(() => resolve())));
    const { port } = lambda.address() as AddressInfo;

    // Act
    poll(sqs, () => Promise.resolve(null), {
      invokeLambda: invokeLambdaOverHttp(`http://127.0.0.1:${port}`),
    });
    await until(() => payloads.length === 3);
    await until(async () => (await messagesIn(sqs, QUEUE)) === 0);

    // Assess
    expect(
      payloads.map((event) => event.Records.map((record) => record.attributes.ApproximateReceiveCount)),
    ).toEqual([
      ['1', '1'],
      ['2', '2'],
      ['3', '3'],
    ]);
  });

  it('leaves a message that fails maxReceiveCount times to the server, which moves it to the dead-letter queue', async () => {
    // Prepare
    const sqs = await queueServer({ maxReceiveCount: 2 });
    await send(sqs, ['poison', 'fine']);

    // Act
    const { events } = poll(sqs, (event) =>
      Promise.resolve({
        batchItemFailures: event.Records.filter((record) => record.body === 'poison').map((record) => ({
          itemIdentifier: record.messageId,
        })),
      }),
    );
    await until(async () => (await messagesIn(sqs, DEAD_LETTERS)) === 1);
    const deadLetters = await sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: sqs.queueUrl(DEAD_LETTERS), MaxNumberOfMessages: 10 }),
    );
    await sleep(1200);

    // Assess
    const poisonReceives = events.flatMap((event) =>
      event.Records.filter((record) => record.body === 'poison').map(
        (record) => record.attributes.ApproximateReceiveCount,
      ),
    );
    expect(poisonReceives).toEqual(['1', '2']);
    expect(deadLetters.Messages?.map((message: Message) => message.Body)).toEqual(['poison']);
    expect(await messagesIn(sqs, QUEUE)).toBe(0);
  });

  it('fills batches up to batchSize with several receives, and waits out the window for a short one', async () => {
    // Prepare
    const sqs = await queueServer({ visibilityTimeoutSeconds: 5 });
    await send(
      sqs,
      Array.from({ length: 60 }, (_, i) => `m${i}`),
    );
    const invokedAtMs: number[] = [];

    // Act
    const startedAtMs = Date.now();
    const { events } = poll(
      sqs,
      () => {
        invokedAtMs.push(Date.now() - startedAtMs);
        return Promise.resolve(null);
      },
      { batchSize: 25, maximumBatchingWindowSeconds: 1, maximumConcurrency: 1 },
    );
    await until(() => events.length === 3);

    // Assess
    expect(events.map((event) => event.Records.length)).toEqual([25, 25, 10]);
    expect(new Set(events.flatMap((event) => event.Records.map((record) => record.body))).size).toBe(60);
    // Full batches go at once; the last ten wait for the window (1 s) to close.
    expect(invokedAtMs[1]).toBeLessThan(900);
    expect((invokedAtMs[2] as number) - (invokedAtMs[1] as number)).toBeGreaterThanOrEqual(900);
  });

  it('adds messages that arrive within the window to the batch', async () => {
    // Prepare
    const sqs = await queueServer({ visibilityTimeoutSeconds: 5 });
    const { events } = poll(sqs, () => Promise.resolve(null), {
      batchSize: 100,
      maximumBatchingWindowSeconds: 1,
    });

    // Act
    await send(sqs, ['early0', 'early1', 'early2']);
    await sleep(400);
    await send(sqs, ['late0', 'late1']);
    await until(() => events.length === 1);
    await sleep(300);

    // Assess
    expect(events).toHaveLength(1);
    expect(events[0]?.Records).toHaveLength(5);
  });

  it('never runs more than maximumConcurrency invocations at once', async () => {
    // Prepare
    const sqs = await queueServer();
    await send(
      sqs,
      Array.from({ length: 40 }, (_, i) => `m${i}`),
    );
    let running = 0;
    let mostAtOnce = 0;

    // Act
    const { events, poller } = poll(
      sqs,
      async () => {
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        await sleep(150);
        running -= 1;
        return null;
      },
      { batchSize: 4, maximumConcurrency: 2 },
    );
    await until(() => events.reduce((sum, event) => sum + event.Records.length, 0) === 40);

    // Assess
    expect(mostAtOnce).toBe(2);
    expect(poller.stats().maxConcurrent).toBeLessThanOrEqual(2);
    expect(events.every((event) => event.Records.length <= 4)).toBe(true);
  });

  it('stops promptly when idle', async () => {
    const sqs = await queueServer();
    const { poller } = poll(sqs, () => Promise.resolve(null), { idlePollMs: 5000 });
    await sleep(100);

    const stoppingAtMs = Date.now();
    await poller.stop();

    expect(Date.now() - stoppingAtMs).toBeLessThan(500);
  });
});

describe('Function: failedMessageIds (how Lambda reads a ReportBatchItemFailures answer)', () => {
  const batch: Message[] = [{ MessageId: 'a' }, { MessageId: 'b' }];

  it.each([
    ['no answer', null],
    ['an empty object', {}],
    ['an empty failure list', { batchItemFailures: [] }],
    ['a null failure list', { batchItemFailures: null }],
  ])('counts %s as complete success', (_, answer) => {
    expect([...failedMessageIds(answer, batch)]).toEqual([]);
  });

  it('fails exactly the messages named', () => {
    expect([...failedMessageIds({ batchItemFailures: [{ itemIdentifier: 'b' }] }, batch)]).toEqual(['b']);
  });

  it.each([
    ['a string', 'ok'],
    ['a list', []],
    ['a failure list that is not a list', { batchItemFailures: 'a' }],
    ['an empty identifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null identifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['an identifier under another key', { batchItemFailures: [{ messageId: 'a' }] }],
    ['an identifier not in the batch', { batchItemFailures: [{ itemIdentifier: 'z' }] }],
  ])('fails the whole batch for %s', (_, answer) => {
    expect([...failedMessageIds(answer, batch)].sort()).toEqual(['a', 'b']);
  });
});

describe('Function: loadSqsEventSource (serverless.yml)', () => {
  it("reads convertQueued's sqs event and creates its queues as serverless.yml declares them", async () => {
    // Act
    const source = loadSqsEventSource({ functionKey: 'convertQueued', stage: 'local' });
    const sqs = await startLocalSqs({ queues: source.queues });
    cleanups.push(() => sqs.close());
    const attributesOf = async (queueName: string) =>
      (
        await sqs.client.send(
          new GetQueueAttributesCommand({ QueueUrl: sqs.queueUrl(queueName), AttributeNames: ['All'] }),
        )
      ).Attributes;

    // Assess
    expect(source).toMatchObject({
      functionName: 'apollo-contact-converter-local-convertQueued',
      queueName: 'apollo-contact-converter-local-conversions',
      batchSize: 100,
      maximumConcurrency: 2,
      reportBatchItemFailures: true,
    });
    expect(source.maximumBatchingWindowSeconds).toBeGreaterThanOrEqual(1);
    expect(source.queues.map((queue) => queue.QueueName)).toEqual([
      'apollo-contact-converter-local-conversions-dlq',
      'apollo-contact-converter-local-conversions',
    ]);
    expect(await attributesOf('apollo-contact-converter-local-conversions')).toMatchObject({
      VisibilityTimeout: '370',
      MessageRetentionPeriod: '345600',
      SqsManagedSseEnabled: 'true',
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn:
          'arn:aws:sqs:us-east-1:000000000000:apollo-contact-converter-local-conversions-dlq',
        maxReceiveCount: 5,
      }),
    });
    expect(await attributesOf('apollo-contact-converter-local-conversions-dlq')).toMatchObject({
      MessageRetentionPeriod: '1209600',
    });
  });

  it('refuses a function without an sqs event', () => {
    expect(() => loadSqsEventSource({ functionKey: 'getConversion' })).toThrow(
      /functions\.getConversion must have exactly one sqs event/,
    );
  });
});
