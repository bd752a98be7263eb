// Cold-start floor for the front doors (enrichmentWebhook, createContacts) and the queue's consumer
// (convertQueued): the ledger, verification starts and the conversion queue, constructed at load.
// Apollo is reached with fetch.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';

export const clients = [new DynamoDBClient({}), new SFNClient({}), new SQSClient({})];
