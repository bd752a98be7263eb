import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { signWebhook } from '../lib/webhook-signature';
import { LOCAL_DEFAULTS } from './stack';

/**
 * `npm run -s sign-event -- events/enrichment-webhook.json > /tmp/signed.json` prints the API
 * Gateway event with a fresh Standard Webhooks signature (WEBHOOK_SECRET or the local default):
 * a signature is only accepted within 5 minutes of its timestamp, so a stored event cannot carry one.
 */
const file = process.argv[2];
if (!file) {
  console.error('usage: npm run -s sign-event -- events/enrichment-webhook.json > /tmp/signed.json');
  process.exit(2);
}
const event = JSON.parse(readFileSync(file, 'utf8')) as { body?: string; headers?: Record<string, string> };
const id = `msg_${randomUUID().replaceAll('-', '')}`;
const timestamp = Math.floor(Date.now() / 1000);
const secret = (process.env.WEBHOOK_SECRET ?? LOCAL_DEFAULTS.WEBHOOK_SECRET).split(/\s+/)[0] as string;
event.headers = {
  ...event.headers,
  'webhook-id': id,
  'webhook-timestamp': String(timestamp),
  'webhook-signature': signWebhook(secret, id, timestamp, event.body ?? ''),
};
console.log(JSON.stringify(event, null, 2));
