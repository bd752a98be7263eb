/**
 * `node --import tsx bench/burst-only.ts [people]`: the burst part alone (bundles every function
 * first), for a smoke run with fewer people. Prints the burst's figures as JSON.
 */
import '../local/polyfills';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleAll } from './bundles';
import { measureBurst } from './burst';
import { BURST } from './run-sizes';
import { readServerlessYml } from './serverless-config';

async function main(): Promise<void> {
  const people = Number(process.argv[2] ?? BURST.people);
  const service = readServerlessYml();
  const outDir = await mkdtemp(join(tmpdir(), 'contact-converter-burst-'));
  try {
    const bundles = await bundleAll(service, outDir);
    const results = await measureBurst(service, bundles, {
      ...BURST,
      people,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
