import { doorReply, handOver, withinBudget } from '../lib/doors/common';
import { HUBSPOT_ANSWER_BUDGET_MS, authenticateHubSpot, parseHubSpotContact } from '../lib/doors/hubspot';
import { bodyBytes, httpRoute, utf8Text } from '../lib/http/api';
import { getConversionRoot } from '../lib/roots/conversion';

/** POST /webhooks/hubspot: HubSpot's workflow action "Send a webhook" (signature v3 or API key), queued (202). */
export const handler = httpRoute(async (request) => {
  const root = getConversionRoot();
  const { config } = root;
  const body = bodyBytes(request, config.maxBodyBytes);
  await authenticateHubSpot(request, body, config);
  const people = parseHubSpotContact(utf8Text(body), config.hubspot, config);
  return doorReply(await handOver(root, people, withinBudget(request, HUBSPOT_ANSWER_BUDGET_MS)));
});
