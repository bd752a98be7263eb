import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createRequestHandler } from 'local-aws-sqs';
import { LOCAL_AWS_CREDENTIALS } from './dynamodb';

/**
 * An SQS-compatible server in this process (local-aws-sqs): the JSON protocol of the current
 * client-sqs, receipt handles, batch deletes of exactly the given handles, visibility timeouts that
 * expire, redrive to a dead-letter queue after `maxReceiveCount` receives, long polling.
 */
export interface LocalSqs {
  /** Endpoint for `new SQSClient({ endpoint })`. */
  endpoint: string;
  /** A client of this server, with the local credentials. */
  client: SQSClient;
  region: string;
  queueUrl(queueName: string): string;
  queueArn(queueName: string): string;
  close(): Promise<void>;
}

/** A queue as CreateQueue takes it; queues named in a RedrivePolicy must come first. */
export interface LocalQueueDefinition {
  QueueName: string;
  Attributes?: Record<string, string>;
}

/** The account id in local queue URLs and ARNs, as in the local state machine ARNs. */
export const LOCAL_ACCOUNT_ID = '000000000000';
const LOCAL_REGION = 'us-east-1';

/** A local queue's ARN, as the server spells it (a RedrivePolicy names its DLQ by ARN). */
export function localQueueArn(queueName: string): string {
  return `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${queueName}`;
}

export async function startLocalSqs(
  options: { host?: string; port?: number; queues?: LocalQueueDefinition[] } = {},
): Promise<LocalSqs> {
  const host = options.host ?? '127.0.0.1';
  const { service, requestHandler } = createRequestHandler({
    port: options.port ?? 0,
    hostname: host,
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    // AWS makes a deleted queue's name wait 60 s; tests recreate queues freely.
    emulateQueueCreationLifecycle: false,
    queues: options.queues ?? [],
  });
  const server = createServer((request, response) => {
    requestHandler(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        response.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
        response.end(JSON.stringify({ __type: 'InternalFailure', message: String(error) }));
      } else {
        response.destroy();
      }
    });
  });
  // createSqsServer would hang forever on a port in use: listen here, where an error rejects.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  // Queue URLs are built from the service's port: the real one once listening (0 asks the OS).
  service.PORT = port;
  const endpoint = `http://${host}:${port}`;
  const client = new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_AWS_CREDENTIALS });
  return {
    endpoint,
    client,
    region: LOCAL_REGION,
    queueUrl: (queueName) => `${endpoint}/${LOCAL_ACCOUNT_ID}/${queueName}`,
    queueArn: localQueueArn,
    close: async () => {
      client.destroy();
      // Drops the messages and their visibility timers; long polls in flight end with the sockets.
      service.resetAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
