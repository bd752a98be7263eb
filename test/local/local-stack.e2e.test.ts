import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { sendAs, sendWebhook } from '../../local/send';
import { LOCAL_DEFAULTS, PROJECT_ROOT } from '../../local/stack';
import { CONVERSION_ID_PATTERN } from '../../lib/identity';

/** Ports the OS considers free right now (bound and released). */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Resident memory (KB) of every process under `root`, whatever process group it is in. */
function descendantsRssKb(root: number): number {
  const ps = spawnSync('ps', ['-eo', 'pid=,ppid=,rss='], { encoding: 'utf8' });
  const rows = ps.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((row) => row.length === 3 && row.every(Number.isFinite)) as Array<[number, number, number]>;
  const tree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of rows) {
      if (tree.has(ppid) && !tree.has(pid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return rows.filter(([pid]) => tree.has(pid)).reduce((sum, [, , rss]) => sum + rss, 0);
}

function processesMentioning(text: string): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.stdout.split('\n').filter((line) => line.includes(text) && !line.includes('ps -eo'));
}

describe('Local stack: npm start', () => {
  let child: ChildProcess;
  let output = '';
  let ports: number[];
  let api: string;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  beforeAll(async () => {
    ports = await freePorts(6);
    const [http, lambda, dynamoDb, apollo, stepFunctions, sqs] = ports.map(String);
    api = `http://127.0.0.1:${http}`;
    // Started as a user would: `npm start`, in its own process group (like a terminal's job).
    child = spawn('npm', ['start'], {
      cwd: PROJECT_ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PORT: http,
        LAMBDA_PORT: lambda,
        DYNAMODB_PORT: dynamoDb,
        APOLLO_SANDBOX_PORT: apollo,
        STEP_FUNCTIONS_PORT: stepFunctions,
        SQS_PORT: sqs,
        LOCAL_STACK_ENV_FILE: '',
        WEBHOOK_SECRET: '',
        API_KEY: '',
        APOLLO_BASE_URL: '',
      },
    });
    exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 90_000;
    while (!output.includes('is running locally')) {
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`npm start did not come up:\n${output.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 120_000);

  afterAll(() => {
    if (child?.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    }
  });

  const send = (body: unknown, secret = LOCAL_DEFAULTS.WEBHOOK_SECRET) =>
    sendWebhook(JSON.stringify(body), { url: `${api}/webhooks/enrichment-completed`, secret });
  const person = {
    first_name: 'Mark',
    last_name: 'Twain',
    email: 'mark.twain@greatamericanwriters.example',
    organization_name: 'Great American Writers Co.',
    direct_phone: '555-123-4567',
    mobile_phone: '555-765-4321',
  };
  const event = (data: unknown) => ({
    type: 'person.enrichment.completed',
    timestamp: new Date().toISOString(),
    data,
  });

  it('prints a banner with the URLs, the local defaults and the command to try', () => {
    expect(output).toContain(`HTTP API         ${api}`);
    expect(output).toContain(LOCAL_DEFAULTS.WEBHOOK_SECRET);
    expect(output).toContain(LOCAL_DEFAULTS.API_KEY);
    expect(output).toContain('npm run send -- events/enrichment-completed.json');
    expect(output).toContain(`SQS              http://127.0.0.1:${ports[5]}`);
    expect(output).toContain(
      `http://127.0.0.1:${ports[5]}/000000000000/apollo-contact-converter-local-conversions   -> apollo-contact-converter-local-convertQueued: batches of up to 100 within 2 s, 2 at once`,
    );
  });

  it('queues (202), answers re-deliveries from the ledger, and verifies the contact within 10 seconds', async () => {
    const sentAt = Date.now();
    const created = await send(event({ person }));
    const duplicate = await send(event({ person }));

    expect(created.status).toBe(202);
    const id = (created.body as { results: Array<{ id: string }> }).results[0]?.id;
    expect(id).toMatch(CONVERSION_ID_PATTERN);
    expect(created.body).toMatchObject({ results: [{ id, status: 'queued' }] });
    // Still queued, or converted already (then a duplicate): the same person either way.
    expect(duplicate.body).toMatchObject({ results: [{ id }] });
    expect(['queued', 'duplicate']).toContain(
      (duplicate.body as { results: Array<{ status: string }> }).results[0]?.status,
    );

    let status = '';
    while (status !== 'verified' && Date.now() - sentAt < 10_000) {
      const response = await fetch(`${api}/conversions/${id}`, {
        headers: { 'x-api-key': LOCAL_DEFAULTS.API_KEY },
      });
      status = ((await response.json()) as { status: string }).status;
      if (status !== 'verified') await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe('verified');
  });

  it('takes each CRM door as its sender sends (npm run send --as ...), queued at once, each person verified within 10 seconds', async () => {
    const sample = (name: string) => readFileSync(`${PROJECT_ROOT}/events/${name}`, 'utf8');
    const sentAt = Date.now();
    const replies = [
      await sendAs('hubspot', sample('hubspot-all-properties.json'), { baseUrl: api }),
      await sendAs(
        'svix',
        JSON.stringify(event({ person: { ...person, email: 'svix.sender@svix.example' } })),
        { baseUrl: api },
      ),
      await sendAs('custom:clay', sample('custom-clay.json'), { baseUrl: api }),
      await sendAs('custom:make', sample('custom-make.json'), { baseUrl: api }),
      await sendAs('pipedrive', sample('pipedrive-person-change.json'), { baseUrl: api }),
    ];
    // Salesforce reads only its Ack; the people are found by their emails afterwards.
    const salesforce = await sendAs('salesforce', sample('salesforce-outbound-message.xml'), {
      baseUrl: api,
    });

    expect(replies.map((reply) => reply.status)).toEqual([202, 202, 202, 202, 202]);
    expect(salesforce.status).toBe(200);
    expect(String(salesforce.body)).toContain('<Ack>true</Ack>');
    const results = replies.flatMap(
      (reply) => (reply.body as { results: Array<{ id: string; status: string }> }).results,
    );
    expect(results.map((result) => result.status)).toEqual(results.map(() => 'queued'));
    expect(results).toHaveLength(6);
    const ids = [...results];
    for (const email of ['mary.shelley@frankenstein.example', 'percy.shelley@frankenstein.example']) {
      const response = await fetch(`${api}/conversions/lookup`, {
        method: 'POST',
        headers: { 'x-api-key': LOCAL_DEFAULTS.API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      });
      ids.push((await response.json()) as { id: string; status: string });
    }
    for (const { id } of ids) {
      let status = '';
      while (status !== 'verified' && Date.now() - sentAt < 10_000) {
        const response = await fetch(`${api}/conversions/${id}`, {
          headers: { 'x-api-key': LOCAL_DEFAULTS.API_KEY },
        });
        status = ((await response.json()) as { status: string }).status;
        if (status !== 'verified') await new Promise((r) => setTimeout(r, 250));
      }
      expect(status, id).toBe('verified');
    }
  }, 40_000);

  it('refuses a bad signature with 401 and a bad body with 400', async () => {
    const unsigned = await send(
      event({ person }),
      'whsec_' + Buffer.from('not the secret').toString('base64'),
    );
    const invalid = await send(event({ person: { email: 'not-an-email' } }));

    expect(unsigned.status).toBe(401);
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({
      error: 'invalid_request',
      message: 'body.data.person.email: not an email address',
    });
  });

  it("exposes no Lambda Invoke API: not on LAMBDA_PORT, not through the HTTP API's port", async () => {
    const invoke = await fetch(
      `${api}/2015-03-31/functions/apollo-contact-converter-local-verifyContact/invocations`,
      {
        method: 'POST',
        body: JSON.stringify({ key: 'anyone', contact_id: 'x' }),
      },
    );

    expect(invoke.status).toBe(404);
    // serverless-offline's invoke endpoint is a Unix socket in a private directory; no TCP port.
    expect(await isPortFree(ports[1] as number)).toBe(true);
    expect(processesMentioning('--lambdaPort').join('\n')).toMatch(/--lambdaPort \/\S+\/lambda\.sock/);
  });

  it('holds 50 concurrent deliveries: each person converted once, no 200 with a stack trace, memory bounded', async () => {
    const people = Array.from({ length: 50 }, (_, i) => ({
      first_name: 'Loadtest',
      last_name: `Person${i}`,
      email: `loadtest.person${i}@loadtest.example`,
      organization_name: 'Load Test Co.',
    }));
    let peakKb = descendantsRssKb(child.pid as number);
    const sampler = setInterval(() => {
      peakKb = Math.max(peakKb, descendantsRssKb(child.pid as number));
    }, 250);
    const started = Date.now();
    let first: Awaited<ReturnType<typeof send>>[];
    let again: Awaited<ReturnType<typeof send>>[];
    try {
      first = await Promise.all(people.map((p) => send(event({ person: p }))));
      again = await Promise.all(people.map((p) => send(event({ person: p }))));
    } finally {
      clearInterval(sampler);
    }
    const elapsedMs = Date.now() - started;

    for (const reply of [...first, ...again]) {
      expect(JSON.stringify(reply.body)).not.toMatch(/stackTrace|errorType/);
      expect([200, 202]).toContain(reply.status);
    }
    const created = first.map(
      (reply) => (reply.body as { results: Array<Record<string, unknown>> }).results[0],
    );
    const replayed = again.map(
      (reply) => (reply.body as { results: Array<Record<string, unknown>> }).results[0],
    );
    expect(created.map((result) => result?.status)).toEqual(people.map(() => 'queued'));
    expect(new Set(created.map((result) => result?.id)).size).toBe(50);
    // Delivered again: the same record each, still queued or converted (a duplicate), never twice.
    expect(replayed.map((result) => result?.id)).toEqual(created.map((result) => result?.id));
    for (const result of replayed) expect(['queued', 'duplicate']).toContain(result?.status);
    expect(elapsedMs).toBeLessThan(90_000);
    // npm, the stack, serverless-offline (handlers in process) and esbuild's service: well under
    // a gigabyte and a half, however many requests are in flight.
    expect(peakKb).toBeLessThan(1_500_000);
  }, 120_000);

  it('stops on SIGINT (Ctrl-C) and leaves no process or port behind', async () => {
    // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
    process.kill(-(child.pid as number), 'SIGINT');
    const { code, signal } = await exited;
    const deadline = Date.now() + 20_000;
    while (!output.includes('Stopped.') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));

    // npm itself dies of the SIGINT; the stack under it shuts down in order and says so.
    expect(code === 0 || signal === 'SIGINT').toBe(true);
    expect(output).toContain('Stopped.');
    for (const port of ports) expect(await isPortFree(port)).toBe(true);
    expect(processesMentioning(`--httpPort ${ports[0]}`)).toEqual([]);
  }, 30_000);
});
