// Warm-path floor: the AWS and HTTP calls one conversion makes, in the same order, with the same
// SDK clients built the same way as lib/roots/shared/, and nothing else: no middleware, no schema
// validation, no logging, no retries or timeouts. Bundled with the deployed esbuild settings.
import { createHash, randomUUID } from 'node:crypto';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { CLAIM_CONDITION, CLAIM_UPDATE } from '../../lib/dynamodb-ledger';

export interface FloorEnvironment {
  region: string;
  dynamoDbEndpoint: string;
  tableName: string;
  apolloBaseUrl: string;
  apolloApiKey: string;
  stepFunctionsEndpoint: string;
  stateMachineArn: string;
}

/** A person as the service would have derived it: the floor does no parsing or normalising. */
export interface FloorPerson {
  key: string;
  email: string;
  /** The `POST /contacts` body. */
  fields: Record<string, unknown>;
  fingerprint: string;
  phoneHashes: string[];
}

const STATUS = { '#status': 'status' };

export function createFloorConversion(env: FloorEnvironment): (person: FloorPerson) => Promise<string> {
  const dynamodb = new DynamoDBClient({ region: env.region, endpoint: env.dynamoDbEndpoint });
  const stepFunctions = new SFNClient({ region: env.region, endpoint: env.stepFunctionsEndpoint });
  const headers = {
    'x-api-key': env.apolloApiKey,
    'content-type': 'application/json',
    'cache-control': 'no-cache',
    accept: 'application/json',
  };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${env.apolloBaseUrl}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    return (await response.json()) as { contact?: { id: string }; contacts?: unknown[] };
  };

  return async (person) => {
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    const token = randomUUID();
    const key = { pk: { S: person.key } };
    // 1. Claim (the ledger's own condition and update).
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: env.tableName,
        Key: key,
        ConditionExpression: CLAIM_CONDITION,
        UpdateExpression: CLAIM_UPDATE,
        ExpressionAttributeNames: STATUS,
        ExpressionAttributeValues: {
          ':queued': { S: 'queued' },
          ':creating': { S: 'creating' },
          ':rejected': { S: 'rejected' },
          ':failed': { S: 'failed' },
          ':now': { N: String(now) },
          ':now_iso': { S: nowIso },
          ':token': { S: token },
          ':lock_expires_at': { N: String(now + 25_000) },
          ':zero': { N: '0' },
          ':one': { N: '1' },
          ':fingerprint': { S: person.fingerprint },
          ':match': { M: { email: { S: person.email } } },
          ':phones': { L: person.phoneHashes.map((hash) => ({ S: hash })) },
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    // 2. Search for the exact email, 3. create.
    await post('/contacts/search', { q_keywords: person.email, page: 1, per_page: 100 });
    const created = await post('/contacts', person.fields);
    const contactId = created.contact?.id ?? '';
    // 4. Record the outcome as the claim holder.
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: env.tableName,
        Key: key,
        ConditionExpression: 'lock_token = :token AND #status = :creating_status',
        UpdateExpression:
          'SET #status = :created, contact_id = :contact_id, outcome = :outcome, converted_at = :now_iso, ' +
          'updated_at = :now_iso REMOVE lock_token, lock_expires_at, create_uncertain',
        ExpressionAttributeNames: STATUS,
        ExpressionAttributeValues: {
          ':created': { S: 'created' },
          ':contact_id': { S: contactId },
          ':outcome': { S: 'created' },
          ':now_iso': { S: nowIso },
          ':token': { S: token },
          ':creating_status': { S: 'creating' },
        },
      }),
    );
    // 5. Start the verification, then note that it started.
    await stepFunctions.send(
      new StartExecutionCommand({
        stateMachineArn: env.stateMachineArn,
        name: `verify-${createHash('sha256').update(person.key).digest('hex')}`,
        input: JSON.stringify({ key: person.key, contact_id: contactId }),
      }),
    );
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: env.tableName,
        Key: key,
        ConditionExpression: 'attribute_exists(pk)',
        UpdateExpression: 'SET verification_started_at = :now_iso, updated_at = :now_iso',
        ExpressionAttributeValues: { ':now_iso': { S: new Date().toISOString() } },
      }),
    );
    return contactId;
  };
}
