import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../stack';
import {
  answeredAsDocumented,
  collectIds,
  enrichmentCompleted,
  SETTLED,
  sleep,
  type ProbeContext,
} from './context';
import { probePerson } from './people';
import { tally } from './report';

/** Issue 10, 5: 100 people in one delivery, beside 100 more in another and 20 single ones, all at once. */
export async function loadOf100(context: ProbeContext): Promise<string[]> {
  const { service, report, tag } = context;
  service.probe = 'load';
  const person = (word: string, i: number) => {
    const p = probePerson(`${word}${i.toString(36)}`, tag);
    return {
      first_name: p.first_name,
      last_name: p.last_name,
      email: p.email,
      organization_name: 'Seq Co.',
      mobile_phone: `555-01${String(i % 100).padStart(2, '0')}`,
    };
  };
  const startedAt = Date.now();
  const [webhook, batch, ...singles] = await Promise.all([
    service.withRetries(() =>
      service.webhook(
        enrichmentCompleted({ people: Array.from({ length: 100 }, (_, i) => person('loadw', i)) }),
      ),
    ),
    service.withRetries(() =>
      service.post('/contacts', { people: Array.from({ length: 100 }, (_, i) => person('loadc', i)) }),
    ),
    ...Array.from({ length: 20 }, (_, i) =>
      service.withRetries(() => service.post('/contacts', person('loads', i))),
    ),
  ]);
  const answers = [webhook, batch, ...singles].map(({ answer }) => answer);
  const ids = answers
    .flatMap((answer) => collectIds(context, answer).map((r) => r.id))
    .filter((id) => id !== null);
  report.check(
    'load: one 100-person webhook, one 100-person POST /contacts and 20 single ones at once',
    '202 (queued) each, as documented; 220 conversion ids (their verdicts: the last probes)',
    `HTTP ${tally(answers.map((a) => a.status))} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; ${new Set(ids).size} ids`,
    answers.every(answeredAsDocumented) && new Set(ids).size === 220,
  );
  return [...new Set(ids)];
}

/**
 * Issue 10, 5: verifications while Apollo's people/bulk_match (what the batch verification calls
 * for people with an email) fails (500, 40 times in a row): each record still ends with a verdict,
 * `verified` once Apollo answers again or `verification_failed` with the reason, never left
 * `created`. The fault is injected through the sandbox's door (`POST /_sandbox/faults`).
 */
export async function verificationsDuringAnOutage(context: ProbeContext): Promise<void> {
  const { service, sandbox, report, tag } = context;
  service.probe = 'verification during an outage';
  const people = Array.from({ length: 10 }, (_, i) => {
    const p = probePerson(`outage${i.toString(36)}`, tag);
    return { first_name: p.first_name, last_name: p.last_name, email: p.email, organization_name: 'Seq Co.' };
  });
  const start = (await sandbox.state()).requests.length;
  await sandbox.inject({ method: 'POST', path: '/people/bulk_match', status: 500, times: 40 });
  try {
    const { answer } = await service.withRetries(() => service.webhook(enrichmentCompleted({ people })));
    const ids = collectIds(context, answer)
      .map((r) => r.id)
      .filter((id) => id !== null);
    const statuses = await settle(context, ids, 120_000);
    const unsettled = ids.filter((id) => !SETTLED.has(statuses.get(id) ?? ''));
    const failedRecords = await Promise.all(
      ids.filter((id) => statuses.get(id) === 'verification_failed').map((id) => service.record(id)),
    );
    const bulkMatches = (await sandbox.state()).requests
      .slice(start)
      .filter((request) => request.path === '/people/bulk_match');
    const failedMatches = bulkMatches.filter((request) => request.status === 500).length;
    report.check(
      '10 people converted while people/bulk_match answers 500 forty times in a row (verification only)',
      'the fault met; every record verified, or verification_failed with the reason; none created',
      `HTTP ${answer.status}; people/bulk_match ${failedMatches}×500 of ${bulkMatches.length}; ${tally([...statuses.values()])}; ` +
        `reasons: ${tally(failedRecords.map((r) => String(r?.last_error).slice(0, 60)))}`,
      answeredAsDocumented(answer) &&
        failedMatches > 0 &&
        ids.length === 10 &&
        unsettled.length === 0 &&
        failedRecords.every((r) => typeof r?.last_error === 'string'),
    );
  } finally {
    await sandbox.clearFaults();
  }
}

/** The statuses of `ids`, read until none is left unsettled or `timeoutMs` has passed. */
export async function settle(
  context: ProbeContext,
  ids: string[],
  timeoutMs: number,
): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  const deadline = Date.now() + timeoutMs;
  let pending = ids;
  while (pending.length > 0 && Date.now() < deadline) {
    for (const id of pending) statuses.set(id, String((await context.service.record(id))?.status));
    pending = pending.filter((id) => !SETTLED.has(statuses.get(id) ?? ''));
    if (pending.length > 0) await sleep(1000);
  }
  return statuses;
}

export interface SweepRun {
  report: string;
  output: string;
}

/**
 * Runs the verification sweep once against the running stack, as the README says:
 * `serverless invoke local --stage local -f sweepVerifications` reads the stack's `.env.local`.
 * `VERIFICATION_SWEEP_AFTER_MINUTES` comes from this process's environment (1 unless set).
 */
export async function runSweep(): Promise<SweepRun> {
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [
      createRequire(import.meta.url).resolve('osls/bin/serverless.js'),
      'invoke',
      'local',
      '--stage',
      'local',
      '-f',
      'sweepVerifications',
      '-p',
      'events/sweep-verifications.json',
    ],
    {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        VERIFICATION_SWEEP_AFTER_MINUTES: process.env.VERIFICATION_SWEEP_AFTER_MINUTES ?? '1',
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
      },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const output = `${stdout}\n${stderr}`;
  const report = /\{\s*"found"[\s\S]*?\}/.exec(stdout)?.[0] ?? 'no report';
  return { report: report.replace(/\s+/g, ' '), output };
}

/**
 * Issue 10, 5: no record stays `created` (or `creating`): what the state machines leave is
 * re-driven by the sweep once it is older than VERIFICATION_SWEEP_AFTER_MINUTES.
 */
export async function nothingStuck(context: ProbeContext, sweepOutputs: string[]): Promise<void> {
  const { report } = context;
  context.service.probe = 'stuck records';
  const ids = [...context.conversionIds];
  const settledAt = Date.now();
  const first = await settle(context, ids, 90_000);
  const stuck = ids.filter((id) => !SETTLED.has(first.get(id) ?? ''));
  report.check(
    `every record the probes made (${ids.length}), before any sweep`,
    'verified / verification_failed / rejected / failed',
    `${tally([...first.values()])} after ${((Date.now() - settledAt) / 1000).toFixed(0)} s`,
    stuck.length === 0,
  );
  const staleAfterMs = Number(process.env.VERIFICATION_SWEEP_AFTER_MINUTES ?? '1') * 60_000;
  // Records are stale only once they waited that long: the sweep would skip them before.
  if (stuck.length > 0) await sleep(Math.max(0, settledAt + staleAfterMs + 5000 - Date.now()));
  const sweep = await runSweep();
  sweepOutputs.push(sweep.output);
  const second = await settle(context, stuck, 60_000);
  const still = stuck.filter((id) => !SETTLED.has(second.get(id) ?? ''));
  report.check(
    'the same records after the sweep (serverless invoke local -f sweepVerifications)',
    `no record left created or creating`,
    `sweep ${sweep.report}; ${stuck.length} were unsettled; now ${still.length === 0 ? 'none' : tally(still.map((id) => second.get(id)))}`,
    still.length === 0,
  );
}
