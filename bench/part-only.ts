/**
 * `node --import tsx bench/part-only.ts burst|replay|rate-limit [people]`: one queue part of the
 * bench alone (bundles every function first), e.g. a smoke run of the burst with fewer people.
 * Prints the part's figures as JSON; the handlers' log lines are counted and dropped.
 */
import '../local/polyfills';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleAll } from './bundles';
import { measureBurst } from './burst';
import { captureLogs } from './log-sink';
import { measureRateLimit } from './rate-limit';
import { replayStream } from './replay';
import { BURST, RATE_LIMIT, REPLAY } from './run-sizes';
import { readServerlessYml } from './serverless-config';

async function main(): Promise<void> {
  const part = process.argv[2] ?? 'burst';
  const service = readServerlessYml();
  const outDir = await mkdtemp(join(tmpdir(), 'contact-converter-part-'));
  const sink = captureLogs();
  const log = sink.progress;
  try {
    const bundles = await bundleAll(service, outDir);
    const results =
      part === 'replay'
        ? await replayStream(service, bundles, { ...REPLAY, log })
        : part === 'rate-limit'
          ? await measureRateLimit(service, bundles, { ...RATE_LIMIT, log })
          : await measureBurst(service, bundles, {
              ...BURST,
              people: Number(process.argv[3] ?? BURST.people),
              log,
              sink,
            });
    sink.restore();
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } finally {
    sink.restore();
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
