// Cold-start floor for enrichmentWebhook and createContacts: the two AWS SDK clients a conversion
// needs (ledger and verification start), constructed at load. Apollo is reached with fetch.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';

export const clients = [new DynamoDBClient({}), new SFNClient({})];
