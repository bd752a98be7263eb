/**
 * Reading SSM SecureString parameters without an AWS SDK client in the bundle.
 *
 * On Lambda every function carries the AWS Parameters and Secrets Lambda Extension (a layer, see
 * serverless.yml): a companion process that answers `GET /systemsmanager/parameters/get` on
 * localhost with GetParameter's own JSON, signed with the function's role. Reading through it
 * keeps `@aws-sdk/client-ssm` (about 220 KB minified) out of every bundle, which is most of what a
 * function used to load beyond its floor (BENCHMARKS.md, part 1). The extension answers only while
 * an invocation runs, never at module load: secrets are read on first use, as before.
 */

type Env = Record<string, string | undefined>;

/** Reads one parameter's value (decrypted). Throws when it cannot be read. */
export type ParameterReader = (name: string) => Promise<string>;

/** The extension's port unless `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` moves it (it reads the same variable). */
const EXTENSION_DEFAULT_PORT = '2773';

/** A read that takes longer fails (the extension's own call to SSM is bounded in serverless.yml). */
const EXTENSION_TIMEOUT_MS = 5000;

/** What the extension answers: GetParameter's output, of which only the value is read. */
interface GetParameterOutput {
  Parameter?: { Value?: unknown };
}

/**
 * Reads parameters through the extension's local HTTP endpoint, as AWS documents it: the
 * function's session token in `X-Aws-Parameters-Secrets-Token` proves the request comes from
 * inside the execution environment. `env` is read at each call: the runtime sets the token in
 * `AWS_SESSION_TOKEN` (AWS suggests the SDK's credential chain only for SnapStart, not used here).
 */
export function parametersExtensionReader(env: Env, fetchFrom: typeof fetch = fetch): ParameterReader {
  return async (name) => {
    const token = env.AWS_SESSION_TOKEN;
    if (!token) {
      throw new Error(
        'AWS_SESSION_TOKEN is not set: SSM parameters are read through the AWS Parameters and Secrets ' +
          'Lambda Extension, which runs only on Lambda (locally, set the secret itself)',
      );
    }
    const port = env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? EXTENSION_DEFAULT_PORT;
    const url =
      `http://localhost:${port}/systemsmanager/parameters/get` +
      `?name=${encodeURIComponent(name)}&withDecryption=true`;
    const response = await fetchFrom(url, {
      headers: { 'X-Aws-Parameters-Secrets-Token': token },
      signal: AbortSignal.timeout(EXTENSION_TIMEOUT_MS),
    });
    const body = await response.text();
    if (!response.ok) {
      // The extension's error text (SSM's error code and message), never a value.
      throw new Error(
        `the Parameters and Secrets extension answered ${response.status}: ${body.slice(0, 300)}`,
      );
    }
    const value = (JSON.parse(body) as GetParameterOutput).Parameter?.Value;
    if (typeof value !== 'string') throw new Error('the Parameters and Secrets extension answered no value');
    return value;
  };
}

/**
 * Keeps each parameter's value for `maxAgeMs` in this container, so an invocation reads its
 * secrets from memory. The pending read is what is kept, so concurrent first reads make one
 * request; a read that fails is not kept, and the next call tries again.
 */
export function cachedParameterReader(
  read: ParameterReader,
  maxAgeMs: number,
  nowMs: () => number = Date.now,
): ParameterReader {
  const cache = new Map<string, { value: Promise<string>; expiresAtMs: number }>();
  return (name) => {
    const cached = cache.get(name);
    if (cached !== undefined && cached.expiresAtMs > nowMs()) return cached.value;
    const value = read(name);
    cache.set(name, { value, expiresAtMs: nowMs() + maxAgeMs });
    value.catch(() => {
      if (cache.get(name)?.value === value) cache.delete(name);
    });
    return value;
  };
}
