import { SALESFORCE_ACK, soapFaultXml } from '../doors/salesforce';
import { httpRoute, type HttpRequest } from './api';
import { errorResponse, type HttpResponse } from './responses';

/**
 * SOAP answers for the Salesforce door. Errors are mapped to a status by the one mapping
 * (`errorResponse`), then written as a SOAP fault instead of JSON, with the same status and
 * headers (`Retry-After`), because Salesforce shows a fault's text in its delivery monitor.
 */

const XML_HEADERS = { 'content-type': 'text/xml; charset=utf-8', 'cache-control': 'no-store' };

/** 200 with the exact Ack: Salesforce removes the message from its queue. */
export function soapAck(): HttpResponse {
  return { statusCode: 200, headers: XML_HEADERS, body: SALESFORCE_ACK };
}

/** The mapped error response as a SOAP fault: `Client` for 4xx, `Server` for 5xx. */
export function soapFault(response: HttpResponse): HttpResponse {
  const statusCode = response.statusCode ?? 500;
  let message = 'error';
  try {
    const parsed = JSON.parse(response.body ?? '{}') as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // Not JSON: the generic text stays.
  }
  const headers: Record<string, string> = { ...XML_HEADERS };
  const retryAfter = response.headers?.['retry-after'];
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  return {
    statusCode,
    headers,
    body: soapFaultXml(statusCode < 500 ? 'Client' : 'Server', message),
  };
}

/** `httpRoute` whose errors are answered as SOAP faults. */
export function soapRoute(route: (request: HttpRequest) => Promise<HttpResponse>) {
  return httpRoute(async (request) => {
    try {
      return await route(request);
    } catch (error) {
      return soapFault(errorResponse(error));
    }
  });
}
