// Warm-path floor: the AWS calls the webhook makes to accept one new person (issue 11: accept and
// queue), in the same order and grouping, with the same SDK clients built the same way as
// lib/roots/shared/, and nothing else: no middleware, no schema validation, no signature check, no
// logging, no retries or timeouts. Bundled with the deployed esbuild settings. The sequence was
// read off dynalite's requests for one new person with email and two phones (bench11, after
// f1003df): the delivery's claim; the three identities read; the two weak ones (phones) locked;
// the three read again; the record anchored; three aliases written; the two locks released; the
// person queued; SendMessageBatch; the delivery's answer recorded. 11 UpdateItem, 6 GetItem, 1 SQS.
import { createHash, randomUUID } from 'node:crypto';
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';

export interface FloorEnvironment {
  region: string;
  dynamoDbEndpoint: string;
  tableName: string;
  sqsEndpoint: string;
  conversionQueueUrl: string;
}

/** A person as the service would have derived it: the floor does no parsing or normalising. */
export interface FloorPerson {
  key: string;
  email: string;
  /** What the consumer will send to Apollo. */
  fields: Record<string, unknown>;
  fingerprint: string;
  phoneHashes: string[];
}

const STATUS = { '#status': 'status' };
const sha = (text: string) => createHash('sha256').update(text).digest('base64url');

export function createFloorConversion(env: FloorEnvironment): (person: FloorPerson) => Promise<string> {
  const dynamodb = new DynamoDBClient({ region: env.region, endpoint: env.dynamoDbEndpoint });
  const sqs = new SQSClient({ region: env.region, endpoint: env.sqsEndpoint });
  const update = (pk: string, condition: string, expression: string, values: Record<string, unknown>) =>
    dynamodb.send(
      new UpdateItemCommand({
        TableName: env.tableName,
        Key: { pk: { S: pk } },
        ConditionExpression: condition,
        UpdateExpression: expression,
        ExpressionAttributeValues: values as never,
      }),
    );
  const get = (pk: string) =>
    dynamodb.send(
      new GetItemCommand({ TableName: env.tableName, Key: { pk: { S: pk } }, ConsistentRead: true }),
    );

  return async (person) => {
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    const token = randomUUID();
    const delivery = `webhook:${sha(`${person.key}${token}`)}`;
    const strong = `id_${sha(person.email)}`;
    const weak = person.phoneHashes.map((hash) => `id_${hash}`);
    const identities = [strong, ...weak];
    const record = `c_${sha(person.key).slice(0, 22)}`;
    const iso = { S: nowIso };
    await update(
      delivery,
      'attribute_not_exists(pk)',
      'SET lock_token = :token, lock_expires_at = :until, updated_at = :now_iso',
      { ':token': { S: token }, ':until': { N: String(now + 25_000) }, ':now_iso': iso },
    );
    await Promise.all(identities.map(get));
    await Promise.all(
      weak.map((pk) =>
        update(
          pk,
          'attribute_not_exists(identity_lock)',
          'SET identity_lock = :token, identity_lock_until = :until',
          { ':token': { S: token }, ':until': { N: String(now + 5_000) } },
        ),
      ),
    );
    await Promise.all(identities.map(get));
    await update(
      record,
      'attribute_not_exists(pk)',
      'SET email_owner = :owner, updated_at = :now_iso, expires_at = :expires',
      {
        ':owner': { S: person.key },
        ':now_iso': iso,
        ':expires': { N: String(Math.floor(now / 1000) + 3600) },
      },
    );
    await Promise.all(
      identities.map((pk) =>
        update(pk, 'attribute_not_exists(alias_of)', 'SET alias_of = :key, updated_at = :now_iso', {
          ':key': { S: record },
          ':now_iso': iso,
        }),
      ),
    );
    await Promise.all(
      weak.map((pk) =>
        update(pk, 'identity_lock = :token', 'REMOVE identity_lock, identity_lock_until', {
          ':token': { S: token },
        }),
      ),
    );
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: env.tableName,
        Key: { pk: { S: record } },
        ConditionExpression: 'attribute_not_exists(#status) OR #status = :queued',
        UpdateExpression:
          'SET #status = :queued, queued_contact = :contact, sent_at = :now, fingerprint = :fingerprint, updated_at = :now_iso',
        ExpressionAttributeNames: STATUS,
        ExpressionAttributeValues: {
          ':queued': { S: 'queued' },
          ':contact': { S: JSON.stringify(person.fields) },
          ':now': { N: String(now) },
          ':fingerprint': { S: person.fingerprint },
          ':now_iso': iso,
        },
      }),
    );
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: env.conversionQueueUrl,
        Entries: [{ Id: '0', MessageBody: JSON.stringify({ key: record }) }],
      }),
    );
    await update(delivery, 'lock_token = :token', 'SET delivery_answer = :answer, updated_at = :now_iso', {
      ':token': { S: token },
      ':answer': { S: JSON.stringify([{ key: record, status: 'queued' }]) },
      ':now_iso': iso,
    });
    return record;
  };
}
