import { bodyText, httpRoute, requireQueryToken } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { parsePhoneRevealCallback } from '../lib/requests';
import { getPhoneRevealRoot } from '../lib/roots/phone-reveal';

/** POST /webhooks/apollo/phone-numbers?token=...: Apollo's (unsigned) phone-reveal callback. */
export const handler = httpRoute(async (request) => {
  const { config, phones } = getPhoneRevealRoot();
  requireQueryToken(request, await config.secret('APOLLO_CALLBACK_TOKEN'));
  const payload = parsePhoneRevealCallback(bodyText(request, config.maxBodyBytes));
  return json(200, { results: await phones.applyPhoneCallback(payload, request) });
});
