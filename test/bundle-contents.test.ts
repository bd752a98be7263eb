/**
 * Each function bundles what it uses and nothing else: a composition root per kind of function
 * (lib/roots/) keeps the rest out, and the rest is what a cold start would parse (BENCHMARKS.md,
 * part 1). This bundles every function of serverless.yml with the deployed esbuild options and
 * reads from esbuild's metafile which packages each one holds, so an import that drags an unused
 * client or library into a bundle fails here, naming the function.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bundle, bytesByPackage } from '../bench/bundles';
import { PROJECT_ROOT, readServerlessYml } from '../bench/serverless-config';

/** The AWS SDK client of each service a function calls itself, by IAM service prefix. */
const CLIENT_OF_SERVICE: Record<string, string> = {
  dynamodb: '@aws-sdk/client-dynamodb',
  states: '@aws-sdk/client-sfn',
};

/** What reads SSM parameters in-process; the functions read them through the extension instead. */
const SSM_IN_PROCESS = ['@aws-sdk/client-ssm', '@aws-lambda-powertools/parameters'];

interface Statement {
  Action: string | string[];
}
interface ServerlessYml {
  functions: Record<string, { role: string }>;
  resources: {
    Resources: Record<
      string,
      { Properties: { Policies?: Array<{ PolicyDocument: { Statement: Statement[] } }> } }
    >;
  };
}

// Merge keys (<<: *readParameters) resolved; CloudFormation tags (!Sub) need no resolving here.
const yml = parse(readFileSync(join(PROJECT_ROOT, 'serverless.yml'), 'utf8'), {
  merge: true,
  logLevel: 'error',
}) as ServerlessYml;

/** The IAM service prefixes of the actions a function's role grants (`dynamodb`, `states`, `ssm`). */
function servicesAllowed(functionName: string): Set<string> {
  const role = yml.resources.Resources[yml.functions[functionName]?.role ?? ''];
  const actions = (role?.Properties.Policies ?? []).flatMap((policy) =>
    policy.PolicyDocument.Statement.flatMap((statement) => [statement.Action].flat()),
  );
  return new Set(actions.map((action) => action.split(':')[0] as string));
}

/** The AWS SDK clients a function's role lets it use. */
function clientsAllowed(functionName: string): string[] {
  const services = servicesAllowed(functionName);
  return Object.entries(CLIENT_OF_SERVICE)
    .filter(([service]) => services.has(service))
    .map(([, client]) => client)
    .sort();
}

describe('Function bundles (deployed esbuild options)', () => {
  const service = readServerlessYml();
  const outDir = mkdtempSync(join(tmpdir(), 'bundle-contents-'));
  const packages = new Map<string, string[]>();
  /** The project's own files in each bundle, relative to the project root. */
  const projectFiles = new Map<string, string[]>();
  const packagesOf = (name: string) => packages.get(name) ?? [];

  beforeAll(async () => {
    const bundled = await Promise.all(
      service.functions.map((fn) => bundle(service, fn.name, fn.entry, outDir)),
    );
    for (const { name, metafile } of bundled) {
      packages.set(
        name,
        bytesByPackage(metafile).map(([packageName]) => packageName),
      );
      const inputs = Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs));
      projectFiles.set(
        name,
        inputs.filter((path) => !path.includes('node_modules/')),
      );
    }
  }, 180_000);
  afterAll(() => {
    rmSync(outDir, { recursive: true, force: true });
  });

  it('reads every function and its role from serverless.yml', () => {
    expect(service.functions.map((fn) => fn.name)).toEqual(expect.arrayContaining(['getConversion']));
    expect(clientsAllowed('enrichPerson')).toEqual(['@aws-sdk/client-dynamodb', '@aws-sdk/client-sfn']);
    expect(clientsAllowed('recordVerificationFailure')).toEqual(['@aws-sdk/client-dynamodb']);
    expect(packagesOf('getConversion')).toContain('@aws-sdk/client-dynamodb');
  });

  it.each(service.functions.map((fn) => fn.name))(
    '%s bundles exactly the AWS SDK clients its role may use',
    (name) => {
      const clients = packagesOf(name).filter((p) => Object.values(CLIENT_OF_SERVICE).includes(p));
      if (projectFiles.get(name)?.includes('lib/services.ts')) {
        // No root of its own yet: getServices() builds, and bundles, every client (README).
        expect(clients.sort()).toEqual(Object.values(CLIENT_OF_SERVICE).sort());
        return;
      }
      expect(clients.sort()).toEqual(clientsAllowed(name));
    },
  );

  it.each([
    'enrichmentWebhook',
    'hubspotWebhook',
    'customWebhook',
    'salesforceWebhook',
    'pipedriveWebhook',
    'createContacts',
    'getConversion',
    'lookupConversion',
    'enrichPerson',
    'apolloPhoneCallback',
    'pollPhoneResult',
    'verifyContact',
    'recordVerificationFailure',
    'sweepVerifications',
    'convertQueued',
    'sweepQueued',
    'listConversions',
    'conversionSummary',
    'retryConversion',
  ])('%s has a composition root of its own kind (lib/roots/), not getServices()', (name) => {
    const files = projectFiles.get(name) ?? [];
    expect(
      files.filter((file) => file.startsWith('lib/roots/') && !file.startsWith('lib/roots/shared/')),
    ).toHaveLength(1);
    expect(files).not.toContain('lib/services.ts');
  });

  it.each(service.functions.map((fn) => fn.name))(
    '%s reads SSM through the extension: its role may, its bundle holds no SSM client',
    (name) => {
      expect(servicesAllowed(name)).toContain('ssm');
      expect(packagesOf(name).filter((p) => SSM_IN_PROCESS.includes(p))).toEqual([]);
    },
  );

  it.each([
    'getConversion',
    'lookupConversion',
    'recordVerificationFailure',
    'sweepVerifications',
    'sweepQueued',
    'listConversions',
    'conversionSummary',
    'retryConversion',
  ])('%s, which parses no phone number, does not bundle libphonenumber-js', (name) => {
    expect(packagesOf(name)).not.toContain('libphonenumber-js');
  });

  it.each([
    'getConversion',
    'lookupConversion',
    'sweepVerifications',
    'sweepQueued',
    'listConversions',
    'conversionSummary',
    'retryConversion',
  ])('%s, which counts no metric, does not bundle Powertools Metrics', (name) => {
    expect(packagesOf(name)).not.toContain('@aws-lambda-powertools/metrics');
  });

  it.each([
    'convertQueued',
    'createContacts',
    'enrichmentWebhook',
    'enrichPerson',
    'verifyContact',
    'recordVerificationFailure',
  ])(
    '%s, which counts conversions, credits, Apollo requests or verdicts, bundles Powertools Metrics',
    (name) => {
      expect(packagesOf(name)).toContain('@aws-lambda-powertools/metrics');
    },
  );

  it.each([
    ['getConversion', ['lib/apollo/http-client.ts', 'lib/conversion.ts', 'lib/enrichment.ts']],
    ['lookupConversion', ['lib/apollo/http-client.ts', 'lib/conversion.ts', 'lib/enrichment.ts']],
    ['recordVerificationFailure', ['lib/apollo/http-client.ts', 'lib/verification.ts', 'lib/person.ts']],
    ['sweepVerifications', ['lib/apollo/http-client.ts', 'lib/conversion.ts', 'lib/person.ts']],
    ['verifyContact', ['lib/conversion.ts', 'lib/enrichment.ts', 'lib/verification-sweep.ts']],
    ['apolloPhoneCallback', ['lib/conversion.ts', 'lib/identity-resolution.ts', 'lib/verification-sweep.ts']],
    ['pollPhoneResult', ['lib/conversion.ts', 'lib/identity-resolution.ts', 'lib/verification-sweep.ts']],
    ['enrichmentWebhook', ['lib/enrichment.ts', 'lib/verification.ts', 'lib/apollo/http-client.ts']],
    ...['hubspotWebhook', 'customWebhook', 'salesforceWebhook', 'pipedriveWebhook'].map(
      (door) =>
        [
          door,
          ['lib/enrichment.ts', 'lib/verification.ts', 'lib/apollo/http-client.ts', 'lib/services.ts'],
        ] as [string, string[]],
    ),
    ['createContacts', ['lib/enrichment.ts', 'lib/verification.ts', 'lib/apollo/http-client.ts']],
    ['convertQueued', ['lib/enrichment.ts', 'lib/verification.ts', 'lib/intake.ts']],
    ['sweepQueued', ['lib/apollo/http-client.ts', 'lib/bulk-conversion.ts', 'lib/intake.ts']],
    ['listConversions', ['lib/apollo/http-client.ts', 'lib/conversion-retry.ts', 'lib/intake.ts']],
    ['conversionSummary', ['lib/apollo/http-client.ts', 'lib/conversion-retry.ts', 'lib/intake.ts']],
    ['retryConversion', ['lib/apollo/http-client.ts', 'lib/bulk-conversion.ts', 'lib/intake.ts']],
  ])('%s bundles none of the use cases and adapters its root leaves out: %j', (name, leftOut) => {
    const files = projectFiles.get(name) ?? [];
    expect(files).toContain(`functions/${service.fn(name).entry.split('/')[1]}`);
    expect(files.filter((file) => leftOut.includes(file))).toEqual([]);
  });
});
