import type { ProbeContext } from './context';

/** An access-log line: serverless-offline's `[offline] GET /path (λ: ...)` or the sandbox's `[apollo-sandbox] GET /path 200 3ms`. */
const ACCESS_LINE = /^\[(?:offline|apollo-sandbox)\] (?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \//;

/**
 * Issue 10, 9: no name or email the probes sent appears in any line of the stack's log (access
 * lines included) or of the sweep's output. Every such name and email holds the run's tag, so a
 * case-insensitive search for it finds them, however the line spells the rest; an `@` or `%40`
 * in an access line's path is reported too.
 */
export function checkLogs(context: ProbeContext, sources: Array<{ name: string; text: string }>): void {
  const { report, tag } = context;
  const leaks: string[] = [];
  let lines = 0;
  let accessLines = 0;
  for (const { name, text } of sources) {
    for (const [index, line] of text.split('\n').entries()) {
      lines += 1;
      const access = ACCESS_LINE.test(line);
      if (access) accessLines += 1;
      const path = access ? (line.split(' ')[2] ?? '') : '';
      if (line.toLowerCase().includes(tag) || /@|%40/i.test(path)) {
        // Shown without the tag, so the report itself repeats no name.
        leaks.push(`${name}:${index + 1}: ${line.replaceAll(new RegExp(tag, 'gi'), '<tag>').slice(0, 160)}`);
      }
    }
  }
  report.check(
    `the stack's log and the sweep's output (${lines} lines, ${accessLines} access lines): names and emails sent`,
    'none in any line, none in a URL',
    leaks.length === 0 ? 'none' : `${leaks.length} line(s): ${leaks.slice(0, 5).join(' ‖ ')}`,
    leaks.length === 0,
  );
}
