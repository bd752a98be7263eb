/**
 * `npm run bench`: cold start, warm-path cost, Apollo calls per person in a replayed stream with
 * faults, rate-limit behaviour, a burst of 10,000 new people, and cost per million conversions, in
 * one run on this machine (loopback only, bounded loops). Prints a table, then one JSON line with
 * every figure and a `summary` (also written to bench/results.json). Exits 1 when a person got
 * other than exactly one Apollo contact. `BENCH_BURST_PEOPLE=500 npm run bench` is a smoke run.
 */
import '../local/polyfills';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { bundleAll } from './bundles';
import { measureBurst, type BurstResults } from './burst';
import { measureColdStarts, type ColdStartResults } from './cold-start';
import { costPerMillion, type CostResults } from './cost';
import { captureLogs } from './log-sink';
import { measureRateLimit, type RateLimitResults } from './rate-limit';
import { replayStream, type ReplayResults } from './replay';
import { renderReport } from './report';
import { PROJECT_ROOT, readServerlessYml } from './serverless-config';
import { BURST, RATE_LIMIT, REPLAY } from './run-sizes';
import { round } from './stats';
import { summarize, type BenchSummary } from './summary';
import { measureWarmPath, type WarmPathResults } from './warm-path';

/** Sizes of each part, chosen so the whole run stays within 20 minutes on 2 cores (the burst's in run-sizes.ts). */
const COLD_START_RUNS = 8;
const WARM_PATH = {
  warmup: 150,
  conversions: 800,
  maxMeasureMs: 25_000,
  inFlightLevels: [1, 8, 32],
  throughputConversions: 400,
  maxThroughputMs: 3_000,
};
const BURST_PEOPLE = Number(process.env.BENCH_BURST_PEOPLE ?? BURST.people);
/** Beyond these ratios BENCHMARKS.md must explain the gap (issue 5). */
const COLD_START_RATIO_LIMIT = 2;
const WARM_PATH_RATIO_LIMIT = 1.5;

export interface BenchResults {
  ok: boolean;
  flags: string[];
  durationSeconds: number;
  /** Wall seconds of each part, to keep the whole run within its 5 minutes. */
  sectionSeconds: Record<string, number>;
  machine: {
    date: string;
    cpus: number;
    cpuModel: string;
    node: string;
    loadAverageAtStart: number;
    loadAverageAtEnd: number;
  };
  coldStart: ColdStartResults;
  warmPath: WarmPathResults;
  replay: ReplayResults;
  rateLimit: RateLimitResults;
  burst: BurstResults;
  cost: CostResults;
  /** The headline figures, exactly the keys of issue 11 (bench/summary.ts). */
  summary: BenchSummary;
}

/**
 * The AWS SDK warns on Node 20 that its 2027 releases need Node 22. Lambda runs Node 22, where it
 * is never printed; here it would land in the measured log volume.
 */
function dropNodeVersionWarning(): void {
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (text.startsWith('NodeVersionSupportWarning')) return;
    (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
  };
}

async function cpuModel(): Promise<string> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
}

type Measured = Omit<BenchResults, 'ok' | 'flags' | 'durationSeconds' | 'summary'>;

/** Runs one part and notes how long it took. */
async function timed<T>(sections: Record<string, number>, name: string, part: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await part();
  } finally {
    sections[name] = round((performance.now() - start) / 1000, 1);
  }
}

function flagsOf(results: Measured): string[] {
  const flags: string[] = [];
  for (const [name, fn] of Object.entries(results.coldStart.functions)) {
    if (fn.loadRatio > COLD_START_RATIO_LIMIT) {
      flags.push(`${name}: module load ${fn.loadRatio}x its floor (limit ${COLD_START_RATIO_LIMIT}x)`);
    }
  }
  if (results.warmPath.medianRatio > WARM_PATH_RATIO_LIMIT) {
    flags.push(
      `warm path: ${results.warmPath.medianRatio}x its floor per conversion (limit ${WARM_PATH_RATIO_LIMIT}x)`,
    );
  }
  if (!results.replay.exactlyOneContactPerPerson) {
    flags.push(
      `FAIL: Apollo contacts per person ranged ${results.replay.contactsPerPerson.min}..${results.replay.contactsPerPerson.max}, not exactly 1`,
    );
  }
  if (!results.rateLimit.noDuplicateContact) flags.push('FAIL: the rate-limit run made a duplicate contact');
  if (!results.burst.exactlyOneContactPerPerson) {
    flags.push(
      `FAIL: burst contacts per person ranged ${results.burst.contactsPerPerson.min}..${results.burst.contactsPerPerson.max} (${results.burst.contactsPerPerson.strangers} strangers), not exactly 1`,
    );
  }
  return flags;
}

async function main(): Promise<number> {
  dropNodeVersionWarning();
  const started = performance.now();
  const machine = {
    date: new Date().toISOString(),
    cpus: availableParallelism(),
    cpuModel: await cpuModel(),
    node: process.version,
    loadAverageAtStart: round(loadavg()[0] ?? 0, 2),
    loadAverageAtEnd: 0,
  };
  const service = readServerlessYml();
  const outDir = await mkdtemp(join(tmpdir(), 'contact-converter-bench-'));
  const sink = captureLogs();
  const log = sink.progress;
  const sectionSeconds: Record<string, number> = {};
  let measured: Measured;
  try {
    log('bundling every function of serverless.yml and the floors with its esbuild settings');
    const bundles = await timed(sectionSeconds, 'bundle', () => bundleAll(service, outDir));
    log(`1/5 cold start: ${COLD_START_RUNS} fresh processes per bundle, with and without source maps`);
    const coldStart = await timed(sectionSeconds, 'coldStart', () =>
      measureColdStarts(service, bundles, COLD_START_RUNS),
    );
    log('2/5 warm path');
    const warmPath = await timed(sectionSeconds, 'warmPath', () =>
      measureWarmPath(service, bundles, { ...WARM_PATH, log, sink }),
    );
    log(`3/5 replay through the queue: ${REPLAY.deliveries} deliveries of ${REPLAY.people} people`);
    const replay = await timed(sectionSeconds, 'replay', () =>
      replayStream(service, bundles, { ...REPLAY, log }),
    );
    log('4/5 rate limit through the queue');
    const rateLimit = await timed(sectionSeconds, 'rateLimit', () =>
      measureRateLimit(service, bundles, { ...RATE_LIMIT, log }),
    );
    log(`5/5 burst: ${BURST_PEOPLE} new people`);
    const burst = await timed(sectionSeconds, 'burst', () =>
      measureBurst(service, bundles, { ...BURST, people: BURST_PEOPLE, log, sink }),
    );
    const cost = costPerMillion(service, {
      people: burst.people,
      deliveries: burst.deliveries,
      webhookMsPerDelivery: burst.webhookMs.median,
      consumerInvocations: burst.consumerInvocations,
      consumerMsPerInvocation: burst.consumerMsPerInvocation.median,
      verifyInvocations: burst.verification.verifyContactInvocations,
      verifyMsPerInvocation: burst.verification.verifyContactMs.median,
      recordFailureInvocations: burst.verification.recordFailureInvocations,
      dynamoDbOperations: burst.dynamoDbOperations,
      ledgerItemBytesP90: burst.ledgerItemBytesP90,
      sqsRequests: burst.sqsRequests,
      stateTransitions: burst.verification.stateTransitions,
      logBytes: burst.logBytes,
    });
    machine.loadAverageAtEnd = round(loadavg()[0] ?? 0, 2);
    measured = { sectionSeconds, machine, coldStart, warmPath, replay, rateLimit, burst, cost };
  } finally {
    sink.restore();
    await rm(outDir, { recursive: true, force: true });
  }

  const flags = flagsOf(measured);
  const summary = summarize(measured);
  const results: BenchResults = {
    summary,
    ok: !flags.some((flag) => flag.startsWith('FAIL')),
    flags,
    durationSeconds: round((performance.now() - started) / 1000, 1),
    ...measured,
  };
  // The summary comes first in the JSON, so the last line shows the headline figures at once.
  const json = JSON.stringify(results);
  await writeFile(join(PROJECT_ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${renderReport(results)}\n\n${json}\n`);
  if (!results.ok)
    process.stderr.write(`\nBENCH FAILED: ${flags.filter((f) => f.startsWith('FAIL')).join('; ')}\n`);
  return results.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
