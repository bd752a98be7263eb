import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import type { CountryCode } from 'libphonenumber-js';
import { MAX_PEOPLE_PER_REQUEST, personInputSchema, toPerson } from '../lib/person';
import type { ServiceApi } from './api';
import { mapHeaders, parseMapOption, toPersonInput, type ServiceField } from './columns';
import { emptyCounts, progressView, type Counts } from './progress';
import { formatOf, readRows } from './rows';

export interface ImportOptions {
  file: string;
  api: ServiceApi;
  dryRun: boolean;
  resume: boolean;
  map?: string;
  format?: string;
  batchSize: number;
  /** Seconds each `POST /contacts?wait=` waits for final results. */
  waitSeconds: number;
  phoneCountry: string;
  stateFile: string;
  resultsFile: string;
  tty: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** What `--resume` reads back: rows up to `doneThrough` are answered, and the counts so far. */
interface ImportState {
  file: string;
  sizeBytes: number;
  doneThrough: number;
  counts: Counts;
}

interface ResultLine {
  row: number;
  id: string | null;
  status: string;
  contact_id: string | null;
  reason: string;
}

/** One person of `POST /contacts`'s answer. */
interface PersonAnswer {
  id: string | null;
  status: string;
  contact_id: string | null;
  reason?: string;
}

const csvCell = (value: string | null) =>
  value === null ? '' : /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;

/** A row as the service would take it, or why it would not (the service's own validation). */
function validate(
  values: Record<string, unknown>,
  mapping: Map<string, ServiceField>,
  phoneCountry: string,
): { person: Partial<Record<ServiceField, string>> } | { reason: string } {
  const person = toPersonInput(values, mapping);
  if (Object.keys(person).length === 0) return { reason: 'no mapped column has a value' };
  const parsed = personInputSchema.safeParse(person);
  if (!parsed.success) return { reason: parsed.error.issues[0]?.message ?? 'invalid' };
  try {
    const checked = toPerson(parsed.data, 'row', { defaultPhoneCountry: phoneCountry as CountryCode });
    const dropped = checked.droppedPhones.length > 0 ? checked.droppedPhones : [];
    if (dropped.length > 0) for (const field of dropped) delete person[field];
    return { person };
  } catch (error) {
    return { reason: (error as Error).message.replace(/^row\.?/, '').replace(/^: /, '') };
  }
}

function saveState(path: string, state: ImportState): void {
  // Written whole, then renamed: a crash leaves the old state or the new one, never half.
  writeFileSync(`${path}.tmp`, JSON.stringify(state));
  renameSync(`${path}.tmp`, path);
}

/**
 * `import FILE`: reads the file a row at a time, validates each row as the service does, sends
 * batches of up to 100 to `POST /contacts?wait=N` one after another, and writes one result line per
 * row. After each answered batch the state file records how far it got, so `--resume` starts after
 * it; a batch interrupted in flight is sent again, and the ledger answers its people without a
 * second contact or Apollo call. Returns the exit code.
 */
export async function runImport(options: ImportOptions): Promise<number> {
  const { file, api, out, err } = options;
  if (!existsSync(file)) {
    err(`no such file: ${file}`);
    return 2;
  }
  const sizeBytes = statSync(file).size;
  const format = formatOf(file, options.format);
  const explicit = parseMapOption(options.map);
  const batchSize = Math.min(MAX_PEOPLE_PER_REQUEST, Math.max(1, options.batchSize));

  let state: ImportState = { file, sizeBytes, doneThrough: 0, counts: emptyCounts() };
  if (options.resume && !options.dryRun && existsSync(options.stateFile)) {
    const saved = JSON.parse(readFileSync(options.stateFile, 'utf8')) as ImportState;
    if (saved.sizeBytes !== sizeBytes) {
      err(
        `the state file ${options.stateFile} is for another version of ${file} (size changed); start without --resume`,
      );
      return 2;
    }
    state = saved;
    out(`resuming after row ${state.doneThrough}`);
  }
  const counts = state.counts;
  // Written synchronously, before the state that says the rows are done: a crash loses no result.
  const appending = options.resume && state.doneThrough > 0;
  const results = options.dryRun ? null : openSync(options.resultsFile, appending ? 'a' : 'w');
  if (results !== null && !appending) writeSync(results, 'row,id,status,contact_id,reason\n');
  const resultText = (line: ResultLine) =>
    `${line.row},${csvCell(line.id)},${line.status},${csvCell(line.contact_id)},${csvCell(line.reason)}\n`;
  const writeResults = (lines: ResultLine[]) => {
    if (results !== null && lines.length > 0) writeSync(results, lines.map(resultText).join(''));
  };

  let bytesRead = 0;
  const progress = progressView({ tty: options.tty, totalBytes: sizeBytes, write: out });
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    progress.note(
      'interrupted: finishing the batch in flight, then saving the state (Ctrl-C again to stop at once)',
    );
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onSignal);

  let mapping: Map<string, ServiceField> | undefined;
  let batch: Array<{ row: number; person: Partial<Record<ServiceField, string>> }> = [];
  let lastRow = 0;

  const count = (status: string) => {
    if (status in counts && status !== 'read' && status !== 'sent') counts[status as keyof Counts]++;
    else if (status === 'in_progress') counts.queued++;
    else counts.failed++;
  };

  const flush = async () => {
    if (batch.length === 0) {
      state.doneThrough = lastRow;
      if (!options.dryRun) saveState(options.stateFile, state);
      return;
    }
    const sending = batch;
    batch = [];
    const reply = await api.request<{ results?: PersonAnswer[] }>(
      'POST',
      `/contacts?wait=${options.waitSeconds}`,
      { people: sending.map((entry) => entry.person) },
    );
    counts.sent += sending.length;
    const answers = reply.body.results ?? [];
    writeResults(
      sending.map((entry, index) => {
        const answer = answers[index] ?? {
          id: null,
          status: 'failed',
          contact_id: null,
          reason: 'no answer for this person',
        };
        count(answer.status);
        return {
          row: entry.row,
          id: answer.id,
          status: answer.status,
          contact_id: answer.contact_id,
          reason: answer.reason ?? '',
        };
      }),
    );
    state.doneThrough = lastRow;
    saveState(options.stateFile, state);
    progress.update(counts, bytesRead);
  };

  try {
    for await (const input of readRows(file, format, (bytes) => (bytesRead += bytes))) {
      if (input.headers !== undefined) mapping = mapHeaders(input.headers, explicit);
      if (input.row <= state.doneThrough) continue;
      counts.read++;
      lastRow = input.row;
      let checked: ReturnType<typeof validate>;
      if (input.values === null) checked = { reason: input.unreadable ?? 'unreadable' };
      else {
        // JSONL: each object's own keys are its headers.
        const rowMapping = mapping ?? mapHeaders(Object.keys(input.values), explicit);
        checked = validate(input.values, rowMapping, options.phoneCountry);
      }
      if ('reason' in checked) {
        counts.invalid++;
        const text = `invalid row ${input.row} (line ${input.line}): ${checked.reason}`;
        if (options.dryRun) out(text);
        writeResults([
          {
            row: input.row,
            id: null,
            status: 'invalid',
            contact_id: null,
            reason: checked.reason,
          },
        ]);
      } else if (!options.dryRun) {
        batch.push({ row: input.row, person: checked.person });
      }
      if (batch.length >= batchSize) await flush();
      else progress.update(counts, bytesRead);
      if (interrupted) break;
    }
    if (!interrupted) await flush();
    else if (batch.length > 0) {
      // Rows read but not sent: the resume reads them again.
      lastRow = batch[0]!.row - 1;
      batch = [];
      await flush();
    } else await flush();
  } finally {
    process.removeListener('SIGINT', onSignal);
    progress.stop(counts, bytesRead);
    if (results !== null) closeSync(results);
  }

  if (interrupted) {
    out(`stopped after row ${state.doneThrough}; run again with --resume to go on`);
    return 130;
  }
  if (options.dryRun) {
    out(
      `dry run: ${counts.read} rows read, ${counts.read - counts.invalid} valid, ${counts.invalid} invalid; nothing sent`,
    );
    return counts.invalid > 0 ? 1 : 0;
  }
  out(
    [
      'summary',
      `  created    ${counts.created}`,
      `  existing   ${counts.existing}   (Apollo had the contact already)`,
      `  duplicate  ${counts.duplicate}   (answered from the ledger: no Apollo call)`,
      `  queued     ${counts.queued}   (still converting: follow with \`status\`)`,
      `  rejected   ${counts.rejected + counts.invalid}   (${counts.invalid} invalid rows, ${counts.rejected} refused by Apollo)`,
      `  failed     ${counts.failed}   (see \`failed\`; \`retry\` re-queues them)`,
      `  credits saved  at least ${counts.duplicate}   (each duplicate would have cost a people/match credit)`,
      `results: ${options.resultsFile}`,
    ].join('\n'),
  );
  return 0;
}
