import { doorReply, handOver } from '../lib/doors/common';
import { parsePipedriveWebhook, requireBasicAuth } from '../lib/doors/pipedrive';
import { bodyBytes, httpRoute, utf8Text } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { getConversionRoot } from '../lib/roots/conversion';

/** POST /webhooks/pipedrive: Pipedrive person webhooks (v2, and v1), behind HTTP Basic credentials, queued (202). */
export const handler = httpRoute(async (request) => {
  const root = getConversionRoot();
  const { config } = root;
  const body = bodyBytes(request, config.maxBodyBytes);
  requireBasicAuth(request.headers.authorization, await config.secret('PIPEDRIVE_BASIC_AUTH'));
  const event = parsePipedriveWebhook(utf8Text(body), config);
  if (event.kind === 'ignored') return json(200, { ignored: event.event, results: [] });
  return doorReply(await handOver(root, [event.entry], request, event.delivery));
});
