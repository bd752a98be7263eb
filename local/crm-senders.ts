import { LOCAL_DEFAULTS, localPorts } from './stack';
import type { SentWebhook } from './send';

/**
 * Sending as the CRMs do, for `npm run send -- --as salesforce|pipedrive FILE`, the README's
 * examples and the local stack's tests: the same request each CRM makes, against the local stack.
 */

async function post(url: string, headers: Record<string, string>, body: string): Promise<SentWebhook> {
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // XML (the Salesforce door's Ack or fault) or plain text: shown as it came.
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body: parsed };
}

/**
 * As Salesforce sends an Outbound Message: a SOAP POST (`text/xml`, a `SOAPAction` header) to the
 * endpoint URL configured on the message, whose path carries the secret.
 */
export function sendAsSalesforce(
  xml: string,
  options: { url?: string; secret?: string } = {},
): Promise<SentWebhook> {
  const secret = (
    options.secret ??
    process.env.SALESFORCE_ENDPOINT_SECRET ??
    LOCAL_DEFAULTS.SALESFORCE_ENDPOINT_SECRET
  ).split(/\s+/)[0] as string;
  const url =
    options.url ?? `http://127.0.0.1:${localPorts().http}/webhooks/salesforce/${encodeURIComponent(secret)}`;
  return post(url, { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' }, xml);
}

/** As Pipedrive sends a webhook: JSON, with the HTTP Basic credentials set on the webhook. */
export function sendAsPipedrive(
  json: string,
  options: { url?: string; credentials?: string } = {},
): Promise<SentWebhook> {
  const credentials = (
    options.credentials ??
    process.env.PIPEDRIVE_BASIC_AUTH ??
    LOCAL_DEFAULTS.PIPEDRIVE_BASIC_AUTH
  ).split(/\s+/)[0] as string;
  const url = options.url ?? `http://127.0.0.1:${localPorts().http}/webhooks/pipedrive`;
  return post(
    url,
    {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`,
    },
    json,
  );
}
