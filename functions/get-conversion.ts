import { httpRoute, pathParameter, requireApiKey } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { conversionById } from '../lib/conversion-lookup';
import { conversionView } from '../lib/conversion-view';
import { NotFoundError } from '../lib/errors';
import { getLedgerReaderRoot } from '../lib/roots/ledger-reader';

/** GET /conversions/{id}: the ledger record of one person, by its opaque conversion id. */
export const handler = httpRoute(async (request) => {
  const { config, ledger } = getLedgerReaderRoot();
  requireApiKey(request, await config.secret('API_KEY'));
  const record = await conversionById(ledger, pathParameter(request, 'id'));
  if (record === null) throw new NotFoundError('no conversion with this id');
  return json(200, conversionView(record));
});
