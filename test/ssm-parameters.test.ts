import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../lib/config';
import { cachedParameterReader, parametersExtensionReader } from '../lib/ssm-parameters';
import { startParametersExtension, type FakeParametersExtension } from './support/parameters-extension';

const base = { LEDGER_TABLE: 'ledger-test' };
const SESSION_TOKEN = 'session-token-of-this-invocation';

describe('Function: parametersExtensionReader (SSM through the Parameters and Secrets extension)', () => {
  let extension: FakeParametersExtension;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    extension = await startParametersExtension(SESSION_TOKEN);
    extension.put('/converter/test/api-key', 'api-key-value');
    extension.put('/converter/test/with spaces&symbols', 'odd-name-value');
  });
  afterAll(() => extension.close());
  afterEach(() => {
    extension.requests.length = 0;
  });
  const envWith = (overrides: Record<string, string | undefined> = {}) => {
    env = {
      AWS_SESSION_TOKEN: SESSION_TOKEN,
      PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(extension.port),
      ...overrides,
    };
    return env;
  };

  it('reads the decrypted value with the session token, as AWS documents the endpoint', async () => {
    // Act
    const value = await parametersExtensionReader(envWith())('/converter/test/api-key');

    // Assess
    expect(value).toBe('api-key-value');
    expect(extension.requests).toEqual([
      {
        url: '/systemsmanager/parameters/get?name=%2Fconverter%2Ftest%2Fapi-key&withDecryption=true',
        token: SESSION_TOKEN,
      },
    ]);
  });

  it('encodes the name, so no character of it can change the query', async () => {
    // Act
    const value = await parametersExtensionReader(envWith())('/converter/test/with spaces&symbols');

    // Assess
    expect(value).toBe('odd-name-value');
  });

  it('reads the session token at each call (the runtime sets it), not when built', async () => {
    // Prepare
    const reader = parametersExtensionReader(envWith({ AWS_SESSION_TOKEN: undefined }));
    env.AWS_SESSION_TOKEN = SESSION_TOKEN;

    // Act & Assess
    await expect(reader('/converter/test/api-key')).resolves.toBe('api-key-value');
  });

  it('refuses without a session token, saying where secrets come from outside Lambda', async () => {
    // Act & Assess
    await expect(
      parametersExtensionReader(envWith({ AWS_SESSION_TOKEN: undefined }))('/converter/test/api-key'),
    ).rejects.toThrow(/AWS_SESSION_TOKEN is not set.*runs only on Lambda \(locally, set the secret itself\)/);
    expect(extension.requests).toEqual([]);
  });

  it("fails with the extension's status and error text for a parameter SSM does not hold", async () => {
    // Act & Assess
    await expect(parametersExtensionReader(envWith())('/converter/test/missing')).rejects.toThrow(
      'the Parameters and Secrets extension answered 400: ParameterNotFound: /converter/test/missing',
    );
  });

  it('fails when the extension refuses the token', async () => {
    // Act & Assess
    await expect(
      parametersExtensionReader(envWith({ AWS_SESSION_TOKEN: 'another-token' }))('/converter/test/api-key'),
    ).rejects.toThrow('the Parameters and Secrets extension answered 400: missing or invalid');
  });

  it('fails when nothing listens on the port (no extension layer)', async () => {
    // Prepare: a port that was just free
    const gone = await startParametersExtension(SESSION_TOKEN);
    await gone.close();

    // Act & Assess
    await expect(
      parametersExtensionReader(envWith({ PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(gone.port) }))(
        '/converter/test/api-key',
      ),
    ).rejects.toThrow('fetch failed');
  });

  it('fails when the answer holds no value', async () => {
    // Prepare
    const answer = async () => Promise.resolve(new Response(JSON.stringify({ Parameter: { Name: '/p' } })));

    // Act & Assess
    await expect(parametersExtensionReader(envWith(), answer)('/p')).rejects.toThrow(
      'the Parameters and Secrets extension answered no value',
    );
  });
});

describe('Function: cachedParameterReader', () => {
  it('reads each name once while its value is fresh, and again once it is not', async () => {
    // Prepare
    let nowMs = 1_000_000;
    const read = vi.fn((name: string) => Promise.resolve(`value of ${name}`));
    const cached = cachedParameterReader(read, 300_000, () => nowMs);

    // Act
    const first = await cached('/a');
    nowMs += 299_999;
    const fresh = await cached('/a');
    const other = await cached('/b');
    nowMs += 1;
    const reread = await cached('/a');

    // Assess
    expect([first, fresh, other, reread]).toEqual([
      'value of /a',
      'value of /a',
      'value of /b',
      'value of /a',
    ]);
    expect(read.mock.calls).toEqual([['/a'], ['/b'], ['/a']]);
  });

  it('makes one read for concurrent first calls', async () => {
    // Prepare
    const read = vi.fn((name: string) => Promise.resolve(`value of ${name}`));
    const cached = cachedParameterReader(read, 300_000);

    // Act
    const values = await Promise.all([cached('/a'), cached('/a'), cached('/a')]);

    // Assess
    expect(values).toEqual(['value of /a', 'value of /a', 'value of /a']);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('keeps no failure: the next call reads again', async () => {
    // Prepare
    const read = vi
      .fn<(name: string) => Promise<string>>()
      .mockRejectedValueOnce(new Error('the Parameters and Secrets extension answered 500: throttled'))
      .mockResolvedValue('value');
    const cached = cachedParameterReader(read, 300_000);

    // Act & Assess
    await expect(cached('/a')).rejects.toThrow('answered 500: throttled');
    await expect(cached('/a')).resolves.toBe('value');
    expect(read).toHaveBeenCalledTimes(2);
  });
});

describe('Function: loadConfig, secrets named by <NAME>_PARAMETER', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('reads them through the extension on Lambda, once per container while fresh', async () => {
    // Prepare: the environment Lambda gives a function with the extension layer
    const extension = await startParametersExtension(SESSION_TOKEN);
    try {
      extension.put('/converter/test/webhook-secret', 'webhook-secret-value');
      vi.stubEnv('AWS_SESSION_TOKEN', SESSION_TOKEN);
      vi.stubEnv('PARAMETERS_SECRETS_EXTENSION_HTTP_PORT', String(extension.port));
      const config = loadConfig({ ...base, WEBHOOK_SECRET_PARAMETER: '/converter/test/webhook-secret' });

      // Act
      const first = await config.secret('WEBHOOK_SECRET');
      const second = await config.secret('WEBHOOK_SECRET');

      // Assess
      expect([first, second]).toEqual(['webhook-secret-value', 'webhook-secret-value']);
      expect(extension.requests).toHaveLength(1);
    } finally {
      await extension.close();
    }
  });

  it('prefers a value to the parameter, without reading SSM', async () => {
    // Prepare
    const readParameter = vi.fn(() => Promise.resolve('from-ssm'));
    const config = loadConfig({ ...base, API_KEY: 'value', API_KEY_PARAMETER: '/p' }, readParameter);

    // Act & Assess
    await expect(config.secret('API_KEY')).resolves.toBe('value');
    expect(readParameter).not.toHaveBeenCalled();
  });

  it('names the parameter when it cannot be read or is empty', async () => {
    // Prepare
    const failing = loadConfig({ ...base, API_KEY_PARAMETER: '/p' }, () =>
      Promise.reject(new Error('the Parameters and Secrets extension answered 400: AccessDenied')),
    );
    const empty = loadConfig({ ...base, API_KEY_PARAMETER: '/p' }, () => Promise.resolve(''));

    // Act & Assess
    await expect(failing.secret('API_KEY')).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: 'cannot read SSM parameter /p for API_KEY',
    });
    await expect(empty.secret('API_KEY')).rejects.toThrow('SSM parameter /p for API_KEY is empty');
  });

  it('names both variables when neither is set', async () => {
    // Act & Assess
    await expect(loadConfig(base).secret('APOLLO_API_KEY')).rejects.toThrow(
      'APOLLO_API_KEY or APOLLO_API_KEY_PARAMETER must be set',
    );
  });
});
