import { bodyBytes, httpRoute, utf8Text } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { convertEntries } from '../lib/batch';
import { parseEnrichmentWebhook } from '../lib/requests';
import { getServices } from '../lib/services';
import { verifyWebhookSignature } from '../lib/webhook-signature';

/** POST /webhooks/enrichment-completed: Standard Webhooks deliveries (`webhook-*` or `svix-*` headers). */
export const handler = httpRoute(async (request) => {
  const { config, conversion, webhookDeliveries } = getServices();
  const body = bodyBytes(request, config.maxBodyBytes);
  const id = verifyWebhookSignature(body, request.headers, await config.secret('WEBHOOK_SECRET'));
  const webhook = parseEnrichmentWebhook(utf8Text(body), config);
  if (webhook.kind === 'ignored') return json(200, { ignored: webhook.type, results: [] });
  const delivery = { id, body, deadline: request.deadline };
  const answer = await webhookDeliveries.answerOnce(delivery, async () => ({
    results: await convertEntries(conversion, webhook.people, request),
  }));
  return json(200, answer);
});
