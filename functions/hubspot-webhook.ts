import { handOver, withinBudget } from '../lib/doors/common';
import { HUBSPOT_ANSWER_BUDGET_MS, authenticateHubSpot, parseHubSpotContact } from '../lib/doors/hubspot';
import { bodyBytes, httpRoute, utf8Text } from '../lib/http/api';
import { getServices } from '../lib/services';

/** POST /webhooks/hubspot: HubSpot's workflow action "Send a webhook" (signature v3 or API key). */
export const handler = httpRoute(async (request) => {
  const services = getServices();
  const { config } = services;
  const body = bodyBytes(request, config.maxBodyBytes);
  await authenticateHubSpot(request, body, config);
  const people = parseHubSpotContact(utf8Text(body), config.hubspot, config);
  return handOver(services, people, withinBudget(request, HUBSPOT_ANSWER_BUDGET_MS));
});
