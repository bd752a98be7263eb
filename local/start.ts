import './polyfills';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCAL_DEFAULTS, PROJECT_ROOT, startLocalStack, type LocalStack } from './stack';

/**
 * `npm start`: the whole service on this machine, in one process tree that stops cleanly on
 * Ctrl-C or SIGTERM.
 */
function banner(stack: LocalStack): string {
  const secretNote = (name: 'WEBHOOK_SECRET' | 'API_KEY') =>
    process.env[name] ? '(from your environment)' : `${LOCAL_DEFAULTS[name]}   (local default)`;
  const queue = stack.conversionQueue;
  const apollo = stack.apolloIsSandbox
    ? `${stack.apolloUrl}   (sandbox; set APOLLO_BASE_URL and APOLLO_API_KEY to use another Apollo)`
    : `${stack.apolloUrl}   (from APOLLO_BASE_URL: real calls, real credits)`;
  return [
    '',
    'Apollo contact converter is running locally',
    '',
    `  HTTP API         ${stack.apiUrl}`,
    `    POST ${stack.apiUrl}/webhooks/enrichment-completed   (Standard Webhooks signature, webhook-* or svix-*)`,
    `    POST ${stack.apiUrl}/webhooks/hubspot                (HubSpot workflow webhook, signature v3)`,
    `    POST ${stack.apiUrl}/webhooks/custom/{source}        (clay, zapier, make, n8n: docs/crm/custom-sources.example.json)`,
    `    POST ${stack.apiUrl}/webhooks/salesforce/{secret}    (Salesforce Outbound Messages: npm run send -- --as salesforce)`,
    `    POST ${stack.apiUrl}/webhooks/pipedrive              (Pipedrive webhooks, Basic auth: npm run send -- --as pipedrive)`,
    `    POST ${stack.apiUrl}/contacts                        (x-api-key)`,
    `    GET  ${stack.apiUrl}/conversions/{id}                (x-api-key)`,
    `    POST ${stack.apiUrl}/conversions/lookup              (x-api-key)`,
    `    GET  ${stack.apiUrl}/conversions?status=failed       (x-api-key; operator: by status, paged)`,
    `    GET  ${stack.apiUrl}/conversions/summary             (x-api-key; operator: counts and credits)`,
    `    POST ${stack.apiUrl}/conversions/{id}/retry          (x-api-key; operator: re-queue a failed one)`,
    `  Apollo           ${apollo}`,
    `  DynamoDB         ${stack.env.DYNAMODB_ENDPOINT}   (dynalite, in memory)`,
    `  Step Functions   ${stack.env.STEP_FUNCTIONS_ENDPOINT}   (verification state machine from serverless.yml, waits shortened to 1 s)`,
    `  SQS              ${stack.env.SQS_ENDPOINT}   (local-aws-sqs: the conversion queue and its dead-letter queue)`,
    `    ${queue.url}   -> ${queue.functionName}: batches of up to ${queue.batchSize} within ${queue.maximumBatchingWindowSeconds} s, ${queue.maximumConcurrency} at once`,
    `  WEBHOOK_SECRET   ${secretNote('WEBHOOK_SECRET')}`,
    `  API_KEY          ${secretNote('API_KEY')}`,
    '',
    'Send the example webhook (Mark Twain) from another terminal:',
    '',
    '  npm run send -- events/enrichment-completed.json',
    '  npm run send -- --as hubspot events/hubspot-all-properties.json',
    '  npm run send -- --as custom:clay events/custom-clay.json',
    '',
    'or watch a whole conversion end to end:  npm run demo',
    'import a CSV or JSONL export, see and retry what failed:  npx contacts-once --help',
    'Stop with Ctrl-C.',
    '',
  ].join('\n');
}

/** The stack's endpoints for `serverless invoke local --stage local` (serverless.yml has useDotenv). */
function writeEnvFile(stack: LocalStack): string | undefined {
  const name = process.env.LOCAL_STACK_ENV_FILE ?? '.env.local';
  if (name === '') return undefined;
  const path = join(PROJECT_ROOT, name);
  const lines = Object.entries(stack.env).map(([key, value]) => `${key}=${value}`);
  writeFileSync(path, `# Written by npm start; removed when it stops.\n${lines.join('\n')}\n`);
  return path;
}

async function main(): Promise<void> {
  // The SDK warns that its 2027 releases will need Node 22; the versions pinned here run on Node 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  console.log(
    'Starting the local stack (dynalite, Apollo sandbox, Step Functions, SQS, serverless-offline)...',
  );
  const stack = await startLocalStack();
  const envFile = writeEnvFile(stack);
  console.log(banner(stack));

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the local stack...');
    await stack.stop();
    if (envFile) rmSync(envFile, { force: true });
    console.log('Stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  void stack.exited.then((code) => {
    if (!stopping) {
      console.error(`serverless-offline exited unexpectedly (code ${code}); stopping.`);
      void stop(1);
    }
  });
}

main().catch((error: unknown) => {
  console.error(`The local stack could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
