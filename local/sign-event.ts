import { readFileSync } from 'node:fs';
import { senderSecrets } from './send';
import { requestAs } from './senders';
import { localPorts } from './stack';

/**
 * `npm run -s sign-event -- events/enrichment-webhook.json > /tmp/signed.json` prints the API
 * Gateway event with a fresh signature: a Standard Webhooks one (WEBHOOK_SECRET or the local
 * default), or with `--as hubspot` HubSpot's v3 (HUBSPOT_CLIENT_SECRET or the local default, over
 * the local API's URL). A signature is only accepted within 5 minutes of its timestamp, so a stored
 * event cannot carry one.
 */
const args = process.argv.slice(2);
const asHubSpot = args[0] === '--as' && args[1] === 'hubspot';
const file = asHubSpot ? args[2] : args[0];
if (!file || (args[0] === '--as' && !asHubSpot)) {
  console.error(
    'usage: npm run -s sign-event -- [--as hubspot] events/enrichment-webhook.json > /tmp/signed.json',
  );
  process.exit(2);
}
const event = JSON.parse(readFileSync(file, 'utf8')) as {
  body?: string;
  headers?: Record<string, string>;
  requestContext?: { timeEpoch?: number };
};
const nowMs = Date.now();
const { headers } = requestAs(
  asHubSpot ? 'hubspot' : 'standard',
  event.body ?? '',
  `http://127.0.0.1:${localPorts().http}`,
  senderSecrets(),
  { nowMs },
);
event.headers = { ...event.headers, ...headers };
if (event.requestContext) event.requestContext.timeEpoch = nowMs;
console.log(JSON.stringify(event, null, 2));
