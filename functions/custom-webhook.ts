import { doorReply, handOver } from '../lib/doors/common';
import {
  authenticateCustom,
  customDelivery,
  customSource,
  parseCustomBody,
  parseCustomSources,
} from '../lib/doors/custom';
import { bodyBytes, httpRoute, pathParameter, utf8Text } from '../lib/http/api';
import { getConversionRoot } from '../lib/roots/conversion';

/** POST /webhooks/custom/{source}: any JSON sender (Clay, Zapier, Make, n8n), read through its source's field map, queued (202). */
export const handler = httpRoute(async (request) => {
  const root = getConversionRoot();
  const { config } = root;
  const body = bodyBytes(request, config.maxBodyBytes);
  const sources = parseCustomSources(await config.secret('CUSTOM_SOURCES'));
  const source = customSource(sources, pathParameter(request, 'source'));
  authenticateCustom(source, request.headers, body);
  const people = parseCustomBody(source, utf8Text(body), config);
  return doorReply(await handOver(root, people, request, customDelivery(source, request.headers, body)));
});
