import { bodyText, httpRoute } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { parseEnrichmentWebhook } from '../lib/requests';
import { getServices } from '../lib/services';
import { verifyWebhookSignature } from '../lib/webhook-signature';

/** POST /webhooks/enrichment-completed: signed deliveries from CRMs and enrichment tools. */
export const handler = httpRoute(async (request) => {
  const { config, conversion } = getServices();
  const rawBody = bodyText(request, config.maxBodyBytes);
  verifyWebhookSignature(rawBody, request.headers, await config.secret('WEBHOOK_SECRET'));
  const webhook = parseEnrichmentWebhook(rawBody, config);
  if (webhook.kind === 'ignored') return json(200, { ignored: webhook.type, results: [] });
  return json(200, { results: await conversion.deliver(webhook.people, request) });
});
