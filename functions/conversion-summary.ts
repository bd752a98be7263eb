import { httpRoute, requireApiKey } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { getConversionOverviewRoot } from '../lib/roots/conversion-overview';

/** GET /conversions/summary: records per status, the oldest of each, credits spent and saved. */
export const handler = httpRoute(async (request) => {
  const { config, overview } = getConversionOverviewRoot();
  requireApiKey(request, await config.secret('API_KEY'));
  return json(200, await overview.summary());
});
