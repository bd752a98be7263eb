/**
 * Takes over this process's stdout and stderr while handlers run: Powertools writes one JSON line
 * per log call there (info to stdout, warn and error to stderr), as on Lambda, where the runtime
 * ships both to CloudWatch Logs. The lines are counted and dropped, so the bench's own output stays
 * readable and the log volume (billed by CloudWatch per GB) is measured.
 */
export interface LogSink {
  lines: number;
  bytes: number;
  /** Zeroes the counters, e.g. between phases. */
  reset(): void;
  restore(): void;
  /** Writes the bench's own progress to the real stderr. */
  progress: (line: string) => void;
}

type Write = typeof process.stdout.write;

function counting(sink: LogSink): Write {
  return (chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    sink.bytes += Buffer.byteLength(text);
    sink.lines += text.split('\n').length - 1;
    const callback = rest.find((arg): arg is () => void => typeof arg === 'function');
    callback?.();
    return true;
  };
}

export function captureLogs(): LogSink {
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  const sink: LogSink = {
    lines: 0,
    bytes: 0,
    reset: () => {
      sink.lines = 0;
      sink.bytes = 0;
    },
    restore: () => {
      process.stdout.write = stdout;
      process.stderr.write = stderr;
    },
    progress: (line) => {
      stderr(`${line}\n`);
    },
  };
  process.stdout.write = counting(sink);
  process.stderr.write = counting(sink);
  return sink;
}
