import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';

/** The handlers as the Lambda runtime calls them. */
export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
export type TaskHandler = (input: unknown, context: Context) => Promise<unknown>;

/** A Lambda context whose deadline is `timeoutSeconds` from now, as serverless.yml sets it. */
export function lambdaContext(functionName: string, timeoutSeconds: number, memoryMb: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** An API Gateway HTTP API (payload 2.0) request event. */
export function httpEvent(
  path: string,
  body: string,
  headers: Record<string, string>,
): APIGatewayProxyEventV2 {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: `POST ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'bench',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: randomUUID(),
      routeKey: `POST ${path}`,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
  };
}

export const WEBHOOK_PATH = '/webhooks/enrichment-completed';

/** A webhook delivery signed the way senders sign it (Standard Webhooks v1). */
export interface Delivery {
  id: string;
  body: string;
}

/** Signs a delivery now: a sender's retry re-signs the same message id with a fresh timestamp. */
export function signedWebhookEvent(secret: string, delivery: Delivery): APIGatewayProxyEventV2 {
  const now = new Date();
  return httpEvent(WEBHOOK_PATH, delivery.body, {
    'content-type': 'application/json',
    'webhook-id': delivery.id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(delivery.id, now, delivery.body),
  });
}

/** The `whsec_` secret the bench configures the service with. Not a real secret. */
export const BENCH_WEBHOOK_SECRET = `whsec_${Buffer.from('bench webhook secret, not a real one').toString('base64')}`;

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: { results?: Array<{ key: string; status: string; contact_id: string | null }> } & Record<
    string,
    unknown
  >;
}

export function toReply(result: APIGatewayProxyStructuredResultV2): Reply {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  return {
    status: result.statusCode ?? 200,
    headers,
    body: result.body ? (JSON.parse(result.body) as Reply['body']) : {},
  };
}
