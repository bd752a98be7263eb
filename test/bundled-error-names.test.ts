/**
 * The state machines' Retry and Catch rules match a task's error by name (the Lambda runtime
 * reports `error.name` as the error type). A minifier renames classes, so the names must be
 * literals in the code, not read from the class: this bundles a task that throws the service's
 * errors with the deployed esbuild options, minified and without `keepNames`, and checks that each
 * error the state machines match on comes out under exactly that name.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import { build, type BuildOptions } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PLUGIN_OPTIONS } from '../bench/serverless-config';
import type * as Errors from '../lib/errors';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface ServerlessYml {
  custom: { esbuild: Record<string, unknown> };
  stepFunctions: unknown;
}
// CloudFormation tags (!Sub) need no resolving here; the parser only warns about them.
const serverlessYml = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'), {
  logLevel: 'error',
}) as ServerlessYml;

function deployedEsbuildOptions(custom: Record<string, unknown>): BuildOptions {
  const exclude = (custom.exclude as string[] | undefined) ?? ['aws-sdk'];
  return {
    ...Object.fromEntries(Object.entries(custom).filter(([key]) => !PLUGIN_OPTIONS.has(key))),
    external: [
      ...((custom.external as string[] | undefined) ?? []),
      ...(exclude.includes('*') ? [] : exclude),
    ],
  };
}

/** Every `ErrorEquals` list of the state machines (Retry and Catch, at any depth). */
function errorEquals(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(errorEquals);
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === 'ErrorEquals' && Array.isArray(value) ? value.map(String) : errorEquals(value),
  );
}

/** The service's own errors the state machines match on: not `States.*`, nor the Lambda service's `Lambda.*`. */
const MATCHED_NAMES = [...new Set(errorEquals(serverlessYml.stepFunctions))].filter(
  (name) => !/^(States|Lambda)\./.test(name),
);

/** A state machine task like the deployed ones, throwing the error class `lib/errors` exports as `input.name`. */
const TASK_SOURCE = `
import * as errors from './lib/errors';
import { stateMachineTask } from './lib/state-machine-task';

export { errors };
export const handler = stateMachineTask(async (input: { name: string }) => {
  const ErrorClass = (errors as unknown as Record<string, new (message: string) => Error>)[input.name];
  if (ErrorClass === undefined) throw new Error('lib/errors exports no ' + input.name);
  throw new ErrorClass('thrown by the bundled task');
});
`;

interface TaskBundle {
  errors: typeof Errors;
  handler: (input: { name: string }, context: Context) => Promise<unknown>;
}

const context = {
  functionName: 'bundled-error-names',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bundled-error-names',
  memoryLimitInMB: '256',
  awsRequestId: 'bundled-error-names-request',
  logGroupName: '/aws/lambda/bundled-error-names',
  logStreamName: 'bundled-error-names',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 20_000,
} as Context;

describe('Error names in a minified bundle', () => {
  let outDir: string;
  let task: TaskBundle;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'bundled-error-names-'));
    const outfile = join(outDir, 'task.js');
    await build({
      ...deployedEsbuildOptions(serverlessYml.custom.esbuild),
      // What the literal names must survive: identifiers renamed, class names not kept.
      minify: true,
      keepNames: false,
      absWorkingDir: ROOT,
      stdin: { contents: TASK_SOURCE, resolveDir: ROOT, sourcefile: 'bundled-error-task.ts', loader: 'ts' },
      outfile,
      logLevel: 'error',
    });
    task = createRequire(import.meta.url)(outfile) as TaskBundle;
  });
  afterAll(() => {
    rmSync(outDir, { recursive: true, force: true });
  });

  it('reads the names the state machines match on from serverless.yml', () => {
    expect(MATCHED_NAMES).toEqual(
      expect.arrayContaining(['ContactsNotVisibleYetError', 'ApolloRateLimitError']),
    );
  });

  it('renames the classes themselves (the minifier is really at work)', () => {
    expect(task.errors.ContactsNotVisibleYetError.name).not.toBe('ContactsNotVisibleYetError');
  });

  it.each(MATCHED_NAMES)('%s comes out of the task under exactly that name', async (name) => {
    const error = await task.handler({ name }, context).then(
      () => expect.unreachable('the task should have thrown'),
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe(name);
  });

  it('keeps the name of every error class, as `isError` and the HTTP mapping check it', () => {
    const names = task.errors.ERROR_NAMES;
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const ErrorClass = task.errors.ERROR_CLASSES[name] as new (message: string) => Error;
      const error = new ErrorClass('from the bundle');
      expect(error.name, name).toBe(name);
      expect(task.errors.isError(error, name), name).toBe(true);
    }
  });
});
