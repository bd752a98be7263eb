import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { identitiesOf, identityKey } from '../lib/identity';
import { logger } from '../lib/logger';
import { LOCAL_LOG_HASH_SECRET } from '../local/service-env';
import { EDGAR, EDGAR_LOOKUP, EMILY, HERMAN, LOUISA, MARK_TWAIN, WALT } from './support/people';
import { API_KEY, WEBHOOK_SECRET, enrichmentCompleted, useServiceHarness } from './support/service-harness';

/**
 * Everything the service logs during a full run through the real handlers (conversions, a
 * duplicate, refusals, Apollo failures, a failed verification) is captured where Powertools writes
 * it, process.stdout and process.stderr, at DEBUG level, and searched for secrets and personal data.
 */

// At DEBUG for this file. `logger.setLogLevel('DEBUG')` alone lasts one invocation: the middleware's
// refreshSampleRateCalculation() puts every warm invocation back to the level the logger was built
// with (POWERTOOLS_LOG_LEVEL, SILENT in vitest.config.ts). So the logger is built at DEBUG, before
// any import, as a Lambda configured for debug logging would be.
vi.hoisted(() => {
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
});

// The people of the run (test/support/people.ts), each with an email (but Edgar, whom name and
// company identify) and a phone field of their own: the logs are searched for every phone field.
const CAST = {
  emily: { ...EMILY, email: 'emily.dickinson@amherstpoets.example', direct_phone: '(555) 234-5678' },
  walt: { ...WALT, organization_name: 'Leaves of Grass Ltd.', mobile_phone: '+1 555 345 6789' },
  herman: { ...HERMAN, email: 'herman.melville@whalers.example', other_phone: '555.456.7890' },
  edgar: EDGAR,
  louisa: LOUISA,
};
const BAD_EMAIL = 'mark at twain';
const WRONG_API_KEY = 'wrong-api-key-7d1f0c2b9e';
const OTHER_SECRET = 'whsec_' + Buffer.from('an attacker secret, not ours').toString('base64');

const PEOPLE = [MARK_TWAIN, ...Object.values(CAST)];

/** Every way a phone number may be written: as sent, digits, E.164, and the common US formats. */
function phoneSpellings(raw: string): string[] {
  const national = raw.replace(/\D/g, '').replace(/^1(?=\d{10}$)/, '');
  const [a, b, c] = [national.slice(0, 3), national.slice(3, 6), national.slice(6)];
  const e164 = `+1${national}`;
  return [
    raw,
    national,
    e164,
    `${a}-${b}-${c}`,
    `(${a}) ${b}-${c}`,
    `${a}.${b}.${c}`,
    `${a} ${b} ${c}`,
    // The ledger keeps phones as SHA-256 hashes: as good as the number (10^10 guesses).
    createHash('sha256').update(e164).digest('base64url'),
  ];
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Forbidden {
  what: string;
  pattern: RegExp;
}

function forbidden(): Forbidden[] {
  const literal = (what: string, text: string): Forbidden => ({
    what,
    pattern: new RegExp(escape(text), 'i'),
  });
  const word = (what: string, text: string): Forbidden => ({
    what,
    pattern: new RegExp(`\\b${escape(text)}\\b`, 'i'),
  });
  const secretBase64 = WEBHOOK_SECRET.slice('whsec_'.length);
  const list: Forbidden[] = [
    literal('webhook secret', WEBHOOK_SECRET),
    literal('webhook secret (base64)', secretBase64),
    literal('webhook secret (decoded)', Buffer.from(secretBase64, 'base64').toString('utf8')),
    literal('another webhook secret', OTHER_SECRET),
    literal('API key', API_KEY),
    literal('wrong API key', WRONG_API_KEY),
    literal('invalid email', BAD_EMAIL),
    literal('log hash secret', LOCAL_LOG_HASH_SECRET),
    // Identity keys are SHA-256 of a person's name or email: a guess of one can be confirmed.
    ...PEOPLE.flatMap((person) =>
      identitiesOf(person).map((identity) => literal(`identity key (${identity[0]})`, identityKey(identity))),
    ),
  ];
  // An unkeyed hash of a key is as good as the key: anyone can hash a guessed email and compare.
  const unkeyed = (key: string) => createHash('sha256').update(key).digest('hex');
  const emails = PEOPLE.flatMap((person) => ('email' in person ? [person.email] : []));
  // Edgar (no email) is keyed by his name and company only: its identity keys are his keys.
  const identityKeys = PEOPLE.flatMap((person) => identitiesOf(person).map(identityKey));
  for (const key of [...identityKeys, ...emails]) {
    list.push(literal(`unkeyed hash of ${key}`, unkeyed(key).slice(0, 16)));
  }
  for (const person of PEOPLE) {
    for (const [field, value] of Object.entries(person)) {
      if (field === 'email') list.push(literal('email', value));
      else if (field.endsWith('_phone')) {
        for (const spelling of phoneSpellings(value)) list.push(literal(`${field} ${value}`, spelling));
      } else if (field.endsWith('_name')) list.push(word(field, value));
    }
    list.push(literal('full name', `${person.first_name} ${person.last_name}`));
  }
  return list;
}

/** Swallows and records everything written to stdout and stderr until `restore()`. */
function captureOutput() {
  const chunks: string[] = [];
  const record = (chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(record),
    vi.spyOn(process.stderr, 'write').mockImplementation(record),
  ];
  return {
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.trim() !== ''),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

describe('Logs: a full run writes no secret and no personal data', () => {
  const harness = useServiceHarness({ resetBeforeEach: false });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('logs structured JSON lines with the request id, free of emails, phones, names, keys and secrets', async () => {
    // Arrange
    await harness.reset();
    const previousLevel = logger.getLevelName();
    const output = captureOutput();
    let lines: string[];
    try {
      logger.setLogLevel('DEBUG');
      expect(logger.getLevelName()).toBe('DEBUG');

      // Act: the seed person converted and verified, then delivered again.
      const seed = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
      await harness.verificationsSettled();
      const duplicate = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }));
      const record = await harness.lookupConversion({ email: MARK_TWAIN.email });

      // Refused: a signature under another secret; an email that is not one.
      const forged = await harness.webhook(enrichmentCompleted({ person: MARK_TWAIN }), {
        secret: OTHER_SECRET,
      });
      const badEmail = await harness.webhook(
        enrichmentCompleted({ person: { ...MARK_TWAIN, email: BAD_EMAIL } }),
      );

      // Apollo rejects a person's data (422).
      harness.apollo.inject({
        method: 'POST',
        path: '/contacts',
        status: 422,
        body: { error: 'Parameters misconfigured.' },
      });
      const rejected = await harness.webhook(enrichmentCompleted({ person: CAST.emily }));

      // Apollo rate limits (429), and the sender's retry goes through.
      harness.apollo.inject({ method: 'POST', path: '/contacts', status: 429, retryAfterSeconds: 42 });
      const limited = await harness.webhook(enrichmentCompleted({ person: CAST.walt }), { id: 'msg_walt' });
      const retried = await harness.webhook(enrichmentCompleted({ person: CAST.walt }), { id: 'msg_walt' });
      await harness.verificationsSettled();

      // Apollo refuses the service's key (401).
      harness.apollo.inject({ method: 'POST', path: '/contacts/search', status: 401 });
      const refusedKey = await harness.webhook(enrichmentCompleted({ person: CAST.herman }));

      // Apollo never shows the contact: verification fails.
      harness.apollo.inject({
        method: 'POST',
        path: '/people/bulk_match',
        status: 200,
        body: { matches: [null] },
        times: 100,
      });
      const unverified = await harness.webhook(enrichmentCompleted({ person: CAST.edgar }));
      await harness.verificationsSettled();
      harness.apollo.clearFaults();
      const failedRecord = await harness.lookupConversion(EDGAR_LOOKUP);

      // The on-demand API, with the right key and a wrong one.
      const onDemand = await harness.createContacts(CAST.louisa);
      await harness.verificationsSettled();
      const wrongKey = await harness.createContacts(CAST.louisa, WRONG_API_KEY);
      await harness.verificationsSettled();

      // The run went as intended (otherwise the logs below would prove little).
      expect(seed.body.results[0]?.status).toBe('created');
      expect(record.body.status).toBe('verified');
      expect(duplicate.body.results[0]?.status).toBe('duplicate');
      expect(forged.status).toBe(401);
      expect(badEmail.status).toBe(400);
      expect(rejected.body.results[0]?.status).toBe('rejected');
      expect(limited.status).toBe(503);
      expect(retried.body.results[0]?.status).toBe('created');
      expect(refusedKey.status).toBe(503);
      expect(refusedKey.body.error).toBe('upstream_configuration');
      expect(unverified.body.results[0]?.status).toBe('created');
      expect(failedRecord.body.status).toBe('verification_failed');
      expect(onDemand.body.results[0]?.status).toBe('created');
      expect(wrongKey.status).toBe(401);
    } finally {
      lines = output.lines();
      output.restore();
      logger.setLogLevel(previousLevel);
    }

    // Assess: enough lines to mean something, each one structured JSON from a handler.
    const entries = lines.map(parseLine);
    expect(
      lines.filter((_, index) => entries[index] === undefined),
      'lines that are not JSON objects',
    ).toEqual([]);
    expect(lines.length).toBeGreaterThanOrEqual(12);
    for (const entry of entries) {
      expect(entry).toMatchObject({
        level: expect.any(String) as unknown,
        message: expect.any(String) as unknown,
        timestamp: expect.any(String) as unknown,
        function_request_id: expect.any(String) as unknown,
      });
    }
    const messages = new Set(entries.map((entry) => entry?.message));
    for (const message of [
      'person converted',
      'contact verified',
      'request refused',
      'Apollo rejected a person',
      'conversion deferred: Apollo unavailable',
      'Apollo refused the service credentials: operator action needed',
      'verification failed',
    ]) {
      expect(messages, `a "${message}" line`).toContain(message);
    }

    // ...and none holds an email, a phone, a name, a person key or a secret.
    const apolloKey: Forbidden = {
      what: 'Apollo API key',
      pattern: new RegExp(escape(harness.apollo.apiKey)),
    };
    const leaks = lines.flatMap((line) =>
      [...forbidden(), apolloKey]
        .filter(({ pattern }) => pattern.test(line))
        .map(({ what, pattern }) => `${what} (${pattern.source}) in: ${line}`),
    );
    expect(leaks).toEqual([]);
  });
});
