import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Apollo } from '../lib/apollo/apollo';
import { ApolloHttpClient } from '../lib/apollo/http-client';
import { ContactConversion } from '../lib/conversion';
import { DynamoDbLedger } from '../lib/dynamodb-ledger';
import { CONVERSION_ID_PATTERN } from '../lib/identity';
import type { ConversionLedger, PersonIdentities } from '../lib/ledger';
import { startApolloSandbox, type ApolloSandbox } from '../local/apollo-sandbox';
import { createLedgerTable, startLocalDynamoDb, type LocalDynamoDb } from '../local/dynamodb';
import { toPerson, type Person } from '../lib/person';
import type { VerificationRequest, VerificationScheduler } from '../lib/schedulers';
import * as people from './support/people';

/**
 * A process that dies at a chosen point: from then on each of its calls fails, as if the Lambda
 * had been killed (no catch block of a dead process gets to release anything).
 */
class SimulatedCrash extends Error {
  override name = 'SimulatedCrash';
}

type CrashPoint = 'after-claim' | 'after-create' | 'after-ledger-update';

function dyingProcess(
  deps: { ledger: ConversionLedger & PersonIdentities; apollo: Apollo; verifications: VerificationScheduler },
  point: CrashPoint,
) {
  let dead = false;
  const die = (): never => {
    dead = true;
    throw new SimulatedCrash(`process killed ${point}`);
  };
  // Every call of a dead process fails; the crash point kills it right after the real call.
  const guard = <T extends object>(target: T, crashAfter?: keyof T): T =>
    new Proxy(target, {
      get(object, property, receiver) {
        const value = Reflect.get(object, property, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (dead) throw new SimulatedCrash('the process is dead');
          const result: unknown = await value.apply(object, args);
          if (property === crashAfter) die();
          return result;
        };
      },
    });
  return {
    ledger: guard(
      deps.ledger,
      point === 'after-claim' ? 'claim' : point === 'after-ledger-update' ? 'complete' : undefined,
    ),
    apollo: guard(deps.apollo, point === 'after-create' ? 'createContact' : undefined),
    verifications: guard(deps.verifications),
  };
}

const options = { defaultPhoneCountry: 'US' as const };
const MARK_TWAIN = toPerson(people.MARK_TWAIN, 'body', options);
/** Without email: name and company identify her. */
const EMILY = toPerson(people.EMILY, 'body', options);

describe('Crash recovery: a later delivery finishes what a dead invocation started', () => {
  let dynamo: LocalDynamoDb;
  let apolloSandbox: ApolloSandbox;
  let ledger: DynamoDbLedger;
  let apollo: ApolloHttpClient;
  let started: VerificationRequest[];
  let verifications: VerificationScheduler;
  let clock: number;
  let table = 0;

  beforeAll(async () => {
    dynamo = await startLocalDynamoDb();
    apolloSandbox = await startApolloSandbox();
  });
  afterAll(async () => {
    await apolloSandbox.close();
    await dynamo.close();
  });
  beforeEach(async () => {
    const tableName = `crash-${++table}`;
    await createLedgerTable(dynamo.client, tableName);
    ledger = new DynamoDbLedger(dynamo.client, tableName);
    apolloSandbox.reset();
    apollo = new ApolloHttpClient({
      baseUrl: apolloSandbox.url,
      apiKey: () => Promise.resolve(apolloSandbox.apiKey),
      timeoutMs: 2000,
      maxRetryWaitSeconds: 0,
    });
    started = [];
    verifications = {
      start: (request) => {
        started.push(request);
        return Promise.resolve();
      },
    };
    clock = Date.now();
  });

  const conversion = (deps: {
    ledger: ConversionLedger & PersonIdentities;
    apollo: Apollo;
    verifications: VerificationScheduler;
  }) =>
    new ContactConversion({
      ...deps,
      concurrency: 4,
      rejectedRecordTtlSeconds: 86_400,
      unavailableRetryAfterSeconds: 30,
      maxAttempts: 10,
      now: () => clock,
    });
  /** The conversion id of a person's record, found through its identity (and checked for shape). */
  async function idOf(person: Person): Promise<string> {
    const record = await ledger.find({ keyOrAlias: person.key });
    expect(record?.key).toMatch(CONVERSION_ID_PATTERN);
    return record?.key as string;
  }
  /** A Lambda with 20 s left, on the test's clock. */
  const deadline = () => clock + 20_000;

  async function crashThenRedeliver(person: Person, point: CrashPoint) {
    const dying = conversion(dyingProcess({ ledger, apollo, verifications }, point));
    await expect(dying.convert([person], { deadline: deadline() })).rejects.toMatchObject({
      name: 'SimulatedCrash',
    });

    // Before the dead invocation's lock lapses, another delivery sees the person in progress.
    const meanwhile = await conversion({ ledger, apollo, verifications }).convert([person], {
      deadline: deadline(),
    });
    clock += 60_000; // past the dead invocation's deadline: its lock has lapsed
    const redelivery = await conversion({ ledger, apollo, verifications }).convert([person], {
      deadline: deadline(),
    });
    return { meanwhile: meanwhile[0], redelivery: redelivery[0] };
  }

  it('after the claim, before any Apollo call: the redelivery creates the one contact', async () => {
    const { meanwhile, redelivery } = await crashThenRedeliver(MARK_TWAIN, 'after-claim');

    expect(meanwhile?.status).toBe('in_progress');
    expect(apolloSandbox.contacts()).toHaveLength(1);
    expect(redelivery).toEqual({
      id: await idOf(MARK_TWAIN),
      status: 'created',
      contact_id: apolloSandbox.contacts()[0]?.id,
    });
    expect(started).toEqual([
      { people: [{ key: await idOf(MARK_TWAIN), contact_id: redelivery?.contact_id }] },
    ]);
    expect(await ledger.find({ keyOrAlias: MARK_TWAIN.key })).toMatchObject({
      status: 'created',
      attempts: 2,
    });
  });

  it("after Apollo's create, before the ledger update: the redelivery finds the contact instead of creating another", async () => {
    const { redelivery } = await crashThenRedeliver(MARK_TWAIN, 'after-create');

    const [contact, ...others] = apolloSandbox.contacts();
    expect(others).toHaveLength(0);
    expect(apolloSandbox.countRequests('POST', '/contacts')).toBe(1);
    expect(redelivery).toEqual({ id: await idOf(MARK_TWAIN), status: 'created', contact_id: contact?.id });
    expect(started).toEqual([{ people: [{ key: await idOf(MARK_TWAIN), contact_id: contact?.id }] }]);
  });

  it("after Apollo's create, for a person without email: the redelivery finds it by name and company", async () => {
    const { redelivery } = await crashThenRedeliver(EMILY, 'after-create');

    const [contact, ...others] = apolloSandbox.contacts();
    expect(others).toHaveLength(0);
    expect(redelivery).toEqual({ id: await idOf(EMILY), status: 'created', contact_id: contact?.id });
    expect(apolloSandbox.countRequests('POST', '/contacts')).toBe(1);
    // Searched before the first create (nobody yet: a person without email is looked up by name and
    // company before creating), and on the redelivery, which finds the contact; never through
    // people/match, which charges a credit for anyone Apollo knows who is not a contact yet.
    expect(apolloSandbox.countRequests('POST', '/contacts/search')).toBe(2);
    expect(apolloSandbox.countRequests('POST', '/people/match')).toBe(0);
  });

  it('after the claim, for a person without email whom Apollo cannot match: the redelivery creates with run_dedupe', async () => {
    const { redelivery } = await crashThenRedeliver(EMILY, 'after-claim');

    expect(redelivery?.status).toBe('created');
    const creates = apolloSandbox.requests().filter((r) => r.method === 'POST' && r.path === '/contacts');
    expect(creates.map((r) => (r.body as { run_dedupe?: boolean }).run_dedupe)).toEqual([true]);
  });

  it('after the ledger update, before the verification started: the redelivery starts it, without Apollo', async () => {
    const { meanwhile, redelivery } = await crashThenRedeliver(MARK_TWAIN, 'after-ledger-update');

    const [contact] = apolloSandbox.contacts();
    // The record was finished, so the delivery in between already repaired the missing start.
    expect(meanwhile).toEqual({ id: await idOf(MARK_TWAIN), status: 'duplicate', contact_id: contact?.id });
    expect(redelivery).toEqual({ id: await idOf(MARK_TWAIN), status: 'duplicate', contact_id: contact?.id });
    expect(apolloSandbox.contacts()).toHaveLength(1);
    expect(started).toEqual([{ people: [{ key: await idOf(MARK_TWAIN), contact_id: contact?.id }] }]);
    expect((await ledger.find({ keyOrAlias: MARK_TWAIN.key }))?.verificationStartedAt).not.toBeNull();
  });

  it('a dead claim never blocks a person beyond its deadline', async () => {
    const lockedUntil = deadline();
    const dying = conversion(dyingProcess({ ledger, apollo, verifications }, 'after-claim'));
    await expect(dying.convert([MARK_TWAIN], { deadline: lockedUntil })).rejects.toThrow('process killed');

    clock = lockedUntil - 1;
    const [justBefore] = await conversion({ ledger, apollo, verifications }).convert([MARK_TWAIN], {
      deadline: deadline(),
    });
    clock = lockedUntil + 1;
    const [justAfter] = await conversion({ ledger, apollo, verifications }).convert([MARK_TWAIN], {
      deadline: deadline(),
    });

    expect(justBefore?.status).toBe('in_progress');
    expect(justAfter?.status).toBe('created');
  });
});
