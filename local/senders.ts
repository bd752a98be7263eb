import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook as SvixWebhook } from 'svix';
import { parseCustomSources, type CustomSource } from '../lib/doors/custom';
import { hubSpotSignatureV3, hubSpotSignedUri } from '../lib/doors/hubspot';
import { signedWebhookHeaders } from '../lib/webhook-signature';

/**
 * How each sender signs and addresses a delivery, for `npm run send`, the tests and the bench:
 * the request a real HubSpot workflow, Salesforce Outbound Message, Pipedrive webhook, Svix-based
 * sender, Clay table or Zap would make.
 */

/** The sender kinds `npm run send -- --as KIND` knows. */
export type SenderKind =
  'standard' | 'svix' | 'hubspot' | 'hubspot-api-key' | 'salesforce' | 'pipedrive' | `custom:${string}`;

export interface SenderSecrets {
  /** `whsec_...` secret(s) of the Standard Webhooks door; the first signs. */
  webhookSecret: string;
  /** HubSpot app client secret(s); the first signs. */
  hubspotClientSecret: string;
  /** HubSpot workflow API key(s); the first is sent, as `HUBSPOT_API_KEY_IN`/`_NAME` say. */
  hubspotApiKey: string;
  hubspotApiKeyIn: 'header' | 'query';
  hubspotApiKeyName: string;
  /** The `CUSTOM_SOURCES` document: each source's header, auth and secrets. */
  customSources: string;
  /** The Salesforce door's path secret(s); the first is put in the endpoint URL. */
  salesforceEndpointSecret: string;
  /** The Pipedrive webhook's Basic credentials (`user:password`); the first is sent. */
  pipedriveBasicAuth: string;
}

export interface SenderRequest {
  /** Path and query, as sent. */
  path: string;
  headers: Record<string, string>;
}

/** The ready-made custom source maps of the README, whose secrets are the local stack's defaults. */
export function exampleCustomSources(root: string): string {
  return JSON.stringify(JSON.parse(readFileSync(join(root, 'docs/crm/custom-sources.example.json'), 'utf8')));
}

function firstOf(secrets: string): string {
  const [first] = secrets.split(/\s+/).filter((secret) => secret !== '');
  if (first === undefined) throw new Error('no secret to sign with');
  return first;
}

/**
 * The path and headers `kind` sends `rawBody` with, to the API at `baseUrl` (HubSpot signs the full
 * URL it calls, so the base matters). `nowMs` dates the signature.
 */
export function requestAs(
  kind: SenderKind,
  rawBody: string,
  baseUrl: string,
  secrets: SenderSecrets,
  { nowMs = Date.now(), id }: { nowMs?: number; id?: string } = {},
): SenderRequest {
  const json = { 'content-type': 'application/json' };
  if (kind === 'standard') {
    const headers = signedWebhookHeaders(rawBody, firstOf(secrets.webhookSecret), {
      id,
      timestampSeconds: Math.floor(nowMs / 1000),
    });
    return { path: '/webhooks/enrichment-completed', headers: { ...json, ...headers } };
  }
  if (kind === 'svix') {
    // Signed by the svix package itself, under its own header names, as Clerk or Resend send.
    const msgId = id ?? `msg_${crypto.randomUUID().replaceAll('-', '')}`;
    const at = new Date(nowMs);
    return {
      path: '/webhooks/enrichment-completed',
      headers: {
        ...json,
        'svix-id': msgId,
        'svix-timestamp': String(Math.floor(nowMs / 1000)),
        'svix-signature': new SvixWebhook(firstOf(secrets.webhookSecret)).sign(msgId, at, rawBody),
      },
    };
  }
  if (kind === 'hubspot') {
    const path = '/webhooks/hubspot';
    const timestamp = String(nowMs);
    const uri = hubSpotSignedUri(baseUrl, path, '');
    const signature = hubSpotSignatureV3(firstOf(secrets.hubspotClientSecret), {
      method: 'POST',
      uri,
      body: Buffer.from(rawBody),
      timestamp,
    });
    return {
      path,
      headers: { ...json, 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp },
    };
  }
  if (kind === 'salesforce') {
    // An Outbound Message: SOAP 1.1 to the endpoint URL set on the message, whose path holds the secret.
    return {
      path: `/webhooks/salesforce/${encodeURIComponent(firstOf(secrets.salesforceEndpointSecret))}`,
      headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
    };
  }
  if (kind === 'pipedrive') {
    // A webhook with the HTTP Basic credentials set on it.
    const credentials = Buffer.from(firstOf(secrets.pipedriveBasicAuth), 'utf8').toString('base64');
    return { path: '/webhooks/pipedrive', headers: { ...json, authorization: `Basic ${credentials}` } };
  }
  if (kind === 'hubspot-api-key') {
    const key = firstOf(secrets.hubspotApiKey);
    return secrets.hubspotApiKeyIn === 'query'
      ? {
          path: `/webhooks/hubspot?${new URLSearchParams({ [secrets.hubspotApiKeyName]: key }).toString()}`,
          headers: json,
        }
      : { path: '/webhooks/hubspot', headers: { ...json, [secrets.hubspotApiKeyName]: key } };
  }
  const name = kind.slice('custom:'.length);
  const source = parseCustomSources(secrets.customSources).get(name);
  if (source === undefined) throw new Error(`no custom source named "${name}" in CUSTOM_SOURCES`);
  return {
    path: `/webhooks/custom/${encodeURIComponent(name)}`,
    headers: { ...json, ...customHeaders(source, rawBody, id) },
  };
}

/** What a tool configured for `source` sends: its secret header, or the HMAC-SHA256 of the body (hex). */
export function customHeaders(source: CustomSource, rawBody: string, id?: string): Record<string, string> {
  const [secret] = source.secrets as [string];
  const headers: Record<string, string> = {
    [source.header]:
      source.auth === 'secret' ? secret : createHmac('sha256', secret).update(rawBody).digest('hex'),
  };
  if (source.deliveryIdHeader !== undefined) headers[source.deliveryIdHeader] = id ?? crypto.randomUUID();
  return headers;
}
