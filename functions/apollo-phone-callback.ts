import { bodyText, httpRoute, requireQueryToken } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { parsePhoneRevealCallback } from '../lib/requests';
import { getServices } from '../lib/services';

/** POST /webhooks/apollo/phone-numbers?token=...: Apollo's (unsigned) phone-reveal callback. */
export const handler = httpRoute(async (request) => {
  const { config, enrichment } = getServices();
  requireQueryToken(request, await config.secret('APOLLO_CALLBACK_TOKEN'));
  const payload = parsePhoneRevealCallback(bodyText(request, config.maxBodyBytes));
  return json(200, { results: await enrichment.applyPhoneCallback(payload, request) });
});
