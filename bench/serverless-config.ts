import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';
import { parse } from 'yaml';
import { loadServerlessConfig } from '../local/state-machine-definition';

/** What the bench reads from serverless.yml, so its figures follow the deployed configuration. */
export interface DeployedFunction {
  /** Key under `functions`, e.g. `enrichmentWebhook`. */
  name: string;
  /** The handler's source file, relative to the project root, e.g. `functions/enrichment-webhook.ts`. */
  entry: string;
  memoryMb: number;
  timeoutSeconds: number;
}

/**
 * serverless-esbuild's own keys: it removes them before handing `custom.esbuild` to esbuild
 * (node_modules/serverless-esbuild/dist/bundle.js); every other key is an esbuild option.
 */
export const PLUGIN_OPTIONS: ReadonlySet<string> = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
]);

/**
 * The esbuild options serverless-esbuild uses for every function: its defaults, `custom.esbuild`
 * over them (so a setting added there, e.g. `sourcesContent: false`, is measured too), without the
 * plugin's own keys, with `exclude` made external as the plugin does.
 */
function esbuildOptionsOf(custom: Record<string, unknown>, runtime: string): BuildOptions {
  // The plugin targets the runtime's Node version unless told otherwise (nodejs22.x → node22).
  const target = /^nodejs(\d+)/.exec(runtime)?.[1];
  const merged: Record<string, unknown> = {
    bundle: true,
    platform: 'node',
    ...(target !== undefined && { target: `node${target}` }),
    ...custom,
  };
  const exclude = (custom.exclude as string[] | undefined) ?? ['aws-sdk'];
  const options = Object.fromEntries(Object.entries(merged).filter(([key]) => !PLUGIN_OPTIONS.has(key)));
  return {
    ...options,
    external: [
      ...((custom.external as string[] | undefined) ?? []),
      ...(exclude.includes('*') ? [] : exclude),
    ],
  };
}

export interface DeployedService {
  functions: DeployedFunction[];
  /** A function by its serverless.yml key; throws when serverless.yml has no such function. */
  fn(name: string): DeployedFunction;
  /** Options for esbuild's `build`, as serverless-esbuild passes them (entry and output aside). */
  esbuild: BuildOptions;
  architecture: string;
  runtime: string;
  /** `NODE_OPTIONS` of the provider environment: Lambda starts Node with these. */
  nodeOptions: string;
  /** The state machine's first Wait, which an Express workflow would bill as duration. */
  verifyInitialWaitSeconds: number;
}

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface ServerlessYml {
  custom: { esbuild: Record<string, unknown> };
  provider: {
    runtime: string;
    architecture: string;
    memorySize: number;
    timeout: number;
    environment?: Record<string, string>;
  };
  params: { default: { verifyInitialWaitSeconds: number } };
  functions: Record<string, { handler: string; memorySize?: number | string; timeout?: number | string }>;
}

/** A number of serverless.yml, or a `${...}` variable resolved as the framework does (e.g. convertQueued's timeout). */
function numberOf(value: number | string | undefined, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  const resolved =
    typeof value === 'number'
      ? value
      : Number(loadServerlessConfig({ serverlessYmlPath: path }).resolve(value));
  if (!Number.isFinite(resolved)) throw new Error(`serverless.yml: ${String(value)} is not a number`);
  return resolved;
}

export function readServerlessYml(path = `${PROJECT_ROOT}serverless.yml`): DeployedService {
  // CloudFormation tags (!Sub) are not needed here; the parser only warns about them.
  const yml = parse(readFileSync(path, 'utf8'), { logLevel: 'error' }) as ServerlessYml;
  const functions = Object.entries(yml.functions).map(([name, fn]) => ({
    name,
    // `functions/enrichment-webhook.handler` → the module `functions/enrichment-webhook.ts`.
    entry: `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.ts`,
    memoryMb: numberOf(fn.memorySize, path, yml.provider.memorySize),
    timeoutSeconds: numberOf(fn.timeout, path, yml.provider.timeout),
  }));
  return {
    functions,
    fn: (name) => {
      const found = functions.find((fn) => fn.name === name);
      if (found === undefined) throw new Error(`serverless.yml has no function ${name}`);
      return found;
    },
    esbuild: esbuildOptionsOf(yml.custom.esbuild, yml.provider.runtime),
    architecture: yml.provider.architecture,
    runtime: yml.provider.runtime,
    nodeOptions: yml.provider.environment?.NODE_OPTIONS ?? '',
    verifyInitialWaitSeconds: yml.params.default.verifyInitialWaitSeconds,
  };
}
