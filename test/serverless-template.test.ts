import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../local/stack';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, asserted field by field
type Template = { Resources: Record<string, { Type: string; Properties: any }> };

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
    template = JSON.parse(readFileSync(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'));
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
    ]);
    expect(template.Resources.PhoneRevealStateMachine?.Properties).toMatchObject({
      StateMachineName: 'apollo-contact-converter-prod-phone-reveal',
      StateMachineType: 'STANDARD',
    });
  });

  it('runs every function on nodejs22.x with its own role and no secret in its environment', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(9);
    const roles = new Set<string>();
    for (const [, fn] of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      roles.add(JSON.stringify(fn.Properties.Role));
      const variables = Object.keys(fn.Properties.Environment.Variables);
      expect(variables).not.toContain('APOLLO_API_KEY');
      expect(variables).not.toContain('WEBHOOK_SECRET');
      expect(variables).not.toContain('API_KEY');
      expect(variables).toContain('APOLLO_API_KEY_PARAMETER');
    }
    expect(roles.size).toBe(9);
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
});
