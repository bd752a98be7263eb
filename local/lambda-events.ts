import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

/**
 * The events and context the Lambda runtime hands the handlers, for calling them in-process: the
 * test harness and the benchmarks run the real handlers this way.
 */

/** A Lambda context whose deadline is `remainingMs` from now. */
export function lambdaContext(
  functionName: string,
  { remainingMs = 25_000, memoryMb = 256 }: { remainingMs?: number; memoryMb?: number } = {},
): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** An API Gateway HTTP API (payload 2.0) request event. */
export function httpEvent(
  method: string,
  path: string,
  body: string,
  headers: Record<string, string>,
  pathParameters?: Record<string, string>,
): APIGatewayProxyEventV2 {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers,
    pathParameters,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'local' },
      requestId: randomUUID(),
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
  };
}

/** A handler's answer with lower-cased headers and the JSON body parsed. */
export interface HttpReply<Body = unknown> {
  status: number;
  headers: Record<string, string>;
  body: Body;
}

export function toHttpReply<Body>(result: APIGatewayProxyStructuredResultV2, empty: Body): HttpReply<Body> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  return {
    status: result.statusCode ?? 200,
    headers,
    body: result.body ? (JSON.parse(result.body) as Body) : empty,
  };
}
