import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLedgerTable, LOCAL_AWS_CREDENTIALS } from '../local/dynamodb';
import { serviceEnv } from '../local/service-env';
import { BENCH_WEBHOOK_SECRET } from './lambda-events';

/** Where a copy of the service finds its ledger, Apollo and Step Functions. */
export interface ServiceEndpoints {
  dynamoDbEndpoint: string;
  tableName: string;
  apolloBaseUrl: string;
  apolloApiKey: string;
  stepFunctionsEndpoint: string;
  stateMachineArn: string;
}

/** Variables of an earlier phase that would point the next copy of the service elsewhere. */
const PHASE_VARIABLES = [
  'APOLLO_API_KEY_PARAMETER',
  'WEBHOOK_SECRET_PARAMETER',
  'API_KEY_PARAMETER',
  'APOLLO_MAX_RETRY_WAIT_SECONDS',
];

/**
 * Sets `process.env` the way serverless.yml and the local stack configure the functions, with the
 * secrets as values (a warm Lambda reads them from the Powertools cache, not from SSM). Must run
 * before a bundle is loaded: the logger reads its level at load, the services at first invocation.
 */
export function configureService(endpoints: ServiceEndpoints, extra: Record<string, string> = {}): void {
  for (const name of PHASE_VARIABLES) delete process.env[name];
  Object.assign(
    process.env,
    serviceEnv(
      {
        ledgerTable: endpoints.tableName,
        dynamoDbEndpoint: endpoints.dynamoDbEndpoint,
        apolloBaseUrl: endpoints.apolloBaseUrl,
        apolloApiKey: endpoints.apolloApiKey,
        webhookSecret: BENCH_WEBHOOK_SECRET,
        apiKey: 'bench-api-key',
        verificationStateMachineArn: endpoints.stateMachineArn,
        stepFunctionsEndpoint: endpoints.stepFunctionsEndpoint,
        // As deployed: INFO, one JSON line per conversion and per verification.
        logLevel: 'INFO',
      },
      { POWERTOOLS_SERVICE_NAME: 'contact-converter', ...extra },
    ),
  );
}

/** Creates the ledger table (the key schema of serverless.yml) on a local DynamoDB. */
export async function createTable(dynamoDbEndpoint: string, tableName: string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint: dynamoDbEndpoint,
    region: 'us-east-1',
    credentials: LOCAL_AWS_CREDENTIALS,
  });
  try {
    await createLedgerTable(client, tableName);
  } finally {
    client.destroy();
  }
}
