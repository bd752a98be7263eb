import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type RunOptions,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';

/**
 * A local stand-in for the Step Functions API: the subset of the AWS JSON 1.0 protocol that
 * `@aws-sdk/client-sfn` speaks for StartExecution, DescribeExecution and ListExecutions, backed by
 * aws-local-stepfunctions. Lambda tasks call back into the caller (`invokeLambda`), normally
 * serverless-offline's Lambda Invoke API through `invokeLambdaOverHttp`.
 */

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export interface ExecutionSnapshot {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  input: unknown;
  output?: unknown;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate?: Date;
}

export interface LocalStepFunctions {
  /** Endpoint for `new SFNClient({ endpoint })`. */
  url: string;
  stateMachineArn: string;
  executions(): ExecutionSnapshot[];
  /** Resolves when no execution is RUNNING; rejects after `timeoutMs`. */
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Aborts the running executions and stops the server. */
  close(): Promise<void>;
}

export type InvokeLambda = (functionName: string, payload: unknown) => Promise<unknown>;

export interface LocalStepFunctionsOptions {
  /** Amazon States Language JSON, e.g. from `loadStateMachineDefinition`. */
  definition: object;
  stateMachineArn?: string;
  /** More state machines served by the same endpoint (the service has two). */
  additionalStateMachines?: Array<{ stateMachineArn: string; definition: object }>;
  invokeLambda: InvokeLambda;
  /**
   * Replaces every Wait state's duration and every retry interval (default 0); `'as-defined'`
   * keeps the definition's own (the bench's burst, where the waits shape Apollo's load).
   */
  waitSeconds?: number | 'as-defined';
  host?: string;
  port?: number;
  log?: (line: string) => void;
}

/**
 * The Lambda function itself failed (what Lambda reports with `X-Amz-Function-Error`). Step
 * Functions names the state's error after `errorType`, so `Retry`/`Catch` can match it.
 */
export class LambdaFunctionError extends Error {
  constructor(
    readonly errorType: string,
    errorMessage: string,
    readonly trace?: string[],
  ) {
    super(errorMessage);
    this.name = errorType;
  }
}

/** Lambda could not run the function at all. Step Functions names these `Lambda.<Exception>`. */
export class LambdaServiceError extends Error {
  constructor(exception: string, message: string) {
    super(message);
    this.name = `Lambda.${exception}`;
  }
}

const defaultStateMachineArn =
  'arn:aws:states:us-east-1:000000000000:stateMachine:apollo-contact-converter-dev-verification';
const lambdaInvokeResource = 'arn:aws:states:::lambda:invoke';
const executionNamePattern = /^[A-Za-z0-9_-]{1,80}$/;
const defaultIdleTimeoutMs = 30_000;

interface Execution extends ExecutionSnapshot {
  inputJson: string;
  abort: () => void;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;

/** A request's value in an error message: a string as it is, anything else as JSON (not `[object Object]`). */
function shown(value: Json | undefined): string {
  return typeof value === 'string' || value === undefined ? String(value) : JSON.stringify(value);
}

/** An error the API answers with status 400 and `{"__type": type, "message": ...}`. */
class StepFunctionsApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startLocalStepFunctions(
  options: LocalStepFunctionsOptions,
): Promise<LocalStepFunctions> {
  const stateMachineArn = options.stateMachineArn ?? defaultStateMachineArn;
  const waitMs = options.waitSeconds === 'as-defined' ? undefined : (options.waitSeconds ?? 0) * 1000;
  const log = options.log ?? ((line: string) => console.log(line));
  const machines = new Map(
    [{ stateMachineArn, definition: options.definition }, ...(options.additionalStateMachines ?? [])].map(
      (machine) => [
        machine.stateMachineArn,
        prepareStateMachine(machine.definition, options.invokeLambda, waitMs),
      ],
    ),
  );
  const machineFor = (requestedArn: Json | undefined) => {
    const machine = typeof requestedArn === 'string' ? machines.get(requestedArn) : undefined;
    if (machine === undefined) {
      throw new StepFunctionsApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${shown(requestedArn)}'`,
      );
    }
    return { machineArn: requestedArn as string, ...machine };
  };

  const executionsByArn = new Map<string, Execution>();
  const inFlight = new Set<Promise<void>>();

  const settle = async (execution: Execution, result: Promise<unknown>): Promise<void> => {
    try {
      const output = await result;
      Object.assign(execution, { status: 'SUCCEEDED', output, stopDate: new Date() });
    } catch (failure) {
      Object.assign(execution, executionFailure(failure), { stopDate: new Date() });
    }
    const reason = execution.error === undefined ? '' : ` ${execution.error}: ${execution.cause ?? ''}`;
    log(`[step-functions] ${execution.name} ${execution.status}${reason}`);
  };

  const startExecution = (request: JsonObject): JsonObject => {
    const { machineArn, stateMachine, overrides } = machineFor(request['stateMachineArn']);
    const name = request['name'] ?? randomUUID();
    if (typeof name !== 'string' || !executionNamePattern.test(name)) {
      throw new StepFunctionsApiError('InvalidName', `Invalid Name: '${shown(name)}'`);
    }
    const { inputJson, input } = parseExecutionInput(request['input']);
    const executionArn = `${machineArn.replace(':stateMachine:', ':execution:')}:${name}`;

    const existing = executionsByArn.get(executionArn);
    if (existing !== undefined) {
      // Standard workflows: the same name and input while the first execution is still open is
      // the same request again; once it is closed, or with another input, the name is taken.
      if (existing.status === 'RUNNING' && existing.inputJson === inputJson) {
        return { executionArn, startDate: epochSeconds(existing.startDate) };
      }
      throw new StepFunctionsApiError(
        'ExecutionAlreadyExists',
        `Execution Already Exists: '${executionArn}'`,
      );
    }

    const startDate = new Date();
    const run = stateMachine.run(input, {
      overrides,
      context: {
        Execution: { Id: executionArn, Name: name },
        StateMachine: { Id: machineArn, Name: machineArn.split(':').at(-1) },
      },
    });
    const execution: Execution = {
      executionArn,
      stateMachineArn: machineArn,
      name,
      status: 'RUNNING',
      input,
      inputJson,
      startDate,
      abort: run.abort,
    };
    executionsByArn.set(executionArn, execution);
    log(`[step-functions] ${name} started`);
    const settled = settle(execution, run.result).finally(() => inFlight.delete(settled));
    inFlight.add(settled);
    return { executionArn, startDate: epochSeconds(startDate) };
  };

  const describeExecution = (request: JsonObject): JsonObject => {
    const executionArn = request['executionArn'];
    const execution = typeof executionArn === 'string' ? executionsByArn.get(executionArn) : undefined;
    if (execution === undefined) {
      throw new StepFunctionsApiError(
        'ExecutionDoesNotExist',
        `Execution Does Not Exist: '${shown(executionArn)}'`,
      );
    }
    return withoutUndefined({
      ...executionListItem(execution),
      input: execution.inputJson,
      inputDetails: { included: true },
      output: execution.output === undefined ? undefined : JSON.stringify(execution.output),
      outputDetails: execution.output === undefined ? undefined : { included: true },
      error: execution.error,
      cause: execution.cause,
    });
  };

  // No pagination: a local run holds few executions.
  const listExecutions = (request: JsonObject): JsonObject => {
    const { machineArn } = machineFor(request['stateMachineArn']);
    const statusFilter = request['statusFilter'];
    const executions = [...executionsByArn.values()]
      .filter((execution) => execution.stateMachineArn === machineArn)
      .filter((execution) => statusFilter === undefined || execution.status === statusFilter)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime())
      .map((execution) => executionListItem(execution));
    return { executions };
  };

  const operations: Record<string, (request: JsonObject) => JsonObject> = {
    StartExecution: startExecution,
    DescribeExecution: describeExecution,
    ListExecutions: listExecutions,
  };

  const server = createServer((request, response) => {
    handleApiRequest(request, response, operations).catch((error: unknown) => {
      log(`[step-functions] request failed: ${describe(error)}`);
      if (!response.headersSent) {
        sendJson(response, 500, { __type: 'InternalFailure', message: describe(error) });
      } else {
        response.destroy();
      }
    });
  });
  server.on('clientError', (error, socket) => {
    log(`[step-functions] client error: ${describe(error)}`);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => log(`[step-functions] server error: ${describe(error)}`));
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log(`[step-functions] ${[...machines.keys()].join(', ')} listening on ${url}`);

  const waitForIdle = async (timeoutMs = defaultIdleTimeoutMs): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    // Loop because an execution may start while others finish.
    while (inFlight.size > 0) {
      const remainingMs = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), Math.max(remainingMs, 0));
      });
      const idle = Promise.all([...inFlight]).then(() => false);
      const hasTimedOut = await Promise.race([idle, timedOut]).finally(() => clearTimeout(timer));
      if (hasTimedOut) {
        const running = [...executionsByArn.values()].filter((execution) => execution.status === 'RUNNING');
        throw new Error(
          `Step Functions not idle after ${timeoutMs} ms; running: ${running.map((execution) => execution.name).join(', ')}`,
        );
      }
    }
  };

  return {
    url,
    stateMachineArn,
    executions: () =>
      [...executionsByArn.values()].map(({ inputJson: _inputJson, abort: _abort, ...snapshot }) => ({
        ...snapshot,
      })),
    waitForIdle,
    close: async () => {
      for (const execution of executionsByArn.values()) {
        if (execution.status === 'RUNNING') execution.abort();
      }
      await Promise.allSettled([...inFlight]);
      // The SDK keeps connections alive; without this, close() would wait for them to time out.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** Validates a definition now, as CreateStateMachine would, and prepares its local overrides. */
function prepareStateMachine(
  definitionObject: object,
  invokeLambda: InvokeLambda,
  waitMs: number | undefined,
) {
  const definition = definitionObject as StateMachineDefinition;
  const taskStates = collectStates(definition, 'Task');
  return {
    stateMachine: new StateMachine(definition),
    overrides: {
      taskResourceLocalHandlers: lambdaTaskHandlers(taskStates, invokeLambda),
      ...(waitMs !== undefined && {
        waitTimeOverrides: Object.fromEntries(
          collectStates(definition, 'Wait').map(([name]) => [name, waitMs]),
        ),
        retryIntervalOverrides: Object.fromEntries(taskStates.map(([name]) => [name, waitMs])),
      }),
    },
  };
}

/**
 * Runs every `arn:aws:states:::lambda:invoke` Task through `invokeLambda` and reports failures the
 * way Step Functions does. aws-local-stepfunctions names the state's error after the thrown
 * error's `name` and, in a Catch, sets `Cause` to its `message`. So a function error is rethrown
 * named after `errorType` with the message Step Functions would put in `Cause`: the JSON of
 * `{errorType, errorMessage, trace}`.
 */
function lambdaTaskHandlers(
  taskStates: Array<[string, JsonObject]>,
  invokeLambda: InvokeLambda,
): TaskHandlers {
  const handlers: TaskHandlers = {};
  for (const [stateName, state] of taskStates) {
    if (state['Resource'] !== lambdaInvokeResource) {
      // Without an override aws-local-stepfunctions would call the real AWS Lambda.
      throw new Error(
        `Task state ${stateName} uses ${shown(state['Resource'])}; the local Step Functions only runs ${lambdaInvokeResource}`,
      );
    }
    handlers[stateName] = async (parameters) => {
      const { FunctionName: functionName, Payload: payload = null } = parameters as JsonObject;
      if (typeof functionName !== 'string') {
        throw new TaskFailure('States.Runtime', `${stateName}: Parameters.FunctionName is not a string`);
      }
      try {
        const result = await invokeLambda(functionName, payload);
        // The lambda:invoke integration's result; ResultSelector usually picks `$.Payload`.
        return { ExecutedVersion: '$LATEST', Payload: (result ?? null) as Json, StatusCode: 200 };
      } catch (error) {
        throw taskFailureFor(error);
      }
    };
  }
  return handlers;
}

/** What aws-local-stepfunctions reads from a failed task: `name` is the Error, `message` the Cause. */
class TaskFailure extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}

function taskFailureFor(error: unknown): TaskFailure {
  if (error instanceof LambdaServiceError) return new TaskFailure(error.name, error.message);
  const errorType = error instanceof Error && error.name !== '' ? error.name : 'Error';
  const errorMessage = error instanceof Error ? error.message : String(error);
  const trace =
    error instanceof LambdaFunctionError ? error.trace : (error as Error | undefined)?.stack?.split('\n');
  return new TaskFailure(errorType, JSON.stringify({ errorType, errorMessage, trace }));
}

function executionFailure(failure: unknown): Pick<ExecutionSnapshot, 'status' | 'error' | 'cause'> {
  if (failure instanceof ExecutionAbortedError) return { status: 'ABORTED' };
  if (failure instanceof ExecutionTimeoutError) {
    return { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution timed out.' };
  }
  // ExecutionError wraps the state's error; the library's own event log reads it the same way.
  const stateError =
    failure instanceof ExecutionError && failure.cause instanceof Error ? failure.cause : failure;
  if (!(stateError instanceof Error))
    return { status: 'FAILED', error: 'States.Runtime', cause: String(stateError) };
  const cause: unknown = stateError.cause ?? stateError.message;
  return {
    status: 'FAILED',
    error: stateError.name,
    cause: typeof cause === 'string' ? cause : JSON.stringify(cause),
  };
}

/** States of one type, nested Parallel branches and Map processors included (overrides are keyed by state name). */
function collectStates(definition: object, type: string): Array<[string, JsonObject]> {
  const states = (definition as { States?: Record<string, JsonObject> }).States ?? {};
  return Object.entries(states).flatMap(([name, state]): Array<[string, JsonObject]> => {
    const nestedMachines = [
      ...(Array.isArray(state['Branches']) ? state['Branches'] : []),
      state['Iterator'],
      state['ItemProcessor'],
    ].filter((machine): machine is JsonObject => typeof machine === 'object' && machine !== null);
    const nested = nestedMachines.flatMap((machine) => collectStates(machine, type));
    return state['Type'] === type ? [[name, state], ...nested] : nested;
  });
}

async function handleApiRequest(
  request: IncomingMessage,
  response: ServerResponse,
  operations: Record<string, (request: JsonObject) => JsonObject>,
): Promise<void> {
  const body = await readBody(request);
  try {
    const target = request.headers['x-amz-target'];
    const operationName = typeof target === 'string' ? target.replace(/^AWSStepFunctions\./, '') : '';
    const operation = Object.hasOwn(operations, operationName) ? operations[operationName] : undefined;
    if (request.method !== 'POST' || operation === undefined) {
      throw new StepFunctionsApiError(
        'UnknownOperationException',
        `Unsupported operation: ${String(target)}`,
      );
    }
    sendJson(response, 200, operation(parseRequestBody(body)));
  } catch (error) {
    if (!(error instanceof StepFunctionsApiError)) throw error;
    sendJson(response, 400, { __type: error.type, message: error.message });
  }
}

function parseRequestBody(body: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = body === '' ? {} : JSON.parse(body);
  } catch {
    throw new StepFunctionsApiError('SerializationException', 'The request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new StepFunctionsApiError('SerializationException', 'The request body is not a JSON object');
  }
  return parsed as JsonObject;
}

/** Returns the input as the caller sent it (idempotency compares that text) and parsed. */
function parseExecutionInput(requestedInput: Json | undefined): { inputJson: string; input: Json } {
  // Like AWS, an omitted input is an empty object.
  const inputJson = requestedInput ?? '{}';
  try {
    if (typeof inputJson === 'string') return { inputJson, input: JSON.parse(inputJson) as Json };
  } catch {
    // Reported below, like any input that is not a JSON text.
  }
  throw new StepFunctionsApiError(
    'InvalidExecutionInput',
    'Invalid State Machine Execution Input: input is not JSON',
  );
}

function executionListItem(execution: Execution): JsonObject {
  return withoutUndefined({
    executionArn: execution.executionArn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: epochSeconds(execution.startDate),
    stopDate: execution.stopDate === undefined ? undefined : epochSeconds(execution.stopDate),
  });
}

/** The AWS JSON protocols send timestamps as epoch seconds. */
function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function withoutUndefined(record: Record<string, Json | undefined>): JsonObject {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as JsonObject;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function sendJson(response: ServerResponse, statusCode: number, body: unknown): void {
  response.writeHead(statusCode, {
    'content-type': 'application/x-amz-json-1.0',
    'x-amzn-requestid': randomUUID(),
  });
  response.end(JSON.stringify(body));
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * Invokes functions through serverless-offline's Lambda Invoke API (RequestResponse).
 *
 * serverless-offline 14 answers a handler error with status 200, `X-Amz-Function-Error: Unhandled`
 * and `{errorType: "Error", errorMessage, trace}`: the errorType is always "Error" (and the worker
 * thread loses the error's `name` anyway), so the real type is read back from the first line of the
 * trace, `ContactNotVisibleError: message`. Without that, `Retry` on a named error never matches.
 */
export function invokeLambdaOverHttp(
  lambdaEndpoint: string,
  options: {
    /** serverless-offline's Lambda endpoint on a Unix socket (the local stack's): `lambdaEndpoint` gives only the path prefix. */
    socketPath?: string;
    /** Bounds the invocations in flight (each one is a handler instance in serverless-offline). */
    limiter?: { run<T>(task: () => Promise<T>): Promise<T> };
  } = {},
): InvokeLambda {
  const baseUrl = lambdaEndpoint.replace(/\/+$/, '');
  const post = options.socketPath === undefined ? postOverTcp : postOverSocket(options.socketPath);
  const invoke: InvokeLambda = async (functionName, payload) => {
    const url = `${baseUrl}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
    let response: PostedReply;
    try {
      response = await post(url, JSON.stringify(payload ?? null));
    } catch (error) {
      throw new LambdaServiceError('SdkClientException', `Could not reach ${url}: ${describe(error)}`);
    }
    const { body } = response;

    if (response.status < 200 || response.status > 299) {
      const exception = response.header('x-amzn-errortype') ?? 'ServiceException';
      throw new LambdaServiceError(exception, `${functionName}: HTTP ${response.status} ${body}`);
    }
    let result: unknown;
    try {
      result = body === '' ? null : JSON.parse(body);
    } catch {
      throw new LambdaServiceError(
        'ServiceException',
        `${functionName} returned a payload that is not JSON: ${body}`,
      );
    }
    if (response.header('x-amz-function-error') !== undefined) throw lambdaFunctionErrorFrom(result);
    return result;
  };
  const { limiter } = options;
  return limiter ? (functionName, payload) => limiter.run(() => invoke(functionName, payload)) : invoke;
}

interface PostedReply {
  status: number;
  header(name: string): string | undefined;
  body: string;
}

const INVOKE_HEADERS = { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' };

async function postOverTcp(url: string, body: string): Promise<PostedReply> {
  const response = await fetch(url, { method: 'POST', headers: INVOKE_HEADERS, body });
  return {
    status: response.status,
    header: (name) => response.headers.get(name) ?? undefined,
    body: await response.text(),
  };
}

function postOverSocket(socketPath: string) {
  return (url: string, body: string): Promise<PostedReply> =>
    new Promise((resolve, reject) => {
      const { pathname, search } = new URL(url, 'http://localhost');
      const sent = httpRequest(
        { socketPath, method: 'POST', path: `${pathname}${search}`, headers: INVOKE_HEADERS },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            resolve({
              status: response.statusCode ?? 0,
              header: (name) => {
                const value = response.headers[name.toLowerCase()];
                return Array.isArray(value) ? value[0] : value;
              },
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      sent.on('error', reject);
      sent.end(body);
    });
}

function lambdaFunctionErrorFrom(errorPayload: unknown): LambdaFunctionError {
  const { errorType, errorMessage, trace } = (errorPayload ?? {}) as {
    errorType?: unknown;
    errorMessage?: unknown;
    trace?: unknown;
  };
  const traceLines = Array.isArray(trace) ? trace.map(String) : undefined;
  const message = typeof errorMessage === 'string' ? errorMessage : JSON.stringify(errorPayload);
  const reportedType = typeof errorType === 'string' && errorType !== '' ? errorType : 'Error';
  const typeInTrace = /^([A-Za-z_$][\w$.]*)(?::|$)/.exec(traceLines?.[0] ?? '')?.[1];
  return new LambdaFunctionError(
    reportedType === 'Error' && typeInTrace !== undefined ? typeInTrace : reportedType,
    message,
    traceLines,
  );
}
