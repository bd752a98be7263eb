import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../lib/powertools-metrics';
import { PROJECT_ROOT } from '../local/stack';

/** The CloudFormation template, typed as far as these tests read it (each resource type has some of these). */
type Template = { Resources: Record<string, { Type: string; Properties: ResourceProperties }> };
interface ResourceProperties {
  /** AWS::ApiGatewayV2::Route */
  RouteKey?: string;
  /** AWS::Lambda::Function */
  Runtime?: string;
  Role?: unknown;
  Timeout?: number;
  Environment?: { Variables: Record<string, unknown> };
  Layers?: unknown[];
  /** AWS::IAM::Role */
  Policies?: Array<{ PolicyDocument: { Statement: unknown[] } }>;
  /** AWS::CloudWatch::Alarm */
  MetricName?: string;
  Namespace?: string;
  Dimensions?: Array<{ Name: string; Value: unknown }>;
  AlarmActions?: unknown[];
  EvaluationPeriods?: number;
  DatapointsToAlarm?: number;
  /** Metric math alarms. */
  Metrics?: Array<{
    Id: string;
    Expression?: string;
    ReturnData?: boolean;
    MetricStat?: {
      Stat: string;
      Period: number;
      Metric: { Namespace: string; MetricName: string; Dimensions: Array<{ Name: string; Value: unknown }> };
    };
  }>;
  /** AWS::CloudWatch::Dashboard */
  DashboardName?: unknown;
  DashboardBody?: { 'Fn::Sub': string };
  ComparisonOperator?: string;
  Threshold?: number;
  /** AWS::DynamoDB::Table */
  GlobalSecondaryIndexes?: unknown[];
  /** AWS::Events::Rule */
  ScheduleExpression?: string;
  /** AWS::SQS::Queue */
  QueueName?: string;
  VisibilityTimeout?: number;
  MessageRetentionPeriod?: number;
  SqsManagedSseEnabled?: boolean;
  RedrivePolicy?: { deadLetterTargetArn: unknown; maxReceiveCount: number };
  /** AWS::Lambda::EventSourceMapping */
  EventSourceArn?: unknown;
  FunctionName?: unknown;
  BatchSize?: number;
  MaximumBatchingWindowInSeconds?: number;
  FunctionResponseTypes?: string[];
  ScalingConfig?: { MaximumConcurrency?: number };
  /** AWS::Logs::MetricFilter */
  LogGroupName?: string;
  MetricTransformations?: Array<{ MetricName: string }>;
}

interface Statement {
  Action: string | string[];
  Resource: unknown;
}

describe('Deployment: serverless package', () => {
  let template: Template;
  const outDir = mkdtempSync(join(tmpdir(), 'sls-package-'));

  beforeAll(() => {
    // Offline, with dummy credentials: packaging must need no AWS account.
    const serverless = createRequire(import.meta.url).resolve('osls/bin/serverless.js');
    const run = spawnSync(process.execPath, [serverless, 'package', '--stage', 'prod', '--package', outDir], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'dummy',
        AWS_SECRET_ACCESS_KEY: 'dummy',
        SLS_TELEMETRY_DISABLED: '1',
        ESBUILD_WORK_FOLDER: '.esbuild-package-test',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      timeout: 120_000,
    });
    if (run.status !== 0) throw new Error(`serverless package failed:\n${run.stdout}\n${run.stderr}`);
    template = JSON.parse(
      readFileSync(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as Template;
  }, 150_000);
  afterAll(() => {
    rmSync(outDir, { recursive: true, force: true });
    rmSync(join(PROJECT_ROOT, '.esbuild-package-test'), { recursive: true, force: true });
  });

  const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

  it('declares the ledger table on demand, with TTL and point-in-time recovery', () => {
    const table = template.Resources.LedgerTable?.Properties;
    expect(table).toMatchObject({
      TableName: 'apollo-contact-converter-prod-ledger',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('declares the Standard state machines and the HTTP routes', () => {
    expect(template.Resources.VerificationStateMachine?.Properties).toMatchObject({
      StateMachineName: 'apollo-contact-converter-prod-verification',
      StateMachineType: 'STANDARD',
    });
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey);
    expect(routes.sort()).toEqual([
      'GET /conversions',
      'GET /conversions/summary',
      'GET /conversions/{id}',
      'POST /contacts',
      'POST /conversions/lookup',
      'POST /conversions/{id}/retry',
      'POST /enrichments',
      'POST /webhooks/apollo/phone-numbers',
      'POST /webhooks/custom/{source}',
      'POST /webhooks/enrichment-completed',
      'POST /webhooks/hubspot',
      'POST /webhooks/pipedrive',
      'POST /webhooks/salesforce/{secret}',
    ]);
    expect(template.Resources.PhoneRevealStateMachine?.Properties).toMatchObject({
      StateMachineName: 'apollo-contact-converter-prod-phone-reveal',
      StateMachineType: 'STANDARD',
    });
  });

  it('runs every function on nodejs22.x with its own role and no secret in its environment', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(19);
    const roles = new Set<string>();
    for (const [, fn] of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      roles.add(JSON.stringify(fn.Properties.Role));
      const variables = Object.keys(fn.Properties.Environment?.Variables ?? {});
      expect(variables).not.toContain('APOLLO_API_KEY');
      expect(variables).not.toContain('WEBHOOK_SECRET');
      expect(variables).not.toContain('API_KEY');
      expect(variables).toContain('APOLLO_API_KEY_PARAMETER');
    }
    expect(roles.size).toBe(functions.length);
  });

  it('gives every function the Parameters and Secrets extension, through which it reads its secrets', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    for (const [, fn] of functions) {
      expect(fn.Properties.Layers).toEqual([
        {
          'Fn::Sub': '{{resolve:ssm:/aws/service/aws-parameters-and-secrets-lambda-extension/arm64/latest}}',
        },
      ]);
      expect(fn.Properties.Environment?.Variables).toMatchObject({
        PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED: 'false',
        SSM_PARAMETER_STORE_TIMEOUT_MILLIS: '4000',
      });
    }
  });

  it('gives each CRM door its own role, reading only its own secrets from SSM, named (never valued) in its environment', () => {
    const doors = {
      HubspotWebhook: {
        variables: {
          HUBSPOT_CLIENT_SECRET_PARAMETER: '/apollo-contact-converter/prod/hubspot-client-secret',
          HUBSPOT_API_KEY_PARAMETER: '/apollo-contact-converter/prod/hubspot-api-key',
          HUBSPOT_AUTH: 'signature',
          HUBSPOT_API_KEY_IN: 'header',
          HUBSPOT_API_KEY_NAME: 'x-hubspot-key',
          HUBSPOT_PROPERTY_MAP: '',
        },
        parameters: ['apollo-api-key', 'hubspot-client-secret', 'hubspot-api-key', 'log-hash-secret'],
      },
      CustomWebhook: {
        variables: { CUSTOM_SOURCES_PARAMETER: '/apollo-contact-converter/prod/custom-sources' },
        parameters: ['apollo-api-key', 'custom-sources', 'log-hash-secret'],
      },
    };
    for (const [door, { variables, parameters }] of Object.entries(doors)) {
      const fn = template.Resources[`${door}LambdaFunction`]?.Properties;
      expect(fn?.Role).toEqual({ 'Fn::GetAtt': [`${door}Role`, 'Arn'] });
      expect(fn?.Environment?.Variables).toMatchObject(variables);
      for (const secret of ['HUBSPOT_CLIENT_SECRET', 'HUBSPOT_API_KEY', 'CUSTOM_SOURCES']) {
        expect(Object.keys(fn?.Environment?.Variables ?? {})).not.toContain(secret);
      }
      const policies = JSON.stringify(template.Resources[`${door}Role`]?.Properties.Policies);
      const read = [...policies.matchAll(/parameter\/apollo-contact-converter\/prod\/([a-z-]+)/g)].map(
        (m) => m[1],
      );
      expect(read.sort()).toEqual([...parameters].sort());
      expect(policies).toContain('states:StartExecution');
      // The door hands its people to the conversion queue, as the webhook door does.
      expect(policies).toContain('sqs:SendMessage');
      expect(fn?.Environment?.Variables).toHaveProperty('CONVERSION_QUEUE_URL');
    }
  });

  it('gives each CRM door a role reading only its own secret, and its configuration as names or plain settings', () => {
    const doors = {
      SalesforceWebhook: {
        secret: 'salesforce-endpoint-secret',
        variable: 'SALESFORCE_ENDPOINT_SECRET_PARAMETER',
      },
      PipedriveWebhook: { secret: 'pipedrive-basic-auth', variable: 'PIPEDRIVE_BASIC_AUTH_PARAMETER' },
    };
    for (const [door, { secret, variable }] of Object.entries(doors)) {
      const fn = template.Resources[`${door}LambdaFunction`]?.Properties;
      expect(fn?.Role).toEqual({ 'Fn::GetAtt': [`${door}Role`, 'Arn'] });
      expect(fn?.Environment?.Variables[variable]).toBe(`/apollo-contact-converter/prod/${secret}`);
      const parameters = JSON.stringify(template.Resources[`${door}Role`]?.Properties.Policies)
        .match(/parameter\/apollo-contact-converter\/prod\/[a-z-]+/g)
        ?.sort();
      const policies = JSON.stringify(template.Resources[`${door}Role`]?.Properties.Policies);
      expect(policies).toContain('sqs:SendMessage');
      expect(policies).toContain('states:StartExecution');
      expect(fn?.Environment?.Variables).toHaveProperty('CONVERSION_QUEUE_URL');
      expect(parameters).toEqual(
        [
          `parameter/apollo-contact-converter/prod/${secret}`,
          'parameter/apollo-contact-converter/prod/apollo-api-key',
          'parameter/apollo-contact-converter/prod/log-hash-secret',
        ].sort(),
      );
    }
    // The org ids are not secret (every Outbound Message carries them): a deploy parameter, empty by default.
    expect(
      template.Resources.SalesforceWebhookLambdaFunction?.Properties.Environment?.Variables,
    ).toMatchObject({
      SALESFORCE_ORG_IDS: '',
    });
  });

  it('grants no IAM action on "*"', () => {
    const statements = ofType('AWS::IAM::Role').flatMap(([, role]) =>
      (role.Properties.Policies ?? []).flatMap(
        (policy: { PolicyDocument: { Statement: unknown[] } }) => policy.PolicyDocument.Statement,
      ),
    ) as Array<{ Action: string | string[]; Resource: unknown }>;
    expect(statements.length).toBeGreaterThan(10);
    for (const statement of statements) {
      expect(JSON.stringify(statement.Resource)).not.toMatch(/"\*"/);
      expect([statement.Action].flat()).not.toContain('*');
    }
  });

  it('alarms on failed verifications and on Apollo auth errors', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties.MetricName);
    expect(alarms).toEqual(expect.arrayContaining(['VerificationFailed', 'ApolloAuthErrors']));
  });

  it('counts a verification failed wherever it is recorded: the batch task, its failure path and the sweep', () => {
    const counted = ofType('AWS::Logs::MetricFilter')
      .map(([, filter]) => filter.Properties)
      .filter((filter) => filter.MetricTransformations?.[0]?.MetricName === 'VerificationFailed')
      .map((filter) => filter.LogGroupName);
    expect(counted).toEqual(
      expect.arrayContaining(
        ['verifyContact', 'recordVerificationFailure', 'sweepVerifications'].map(
          (fn) => `/aws/lambda/apollo-contact-converter-prod-${fn}`,
        ),
      ),
    );
    // The failure path reads each record first, so an earlier verdict (and its reason) stands.
    expect(JSON.stringify(template.Resources.RecordVerificationFailureRole?.Properties.Policies)).toContain(
      '"Action":["dynamodb:GetItem","dynamodb:UpdateItem"]',
    );
  });

  it('alarms on failed and timed-out executions of both state machines, to the alarm topic', () => {
    const executionAlarms = ofType('AWS::CloudWatch::Alarm')
      .map(([, alarm]) => alarm.Properties)
      .filter((alarm) => alarm.Namespace === 'AWS/States')
      .map((alarm) => ({
        metric: alarm.MetricName,
        stateMachine: alarm.Dimensions?.[0],
        actions: alarm.AlarmActions,
        threshold: [alarm.ComparisonOperator, alarm.Threshold],
      }));
    const expected = ['VerificationStateMachine', 'PhoneRevealStateMachine'].flatMap((machine) =>
      ['ExecutionsFailed', 'ExecutionsTimedOut'].map((metric) => ({
        metric,
        stateMachine: { Name: 'StateMachineArn', Value: { Ref: machine } },
        actions: [{ Ref: 'AlarmTopic' }],
        threshold: ['GreaterThanOrEqualToThreshold', 1],
      })),
    );
    expect(executionAlarms).toEqual(expect.arrayContaining(expected));
    expect(executionAlarms).toHaveLength(4);
  });

  describe('metrics, dashboard and alarms', () => {
    const NAMESPACE = 'apollo-contact-converter/prod';
    const SERVICE = { Name: 'service', Value: 'contact-converter' };
    const functions = () => ofType('AWS::Lambda::Function').map(([, fn]) => fn.Properties);

    /** The dashboard's body, its `${…}` references to the template's resources (and `${AWS::Region}`) left named. */
    function dashboard() {
      const body = template.Resources.OperationsDashboard?.Properties.DashboardBody?.['Fn::Sub'] ?? '';
      const references = [...body.matchAll(/\$\{([^}]+)\}/g)].map((match) => match[1] as string);
      const parsed = JSON.parse(body) as {
        widgets: Array<{ properties: { title?: string; metrics?: unknown[][] } }>;
      };
      const metrics = parsed.widgets.flatMap((widget) => widget.properties.metrics ?? []);
      return { references, widgets: parsed.widgets, metrics, text: body };
    }

    it('gives every function the metrics namespace the dashboard and alarms read', () => {
      for (const fn of functions()) {
        expect(fn.Environment?.Variables).toMatchObject({
          POWERTOOLS_METRICS_NAMESPACE: NAMESPACE,
          POWERTOOLS_SERVICE_NAME: SERVICE.Value,
        });
      }
    });

    it('shows every metric the service writes, under its namespace and service dimension', () => {
      const { metrics } = dashboard();
      const own = metrics.filter((metric) => metric[0] === NAMESPACE);
      for (const name of Object.values(METRIC_NAMES).filter((n) => n !== METRIC_NAMES.apolloRequests)) {
        expect(own).toContainEqual(expect.arrayContaining([NAMESPACE, name, 'service', SERVICE.Value]));
      }
      // Apollo requests carry endpoint and status too: one line per pair, found by a search.
      expect(metrics).toContainEqual([
        expect.objectContaining({
          expression: `SEARCH('{"${NAMESPACE}",endpoint,service,status} MetricName="${METRIC_NAMES.apolloRequests}"', 'Sum', 300)`,
        }),
      ]);
    });

    it("shows the queue's and the dead-letter queue's age and depth, every function's errors and throttles, and failed executions", () => {
      const { metrics, references } = dashboard();
      const shown = metrics.map((metric) => metric.slice(0, 4).join(' '));
      for (const queue of [
        'apollo-contact-converter-prod-conversions',
        'apollo-contact-converter-prod-conversions-dlq',
      ]) {
        expect(shown).toContain(`AWS/SQS ApproximateAgeOfOldestMessage QueueName ${queue}`);
        expect(shown).toContain(`AWS/SQS ApproximateNumberOfMessagesVisible QueueName ${queue}`);
      }
      const functionNames = functions().map((fn) => fn.FunctionName as string);
      expect(functionNames.length).toBeGreaterThan(10);
      for (const name of functionNames) {
        expect(shown).toContain(`AWS/Lambda Errors FunctionName ${name}`);
        expect(shown).toContain(`AWS/Lambda Throttles FunctionName ${name}`);
      }
      for (const machine of ['VerificationStateMachine', 'PhoneRevealStateMachine']) {
        expect(shown).toContain(`AWS/States ExecutionsFailed StateMachineArn \${${machine}}`);
      }
      // Every reference Fn::Sub fills in is a pseudo parameter or a resource of this template.
      for (const reference of references) {
        expect(reference.startsWith('AWS::') || reference in template.Resources).toBe(true);
      }
    });

    it('alarms on Apollo 429s sustained for 15 minutes, to the alarm topic', () => {
      expect(template.Resources.ApolloRateLimitedAlarm?.Properties).toMatchObject({
        Namespace: NAMESPACE,
        MetricName: METRIC_NAMES.apolloRateLimited,
        Dimensions: [SERVICE],
        Period: 300,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: 'AlarmTopic' }],
      });
    });

    it('alarms when 10% of the people finished in 15 minutes were rejected or failed, to the alarm topic', () => {
      const alarm = template.Resources.ConversionsFailingAlarm?.Properties;
      expect(alarm).toMatchObject({
        Threshold: 10,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: 'AlarmTopic' }],
      });
      const read = (alarm?.Metrics ?? []).flatMap((m) => (m.MetricStat ? [m.MetricStat] : []));
      expect(read.map((stat) => stat.Metric.MetricName).sort()).toEqual(
        [METRIC_NAMES.created, METRIC_NAMES.existing, METRIC_NAMES.rejected, METRIC_NAMES.failed].sort(),
      );
      for (const stat of read) {
        expect(stat).toMatchObject({ Stat: 'Sum', Period: 900 });
        expect(stat.Metric).toMatchObject({ Namespace: NAMESPACE, Dimensions: [SERVICE] });
      }
      const returned = (alarm?.Metrics ?? []).filter((m) => m.ReturnData === true);
      expect(returned).toHaveLength(1);
      expect(returned[0]?.Expression).toMatch(
        /^IF\(finished >= 20, 100 \* \(FILL\(rejected, 0\) \+ FILL\(failed, 0\)\) \/ finished, 0\)$/,
      );
    });
  });

  it('indexes the records waiting for a verdict, and sweeps them every 15 minutes through that index only', () => {
    const table = template.Resources.LedgerTable?.Properties;
    expect(table?.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: 'awaiting-verdict',
        KeySchema: [
          { AttributeName: 'awaiting_verdict_shard', KeyType: 'HASH' },
          { AttributeName: 'awaiting_verdict_since', KeyType: 'RANGE' },
        ],
      }),
      expect.objectContaining({
        IndexName: 'by-status',
        KeySchema: [
          { AttributeName: 'status', KeyType: 'HASH' },
          { AttributeName: 'updated_at', KeyType: 'RANGE' },
        ],
      }),
    ]);
    const schedules = ofType('AWS::Events::Rule').map(([, rule]) => rule.Properties);
    expect(schedules).toEqual([
      expect.objectContaining({ ScheduleExpression: 'rate(15 minutes)' }),
      expect.objectContaining({ ScheduleExpression: 'rate(15 minutes)' }),
    ]);
    const sweep = template.Resources.SweepVerificationsLambdaFunction?.Properties;
    expect(sweep?.Role).toEqual({ 'Fn::GetAtt': ['SweepVerificationsRole', 'Arn'] });
    const statements = JSON.stringify(template.Resources.SweepVerificationsRole?.Properties.Policies);
    expect(statements).not.toContain('dynamodb:Scan');
    expect(statements).toMatch(/"dynamodb:Query"\],"Resource":\{"Fn::Sub":"[^"]*\/index\/awaiting-verdict"/);
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    expect(alarms).toContainEqual(
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: 'apollo-contact-converter-prod-sweepVerifications' }],
      }),
    );
  });

  it('sweeps people left queued every 15 minutes through the by-status index only, and alarms when that fails', () => {
    const sweep = template.Resources.SweepQueuedLambdaFunction?.Properties;
    expect(sweep).toMatchObject({ Handler: 'functions/sweep-queued.handler' });
    expect(sweep?.Role).toEqual({ 'Fn::GetAtt': ['SweepQueuedRole', 'Arn'] });
    const statements = JSON.stringify(template.Resources.SweepQueuedRole?.Properties.Policies);
    expect(statements).not.toContain('dynamodb:Scan');
    expect(statements).toMatch(/"dynamodb:Query"\],"Resource":\{"Fn::Sub":"[^"]*\/index\/by-status"/);
    expect(statements).not.toContain('states:StartExecution');
    expect(statements).not.toContain('/apollo-api-key');
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    expect(alarms).toContainEqual(
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: 'apollo-contact-converter-prod-sweepQueued' }],
      }),
    );
  });

  describe('the conversion queue', () => {
    const queueArn = {
      'Fn::Sub':
        'arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:apollo-contact-converter-prod-conversions',
    };
    const statementsOf = (roleName: string): Statement[] =>
      (template.Resources[roleName]?.Properties.Policies ?? []).flatMap(
        (policy) => policy.PolicyDocument.Statement,
      ) as Statement[];
    const sqsStatementsOf = (roleName: string) =>
      statementsOf(roleName).filter((statement) =>
        [statement.Action].flat().some((action) => action.startsWith('sqs:')),
      );

    it('declares the queue and its dead-letter queue: redrive after 5 receives, SQS encryption, the DLQ outlasting the queue', () => {
      const queue = template.Resources.ConversionQueue?.Properties;
      const deadLetters = template.Resources.ConversionDeadLetterQueue?.Properties;

      expect(template.Resources.ConversionQueue?.Type).toBe('AWS::SQS::Queue');
      expect(queue).toMatchObject({
        QueueName: 'apollo-contact-converter-prod-conversions',
        SqsManagedSseEnabled: true,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': ['ConversionDeadLetterQueue', 'Arn'] },
          maxReceiveCount: 5,
        },
      });
      expect(template.Resources.ConversionDeadLetterQueue?.Type).toBe('AWS::SQS::Queue');
      expect(deadLetters).toMatchObject({
        QueueName: 'apollo-contact-converter-prod-conversions-dlq',
        SqsManagedSseEnabled: true,
      });
      expect(deadLetters?.MessageRetentionPeriod).toBeGreaterThan(queue?.MessageRetentionPeriod ?? Infinity);
    });

    it("hides a received message for at least 6 times the consumer's timeout plus the batching window", () => {
      const consumerTimeout = template.Resources.ConvertQueuedLambdaFunction?.Properties.Timeout;
      const [, mapping] = ofType('AWS::Lambda::EventSourceMapping')[0] ?? [];
      const window = mapping?.Properties.MaximumBatchingWindowInSeconds;
      const visibilityTimeout = template.Resources.ConversionQueue?.Properties.VisibilityTimeout;

      expect(consumerTimeout).toBeGreaterThan(0);
      expect(window).toBeGreaterThanOrEqual(1);
      expect(visibilityTimeout).toBeGreaterThanOrEqual(6 * (consumerTimeout as number) + (window as number));
    });

    it('consumes it with convertQueued: batches of 100 within a window, partial failures, at most 2 at once', () => {
      const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, mapping]) => mapping.Properties);

      expect(mappings).toEqual([
        expect.objectContaining({
          EventSourceArn: { 'Fn::GetAtt': ['ConversionQueue', 'Arn'] },
          FunctionName: { 'Fn::GetAtt': ['ConvertQueuedLambdaFunction', 'Arn'] },
          BatchSize: 100,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: 2 },
        }),
      ]);
      // AWS refuses a batch size above 10 without a batching window of at least 1 s.
      expect(mappings[0]?.MaximumBatchingWindowInSeconds).toBeGreaterThanOrEqual(1);
      expect(template.Resources.ConvertQueuedLambdaFunction?.Properties).toMatchObject({
        Handler: 'functions/convert-queued.handler',
        Role: { 'Fn::GetAtt': ['ConvertQueuedRole', 'Arn'] },
      });
    });

    it('tells the front doors and the consumer where the queue is, and the consumer the receives before the DLQ', () => {
      for (const fn of ['EnrichmentWebhook', 'CreateContacts', 'ConvertQueued', 'SweepQueued']) {
        const variables = template.Resources[`${fn}LambdaFunction`]?.Properties.Environment?.Variables;
        expect(variables?.CONVERSION_QUEUE_URL, fn).toEqual({ Ref: 'ConversionQueue' });
      }
      const consumer = template.Resources.ConvertQueuedLambdaFunction?.Properties.Environment?.Variables;
      expect(consumer?.CONVERSION_MAX_RECEIVE_COUNT).toBe(
        String(template.Resources.ConversionQueue?.Properties.RedrivePolicy?.maxReceiveCount),
      );
    });

    it('lets the consumer receive, delete and postpone on the queue only, and the front doors only send to it', () => {
      expect(sqsStatementsOf('ConvertQueuedRole')).toEqual([
        expect.objectContaining({
          Action: [
            'sqs:ReceiveMessage',
            'sqs:DeleteMessage',
            'sqs:GetQueueAttributes',
            'sqs:ChangeMessageVisibility',
          ],
          Resource: queueArn,
        }),
        // On a message's last receive, a person tried fewer times than allowed gets a fresh one.
        expect.objectContaining({ Action: ['sqs:SendMessage'], Resource: queueArn }),
      ]);
      const doors = [
        'EnrichmentWebhookRole',
        'HubspotWebhookRole',
        'CustomWebhookRole',
        'SalesforceWebhookRole',
        'PipedriveWebhookRole',
        'CreateContactsRole',
      ];
      for (const door of [...doors, 'SweepQueuedRole', 'RetryConversionRole']) {
        expect(sqsStatementsOf(door), door).toEqual([
          expect.objectContaining({ Action: ['sqs:SendMessage'], Resource: queueArn }),
        ]);
      }
      const withQueueAccess = ofType('AWS::IAM::Role')
        .filter(([name]) => sqsStatementsOf(name).length > 0)
        .map(([name]) => name);
      expect(withQueueAccess.sort()).toEqual(
        [...doors, 'ConvertQueuedRole', 'SweepQueuedRole', 'RetryConversionRole'].sort(),
      );
      // The operator's lists only query the by-status index: no GetItem, no write, no scan.
      for (const reader of ['ListConversionsRole', 'ConversionSummaryRole']) {
        const dynamo = statementsOf(reader).filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
        expect(dynamo, reader).toEqual([
          expect.objectContaining({
            Action: ['dynamodb:Query'],
            Resource: expect.objectContaining({
              'Fn::Sub': expect.stringContaining('/index/by-status') as unknown,
            }) as unknown,
          }),
        ]);
      }
      // The consumer needs the ledger, the verification machine and its two parameters, nothing else.
      const consumerResources = JSON.stringify(statementsOf('ConvertQueuedRole').map((s) => s.Resource));
      expect(consumerResources).toContain('table/apollo-contact-converter-prod-ledger');
      expect(consumerResources).toContain('stateMachine:apollo-contact-converter-prod-verification');
      expect(consumerResources).not.toContain('phone-reveal');
      expect(consumerResources).not.toContain('/webhook-secret');
      expect(consumerResources).not.toContain('/api-key"');
    });

    it('alarms on any dead letter and on a message waiting 15 minutes, to the alarm topic', () => {
      const sqsAlarms = ofType('AWS::CloudWatch::Alarm')
        .map(([, alarm]) => alarm.Properties)
        .filter((alarm) => alarm.Namespace === 'AWS/SQS')
        .map((alarm) => ({
          metric: alarm.MetricName,
          queue: alarm.Dimensions,
          actions: alarm.AlarmActions,
          threshold: [alarm.ComparisonOperator, alarm.Threshold],
        }));

      expect(sqsAlarms).toEqual([
        {
          metric: 'ApproximateNumberOfMessagesVisible',
          queue: [{ Name: 'QueueName', Value: 'apollo-contact-converter-prod-conversions-dlq' }],
          actions: [{ Ref: 'AlarmTopic' }],
          threshold: ['GreaterThanOrEqualToThreshold', 1],
        },
        {
          metric: 'ApproximateAgeOfOldestMessage',
          queue: [{ Name: 'QueueName', Value: 'apollo-contact-converter-prod-conversions' }],
          actions: [{ Ref: 'AlarmTopic' }],
          threshold: ['GreaterThanOrEqualToThreshold', 900],
        },
      ]);
    });
  });
});
