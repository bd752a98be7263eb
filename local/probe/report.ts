/** One line of the probe's table: what was done, what should happen, what did. */
export interface ProbeRow {
  probe: string;
  expected: string;
  observed: string;
  pass: boolean;
}

export class ProbeReport {
  readonly rows: ProbeRow[] = [];

  check(probe: string, expected: string, observed: string, pass: boolean): void {
    this.rows.push({ probe, expected, observed, pass });
    console.log(
      `${pass ? 'PASS' : 'FAIL'}  ${probe}\n      expected: ${expected}\n      observed: ${observed}`,
    );
  }

  get failures(): ProbeRow[] {
    return this.rows.filter((row) => !row.pass);
  }

  /** The rows as a Markdown table, for a report or an issue. */
  markdown(): string {
    const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
    return [
      '| probe | expected | observed | result |',
      '| --- | --- | --- | --- |',
      ...this.rows.map(
        (row) =>
          `| ${cell(row.probe)} | ${cell(row.expected)} | ${cell(row.observed)} | ${row.pass ? 'pass' : 'FAIL'} |`,
      ),
    ].join('\n');
  }
}

/** `{a: 2, b: 1}` as `a×2 b×1`. */
export function tally(values: Array<string | number | null | undefined>): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(String(value), (counts.get(String(value)) ?? 0) + 1);
  return [...counts].map(([value, count]) => `${value}×${count}`).join(' ');
}
