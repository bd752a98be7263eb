import { bodyText, httpRoute, requireApiKey } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { convertEntries } from '../lib/batch';
import { parseContactsRequest } from '../lib/requests';
import { getConversionRoot } from '../lib/roots/conversion';

/** POST /contacts: the same conversion on demand, for scripts and back-office tools. */
export const handler = httpRoute(async (request) => {
  const { config, conversion } = getConversionRoot();
  requireApiKey(request, await config.secret('API_KEY'));
  const people = parseContactsRequest(bodyText(request, config.maxBodyBytes), config);
  return json(200, { results: await convertEntries(conversion, people, request) });
});
