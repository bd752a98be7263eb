import { bodyBytes, httpRoute, utf8Text } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { handOver } from '../lib/doors/door-kit';
import { parsePipedriveWebhook, requireBasicAuth } from '../lib/doors/pipedrive';
import { getServices } from '../lib/services';

/** POST /webhooks/pipedrive: Pipedrive person webhooks (v2, and v1), behind HTTP Basic credentials. */
export const handler = httpRoute(async (request) => {
  const { config, conversion, webhookDeliveries } = getServices();
  const body = bodyBytes(request, config.maxBodyBytes);
  requireBasicAuth(request.headers.authorization, await config.secret('PIPEDRIVE_BASIC_AUTH'));
  const event = parsePipedriveWebhook(utf8Text(body), config);
  if (event.kind === 'ignored') return json(200, { ignored: event.event, results: [] });
  return json(200, await handOver({ conversion, webhookDeliveries }, [event.entry], request, event.delivery));
});
