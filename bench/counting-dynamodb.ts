import type { AddressInfo } from 'node:net';
import { ScanCommand, DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { LOCAL_AWS_CREDENTIALS } from '../local/dynamodb';

/**
 * dynalite in this process, counting the operations it is sent (by `X-Amz-Target`), so the bench
 * can report the DynamoDB calls a stream really cost instead of only counting them from the code.
 */
export interface CountingDynamoDb {
  endpoint: string;
  operations(): Record<string, number>;
  /** Largest item of a table, in DynamoDB's size accounting (what write and read units are billed on). */
  largestItemBytes(tableName: string): Promise<number>;
  items(tableName: string): Promise<Array<Record<string, AttributeValue>>>;
  close(): Promise<void>;
}

export async function startCountingDynamoDb(): Promise<CountingDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const counts = new Map<string, number>();
  server.on('request', (request: { headers: Record<string, string | string[] | undefined> }) => {
    const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS });
  const items = async (tableName: string) => {
    const all: Array<Record<string, AttributeValue>> = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      all.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return all;
  };
  return {
    endpoint,
    operations: () => Object.fromEntries(counts),
    items,
    largestItemBytes: async (tableName) => Math.max(0, ...(await items(tableName)).map(itemBytes)),
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** DynamoDB's item size: attribute names plus values (numbers ~1 byte per 2 digits, +1). */
export function itemBytes(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value),
    0,
  );
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.L !== undefined) return 3 + value.L.reduce((sum, element) => sum + 1 + valueBytes(element), 0);
  if (value.M !== undefined) return 3 + itemBytes(value.M) + Object.keys(value.M).length;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + Buffer.byteLength(s), 0);
  return 0;
}
