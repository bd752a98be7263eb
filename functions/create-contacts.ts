import { bodyText, httpRoute, requireApiKey } from '../lib/http/api';
import { json } from '../lib/http/responses';
import { MAX_WAIT_SECONDS, acceptedStatusCode } from '../lib/intake';
import { parseContactsRequest, parseWaitSeconds } from '../lib/requests';
import { getConversionRoot } from '../lib/roots/conversion';

/**
 * POST /contacts[?wait=N]: the same conversion on demand, for scripts and back-office tools. Queued
 * people are answered at once (202), or, with `wait`, when final (200) or when N seconds are up (202).
 */
export const handler = httpRoute(async (request) => {
  const { config, intake } = getConversionRoot();
  requireApiKey(request, await config.secret('API_KEY'));
  const people = parseContactsRequest(bodyText(request, config.maxBodyBytes), config);
  const waitMs = parseWaitSeconds(request.query.wait, MAX_WAIT_SECONDS) * 1000;
  const { results } = await intake.acceptAndWait(people, { deadline: request.deadline, waitMs });
  return json(acceptedStatusCode(results), { results });
});
