import {
  ChangeMessageVisibilityBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type Message,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../lib/config';
import { conversionMessageBody, parseConversionMessage } from '../lib/conversion-queue';
import { ConfigurationError } from '../lib/errors';
import {
  clampVisibilitySeconds,
  conversionQueueFromConfig,
  MAX_VISIBILITY_TIMEOUT_SECONDS,
  SqsConversionQueue,
} from '../lib/sqs-conversion-queue';
import { LOCAL_AWS_CREDENTIALS } from '../local/dynamodb';
import { startLocalSqs, type LocalSqs } from '../local/sqs-server';

const QUEUE_URL =
  'https://sqs.us-east-1.amazonaws.com/123456789012/apollo-contact-converter-test-conversions';
const keys = (count: number, prefix = 'c_key') => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

describe('Class: SqsConversionQueue', () => {
  describe('with a mocked SQS client', () => {
    const client = new SQSClient({ region: 'us-east-1' });
    const sqsMock = mockClient(client);
    const queue = new SqsConversionQueue(client, QUEUE_URL);
    const sentBatches = () => sqsMock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
    /** Answers every batch as SQS does when it accepts each entry. */
    const acceptAll = () =>
      sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
        Successful: input.Entries.map((entry) => ({
          Id: entry.Id,
          MessageId: `m-${entry.Id}`,
          MD5OfMessageBody: 'x',
        })),
        Failed: [],
      }));

    beforeEach(() => sqsMock.reset());

    it('sends one {"key"} message per key, in batches of at most 10', async () => {
      // Prepare
      acceptAll();

      // Act
      const result = await queue.enqueue(keys(23));

      // Assess
      expect(result).toEqual({ failedKeys: [] });
      const batches = sentBatches();
      expect(batches.map((batch) => batch.Entries?.length)).toEqual([10, 10, 3]);
      expect(batches.every((batch) => batch.QueueUrl === QUEUE_URL)).toBe(true);
      const bodies = batches.flatMap((batch) => (batch.Entries ?? []).map((entry) => entry.MessageBody));
      expect(bodies).toEqual(keys(23).map((key) => JSON.stringify({ key })));
      // Ids are unique within each call, as SQS requires.
      for (const batch of batches) {
        const ids = (batch.Entries ?? []).map((entry) => entry.Id);
        expect(new Set(ids).size).toBe(ids.length);
      }
    });

    it('sends a key given twice once, and nothing at all for no keys', async () => {
      acceptAll();

      expect(await queue.enqueue(['c_a', 'c_b', 'c_a'])).toEqual({ failedKeys: [] });
      expect(await queue.enqueue([])).toEqual({ failedKeys: [] });

      expect(sentBatches()).toHaveLength(1);
      expect(sentBatches()[0]?.Entries?.map((entry) => entry.MessageBody)).toEqual([
        '{"key":"c_a"}',
        '{"key":"c_b"}',
      ]);
    });

    it('returns the keys of the entries SQS refused, and of entries it did not confirm', async () => {
      // Prepare: in the second batch, entry 2 refused, entry 5 in neither list
      sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => {
        const second = input.Entries[0]?.MessageBody === '{"key":"c_key10"}';
        return {
          Successful: input.Entries.filter((entry) => !second || !['2', '5'].includes(entry.Id ?? '')).map(
            (entry) => ({ Id: entry.Id, MessageId: `m-${entry.Id}`, MD5OfMessageBody: 'x' }),
          ),
          Failed: second
            ? [{ Id: '2', SenderFault: false, Code: 'InternalError', Message: 'try again' }]
            : [],
        };
      });

      // Act
      const result = await queue.enqueue(keys(25));

      // Assess
      expect(result.failedKeys.sort()).toEqual(['c_key12', 'c_key15']);
    });

    it('returns every key of a call that failed as a whole, and still sends the other batches', async () => {
      // Prepare: the second call fails (after the SDK's own retries)
      let calls = 0;
      sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => {
        calls += 1;
        if (calls === 2) throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
        return {
          Successful: input.Entries.map((entry) => ({ Id: entry.Id, MessageId: 'm', MD5OfMessageBody: 'x' })),
        };
      });

      // Act
      const result = await queue.enqueue(keys(25));

      // Assess
      expect(sentBatches()).toHaveLength(3);
      const failedBatch = sentBatches()[1]?.Entries?.map(
        (entry) => (parseConversionMessage(entry.MessageBody ?? '') as { key: string }).key,
      );
      expect(result.failedKeys).toEqual(failedBatch);
      expect(result.failedKeys).toHaveLength(10);
    });

    it('postpones received messages with ChangeMessageVisibilityBatch, 10 at a time', async () => {
      // Prepare
      sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
      const handles = Array.from({ length: 12 }, (_, i) => `handle-${i}`);

      // Act
      await queue.postpone(handles, 37);

      // Assess
      const calls = sqsMock
        .commandCalls(ChangeMessageVisibilityBatchCommand)
        .map((call) => call.args[0].input);
      expect(calls.map((call) => call.Entries?.length)).toEqual([10, 2]);
      expect(calls.flatMap((call) => call.Entries ?? [])).toEqual(
        handles.map((handle, i) => ({ Id: String(i % 10), ReceiptHandle: handle, VisibilityTimeout: 37 })),
      );
      expect(calls.every((call) => call.QueueUrl === QUEUE_URL)).toBe(true);
    });

    it("clamps the delay to SQS's range: 0 to 12 hours, whole seconds rounded up", async () => {
      sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({});

      await queue.postpone(['h'], 3 * 86_400);
      await queue.postpone(['h'], -5);
      await queue.postpone(['h'], 2.2);

      const timeouts = sqsMock
        .commandCalls(ChangeMessageVisibilityBatchCommand)
        .map((call) => call.args[0].input.Entries?.[0]?.VisibilityTimeout);
      expect(timeouts).toEqual([43_200, 0, 3]);
      expect(MAX_VISIBILITY_TIMEOUT_SECONDS).toBe(43_200);
      expect(clampVisibilitySeconds(Number.POSITIVE_INFINITY)).toBe(43_200);
      expect(clampVisibilitySeconds(Number.NaN)).toBe(0);
    });

    it('does not throw for entries whose visibility SQS did not change, but throws when the call fails', async () => {
      sqsMock
        .on(ChangeMessageVisibilityBatchCommand)
        .resolvesOnce({ Failed: [{ Id: '0', SenderFault: true, Code: 'ReceiptHandleIsInvalid' }] })
        .rejectsOnce(Object.assign(new Error('denied'), { name: 'AccessDenied' }));

      await expect(queue.postpone(['stale'], 30)).resolves.toBeUndefined();
      await expect(queue.postpone(['h'], 30)).rejects.toThrow('denied');
    });

    it('needs CONVERSION_QUEUE_URL, and says so', async () => {
      const unconfigured = new SqsConversionQueue(client, undefined);

      await expect(unconfigured.enqueue(['c_a'])).rejects.toThrow(ConfigurationError);
      await expect(unconfigured.enqueue(['c_a'])).rejects.toThrow('CONVERSION_QUEUE_URL must be set');
      await expect(unconfigured.postpone(['h'], 1)).rejects.toThrow('CONVERSION_QUEUE_URL must be set');
      expect(sqsMock.calls()).toHaveLength(0);
    });
  });

  describe('against a local SQS server (local-aws-sqs)', () => {
    let sqs: LocalSqs;
    let queue: SqsConversionQueue;
    const receiveAll = async (visibilityTimeout?: number): Promise<Message[]> => {
      const messages: Message[] = [];
      for (;;) {
        const { Messages = [] } = await sqs.client.send(
          new ReceiveMessageCommand({
            QueueUrl: sqs.queueUrl('conversions'),
            MaxNumberOfMessages: 10,
            VisibilityTimeout: visibilityTimeout,
          }),
        );
        if (Messages.length === 0) return messages;
        messages.push(...Messages);
      }
    };

    beforeAll(async () => {
      sqs = await startLocalSqs({
        queues: [{ QueueName: 'conversions', Attributes: { VisibilityTimeout: '30' } }],
      });
      // The SDK finds credentials in the environment, as in Lambda (the local stack sets these).
      vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_AWS_CREDENTIALS.accessKeyId);
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_AWS_CREDENTIALS.secretAccessKey);
      // Built from the config, as the composition root builds it.
      queue = conversionQueueFromConfig(
        loadConfig({
          LEDGER_TABLE: 'ledger-test',
          CONVERSION_QUEUE_URL: sqs.queueUrl('conversions'),
          SQS_ENDPOINT: sqs.endpoint,
        }),
      );
    });
    afterAll(async () => {
      vi.unstubAllEnvs();
      await sqs.close();
    });

    it('puts one message per key on the queue', async () => {
      const result = await queue.enqueue(keys(25, 'c_local'));

      const bodies = (await receiveAll()).map((message) => message.Body ?? '');
      expect(result).toEqual({ failedKeys: [] });
      expect(bodies.map((body) => parseConversionMessage(body)?.key).sort()).toEqual(
        keys(25, 'c_local').sort(),
      );
    });

    it('postpones received messages for the given delay, and brings them back at once with 0', async () => {
      // Prepare: received with a 30 s visibility timeout
      await queue.enqueue(['c_later', 'c_now']);
      const received = await receiveAll(30);
      const handleOf = (key: string) =>
        received.find((message) => parseConversionMessage(message.Body ?? '')?.key === key)?.ReceiptHandle ??
        '';

      // Act
      await queue.postpone([handleOf('c_later')], 1);
      await queue.postpone([handleOf('c_now')], 0);
      const atOnce = await receiveAll(30);
      await new Promise((resolve) => setTimeout(resolve, 1300));
      const afterASecond = await receiveAll(30);

      // Assess
      expect(atOnce.map((message) => parseConversionMessage(message.Body ?? '')?.key)).toEqual(['c_now']);
      expect(afterASecond.map((message) => parseConversionMessage(message.Body ?? '')?.key)).toEqual([
        'c_later',
      ]);
    });
  });
});

describe('Functions: conversionMessageBody and parseConversionMessage', () => {
  it('write and read back the key, and nothing else', () => {
    expect(conversionMessageBody('c_Q2hhbmdlTWVBZnRlclJ1bg')).toBe('{"key":"c_Q2hhbmdlTWVBZnRlclJ1bg"}');
    expect(parseConversionMessage('{"key":"c_Q2hhbmdlTWVBZnRlclJ1bg"}')).toEqual({
      key: 'c_Q2hhbmdlTWVBZnRlclJ1bg',
    });
  });

  it.each(['not json', '"c_key"', 'null', '{}', '{"key":""}', '{"key":7}'])('refuse %s', (body) => {
    expect(parseConversionMessage(body)).toBeUndefined();
  });
});
