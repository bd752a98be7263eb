// Cold-start floor for getConversion, verifyContact and recordVerificationFailure: only the AWS SDK
// client they need (verifyContact reaches Apollo with the built-in fetch), constructed at load.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const clients = [new DynamoDBClient({})];
