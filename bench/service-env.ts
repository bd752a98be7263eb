import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLedgerTable, LOCAL_AWS_CREDENTIALS } from '../local/dynamodb';
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
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
    POWERTOOLS_SERVICE_NAME: 'contact-converter',
    // As deployed: INFO, one JSON line per conversion and per verification.
    POWERTOOLS_LOG_LEVEL: 'INFO',
    LEDGER_TABLE: endpoints.tableName,
    DYNAMODB_ENDPOINT: endpoints.dynamoDbEndpoint,
    APOLLO_BASE_URL: endpoints.apolloBaseUrl,
    APOLLO_API_KEY: endpoints.apolloApiKey,
    WEBHOOK_SECRET: BENCH_WEBHOOK_SECRET,
    API_KEY: 'bench-api-key',
    VERIFICATION_STATE_MACHINE_ARN: endpoints.stateMachineArn,
    STEP_FUNCTIONS_ENDPOINT: endpoints.stepFunctionsEndpoint,
    ...extra,
  });
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
