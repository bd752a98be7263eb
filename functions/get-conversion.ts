import { httpRoute, pathParameter, requireApiKey } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { conversionView } from '../lib/conversion-view';
import { NotFoundError } from '../lib/errors';
import { getServices } from '../lib/services';

/** GET /conversions/{key}: the ledger record of one person (by key, or `person:<apollo id>`). */
export const handler = httpRoute(async (request) => {
  const { config, ledger } = getServices();
  requireApiKey(request, await config.secret('API_KEY'));
  const record = await ledger.find({ keyOrAlias: pathParameter(request, 'key') });
  if (record === null) throw new NotFoundError('no conversion with this key');
  return json(200, conversionView(record));
});
