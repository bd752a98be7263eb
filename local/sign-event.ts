import { readFileSync } from 'node:fs';
import { signedWebhookHeaders } from '../lib/webhook-signature';
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
const secret = (process.env.WEBHOOK_SECRET ?? LOCAL_DEFAULTS.WEBHOOK_SECRET).split(/\s+/)[0] as string;
event.headers = { ...event.headers, ...signedWebhookHeaders(event.body ?? '', secret) };
console.log(JSON.stringify(event, null, 2));
