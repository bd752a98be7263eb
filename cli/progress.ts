import { SingleBar } from 'cli-progress';

/** What the import has done so far. */
export interface Counts {
  read: number;
  sent: number;
  created: number;
  existing: number;
  duplicate: number;
  rejected: number;
  failed: number;
  invalid: number;
  /** Sent and still queued when last answered. */
  queued: number;
}

export const emptyCounts = (): Counts => ({
  read: 0,
  sent: 0,
  created: 0,
  existing: 0,
  duplicate: 0,
  rejected: 0,
  failed: 0,
  invalid: 0,
  queued: 0,
});

export interface ProgressView {
  update(counts: Counts, bytesRead: number): void;
  note(text: string): void;
  stop(counts: Counts, bytesRead: number): void;
}

/** Rows per second since the start, and the seconds left by the share of the file's bytes read. */
function rateAndEta(counts: Counts, bytesRead: number, totalBytes: number, startedMs: number) {
  const elapsedS = Math.max(0.001, (Date.now() - startedMs) / 1000);
  const rate = counts.read / elapsedS;
  const share = totalBytes > 0 ? Math.min(1, bytesRead / totalBytes) : 1;
  const etaS = share > 0 ? Math.max(0, Math.round((elapsedS * (1 - share)) / share)) : null;
  return { rate: Math.round(rate), etaS };
}

const converted = (counts: Counts) => counts.created + counts.existing + counts.duplicate;

/**
 * A live bar on a terminal; elsewhere one line per update, `key=value` pairs after `progress`, so a
 * script or a log reader can parse it: `progress read=200 sent=200 converted=180 rejected=2 failed=0
 * invalid=1 queued=17 rate=350 eta_s=12`.
 */
export function progressView(options: {
  tty: boolean;
  totalBytes: number;
  write: (line: string) => void;
  /** Non-TTY: at most one line per this many ms (a final line always comes). */
  everyMs?: number;
}): ProgressView {
  const startedMs = Date.now();
  if (options.tty) {
    const bar = new SingleBar({
      format:
        '{bar} {percentage}% | read {read} sent {sent} converted {converted} rejected {rejected} ' +
        'failed {failed} | {rate}/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    });
    bar.start(options.totalBytes, 0, { read: 0, sent: 0, converted: 0, rejected: 0, failed: 0, rate: 0 });
    const payload = (counts: Counts, bytes: number) => ({
      read: counts.read,
      sent: counts.sent,
      converted: converted(counts),
      rejected: counts.rejected + counts.invalid,
      failed: counts.failed,
      rate: rateAndEta(counts, bytes, options.totalBytes, startedMs).rate,
    });
    return {
      update: (counts, bytes) => bar.update(bytes, payload(counts, bytes)),
      note: (text) => process.stderr.write(`\n${text}\n`),
      stop: (counts, bytes) => {
        bar.update(bytes, payload(counts, bytes));
        bar.stop();
      },
    };
  }
  let lastMs = 0;
  const line = (counts: Counts, bytes: number) => {
    const { rate, etaS } = rateAndEta(counts, bytes, options.totalBytes, startedMs);
    options.write(
      `progress read=${counts.read} sent=${counts.sent} converted=${converted(counts)} ` +
        `rejected=${counts.rejected} failed=${counts.failed} invalid=${counts.invalid} queued=${counts.queued} ` +
        `rate=${rate} eta_s=${etaS ?? ''}`,
    );
  };
  return {
    update: (counts, bytes) => {
      if (Date.now() - lastMs < (options.everyMs ?? 1000)) return;
      lastMs = Date.now();
      line(counts, bytes);
    },
    note: (text) => options.write(`note ${text}`),
    stop: line,
  };
}
