import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { CONVERSION_FLOOR, loadFreshBundle, type Bundle } from './bundles';
import type { createFloorConversion } from './floors/conversion';
import {
  BENCH_WEBHOOK_SECRET,
  lambdaContext,
  signedWebhookEvent,
  toReply,
  type HttpHandler,
} from './lambda-events';
import type { LogSink } from './log-sink';
import { benchPerson, enrichmentCompletedBody, type BenchPerson } from './people';
import { configureService, createTable, type ServiceEndpoints } from './service-env';
import { PROJECT_ROOT, type DeployedService } from './serverless-config';
import { ratio, round, summarize, type Summary } from './stats';

/** What bench/backends.ts prints: the endpoints of its dynalite, Apollo sandbox, StartExecution stub and SQS server. */
export type BackendEndpoints = Omit<ServiceEndpoints, 'tableName'> & {
  sqsEndpoint: string;
  conversionQueueUrl: string;
};

export interface WarmPathOptions {
  warmup: number;
  conversions: number;
  /** The measured phase stops early after this long (a busy machine must still finish in time). */
  maxMeasureMs: number;
  inFlightLevels: number[];
  throughputConversions: number;
  maxThroughputMs: number;
  log: (line: string) => void;
  sink: LogSink;
}

export interface VariantFigures {
  /** Wall ms per conversion, one delivery in flight. */
  ms: Summary;
  /** CPU ms of this process per conversion (the backends run in another process). */
  cpuMsPerConversion: number;
  /** Conversions per second with N deliveries in flight. */
  perSecond: Record<string, number>;
}

export interface WarmPathResults {
  stepFunctions: string;
  apolloLatencyMs: number;
  service: VariantFigures;
  floor: VariantFigures;
  medianRatio: number;
  p99Ratio: number;
  cpuRatio: number;
  logBytesPerConversion: number;
  logLinesPerConversion: number;
}

interface Backends {
  endpoints: BackendEndpoints;
  /** Empties the Apollo sandbox, so every phase searches a small store. */
  resetApollo(): Promise<void>;
  stop(): Promise<void>;
}

async function startBackends(): Promise<Backends> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/backends.ts'], {
    cwd: PROJECT_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<string> => {
    const failed = exited.then(() => {
      throw new Error(`bench/backends.ts exited: ${stderr}`);
    });
    const line = await Promise.race([lines.next(), failed]);
    if (line.done === true) throw new Error(`bench/backends.ts closed its output: ${stderr}`);
    return line.value;
  };
  return {
    endpoints: JSON.parse(await nextLine()) as BackendEndpoints,
    resetApollo: async () => {
      child.stdin.write('reset\n');
      const answer = await nextLine();
      if (answer !== 'reset') throw new Error(`bench/backends.ts answered ${answer} to reset`);
    },
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill(), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One conversion, prepared outside the timed part (a sender signs before it sends). */
type Prepared = () => Promise<void>;

interface Variant {
  name: 'service' | 'floor';
  prepare(person: BenchPerson): Prepared;
}

/** What the timed phase collects for one variant. */
interface Measurement {
  durations: number[];
  cpuMicros: number;
}

function serviceVariant(
  handler: HttpHandler,
  service: DeployedService,
  converted: Map<string, string>,
): Variant {
  const fn = service.fn('enrichmentWebhook');
  return {
    name: 'service',
    prepare: (person) => {
      const event = signedWebhookEvent(BENCH_WEBHOOK_SECRET, {
        id: `msg_${randomUUID()}`,
        body: enrichmentCompletedBody([person.input]),
      });
      const context = lambdaContext(fn.name, fn.timeoutSeconds, fn.memoryMb);
      return async () => {
        const reply = toReply(await handler(event, context));
        const result = reply.body.results?.[0];
        // Accepted and queued (issue 11): the consumer converts it later, off this path.
        if (reply.status !== 202 || result?.status !== 'queued') {
          throw new Error(`webhook answered ${reply.status} ${JSON.stringify(reply.body)}`);
        }
        converted.set(result.key, '');
      };
    },
  };
}

function floorVariant(convert: ReturnType<typeof createFloorConversion>): Variant {
  return {
    name: 'floor',
    prepare: (person) => async () => {
      if ((await convert(person.floor)) === '') throw new Error('floor: Apollo created no contact');
    },
  };
}

/**
 * Runs new people through a variant, one at a time, adding the wall time and this process's CPU
 * time of each conversion (not of preparing it) to `into`.
 */
async function runSequential(
  variant: Variant,
  people: BenchPerson[],
  into: Measurement = { durations: [], cpuMicros: 0 },
): Promise<void> {
  for (const person of people) {
    const convert = variant.prepare(person);
    const cpu = process.cpuUsage();
    const start = performance.now();
    await convert();
    into.durations.push(performance.now() - start);
    const used = process.cpuUsage(cpu);
    into.cpuMicros += used.user + used.system;
  }
}

/** Conversions per second with `inFlight` deliveries at once, bounded in count and time. */
async function throughput(
  variant: Variant,
  inFlight: number,
  nextPerson: () => BenchPerson,
  maxConversions: number,
  maxMs: number,
): Promise<number> {
  let started = 0;
  let finished = 0;
  const start = performance.now();
  const worker = async () => {
    while (started < maxConversions && performance.now() - start < maxMs) {
      started += 1;
      await variant.prepare(nextPerson())();
      finished += 1;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return round(finished / ((performance.now() - start) / 1000), 0);
}

export async function measureWarmPath(
  service: DeployedService,
  bundles: Map<string, Bundle>,
  options: WarmPathOptions,
): Promise<WarmPathResults> {
  const backends = await startBackends();
  try {
    const endpoints = { ...backends.endpoints, tableName: 'bench-warm-path' };
    await createTable(endpoints.dynamoDbEndpoint, endpoints.tableName);
    configureService(endpoints, {
      SQS_ENDPOINT: endpoints.sqsEndpoint,
      CONVERSION_QUEUE_URL: endpoints.conversionQueueUrl,
    });
    const bundleFile = (name: string) => (bundles.get(name) as Bundle).file;
    const webhook = loadFreshBundle<{ handler: HttpHandler }>(bundleFile('enrichmentWebhook')).handler;
    const floorModule = loadFreshBundle<{ createFloorConversion: typeof createFloorConversion }>(
      bundleFile(CONVERSION_FLOOR),
    );
    const converted = new Map<string, string>();
    const variants = [
      serviceVariant(webhook, service, converted),
      floorVariant(
        floorModule.createFloorConversion({
          region: 'us-east-1',
          dynamoDbEndpoint: endpoints.dynamoDbEndpoint,
          tableName: endpoints.tableName,
          sqsEndpoint: endpoints.sqsEndpoint,
          conversionQueueUrl: endpoints.conversionQueueUrl,
        }),
      ),
    ];
    const [real, floor] = variants as [Variant, Variant];
    let index = 0;
    const nextPerson = () => benchPerson('w', index++);
    const people = (count: number) => Array.from({ length: count }, nextPerson);

    // Warm up both (JIT, connection pools), in the same interleaved blocks as the measurement.
    const block = 50;
    for (let done = 0; done < options.warmup; done += block) {
      for (const variant of variants) await runSequential(variant, people(block));
    }

    // Alternate blocks (and which goes first) so drift and the growing sandbox hit both alike.
    options.log(`warm path: ${options.conversions} conversions each, real handler and floor interleaved`);
    const measured = new Map<Variant, Measurement>(variants.map((v) => [v, { durations: [], cpuMicros: 0 }]));
    const measureStart = performance.now();
    let logBytes = 0;
    let logLines = 0;
    for (let done = 0; done < options.conversions; done += block) {
      await backends.resetApollo();
      const order = (done / block) % 2 === 0 ? variants : [floor, real];
      for (const variant of order) {
        const before = { bytes: options.sink.bytes, lines: options.sink.lines };
        await runSequential(variant, people(block), measured.get(variant));
        if (variant === real) {
          logBytes += options.sink.bytes - before.bytes;
          logLines += options.sink.lines - before.lines;
        }
      }
      if (performance.now() - measureStart > options.maxMeasureMs) break;
    }

    const perSecond = { service: {} as Record<string, number>, floor: {} as Record<string, number> };
    for (const inFlight of options.inFlightLevels) {
      for (const variant of variants) {
        await backends.resetApollo();
        perSecond[variant.name][String(inFlight)] = await throughput(
          variant,
          inFlight,
          nextPerson,
          options.throughputConversions,
          options.maxThroughputMs,
        );
      }
      options.log(
        `  ${inFlight} in flight: ${perSecond.service[String(inFlight)]}/s (floor ${perSecond.floor[String(inFlight)]}/s)`,
      );
    }

    const figures = (variant: Variant): VariantFigures => {
      const { durations, cpuMicros } = measured.get(variant) as Measurement;
      return {
        ms: roundSummary(summarize(durations)),
        cpuMsPerConversion: round(cpuMicros / 1000 / durations.length, 3),
        perSecond: perSecond[variant.name],
      };
    };
    const conversions = (measured.get(real) as Measurement).durations.length;
    const service_ = figures(real);
    const floor_ = figures(floor);
    return {
      stepFunctions:
        'minimal StartExecution endpoint (bench/start-execution-stub.ts), in the backends process',
      apolloLatencyMs: 0,
      service: service_,
      floor: floor_,
      medianRatio: ratio(service_.ms.median, floor_.ms.median),
      p99Ratio: ratio(service_.ms.p99, floor_.ms.p99),
      cpuRatio: ratio(service_.cpuMsPerConversion, floor_.cpuMsPerConversion),
      logBytesPerConversion: round(logBytes / conversions, 0),
      logLinesPerConversion: round(logLines / conversions, 2),
    };
  } finally {
    await backends.stop();
  }
}

function roundSummary(summary: Summary): Summary {
  return {
    count: summary.count,
    median: round(summary.median, 3),
    p99: round(summary.p99, 3),
    min: round(summary.min, 3),
    max: round(summary.max, 3),
    mean: round(summary.mean, 3),
  };
}
