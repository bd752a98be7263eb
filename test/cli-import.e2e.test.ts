/**
 * `contacts-once` as an operator runs it: a child process talking HTTP to the real handlers (in
 * this process, behind a small HTTP front) against dynalite, the Apollo sandbox and the state
 * machine. A 2,000-row Apollo export with bad rows is dry-run, imported, killed halfway, resumed,
 * then imported again whole: one contact per valid row, no second bulk_create for anyone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useServiceHarness, type ServiceHarness } from './support/service-harness';

const ROWS = 2000;
/** Data rows made bad on purpose, and why the service refuses them. */
const BAD_ROWS = new Map<number, string>([
  [7, 'not-an-email'],
  [512, 'also@@bad'],
  [1333, ''],
  [1900, 'x@'],
]);

/** An Apollo "People" export: its header spellings, a quoted company with a comma. */
function apolloExport(): string {
  const lines = ['First Name,Last Name,Email,Company,Title,Mobile Phone'];
  for (let row = 1; row <= ROWS; row++) {
    const bad = BAD_ROWS.get(row);
    const email = bad ?? `importee${row}@bulk-import.example`;
    // Row 1333: no email and no company, so nothing identifies the person.
    const company = row === 1333 ? '' : '"Import Works, Inc."';
    lines.push(
      `Imp${row},Orter,${email},${company},Analyst,${row % 4 === 0 ? `202-555-${String(row).padStart(4, '0').slice(-4)}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The harness's handlers over HTTP, as the CLI reaches a deployment. */
function httpFront(harness: ServiceHarness): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const key = (request.headers['x-api-key'] as string | undefined) ?? null;
      const body = Buffer.concat(chunks).toString('utf8');
      const retry = /^\/conversions\/([^/]+)\/retry$/.exec(url.pathname);
      const one = /^\/conversions\/([^/]+)$/.exec(url.pathname);
      const route = async () => {
        if (request.method === 'POST' && url.pathname === '/contacts') {
          return harness.createContacts(body, key, url.searchParams.get('wait') ?? undefined);
        }
        if (request.method === 'GET' && url.pathname === '/conversions') {
          return harness.listConversions(Object.fromEntries(url.searchParams), key);
        }
        if (request.method === 'GET' && url.pathname === '/conversions/summary')
          return harness.conversionSummary(key);
        if (request.method === 'POST' && retry)
          return harness.retryConversion(decodeURIComponent(retry[1] as string), key);
        if (request.method === 'GET' && one)
          return harness.getConversion(decodeURIComponent(one[1] as string), key);
        return { status: 404, headers: {}, body: { message: 'Not Found' } };
      };
      route().then(
        (reply) => {
          response.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
          response.end(JSON.stringify(reply.body));
        },
        () => {
          response.writeHead(500);
          response.end('{"message":"Internal Server Error"}');
        },
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }),
    ),
  );
}

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function cli(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['cli/bin.mjs', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('contacts-once import, as an operator runs it', () => {
  const harness = useServiceHarness({ resetBeforeEach: false });
  let dir = '';
  let front: { url: string; server: Server } | undefined;
  let env: Record<string, string> = {};

  beforeAll(async () => {
    await harness.reset();
    dir = mkdtempSync(join(tmpdir(), 'contacts-once-'));
    writeFileSync(join(dir, 'people.csv'), apolloExport());
    front = await httpFront(harness);
    env = { CONTACTS_ONCE_API_URL: front.url, CONTACTS_ONCE_API_KEY: 'harness-api-key' };
  });
  afterAll(async () => {
    await new Promise((resolve) => front?.server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('--dry-run reports every bad row with its line and reason, and sends nothing', async () => {
    const { code, stdout } = await cli(['import', join(dir, 'people.csv'), '--dry-run'], env).done;

    expect(code).toBe(1);
    const invalid = stdout.split('\n').filter((line) => line.startsWith('invalid row'));
    expect(
      invalid.map((line) => /^invalid row (\d+) \(line (\d+)\)/.exec(line)?.slice(1).map(Number)),
    ).toEqual([...BAD_ROWS.keys()].map((row) => [row, row + 1]));
    expect(stdout).toContain(
      `dry run: ${ROWS} rows read, ${ROWS - BAD_ROWS.size} valid, ${BAD_ROWS.size} invalid`,
    );
    expect(harness.queue.sent).toEqual([]);
    expect(harness.apollo.requests()).toEqual([]);
    expect(existsSync(join(dir, 'people.csv.import-state.json'))).toBe(false);
  });

  it('killed halfway, resumed: one contact per valid row, bad rows reported, parseable progress lines', async () => {
    const file = join(dir, 'people.csv');
    const state = join(dir, 'people.csv.import-state.json');
    const args = ['import', file, '--progress', 'lines', '--wait', '5'];

    // Act: a crash (SIGKILL, no chance to save anything) once about half the rows are answered.
    const first = cli(args, env);
    for (let waited = 0; waited < 120_000; waited += 100) {
      if (
        existsSync(state) &&
        (JSON.parse(readFileSync(state, 'utf8')) as { doneThrough: number }).doneThrough >= ROWS / 2
      )
        break;
      await sleep(100);
    }
    first.child.kill('SIGKILL');
    const killed = await first.done;
    const stoppedAt = (JSON.parse(readFileSync(state, 'utf8')) as { doneThrough: number }).doneThrough;
    const resumed = await cli([...args, '--resume'], env).done;
    await harness.settled();

    // Assess
    expect(killed.code).toBe(null);
    expect(stoppedAt).toBeGreaterThanOrEqual(ROWS / 2);
    expect(stoppedAt).toBeLessThan(ROWS);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`resuming after row ${stoppedAt}`);
    expect(harness.apollo.contacts()).toHaveLength(ROWS - BAD_ROWS.size);
    const progress = resumed.stdout.split('\n').filter((line) => line.startsWith('progress '));
    expect(progress.length).toBeGreaterThan(0);
    for (const line of progress) {
      expect(line).toMatch(
        /^progress read=\d+ sent=\d+ converted=\d+ rejected=\d+ failed=\d+ invalid=\d+ queued=\d+ rate=\d+ eta_s=\d*$/,
      );
    }
    expect(resumed.stdout).toMatch(/rejected +4 +\(4 invalid rows/);
    expect(resumed.stdout).toMatch(/failed +0/);
    // The results file: every row once at least (a batch in flight at the kill is answered again).
    const results = readFileSync(join(dir, 'people.csv.results.csv'), 'utf8').trim().split('\n');
    expect(results[0]).toBe('row,id,status,contact_id,reason');
    const rows = new Map(results.slice(1).map((line) => [Number(line.split(',')[0]), line]));
    expect(rows.size).toBe(ROWS);
    for (const row of BAD_ROWS.keys()) expect(rows.get(row)).toMatch(new RegExp(`^${row},,invalid,,.+`));
  }, 240_000);

  it('the whole file again: every valid row a duplicate from the ledger, no Apollo create', async () => {
    const creates = harness.apollo.countRequests('POST', '/contacts/bulk_create');
    const contacts = harness.apollo.contacts().length;
    const again = await cli(
      [
        'import',
        join(dir, 'people.csv'),
        '--progress',
        'lines',
        '--results',
        join(dir, 'again.csv'),
        '--state',
        join(dir, 'again.json'),
      ],
      env,
    ).done;

    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`duplicate +${ROWS - BAD_ROWS.size} `));
    expect(again.stdout).toMatch(/created +0/);
    expect(harness.apollo.countRequests('POST', '/contacts/bulk_create')).toBe(creates);
    expect(harness.apollo.contacts()).toHaveLength(contacts);
    expect(again.stdout).toContain(`credits saved  at least ${ROWS - BAD_ROWS.size}`);
  }, 240_000);
});
