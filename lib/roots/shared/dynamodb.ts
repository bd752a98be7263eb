import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Config } from '../../config';
import { DynamoDbLedger } from '../../dynamodb-ledger';

/** The ledger on DynamoDB. A root hands out only the ports of `lib/ledger.ts` its functions use. */
export function dynamoDbLedger(config: Config): DynamoDbLedger {
  return new DynamoDbLedger(
    new DynamoDBClient({ region: config.region, endpoint: config.dynamoDbEndpoint }),
    config.ledgerTable,
  );
}
