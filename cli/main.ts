import { Command, Option } from 'commander';
import { ApiError, LOCAL_API_KEY, LOCAL_API_URL, ServiceApi } from './api';
import { runImport } from './import';

/**
 * `contacts-once`: the operator's tool for the contact converter. Talks to the service's HTTP API
 * only (`--api`, `--api-key`, or CONTACTS_ONCE_API_URL / CONTACTS_ONCE_API_KEY; by default the
 * local stack that `npm start` runs).
 */
const program = new Command('contacts-once')
  .description('Import people into Apollo exactly once, see what failed, retry it.')
  .addOption(new Option('--api <url>', 'the service URL').env('CONTACTS_ONCE_API_URL').default(LOCAL_API_URL))
  .addOption(
    new Option('--api-key <key>', 'the service API key (x-api-key)')
      .env('CONTACTS_ONCE_API_KEY')
      .default(LOCAL_API_KEY),
  )
  .showHelpAfterError();

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function api(): ServiceApi {
  const { api: url, apiKey } = program.opts<{ api: string; apiKey: string }>();
  return new ServiceApi({
    url,
    apiKey,
    onWait: (why, ms) => err(`waiting ${Math.round(ms / 100) / 10} s (${why})`),
  });
}

interface ListedRecord {
  id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  updated_at: string;
  contact_id: string | null;
}

program
  .command('import')
  .description(
    'Send every person of a CSV or JSONL file (Apollo, HubSpot, Salesforce exports, or the service fields)',
  )
  .argument('<file>', 'the CSV or JSONL file')
  .option('--dry-run', 'validate every row and report bad ones with line numbers; send nothing', false)
  .option('--resume', 'go on after the last batch an interrupted run recorded', false)
  .option('--map <pairs>', 'extra column mappings: "Header=field,Other=field"')
  .addOption(
    new Option('--format <format>', 'input format (default: by extension)').choices(['csv', 'jsonl']),
  )
  .option('--batch-size <n>', 'people per request (at most 100)', (v) => Number(v), 100)
  .option('--wait <seconds>', 'how long each request waits for final results (0-20)', (v) => Number(v), 20)
  .option('--phone-country <code>', 'country of phone numbers written without +', 'US')
  .option('--state <path>', 'resume state file (default: FILE.import-state.json)')
  .option('--results <path>', 'results file (default: FILE.results.csv)')
  .option('--progress <mode>', 'bar, lines, or auto (bar on a terminal)', 'auto')
  .action(async (file: string, options: Record<string, unknown>) => {
    const tty = options.progress === 'bar' || (options.progress === 'auto' && process.stderr.isTTY === true);
    process.exitCode = await runImport({
      file,
      api: api(),
      dryRun: options.dryRun === true,
      resume: options.resume === true,
      map: options.map as string | undefined,
      format: options.format as string | undefined,
      batchSize: options.batchSize as number,
      waitSeconds: options.wait as number,
      phoneCountry: options.phoneCountry as string,
      stateFile: (options.state as string | undefined) ?? `${file}.import-state.json`,
      resultsFile: (options.results as string | undefined) ?? `${file}.results.csv`,
      tty,
      out,
      err,
    });
  });

program
  .command('status')
  .description('Counts by status, the oldest queued or stuck records, credits spent and saved')
  .option('--json', 'print the summary as JSON', false)
  .action(async (options: { json: boolean }) => {
    const client = api();
    const { body: summary } = await client.request<{
      statuses: Record<string, { count: number; oldest_updated_at: string | null }>;
      total: number;
      credits_spent: number;
      credits_saved: number;
      exact: boolean;
    }>('GET', '/conversions/summary');
    const oldest: Record<string, ListedRecord[]> = {};
    for (const status of ['queued', 'creating']) {
      const { body } = await client.request<{ conversions: ListedRecord[] }>(
        'GET',
        `/conversions?status=${status}&limit=5`,
      );
      oldest[status] = body.conversions;
    }
    if (options.json) {
      out(JSON.stringify({ ...summary, oldest }));
      return;
    }
    const bound = summary.exact ? '' : ' (at least: the count stopped at its bound)';
    out(`records ${summary.total}${bound}`);
    for (const [status, { count, oldest_updated_at }] of Object.entries(summary.statuses)) {
      out(
        `  ${status.padEnd(20)} ${String(count).padStart(8)}${oldest_updated_at ? `   oldest ${oldest_updated_at}` : ''}`,
      );
    }
    out(`credits spent ${summary.credits_spent}, saved ${summary.credits_saved}`);
    for (const [status, records] of Object.entries(oldest)) {
      if (records.length === 0) continue;
      out(`oldest ${status}:`);
      for (const record of records)
        out(`  ${record.id}  since ${record.updated_at}  attempts ${record.attempts}`);
    }
  });

program
  .command('failed')
  .description('Lists failed, rejected and verification_failed records with their reasons, a page at a time')
  .addOption(
    new Option('--status <status>', 'only this status').choices([
      'failed',
      'rejected',
      'verification_failed',
    ]),
  )
  .option('--limit <n>', 'records per page', (v) => Number(v), 50)
  .option('--cursor <cursor>', 'the page after this cursor (printed at the end of a page)')
  .option('--all', 'every page', false)
  .option('--json', 'one JSON object per line', false)
  .action(
    async (options: { status?: string; limit: number; cursor?: string; all: boolean; json: boolean }) => {
      const client = api();
      const statuses = options.status ? [options.status] : ['failed', 'rejected', 'verification_failed'];
      for (const status of statuses) {
        let cursor = options.cursor;
        do {
          const query = new URLSearchParams({
            status,
            limit: String(options.limit),
            ...(cursor && { cursor }),
          });
          const { body } = await client.request<{ conversions: ListedRecord[]; next_cursor: string | null }>(
            'GET',
            `/conversions?${query.toString()}`,
          );
          for (const record of body.conversions) {
            if (options.json) out(JSON.stringify(record));
            else
              out(
                `${record.id}  ${record.status.padEnd(20)} ${record.updated_at}  ${record.last_error ?? ''}`,
              );
          }
          cursor = body.next_cursor ?? undefined;
          if (cursor !== undefined && !options.all && !options.json)
            out(`more: --status ${status} --cursor ${cursor}`);
        } while (cursor !== undefined && options.all);
      }
    },
  );

program
  .command('retry')
  .description(
    'Retries one record by id, or every failed one (--all-failed): re-queued, re-sent or re-verified, safely',
  )
  .argument('[id]', 'the conversion id (c_...)')
  .option('--all-failed', 'every failed, rejected and verification_failed record', false)
  .action(async (id: string | undefined, options: { allFailed: boolean }) => {
    const client = api();
    const retryOne = async (key: string) => {
      try {
        const { body } = await client.request<{ action: string; status: string; message?: string }>(
          'POST',
          `/conversions/${encodeURIComponent(key)}/retry`,
        );
        out(`${key}  ${body.action}  ${body.status}${body.message ? `  ${body.message}` : ''}`);
        return true;
      } catch (error) {
        if (error instanceof ApiError && error.status < 500) {
          out(`${key}  not retried: ${error.message}`);
          return false;
        }
        throw error;
      }
    };
    if (id !== undefined) {
      process.exitCode = (await retryOne(id)) ? 0 : 1;
      return;
    }
    if (!options.allFailed) {
      err('give an id, or --all-failed');
      process.exitCode = 2;
      return;
    }
    // Collected first, then retried: a retried record leaves the status being listed.
    let retried = 0;
    for (const status of ['failed', 'rejected', 'verification_failed']) {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const query = new URLSearchParams({ status, limit: '100', ...(cursor && { cursor }) });
        const { body } = await client.request<{ conversions: ListedRecord[]; next_cursor: string | null }>(
          'GET',
          `/conversions?${query.toString()}`,
        );
        ids.push(...body.conversions.map((record) => record.id));
        cursor = body.next_cursor ?? undefined;
      } while (cursor !== undefined);
      for (const key of ids) if (await retryOne(key)) retried++;
    }
    out(`retried ${retried}`);
  });

program.parseAsync().catch((error: unknown) => {
  err(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
