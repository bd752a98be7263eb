import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A minimal Step Functions endpoint that answers StartExecution (AWS JSON 1.0) and nothing else.
 * Used where the bench measures the conversion itself: the real local state machine would run
 * every verification in the measuring process and blur what is timed.
 */
export interface StartExecutionStub {
  url: string;
  stateMachineArn: string;
  started(): number;
  close(): Promise<void>;
}

export const STUB_STATE_MACHINE_ARN =
  'arn:aws:states:us-east-1:000000000000:stateMachine:apollo-contact-converter-bench-verification';

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startStartExecutionStub(): Promise<StartExecutionStub> {
  let started = 0;
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const target = String(request.headers['x-amz-target'] ?? '');
      const reply = (status: number, payload: unknown) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        response.end(JSON.stringify(payload));
      };
      if (target !== 'AWSStepFunctions.StartExecution') {
        reply(400, { __type: 'UnknownOperationException', message: `unsupported: ${target}` });
        return;
      }
      const { name } = JSON.parse(body) as { name: string };
      started += 1;
      reply(200, {
        executionArn: `${STUB_STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`,
        startDate: Date.now() / 1000,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stateMachineArn: STUB_STATE_MACHINE_ARN,
    started: () => started,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
