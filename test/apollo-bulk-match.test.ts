/**
 * The Apollo client's `matchPeople` (`POST /people/bulk_match`), which the batch verification
 * calls: against the local sandbox, and held to Apollo's OpenAPI document for what it sends.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApolloHttpClient } from '../lib/apollo/http-client';
import { ApolloUnavailableError } from '../lib/errors';
import type { MatchIdentity } from '../lib/person';
import { startApolloSandbox, type ApolloSandbox } from '../local/apollo-sandbox';
import { openApi } from './support/apollo-openapi';

interface SentRequest {
  url: string;
  body: unknown;
}

/** What the document lists for one entry of `details[]`. */
function documentedDetailFields(): string[] {
  const operation = (
    openApi.paths['/people/bulk_match'] as Record<
      string,
      { requestBody?: { content: Record<string, { schema?: unknown }> } }
    >
  )['post'];
  const schema = operation?.requestBody?.content['application/json']?.schema as {
    properties: { details: { items: { properties: Record<string, unknown> } } };
  };
  return Object.keys(schema.properties.details.items.properties);
}

describe('Class: ApolloHttpClient, matchPeople', () => {
  let sandbox: ApolloSandbox;
  let sent: SentRequest[];
  let client: ApolloHttpClient;
  const call = () => ({ deadline: Date.now() + 10_000 });

  beforeAll(async () => {
    sandbox = await startApolloSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
    sent = [];
    client = new ApolloHttpClient({
      baseUrl: sandbox.url,
      apiKey: () => Promise.resolve(sandbox.apiKey),
      timeoutMs: 2000,
      maxRetryWaitSeconds: 0,
      fetch: (url, init) => {
        // The client sends a string URL and a JSON string body.
        sent.push({ url: url as string, body: JSON.parse(init?.body as string) });
        return fetch(url, init);
      },
    });
  });

  it('answers one entry per identity in the order sent, null for nobody, in one request', async () => {
    // Prepare
    const ada = sandbox.addContact({
      first_name: 'Ada',
      last_name: 'Quill',
      email: 'ada.quill@inkwell.example',
      organization_name: 'Inkwell Press',
    });
    const bo = sandbox.addContact({ first_name: 'Bo', last_name: 'Fern', organization_name: 'Fernworks' });
    const identities: MatchIdentity[] = [
      { first_name: 'Bo', last_name: 'Fern', organization_name: 'Fernworks' },
      { email: 'nobody@inkwell.example' },
      { email: 'ada.quill@inkwell.example' },
    ];

    // Act
    const matches = await client.matchPeople(identities, call());

    // Assess
    expect(matches.map((match) => match?.contact_id ?? match?.contact?.id ?? null)).toEqual([
      bo.id,
      null,
      ada.id,
    ]);
    expect(matches[2]).toMatchObject({ email: 'ada.quill@inkwell.example' });
    expect(sandbox.countRequests('POST', '/people/bulk_match')).toBe(1);
    expect(sandbox.countRequests('POST', '/people/match')).toBe(0);
    expect(sandbox.creditsConsumed()).toBe(0);
  });

  it('sends only `details[]` with documented fields, and no reveal or waterfall flag', async () => {
    // Prepare
    const documented = documentedDetailFields();

    // Act
    await client.matchPeople(
      [
        { email: 'ada.quill@inkwell.example' },
        { first_name: 'Bo', last_name: 'Fern', organization_name: 'Fernworks', domain: 'fernworks.example' },
      ],
      call(),
    );

    // Assess
    const [request] = sent;
    expect(sent).toHaveLength(1);
    expect(new URL(request?.url ?? '').search).toBe('');
    expect(Object.keys(request?.body as object)).toEqual(['details']);
    const details = (request?.body as { details: Array<Record<string, unknown>> }).details;
    expect(details).toHaveLength(2);
    for (const detail of details) {
      expect(documented).toEqual(expect.arrayContaining(Object.keys(detail)));
    }
    expect(JSON.stringify(request?.body)).not.toMatch(/reveal|waterfall|webhook/);
  });

  it('sends nothing for no identities, and refuses more than 10 before sending', async () => {
    // Act
    const none = await client.matchPeople([], call());
    const tooMany = await client
      .matchPeople(
        Array.from({ length: 11 }, (_, index) => ({ email: `p${index}@inkwell.example` })),
        call(),
      )
      .catch((error: unknown) => error);

    // Assess
    expect(none).toEqual([]);
    expect(tooMany).toBeInstanceOf(RangeError);
    expect(sent).toEqual([]);
  });

  it('treats a reply without one entry per identity as Apollo failing, never as "not found"', async () => {
    // Prepare
    sandbox.inject({
      method: 'POST',
      path: '/people/bulk_match',
      status: 200,
      body: { matches: [null] },
      times: 5,
    });

    // Act
    const failure = await client
      .matchPeople([{ email: 'a@inkwell.example' }, { email: 'b@inkwell.example' }], call())
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(ApolloUnavailableError);
    expect((failure as Error).message).toBe('POST /people/bulk_match: 1 matches for 2 people');
  });
});
