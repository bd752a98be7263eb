import { httpRoute, requireApiKey } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { parseListQuery } from '../lib/conversion-overview';
import { getConversionOverviewRoot } from '../lib/roots/conversion-overview';

/** GET /conversions?status=failed&limit=50&cursor=…: records of one status, a page at a time. */
export const handler = httpRoute(async (request) => {
  const { config, overview } = getConversionOverviewRoot();
  requireApiKey(request, await config.secret('API_KEY'));
  return json(200, await overview.list(parseListQuery(request.query)));
});
