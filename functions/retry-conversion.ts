import { httpRoute, pathParameter, requireApiKey } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { getConversionRetryRoot } from '../lib/roots/conversion-retry';

/** POST /conversions/{id}/retry: queues a failed person again, or re-runs a failed verification. */
export const handler = httpRoute(async (request) => {
  const { config, retry } = getConversionRetryRoot();
  requireApiKey(request, await config.secret('API_KEY'));
  const result = await retry.retry(pathParameter(request, 'id'));
  return json(result.action === 'awaiting_resend' ? 200 : 202, result);
});
