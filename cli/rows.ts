import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Transform } from 'node:stream';
import { parse } from 'csv-parse';

/** One data row of the input: its number (1 for the first person), its line in the file, its cells. */
export interface InputRow {
  row: number;
  line: number;
  values: Record<string, unknown> | null;
  /** Why the row could not be read at all (JSONL that is not a JSON object). */
  unreadable?: string;
}

/** CSV unless the name ends in .jsonl / .ndjson (or `format` says so). */
export function formatOf(file: string, format?: string): 'csv' | 'jsonl' {
  if (format === 'csv' || format === 'jsonl') return format;
  return /\.(jsonl|ndjson)$/i.test(file) ? 'jsonl' : 'csv';
}

/**
 * Streams the rows of `file` (constant memory: one row at a time, whatever the size), counting the
 * bytes read for the progress's ETA. CSV: the first line holds the headers. JSONL: one object per line.
 */
export async function* readRows(
  file: string,
  format: 'csv' | 'jsonl',
  onBytes: (bytes: number) => void,
): AsyncGenerator<InputRow & { headers?: string[] }> {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  const input = createReadStream(file).pipe(counter);
  let row = 0;
  if (format === 'jsonl') {
    let line = 0;
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      row++;
      try {
        const value: unknown = JSON.parse(text);
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw new Error('not an object');
        yield { row, line, values: value as Record<string, unknown> };
      } catch {
        yield { row, line, values: null, unreadable: 'not a JSON object' };
      }
    }
    return;
  }
  let headers: string[] | undefined;
  const parser = input.pipe(
    parse({
      columns: (names: string[]) => (headers = names.map((name) => name.trim())),
      bom: true,
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
    }),
  );
  for await (const { record, info } of parser as AsyncIterable<{
    record: Record<string, unknown>;
    info: { lines: number };
  }>) {
    row++;
    yield { row, line: info.lines, values: record, ...(row === 1 && headers !== undefined && { headers }) };
  }
}
