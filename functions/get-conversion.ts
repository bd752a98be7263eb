import { httpRoute, pathParameter, requireApiKey } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { conversionById } from '../lib/conversion-lookup';
import { conversionView } from '../lib/conversion-view';
import { NotFoundError } from '../lib/errors';
import { getServices } from '../lib/services';

/** GET /conversions/{id}: the ledger record of one person, by its opaque conversion id. */
export const handler = httpRoute(async (request) => {
  const { config, ledger } = getServices();
  requireApiKey(request, await config.secret('API_KEY'));
  const record = await conversionById(ledger, pathParameter(request, 'id'));
  if (record === null) throw new NotFoundError('no conversion with this id');
  return json(200, conversionView(record));
});
