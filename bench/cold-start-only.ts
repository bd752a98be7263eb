/**
 * Only part 1 of `npm run bench` (bundle and module load), in about a minute instead of three:
 *
 *   node --import tsx bench/cold-start-only.ts [runs] [--before <dir>]
 *
 * Bundles every function of serverless.yml and the floors with the deployed esbuild options, times
 * their module load in fresh processes (bench/cold-start.ts, round-robin), and prints each
 * function's ratio to its floor and the npm packages in its bundle. `--before <dir>` also bundles
 * the functions of another copy of the project (say `git archive <commit> | tar -x -C <dir>`, with
 * `node_modules` linked into it) and times them in the same rounds, so before and after come from
 * one run on a machine whose load moves. Writes nothing but temporary bundles.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bundle, bundleAll, bytesByPackage, type Bundle } from './bundles';
import { measureColdStarts } from './cold-start';
import { table } from './report';
import { readServerlessYml } from './serverless-config';
import { ratio, round } from './stats';

const BEFORE = 'before-';

function parseArgs(argv: string[]): { runs: number; before?: string } {
  const beforeAt = argv.indexOf('--before');
  const before = beforeAt >= 0 ? argv[beforeAt + 1] : undefined;
  if (beforeAt >= 0 && before === undefined) throw new Error('--before needs a directory');
  const rest = argv.filter((_, index) => beforeAt < 0 || (index !== beforeAt && index !== beforeAt + 1));
  const runs = rest[0] === undefined ? 12 : Number(rest[0]);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a positive integer, not ${rest[0]}`);
  return { runs, ...(before !== undefined && { before: resolve(before) }) };
}

const kb = (bytes: number) => Math.round(bytes / 1024);

async function main(): Promise<void> {
  const { runs, before } = parseArgs(process.argv.slice(2));
  const service = readServerlessYml();
  const outDir = await mkdtemp(join(tmpdir(), 'contact-converter-cold-start-'));
  const loadAtStart = round(loadavg()[0] ?? 0, 2);
  try {
    const bundles = await bundleAll(service, outDir);
    const timedFunctions = [...service.functions];
    if (before !== undefined) {
      for (const fn of service.functions) {
        const name = `${BEFORE}${fn.name}`;
        const entry = join(before, fn.entry);
        bundles.set(name, await bundle(service, name, entry, outDir));
        timedFunctions.push({ ...fn, name, entry });
      }
    }
    process.stderr.write(
      `timing ${bundles.size} bundles, ${runs} fresh processes each (both NODE_OPTIONS)\n`,
    );
    const results = await measureColdStarts({ ...service, functions: timedFunctions }, bundles, runs);

    const rows: Array<Array<string | number>> = Object.entries(results.floors).map(([name, f]) => [
      `floor: ${name}`,
      kb(f.bytes),
      f.loadMs,
      '',
      '',
      '',
      '',
      '',
    ]);
    for (const fn of service.functions) {
      const own = results.functions[fn.name];
      if (own === undefined) continue;
      const floor = results.floors[own.floor];
      const old = results.functions[`${BEFORE}${fn.name}`];
      rows.push([
        `${fn.name} (vs ${own.floor})`,
        kb(own.bytes),
        own.loadMs,
        own.loadRatio,
        own.loadCpuRatio,
        old === undefined ? '' : `${kb(old.bytes)} KB, ${old.loadMs} ms`,
        old === undefined ? '' : ratio(old.loadMs, floor.loadMs),
        old === undefined ? '' : ratio(old.loadCpuMs, floor.loadCpuMs),
      ]);
    }
    const loadAtEnd = round(loadavg()[0] ?? 0, 2);
    process.stdout.write(
      `Module load, median of ${runs} fresh processes, NODE_OPTIONS=${results.nodeOptions}; ` +
        `load average ${loadAtStart} at start, ${loadAtEnd} at end\n` +
        table(
          ['bundle', 'KB', 'load ms', 'x floor', 'cpu x floor', 'before', 'x floor', 'cpu x floor'],
          rows,
        ) +
        '\n\nnpm packages per bundle (KB of minified output; those under 8 KB summed):\n',
    );
    for (const fn of service.functions) {
      const b = bundles.get(fn.name) as Bundle;
      const packages = bytesByPackage(b.metafile);
      const listed = packages.filter(([, bytes]) => bytes >= 8 * 1024);
      const others = packages.slice(listed.length);
      const rest = others.reduce((sum, [, bytes]) => sum + bytes, 0);
      process.stdout.write(
        `${fn.name}: ${listed.map(([name, bytes]) => `${name} ${kb(bytes)}`).join(', ')}` +
          (others.length > 0 ? `, ${others.length} smaller ${kb(rest)}` : '') +
          '\n',
      );
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
