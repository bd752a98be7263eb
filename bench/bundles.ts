import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { PROJECT_ROOT, type DeployedService } from './serverless-config';

/** One entry point bundled exactly as serverless-esbuild bundles the deployed functions. */
export interface Bundle {
  name: string;
  /** Absolute path of the bundled `.js`. */
  file: string;
  bytes: number;
  sourceMapBytes: number;
  metafile: Metafile;
}

/** Cold-start floors, by name: the AWS SDK clients a function needs and nothing else. */
export type FloorName = 'dynamodb' | 'dynamodb-sfn' | 'dynamodb-sqs' | 'dynamodb-sfn-sqs';
export const COLD_START_FLOORS: FloorName[] = [
  'dynamodb-sfn-sqs',
  'dynamodb-sfn',
  'dynamodb-sqs',
  'dynamodb',
];

/** The warm-path floor: the same AWS and HTTP calls as a conversion, bundled like a function. */
export const CONVERSION_FLOOR = 'conversion-floor';

export async function bundle(
  service: DeployedService,
  name: string,
  entry: string,
  outDir: string,
): Promise<Bundle> {
  const file = join(outDir, `${name}.js`);
  const result = await build({
    ...service.esbuild,
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [entry],
    outfile: file,
    metafile: true,
    logLevel: 'error',
  });
  const sourceMap = await stat(`${file}.map`).catch(() => undefined);
  return {
    name,
    file,
    bytes: (await stat(file)).size,
    sourceMapBytes: sourceMap?.size ?? 0,
    metafile: result.metafile,
  };
}

/** Every function of serverless.yml, the cold-start floors and the warm-path floor, by name. */
export async function bundleAll(service: DeployedService, outDir: string): Promise<Map<string, Bundle>> {
  const entries: Array<[string, string]> = [
    ...COLD_START_FLOORS.map((floor): [string, string] => [floor, `bench/floors/${floor}.ts`]),
    [CONVERSION_FLOOR, 'bench/floors/conversion.ts'],
    ...service.functions.map((fn): [string, string] => [fn.name, fn.entry]),
  ];
  const bundles = await Promise.all(entries.map(([name, entry]) => bundle(service, name, entry, outDir)));
  return new Map(bundles.map((b) => [b.name, b]));
}

/** Minified bytes per npm package (the project's own files count as `(project)`), largest first. */
export function bytesByPackage(metafile: Metafile): Array<[string, number]> {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const name = match?.[1] ?? '(project)';
      totals.set(name, (totals.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1]);
}

/**
 * Loads a fresh copy of a CommonJS bundle into this process: its own module scope, so its own
 * services (built from `process.env` on the first invocation), as a new Lambda container would.
 */
export function loadFreshBundle<T>(file: string): T {
  const requireBundle = createRequire(import.meta.url);
  const resolved = requireBundle.resolve(file);
  delete requireBundle.cache[resolved];
  return requireBundle(resolved) as T;
}
