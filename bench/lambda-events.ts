import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import {
  httpEvent,
  lambdaContext as localLambdaContext,
  toHttpReply,
  type HttpReply,
} from '../local/lambda-events';
import { signedWebhookHeaders } from '../lib/webhook-signature';

/** The handlers as the Lambda runtime calls them. */
export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
export type TaskHandler = (input: unknown, context: Context) => Promise<unknown>;

/** A Lambda context whose deadline is `timeoutSeconds` from now, as serverless.yml sets it. */
export function lambdaContext(functionName: string, timeoutSeconds: number, memoryMb: number): Context {
  return localLambdaContext(functionName, { remainingMs: timeoutSeconds * 1000, memoryMb });
}

export const WEBHOOK_PATH = '/webhooks/enrichment-completed';

/** A webhook delivery signed the way senders sign it (Standard Webhooks v1). */
export interface Delivery {
  id: string;
  body: string;
}

/** Signs a delivery now: a sender's retry re-signs the same message id with a fresh timestamp. */
export function signedWebhookEvent(secret: string, delivery: Delivery): APIGatewayProxyEventV2 {
  return httpEvent('POST', WEBHOOK_PATH, delivery.body, {
    'content-type': 'application/json',
    ...signedWebhookHeaders(delivery.body, secret, { id: delivery.id }),
  });
}

/** The `whsec_` secret the bench configures the service with. Not a real secret. */
export const BENCH_WEBHOOK_SECRET = `whsec_${Buffer.from('bench webhook secret, not a real one').toString('base64')}`;

export type Reply = HttpReply<
  { results?: Array<{ key: string; status: string; contact_id: string | null }> } & Record<string, unknown>
>;

export function toReply(result: APIGatewayProxyStructuredResultV2): Reply {
  return toHttpReply<Reply['body']>(result, {});
}
