// Cold-start floor for sweepQueued: the ledger and the conversion queue, constructed at load.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';

export const clients = [new DynamoDBClient({}), new SQSClient({})];
