import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../local/stack';

/** The CloudFormation template, typed as far as these tests read it (each resource type has some of these). */
type Template = { Resources: Record<string, { Type: string; Properties: ResourceProperties }> };
interface ResourceProperties {
  /** AWS::ApiGatewayV2::Route */
  RouteKey?: string;
  /** AWS::Lambda::Function */
  Runtime?: string;
  Role?: unknown;
  Environment?: { Variables: Record<string, unknown> };
  /** AWS::IAM::Role */
  Policies?: Array<{ PolicyDocument: { Statement: unknown[] } }>;
  /** AWS::CloudWatch::Alarm */
  MetricName?: string;
  Namespace?: string;
  Dimensions?: Array<{ Name: string; Value: unknown }>;
  AlarmActions?: unknown[];
  ComparisonOperator?: string;
  Threshold?: number;
  /** AWS::DynamoDB::Table */
  GlobalSecondaryIndexes?: unknown[];
  /** AWS::Events::Rule */
  ScheduleExpression?: string;
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
      'GET /conversions/{id}',
      'POST /contacts',
      'POST /conversions/lookup',
      'POST /enrichments',
      'POST /webhooks/apollo/phone-numbers',
      'POST /webhooks/enrichment-completed',
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
    expect(functions).toHaveLength(12);
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
    expect(roles.size).toBe(12);
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
    expect(schedules).toEqual([expect.objectContaining({ ScheduleExpression: 'rate(15 minutes)' })]);
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
});
