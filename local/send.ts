import { readFileSync } from 'node:fs';
import { requestAs, type SenderKind, type SenderSecrets } from './senders';
import { LOCAL_DEFAULTS, localPorts } from './stack';

/**
 * `npm run send -- [--as KIND] FILE`: sends FILE's JSON to the local API the way KIND sends it,
 * signed with the secrets from the environment or the local defaults, and prints the answer.
 *
 * KIND is `standard` (the default: Standard Webhooks, `webhook-*` headers), `svix` (the same
 * signed by the svix package under `svix-*` headers), `hubspot` (a workflow webhook with signature
 * v3), `hubspot-api-key` (the same with the API key), `salesforce` (an Outbound Message, FILE.xml,
 * to the path with the endpoint secret), `pipedrive` (Basic credentials), or `custom:SOURCE` (a
 * custom source's secret header or HMAC, from CUSTOM_SOURCES). Without `--as`, an `.xml` file goes
 * to the Salesforce door and a body with Pipedrive's `meta` to the Pipedrive door. FILE may also be
 * an API Gateway event from events/: its body is sent.
 */
export interface SentWebhook {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export function webhookBody(file: string): string {
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.xml')) return text;
  const parsed = JSON.parse(text) as { requestContext?: unknown; body?: unknown };
  if (parsed.requestContext !== undefined && typeof parsed.body === 'string') return parsed.body;
  return JSON.stringify(parsed);
}

/** The secrets senders sign with: the environment's (as the stack reads them), else the local defaults. */
export function senderSecrets(env: NodeJS.ProcessEnv = process.env): SenderSecrets {
  const given = (name: keyof typeof LOCAL_DEFAULTS) => env[name]?.trim() || LOCAL_DEFAULTS[name];
  return {
    webhookSecret: given('WEBHOOK_SECRET'),
    hubspotClientSecret: given('HUBSPOT_CLIENT_SECRET'),
    hubspotApiKey: given('HUBSPOT_API_KEY'),
    hubspotApiKeyIn: env.HUBSPOT_API_KEY_IN?.trim() === 'query' ? 'query' : 'header',
    hubspotApiKeyName: env.HUBSPOT_API_KEY_NAME?.trim() || 'x-hubspot-key',
    customSources: given('CUSTOM_SOURCES'),
    salesforceEndpointSecret: given('SALESFORCE_ENDPOINT_SECRET'),
    pipedriveBasicAuth: given('PIPEDRIVE_BASIC_AUTH'),
  };
}

/** Sends `rawBody` as `kind` would to the API at `baseUrl` (the local stack's by default). */
export async function sendAs(
  kind: SenderKind,
  rawBody: string,
  options: { baseUrl?: string; secrets?: Partial<SenderSecrets>; id?: string } = {},
): Promise<SentWebhook> {
  const baseUrl = options.baseUrl ?? `http://127.0.0.1:${localPorts().http}`;
  const secrets = { ...senderSecrets(), ...options.secrets };
  const { path, headers } = requestAs(kind, rawBody, baseUrl, secrets, { id: options.id });
  const response = await fetch(`${baseUrl}${path}`, { method: 'POST', headers, body: rawBody });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: print as it came.
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body };
}

/** The Standard Webhooks delivery of `rawBody` (as `npm run send -- FILE`, the demo and the stack test send it). */
export async function sendWebhook(
  rawBody: string,
  options: { url?: string; secret?: string; id?: string } = {},
): Promise<SentWebhook> {
  const baseUrl = options.url?.replace(/\/webhooks\/enrichment-completed$/, '');
  return sendAs('standard', rawBody, {
    baseUrl,
    id: options.id,
    secrets: options.secret === undefined ? {} : { webhookSecret: options.secret },
  });
}

const USAGE = [
  'usage: npm run send -- [--as KIND] FILE.json',
  '  KIND: standard (default) | svix | hubspot | hubspot-api-key | salesforce | pipedrive | custom:SOURCE',
  '  e.g. npm run send -- events/enrichment-completed.json',
  '       npm run send -- --as svix events/enrichment-completed.json',
  '       npm run send -- --as hubspot events/hubspot-all-properties.json',
  '       npm run send -- --as salesforce events/salesforce-outbound-message.xml',
  '       npm run send -- --as pipedrive events/pipedrive-webhook.json',
  '       npm run send -- --as custom:clay events/custom-clay.json',
].join('\n');

/** Without `--as`: XML is Salesforce's, a JSON body with Pipedrive's `meta` is Pipedrive's. */
function detectSender(file: string): SenderKind {
  const body = webhookBody(file);
  if (file.endsWith('.xml') || body.trimStart().startsWith('<')) return 'salesforce';
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'meta' in parsed) return 'pipedrive';
  } catch {
    // Not JSON: sent as a Standard Webhooks delivery, which refuses it.
  }
  return 'standard';
}

function parseArguments(args: string[]): { kind: SenderKind; file: string } | undefined {
  let kind: string | undefined;
  const rest = [...args];
  const flag = rest.findIndex((arg) => arg === '--as' || arg.startsWith('--as='));
  if (flag >= 0) {
    const arg = rest[flag] as string;
    kind = arg === '--as' ? (rest[flag + 1] ?? '') : arg.slice('--as='.length);
    rest.splice(flag, arg === '--as' ? 2 : 1);
  }
  const [file] = rest;
  if (file === undefined || rest.length !== 1) return undefined;
  kind ??= detectSender(file);
  const known =
    ['standard', 'svix', 'hubspot', 'hubspot-api-key', 'salesforce', 'pipedrive'].includes(kind) ||
    /^custom:[a-z0-9][a-z0-9_-]*$/.test(kind);
  return known ? { kind: kind as SenderKind, file } : undefined;
}

async function main(): Promise<void> {
  const parsed = parseArguments(process.argv.slice(2));
  if (parsed === undefined) {
    console.error(USAGE);
    process.exit(2);
  }
  const reply = await sendAs(parsed.kind, webhookBody(parsed.file));
  console.log(`HTTP ${reply.status}`);
  if (reply.headers['retry-after']) console.log(`Retry-After: ${reply.headers['retry-after']}`);
  console.log(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body, null, 2));
  process.exit(reply.status < 300 ? 0 : 1);
}

if (process.argv[1]?.endsWith('send.ts')) {
  main().catch((error: unknown) => {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    console.error(
      cause === 'ECONNREFUSED'
        ? 'Nothing answers on the local API: start the stack first with `npm start`.'
        : `Could not send: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  });
}
