import { bodyBytes, httpRoute, utf8Text } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { acceptedStatusCode } from '../lib/intake';
import { parseEnrichmentWebhook } from '../lib/requests';
import { getConversionRoot } from '../lib/roots/conversion';
import { verifyWebhookSignature } from '../lib/webhook-signature';

/**
 * POST /webhooks/enrichment-completed: Standard Webhooks deliveries (`webhook-*` or `svix-*`
 * headers) from enrichment tools and scripts, queued (202).
 */
export const handler = httpRoute(async (request) => {
  const { config, intake, webhookDeliveries } = getConversionRoot();
  const body = bodyBytes(request, config.maxBodyBytes);
  const id = verifyWebhookSignature(body, request.headers, await config.secret('WEBHOOK_SECRET'));
  const webhook = parseEnrichmentWebhook(utf8Text(body), config);
  if (webhook.kind === 'ignored') return json(200, { ignored: webhook.type, results: [] });
  const delivery = { id, body, deadline: request.deadline };
  const answer = await webhookDeliveries.answerOnce(delivery, async () => ({
    results: await intake.accept(webhook.people, request),
  }));
  return json(acceptedStatusCode(answer.results), answer);
});
