import { readFileSync } from 'node:fs';
import { signedWebhookHeaders } from '../lib/webhook-signature';
import { LOCAL_DEFAULTS, localPorts } from './stack';

/**
 * `npm run send -- FILE`: sends FILE's JSON to the local webhook endpoint, signed the way a CRM
 * must sign it (Standard Webhooks, WEBHOOK_SECRET or the local default), and prints the answer.
 * FILE may also be an API Gateway event from events/: its body is sent.
 */
export interface SentWebhook {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export function webhookBody(file: string): string {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { requestContext?: unknown; body?: unknown };
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

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: npm run send -- FILE.json   (e.g. events/enrichment-completed.json)');
    process.exit(2);
  }
  const reply = await sendWebhook(webhookBody(file));
  console.log(`HTTP ${reply.status}`);
  if (reply.headers['retry-after']) console.log(`Retry-After: ${reply.headers['retry-after']}`);
  console.log(JSON.stringify(reply.body, null, 2));
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
