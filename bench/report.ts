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
  const { coldStart, warmPath, replay, rateLimit, burst, cost, machine, summary } = results;
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
          ['bulk_create + create per person', replay.createRequestsPerPerson],
          ['POST /contacts/search per person', replay.searchesPerPerson],
          ['bulk_match + match per person', replay.matchesPerPerson],
          [
            'deliveries of people handed over before (no Apollo call)',
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
    `4. Rate limit through the queue (Apollo allows ${rateLimit.createLimitPerMinute} creates a minute; ${rateLimit.senders} senders; ${rateLimit.seconds} s)\n` +
      table(
        ['figure', 'value'],
        [
          ['people delivered / converted', `${rateLimit.peopleDelivered} / ${rateLimit.peopleConverted}`],
          ['deliveries (5xx answers)', `${rateLimit.deliveries} (${rateLimit.answers5xx})`],
          [
            'create requests by status',
            Object.entries(rateLimit.createRequestsByStatus)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ') || '0',
          ],
          ['429s per create', rateLimit.tooManyRequestsPerCreate],
          [
            'successful creates (first to last, s)',
            `${rateLimit.successfulCreates} (${rateLimit.successfulCreatesSpanSeconds})`,
          ],
          ['no duplicate contact', String(rateLimit.noDuplicateContact)],
        ],
      ),
  );

  const verification = burst.verification;
  sections.push(
    `5. Burst (${burst.people} new people, ${burst.peopleWithoutEmail} without email, ${burst.deliveries} deliveries of 1 to 100, ${burst.inFlight} in flight; Apollo ${JSON.stringify(burst.apolloLimits)} a minute; consumer ${JSON.stringify(burst.consumer)})\n` +
      table(
        ['figure', 'value'],
        [
          ['people converted per minute (first delivery to last created)', burst.peoplePerMinute],
          ['seconds to accept / to convert', `${burst.acceptSeconds} / ${burst.convertSeconds}`],
          ['sender-visible 5xx', burst.answers5xx],
          ['webhook ms per delivery (median / max)', `${burst.webhookMs.median} / ${burst.webhookMs.max}`],
          ['Apollo requests per new person', burst.apolloCallsPerNewPerson],
          [
            '  create / update / verify',
            `${burst.apolloCallsPerNewPersonByKind.create} / ${burst.apolloCallsPerNewPersonByKind.update} / ${burst.apolloCallsPerNewPersonByKind.verify}`,
          ],
          ['429s per create', burst.tooManyRequestsPerCreate],
          [
            'contacts per person (must be 1)',
            `${burst.contactsPerPerson.min}..${burst.contactsPerPerson.max}, ${burst.contactsPerPerson.strangers} strangers`,
          ],
          [
            'consumer invocations (messages each)',
            `${burst.consumerInvocations} (${burst.messagesPerInvocation})`,
          ],
          [
            `verified within ${verification.maxWaitSeconds} s of the last created`,
            `${verification.verified} (failed ${verification.verificationFailed}, pending ${verification.pending})`,
          ],
          ['last verified (s after the first delivery)', verification.lastVerifiedSeconds ?? 'none'],
          ['verified per minute', verification.verifiedPerMinute],
          [
            'ledger statuses',
            Object.entries(burst.ledgerStatuses)
              .map(([k, n]) => `${k} ${n}`)
              .join(', '),
          ],
        ],
      ),
  );

  const p = cost.perMillion;
  const per = cost.perConversion;
  sections.push(
    `6. Cost per million conversions, from the burst's counts (${cost.region}, ${cost.architecture}, prices of ${cost.pricesTakenOn}; billed ms: webhook ${cost.billedMs.enrichmentWebhook} per delivery, convertQueued ${cost.billedMs.convertQueued} per batch, verifyContact ${cost.billedMs.verifyContact} per pass)\n` +
      table(
        ['part', 'USD per million'],
        [
          [`API Gateway HTTP API (${per.apiGatewayRequests} per person)`, usd(p.apiGateway)],
          [`Lambda requests (${per.lambdaInvocations} per person)`, usd(p.lambdaRequests)],
          [`Lambda duration (${per.lambdaGbSeconds} GB-s per person)`, usd(p.lambdaDuration)],
          [
            `DynamoDB (${per.dynamoDbWriteUnits} WRU, ${per.dynamoDbReadUnits} RRU per person)`,
            usd(p.dynamoDb),
          ],
          [`SQS (${per.sqsRequests} requests per person)`, usd(p.sqs)],
          [`CloudWatch Logs (${per.logBytes} bytes per person)`, usd(p.cloudWatchLogs)],
          [
            `Step Functions Standard (${per.standardStateTransitions} transitions per person)`,
            usd(p.stepFunctionsStandard),
          ],
          ['total', usd(p.total)],
        ],
      ),
  );
  sections.push(
    'Summary\n' +
      table(
        ['figure', 'value'],
        Object.entries(summary).map(([key, value]) => [key, String(value)]),
      ),
  );
  if (results.flags.length > 0)
    sections.push(`Flags:\n${results.flags.map((flag) => `- ${flag}`).join('\n')}`);
  sections.push(`${results.ok ? 'OK' : 'FAILED'} in ${results.durationSeconds} s`);
  return sections.join('\n\n');
}
