import type { BenchResults } from './run';

/** Left-aligned first column, right-aligned numbers: a plain-text table for people. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const kb = (bytes: number) => `${Math.round(bytes / 1024)} KB`;
const usd = (value: number) => `$${value.toFixed(2)}`;

export function renderReport(results: BenchResults): string {
  const { coldStart, warmPath, replay, rateLimit, cost, machine } = results;
  const sections: string[] = [];
  sections.push(
    `Benchmarks of apollo-contact-converter — ${machine.date}, ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, ` +
      `load average ${machine.loadAverageAtStart} at start`,
  );

  const floorRows = Object.entries(coldStart.floors).map(([name, f]) => [
    `floor: ${name}`,
    kb(f.bytes),
    '',
    f.loadMs,
    f.loadCpuMs,
    '',
    f.loadMsWithoutSourceMaps,
    '',
  ]);
  const functionRows = Object.entries(coldStart.functions).map(([name, f]) => [
    `${name} (vs ${f.floor})`,
    kb(f.bytes),
    f.sizeRatio,
    f.loadMs,
    f.loadCpuMs,
    f.loadRatio,
    f.loadMsWithoutSourceMaps,
    f.loadRatioWithoutSourceMaps,
  ]);
  sections.push(
    `1. Bundle and module load (median of ${coldStart.runsPerBundle} fresh processes; NODE_OPTIONS=${coldStart.nodeOptions} as deployed)\n` +
      table(
        ['bundle', 'size', 'x floor', 'load ms', 'cpu ms', 'x floor', 'no-maps ms', 'x floor'],
        [...floorRows, ...functionRows],
      ),
  );

  const v = (label: string, s: typeof warmPath.service, f: typeof warmPath.floor, key: 'median' | 'p99') => [
    label,
    s.ms[key].toFixed(2),
    f.ms[key].toFixed(2),
    (s.ms[key] / f.ms[key]).toFixed(2),
  ];
  sections.push(
    `2. Warm path per conversion (webhook handler vs floor; zero-latency Apollo; ${warmPath.stepFunctions})\n` +
      table(
        ['ms per conversion', 'service', 'floor', 'x floor'],
        [
          v('median', warmPath.service, warmPath.floor, 'median'),
          v('p99', warmPath.service, warmPath.floor, 'p99'),
          [
            'CPU ms (this process)',
            warmPath.service.cpuMsPerConversion.toFixed(2),
            warmPath.floor.cpuMsPerConversion.toFixed(2),
            warmPath.cpuRatio.toFixed(2),
          ],
          ...Object.keys(warmPath.service.perSecond).map((inFlight) => [
            `conversions/s, ${inFlight} in flight`,
            warmPath.service.perSecond[inFlight] ?? '',
            warmPath.floor.perSecond[inFlight] ?? '',
            '',
          ]),
          [
            'verifyContact ms (median / p99)',
            `${warmPath.verifyContactMs.median} / ${warmPath.verifyContactMs.p99}`,
            '',
            '',
          ],
        ],
      ),
  );

  sections.push(
    `3. Apollo calls per person (${replay.deliveries} deliveries of ${replay.people} people, ${replay.peopleWithoutEmail} without email, ${replay.faultsInjected} Apollo faults)\n` +
      table(
        ['figure', 'value'],
        [
          [
            'contacts per person (must be 1)',
            `${replay.contactsPerPerson.min}..${replay.contactsPerPerson.max}`,
          ],
          ['POST /contacts per person', replay.createRequestsPerPerson],
          ['POST /contacts/search per person', replay.searchesPerPerson],
          ['POST /people/match per person', replay.matchesPerPerson],
          [
            'deliveries answered with no Apollo call',
            `${replay.deliveriesWithoutApolloCall} (${(replay.deliveriesWithoutApolloCallShare * 100).toFixed(1)}%)`,
          ],
          ['people verified', `${replay.verifiedPeople} of ${replay.people}`],
          ['DynamoDB calls per person', replay.dynamoDbOperationsPerPerson],
          [
            'deliveries by kind',
            Object.entries(replay.deliveriesByKind)
              .map(([k, n]) => `${k} ${n}`)
              .join(', '),
          ],
        ],
      ),
  );

  sections.push(
    `4. Rate limit (Apollo allows ${rateLimit.limitPerMinute} creates a minute; ${rateLimit.senders} senders retrying per Retry-After; ${rateLimit.seconds} s)\n` +
      table(
        ['figure', 'value'],
        [
          ['creates per window', rateLimit.createsPerWindow.join(', ')],
          ['first window, fraction of N used', rateLimit.firstWindowFraction],
          ['second window filled after (s)', rateLimit.secondWindowFilledAfterSeconds ?? 'not filled'],
          [
            '429s provoked',
            Object.entries(rateLimit.tooManyRequests)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ') || '0',
          ],
          ['429s per create', rateLimit.tooManyRequestsPerCreate],
          ['503 + Retry-After answers', rateLimit.answered503],
          ['one contact per person', String(rateLimit.exactlyOneContactPerPerson)],
        ],
      ),
  );

  const p = cost.perMillion;
  sections.push(
    `5. Cost per million conversions (${cost.region}, ${cost.architecture}, prices of ${cost.pricesTakenOn}; webhook ${cost.billedMs.enrichmentWebhook} ms + verifyContact ${cost.billedMs.verifyContact} ms billed at ${cost.memoryMb.enrichmentWebhook} MB)\n` +
      table(
        ['part', 'USD per million'],
        [
          ['API Gateway HTTP API', usd(p.apiGateway)],
          ['Lambda requests (2)', usd(p.lambdaRequests)],
          ['Lambda duration', usd(p.lambdaDuration)],
          [
            `DynamoDB (${cost.perConversion.dynamoDbWriteUnits} WRU, ${cost.perConversion.dynamoDbReadUnits} RRU)`,
            usd(p.dynamoDb),
          ],
          ['CloudWatch Logs', usd(p.cloudWatchLogs)],
          ['Step Functions Standard (3 transitions)', usd(p.stepFunctionsStandard)],
          ['Step Functions Express (alternative)', usd(p.stepFunctionsExpress)],
          ['total with Standard', usd(p.totalWithStandard)],
          ['total with Express', usd(p.totalWithExpress)],
          ['+ per 100 ms of Apollo latency per call', usd(cost.lambdaDurationPer100msApolloLatency)],
          ['DynamoDB per million replayed deliveries', usd(cost.dynamoDbPerMillionReplayDeliveries)],
        ],
      ),
  );
  if (results.flags.length > 0)
    sections.push(`Flags:\n${results.flags.map((flag) => `- ${flag}`).join('\n')}`);
  sections.push(`${results.ok ? 'OK' : 'FAILED'} in ${results.durationSeconds} s`);
  return sections.join('\n\n');
}
