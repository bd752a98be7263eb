import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';

/** A DynamoDB-compatible server in this process (dynalite, in memory). */
export interface LocalDynamoDb {
  endpoint: string;
  client: DynamoDBClient;
  close(): Promise<void>;
}

/** Local credentials: dynalite accepts any, and the SDK insists on some. */
export const LOCAL_AWS_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export async function startLocalDynamoDb(
  options: { host?: string; port?: number } = {},
): Promise<LocalDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const endpoint = `http://${address}:${port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS });
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What the `by-status` index carries besides its keys (serverless.yml declares the same list). */
const BY_STATUS_ATTRIBUTES = [
  'contact_id',
  'outcome',
  'last_error',
  'attempts',
  'created_at',
  'converted_at',
  'verified_at',
  'credits_consumed',
  'free_lookups',
  'phone_reveal',
  'phone_reveal_note',
] as const;

/**
 * Creates the ledger table with the key schema serverless.yml declares (`pk`, a string) and its
 * sparse `awaiting-verdict` index, and the `by-status` index (records by status, oldest
 * change first). dynalite has no TTL API, so the TTL setting is not applied
 * locally: records simply never expire there.
 */
export async function createLedgerTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'awaiting_verdict_shard', AttributeType: 'S' },
        { AttributeName: 'awaiting_verdict_since', AttributeType: 'N' },
        { AttributeName: 'status', AttributeType: 'S' },
        { AttributeName: 'updated_at', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'awaiting-verdict',
          KeySchema: [
            { AttributeName: 'awaiting_verdict_shard', KeyType: 'HASH' },
            { AttributeName: 'awaiting_verdict_since', KeyType: 'RANGE' },
          ],
          Projection: {
            ProjectionType: 'INCLUDE',
            NonKeyAttributes: ['status', 'contact_id', 'verification_redrives'],
          },
        },
        {
          IndexName: 'by-status',
          KeySchema: [
            { AttributeName: 'status', KeyType: 'HASH' },
            { AttributeName: 'updated_at', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...BY_STATUS_ATTRIBUTES] },
        },
      ],
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 10, minDelay: 1, maxDelay: 1 }, { TableName: tableName });
}
