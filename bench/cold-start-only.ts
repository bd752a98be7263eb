/**
 * Part 1 of `npm run bench` alone (bundle and module load), made for a shared machine:
 *
 *   node --import tsx bench/cold-start-only.ts [rounds] [--before <dir>]
 *
 * Bundles every function of serverless.yml and the floors with the deployed esbuild options, then
 * times `rounds` rounds: in each, every bundle is loaded once in a fresh process with the deployed
 * NODE_OPTIONS, in an order shuffled anew each round (seeded, so runs are comparable), so that no
 * bundle is always timed first or last while the machine's load moves. Per function it prints
 * the median load and two ratios to its floor: of the medians (what `npm run bench` reports), and
 * the median of each round's own ratio (function and floor timed in the same round, which drift
 * between rounds cannot bias), in wall and in CPU time.
 *
 * `--before <dir>` also bundles the functions of another copy of the project (say
 * `git archive main | tar -x -C <dir>`, with `node_modules` linked into it) and times them in the
 * same rounds, so before and after come from one run. Writes nothing but temporary bundles.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bundle, bundleAll, bytesByPackage, COLD_START_FLOORS, type Bundle } from './bundles';
import { FLOOR_OF_FUNCTION, timeOneLoad, type LoadSample } from './cold-start';
import { table } from './report';
import { readServerlessYml } from './serverless-config';
import { median, round } from './stats';

const BEFORE = 'before-';

function parseArgs(argv: string[]): { rounds: number; before?: string } {
  const beforeAt = argv.indexOf('--before');
  const before = beforeAt >= 0 ? argv[beforeAt + 1] : undefined;
  if (beforeAt >= 0 && before === undefined) throw new Error('--before needs a directory');
  const rest = argv.filter((_, index) => beforeAt < 0 || (index !== beforeAt && index !== beforeAt + 1));
  const rounds = rest[0] === undefined ? 20 : Number(rest[0]);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`rounds must be a positive integer, not ${rest[0]}`);
  return { rounds, ...(before !== undefined && { before: resolve(before) }) };
}

/** A small seeded generator (mulberry32): the same shuffles in every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j] as T, result[i] as T];
  }
  return result;
}

/** Each bundle's samples, one per round, index = round. */
async function timeRounds(
  bundles: Bundle[],
  nodeOptions: string,
  rounds: number,
): Promise<Map<string, LoadSample[]>> {
  const samples = new Map<string, LoadSample[]>(bundles.map((b) => [b.name, []]));
  const random = seededRandom(20_261_130);
  for (let r = 0; r < rounds; r++) {
    for (const b of shuffled(bundles, random)) {
      samples.get(b.name)?.push(await timeOneLoad(b.file, nodeOptions));
    }
    process.stderr.write(`round ${r + 1}/${rounds}, load average ${round(loadavg()[0] ?? 0, 2)}\n`);
  }
  return samples;
}

interface Ratios {
  loadMs: number;
  /** Median of the function / median of the floor. */
  ofMedians: number;
  /** Median over rounds of (function / floor in that round). */
  paired: number;
  cpuOfMedians: number;
  cpuPaired: number;
}

function ratiosOf(own: LoadSample[], floor: LoadSample[]): Ratios {
  const wall = (s: LoadSample) => s.wallMs;
  const cpu = (s: LoadSample) => s.cpuMs;
  const paired = (pick: (s: LoadSample) => number) =>
    round(median(own.map((s, r) => pick(s) / pick(floor[r] as LoadSample))), 2);
  return {
    loadMs: round(median(own.map(wall)), 1),
    ofMedians: round(median(own.map(wall)) / median(floor.map(wall)), 2),
    paired: paired(wall),
    cpuOfMedians: round(median(own.map(cpu)) / median(floor.map(cpu)), 2),
    cpuPaired: paired(cpu),
  };
}

const kb = (bytes: number) => Math.round(bytes / 1024);

async function main(): Promise<void> {
  const { rounds, before } = parseArgs(process.argv.slice(2));
  const service = readServerlessYml();
  const outDir = await mkdtemp(join(tmpdir(), 'contact-converter-cold-start-'));
  const loadAtStart = round(loadavg()[0] ?? 0, 2);
  try {
    const bundles = await bundleAll(service, outDir);
    const timed = [...COLD_START_FLOORS, ...service.functions.map((fn) => fn.name)].map(
      (name) => bundles.get(name) as Bundle,
    );
    if (before !== undefined) {
      for (const fn of service.functions) {
        timed.push(await bundle(service, `${BEFORE}${fn.name}`, join(before, fn.entry), outDir));
      }
    }
    process.stderr.write(
      `timing ${timed.length} bundles, ${rounds} rounds, NODE_OPTIONS=${service.nodeOptions}\n`,
    );
    const samples = await timeRounds(timed, service.nodeOptions, rounds);
    const samplesOf = (name: string) => samples.get(name) ?? [];

    const rows: Array<Array<string | number>> = COLD_START_FLOORS.map((floor) => [
      `floor: ${floor}`,
      kb((bundles.get(floor) as Bundle).bytes),
      round(median(samplesOf(floor).map((s) => s.wallMs)), 1),
      ...Array<string>(8).fill(''),
    ]);
    for (const fn of service.functions) {
      const floorName = FLOOR_OF_FUNCTION[fn.name] ?? 'dynamodb-sfn';
      const floor = samplesOf(floorName);
      const after = ratiosOf(samplesOf(fn.name), floor);
      const old = before === undefined ? undefined : ratiosOf(samplesOf(`${BEFORE}${fn.name}`), floor);
      const oldBundle = timed.find((b) => b.name === `${BEFORE}${fn.name}`);
      rows.push([
        `${fn.name} (vs ${floorName})`,
        kb((bundles.get(fn.name) as Bundle).bytes),
        after.loadMs,
        after.ofMedians,
        after.paired,
        after.cpuPaired,
        oldBundle === undefined ? '' : kb(oldBundle.bytes),
        old?.loadMs ?? '',
        old?.ofMedians ?? '',
        old?.paired ?? '',
        old?.cpuPaired ?? '',
      ]);
    }
    const loadAtEnd = round(loadavg()[0] ?? 0, 2);
    process.stdout.write(
      `Module load in fresh processes, ${rounds} shuffled rounds, NODE_OPTIONS=${service.nodeOptions}; ` +
        `load average ${loadAtStart} at start, ${loadAtEnd} at end.\n` +
        `x floor: ratio of the medians; paired: median of the per-round ratios (wall, then CPU).\n` +
        table(
          [
            'bundle',
            'KB',
            'ms',
            'x floor',
            'paired',
            'cpu paired',
            'before KB',
            'ms',
            'x floor',
            'paired',
            'cpu paired',
          ],
          rows,
        ) +
        '\n\nnpm packages per bundle (KB of minified output; those under 8 KB summed):\n',
    );
    for (const fn of service.functions) {
      const packages = bytesByPackage((bundles.get(fn.name) as Bundle).metafile);
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
