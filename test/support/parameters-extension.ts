import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The AWS Parameters and Secrets Lambda Extension's local HTTP endpoint, as AWS documents it:
 * `GET /systemsmanager/parameters/get?name=<name>&withDecryption=true` with the function's session
 * token in `X-Aws-Parameters-Secrets-Token` answers GetParameter's JSON output; a request without
 * the token, or for a parameter SSM does not hold, is refused with an error text. Listens on
 * 127.0.0.1 (which `localhost` names here, as on Lambda) on a port of its own, which the reader
 * finds through `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`, as on Lambda.
 */
export interface FakeParametersExtension {
  port: number;
  sessionToken: string;
  /** Every request, as received: path and query, and the token header. */
  requests: Array<{ url: string; token: string | undefined }>;
  /** Puts a SecureString parameter in the fake Parameter Store. */
  put(name: string, value: string): void;
  close(): Promise<void>;
}

export async function startParametersExtension(sessionToken: string): Promise<FakeParametersExtension> {
  const parameters = new Map<string, string>();
  const requests: FakeParametersExtension['requests'] = [];
  const server: Server = createServer((request, response) => {
    const token = request.headers['x-aws-parameters-secrets-token'];
    requests.push({ url: request.url ?? '', token: typeof token === 'string' ? token : undefined });
    const url = new URL(request.url ?? '/', 'http://localhost');
    const name = url.searchParams.get('name') ?? '';
    if (token !== sessionToken) {
      response.writeHead(400).end('missing or invalid X-Aws-Parameters-Secrets-Token header');
    } else if (request.method !== 'GET' || url.pathname !== '/systemsmanager/parameters/get') {
      response.writeHead(404).end('not found');
    } else if (!parameters.has(name)) {
      response.writeHead(400).end(`ParameterNotFound: ${name}`);
    } else {
      const value = parameters.get(name) as string;
      const decrypted = url.searchParams.get('withDecryption') === 'true';
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          Parameter: {
            Name: name,
            Type: 'SecureString',
            // Without decryption SSM returns the ciphertext: a test that forgets the flag sees it.
            Value: decrypted ? value : `ciphertext-of-${name}`,
            Version: 1,
            ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${name}`,
            DataType: 'text',
          },
          ResultMetadata: {},
        }),
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sessionToken,
    requests,
    put: (name, value) => parameters.set(name, value),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
