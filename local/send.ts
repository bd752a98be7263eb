import { readFileSync } from 'node:fs';
import { signedWebhookHeaders } from '../lib/webhook-signature';
import { sendAsPipedrive, sendAsSalesforce } from './crm-senders';
import { LOCAL_DEFAULTS, localPorts } from './stack';

/**
 * `npm run send -- FILE`: sends FILE's JSON to the local webhook endpoint, signed the way a CRM
 * must sign it (Standard Webhooks, WEBHOOK_SECRET or the local default), and prints the answer.
 * FILE may also be an API Gateway event from events/: its body is sent.
 *
 * `npm run send -- --as salesforce FILE.xml` and `--as pipedrive FILE.json` send as those CRMs do
 * (`./crm-senders.ts`); without `--as`, an `.xml` file goes to the Salesforce door and a body
 * with Pipedrive's `meta` to the Pipedrive door.
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

export async function sendWebhook(
  rawBody: string,
  options: { url?: string; secret?: string; id?: string } = {},
): Promise<SentWebhook> {
  const url = options.url ?? `http://127.0.0.1:${localPorts().http}/webhooks/enrichment-completed`;
  const secret = options.secret ?? process.env.WEBHOOK_SECRET ?? LOCAL_DEFAULTS.WEBHOOK_SECRET;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      // Several secrets may be configured for rotation; any one signs.
      ...signedWebhookHeaders(rawBody, secret.split(/\s+/)[0] as string, { id: options.id }),
    },
    body: rawBody,
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: print as it came.
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body };
}

/** Without `--as`: XML is Salesforce's, a JSON body with Pipedrive's `meta` is Pipedrive's. */
function detectSender(file: string, body: string): keyof typeof SENDERS {
  if (file.endsWith('.xml') || body.trimStart().startsWith('<')) return 'salesforce';
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'standard';
  }
  if (typeof parsed === 'object' && parsed !== null && 'meta' in parsed) {
    if ('data' in parsed || 'current' in parsed) return 'pipedrive';
  }
  return 'standard';
}

const SENDERS = {
  standard: (body: string) => sendWebhook(body),
  salesforce: (body: string) => sendAsSalesforce(body),
  pipedrive: (body: string) => sendAsPipedrive(body),
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const asAt = args.indexOf('--as');
  const as = asAt >= 0 ? args.splice(asAt, 2)[1] : undefined;
  const file = args[0];
  if (!file || (as !== undefined && !(as in SENDERS))) {
    console.error(
      'usage: npm run send -- [--as standard|salesforce|pipedrive] FILE   (e.g. events/enrichment-completed.json)',
    );
    process.exit(2);
  }
  const body = webhookBody(file);
  const sender = (as ?? detectSender(file, body)) as keyof typeof SENDERS;
  const reply = await SENDERS[sender](body);
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
