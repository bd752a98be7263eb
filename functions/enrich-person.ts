import { bodyText, httpRoute, requireApiKey } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { parseEnrichmentRequest } from '../lib/requests';
import { getEnrichmentRoot } from '../lib/roots/enrichment';

/** POST /enrichments: enrich one person through Apollo (or answer from the ledger) and keep one contact. */
export const handler = httpRoute(async (request) => {
  const { config, enrichment } = getEnrichmentRoot();
  requireApiKey(request, await config.secret('API_KEY'));
  const enrichmentRequest = parseEnrichmentRequest(bodyText(request, config.maxBodyBytes), config);
  const result = await enrichment.enrich(enrichmentRequest, request);
  return json(result.status === 'not_found' ? 404 : 200, result);
});
