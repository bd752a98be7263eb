import { bodyText, httpRoute, requireApiKey } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { lookUpConversion, parseConversionLookup } from '../lib/conversion-lookup';
import { conversionView } from '../lib/conversion-view';
import { NotFoundError } from '../lib/errors';
import { getLedgerReaderRoot } from '../lib/roots/ledger-reader';

/** POST /conversions/lookup: the ledger record of one person, by an identity sent in the body. */
export const handler = httpRoute(async (request) => {
  const { config, ledger } = getLedgerReaderRoot();
  requireApiKey(request, await config.secret('API_KEY'));
  const keys = parseConversionLookup(bodyText(request, config.maxBodyBytes));
  const record = await lookUpConversion(ledger, keys);
  if (record === null) throw new NotFoundError('no conversion for this person');
  return json(200, conversionView(record));
});
