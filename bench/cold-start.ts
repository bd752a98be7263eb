import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { bytesByPackage, COLD_START_FLOORS, type Bundle, type FloorName } from './bundles';
import { PROJECT_ROOT, type DeployedService } from './serverless-config';
import { median, ratio, round } from './stats';

const run = promisify(execFile);

/** The floor each function is compared with: the AWS SDK clients that function needs. */
export const FLOOR_OF_FUNCTION: Record<string, FloorName> = {
  // Queue people (ledger, queue), start verifications of converted ones never started.
  enrichmentWebhook: 'dynamodb-sfn-sqs',
  createContacts: 'dynamodb-sfn-sqs',
  // The CRM doors: the same intake as the webhook door.
  hubspotWebhook: 'dynamodb-sfn-sqs',
  customWebhook: 'dynamodb-sfn-sqs',
  salesforceWebhook: 'dynamodb-sfn-sqs',
  pipedriveWebhook: 'dynamodb-sfn-sqs',
  // Claims, postpones or re-sends messages, starts one verification per batch; Apollo by fetch.
  convertQueued: 'dynamodb-sfn-sqs',
  // Queries the ledger, sends keys again.
  sweepQueued: 'dynamodb-sqs',
  // Converts, then starts the phone-reveal state machine.
  enrichPerson: 'dynamodb-sfn',
  getConversion: 'dynamodb',
  lookupConversion: 'dynamodb',
  // Queries the ledger, then starts verification executions.
  sweepVerifications: 'dynamodb-sfn',
  // Ledger and Apollo (fetch) only.
  apolloPhoneCallback: 'dynamodb',
  pollPhoneResult: 'dynamodb',
  verifyContact: 'dynamodb',
  recordVerificationFailure: 'dynamodb',
  // The operator's routes: index queries; a retry re-queues or re-drives a verification.
  listConversions: 'dynamodb',
  conversionSummary: 'dynamodb',
  retryConversion: 'dynamodb-sfn-sqs',
};

/**
 * Runs in a fresh Node process: the time to `require` the bundle, which is what the Lambda runtime
 * does before the first invocation (module scope included; the handler is not called). CPU time is
 * reported too: it moves less than wall time when other processes share the two cores.
 */
const LOAD_SCRIPT = [
  "const { performance } = require('node:perf_hooks');",
  'const cpu = process.cpuUsage();',
  'const start = performance.now();',
  'require(process.argv[1]);',
  'const wallMs = performance.now() - start;',
  'const used = process.cpuUsage(cpu);',
  'process.stdout.write(JSON.stringify({ wallMs, cpuMs: (used.user + used.system) / 1000 }));',
].join('\n');

export interface LoadSample {
  wallMs: number;
  cpuMs: number;
}

export interface BundleFigures {
  bytes: number;
  sourceMapBytes: number;
  /** Median module-load wall ms with the deployed NODE_OPTIONS (`--enable-source-maps`). */
  loadMs: number;
  /** Median CPU ms of the same loads. */
  loadCpuMs: number;
  /** Median module-load wall ms with no NODE_OPTIONS (what removing `--enable-source-maps` gives). */
  loadMsWithoutSourceMaps: number;
  samples: number;
}

export interface FunctionColdStart extends BundleFigures {
  floor: FloorName;
  /** True when serverless.yml has a function this bench does not know: compared with the larger floor. */
  floorAssumed?: true;
  sizeRatio: number;
  /** Load wall time / floor's, both with the deployed NODE_OPTIONS. */
  loadRatio: number;
  loadCpuRatio: number;
  loadRatioWithoutSourceMaps: number;
  /** Largest contributors to the bundle, KB of minified output per npm package. */
  topPackagesKb: Record<string, number>;
}

export interface ColdStartResults {
  nodeOptions: string;
  runsPerBundle: number;
  floors: Record<FloorName, BundleFigures>;
  functions: Record<string, FunctionColdStart>;
}

/** Loads `file` once in a fresh Node process with `nodeOptions`; its wall and CPU time. */
export async function timeOneLoad(file: string, nodeOptions: string): Promise<LoadSample> {
  const env = { ...process.env, NODE_OPTIONS: nodeOptions };
  // stderr is dropped: the AWS SDK warns that Node 20 support ends, which Lambda's Node 22 never prints.
  const { stdout } = await run(process.execPath, ['-e', LOAD_SCRIPT, file], { env, cwd: PROJECT_ROOT });
  const sample = JSON.parse(stdout) as LoadSample;
  if (!Number.isFinite(sample.wallMs)) throw new Error(`could not time loading ${file}: ${stdout}`);
  return sample;
}

interface Samples {
  deployed: LoadSample[];
  plain: LoadSample[];
}

/**
 * Times every bundle in round-robin order, one fresh process at a time, so drift of the machine
 * (other load, CPU frequency) spreads over all bundles instead of biasing the last ones.
 */
async function timeLoads(
  bundles: Bundle[],
  nodeOptions: string,
  runs: number,
): Promise<Map<string, Samples>> {
  const samples = new Map<string, Samples>(bundles.map((b) => [b.name, { deployed: [], plain: [] }]));
  for (let round = 0; round < runs; round++) {
    for (const b of bundles) {
      const entry = samples.get(b.name) as Samples;
      entry.deployed.push(await timeOneLoad(b.file, nodeOptions));
      entry.plain.push(await timeOneLoad(b.file, ''));
    }
  }
  return samples;
}

function figuresOf(b: Bundle, s: Samples): BundleFigures {
  return {
    bytes: b.bytes,
    sourceMapBytes: b.sourceMapBytes,
    loadMs: round(median(s.deployed.map((x) => x.wallMs))),
    loadCpuMs: round(median(s.deployed.map((x) => x.cpuMs))),
    loadMsWithoutSourceMaps: round(median(s.plain.map((x) => x.wallMs))),
    samples: s.deployed.length,
  };
}

export async function measureColdStarts(
  service: DeployedService,
  bundles: Map<string, Bundle>,
  runs: number,
): Promise<ColdStartResults> {
  const get = (name: string) => {
    const b = bundles.get(name);
    if (b === undefined) throw new Error(`no bundle for ${name}`);
    return b;
  };
  const timed = [...COLD_START_FLOORS.map(get), ...service.functions.map((fn) => get(fn.name))];
  const samples = await timeLoads(timed, service.nodeOptions, runs);
  const figures = (name: string) => figuresOf(get(name), samples.get(name) as Samples);

  const floors = Object.fromEntries(COLD_START_FLOORS.map((floor) => [floor, figures(floor)])) as Record<
    FloorName,
    BundleFigures
  >;
  const functions: Record<string, FunctionColdStart> = {};
  for (const fn of service.functions) {
    const known = FLOOR_OF_FUNCTION[fn.name];
    const floorName = known ?? 'dynamodb-sfn';
    const own = figures(fn.name);
    const floor = floors[floorName];
    functions[fn.name] = {
      ...own,
      floor: floorName,
      ...(known === undefined && { floorAssumed: true as const }),
      sizeRatio: ratio(own.bytes, floor.bytes),
      loadRatio: ratio(own.loadMs, floor.loadMs),
      loadCpuRatio: ratio(own.loadCpuMs, floor.loadCpuMs),
      loadRatioWithoutSourceMaps: ratio(own.loadMsWithoutSourceMaps, floor.loadMsWithoutSourceMaps),
      topPackagesKb: Object.fromEntries(
        bytesByPackage(get(fn.name).metafile)
          .slice(0, 8)
          .map(([name, bytes]) => [name, round(bytes / 1024, 0)]),
      ),
    };
  }
  return { nodeOptions: service.nodeOptions, runsPerBundle: runs, floors, functions };
}
