import { resolve } from 'node:path';
import { LOCAL_DEFAULTS, PROJECT_ROOT, localPorts } from './stack';
import { sendWebhook, webhookBody } from './send';

/**
 * `npm run demo`: sends the seed's Mark Twain webhook to the running local stack (answered 202:
 * queued), follows the conversion until it is verified, shows the contact as Apollo holds it, then
 * sends the same webhook again to show that the replay costs no Apollo call.
 */
const ports = localPorts();
const api = `http://127.0.0.1:${ports.http}`;
const apiKey = process.env.API_KEY ?? LOCAL_DEFAULTS.API_KEY;

interface Result {
  id: string;
  status: string;
  contact_id: string | null;
}

interface SandboxContactView {
  name: string;
  email: string;
  title?: string;
  organization_name: string;
  phone_numbers?: Array<{ sanitized_number: string; type: string }>;
}

async function getJson<T>(url: string, headers: Record<string, string>): Promise<T | null> {
  const response = await fetch(url, { headers });
  return (await response.json().catch(() => null)) as T | null;
}

async function followConversion(id: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 30_000;
  let last = '';
  for (;;) {
    const body = await getJson<Record<string, unknown>>(`${api}/conversions/${encodeURIComponent(id)}`, {
      'x-api-key': apiKey,
    });
    if (body?.status !== last) {
      last = String(body?.status);
      console.log(`  ledger status: ${last}`);
    }
    if (
      last === 'verified' ||
      last === 'verification_failed' ||
      last === 'rejected' ||
      last === 'failed' ||
      Date.now() > deadline
    ) {
      return body ?? {};
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function showContact(contactId: string): Promise<void> {
  if (process.env.APOLLO_BASE_URL) {
    console.log('  (a real Apollo is configured: look the contact up there)');
    return;
  }
  const apollo = `http://127.0.0.1:${ports.apollo}/api/v1`;
  const body = await getJson<{ contact?: SandboxContactView }>(`${apollo}/contacts/${contactId}`, {
    'x-api-key': LOCAL_DEFAULTS.APOLLO_SANDBOX_KEY,
  });
  const contact = body?.contact;
  if (!contact) throw new Error(`the Apollo sandbox has no contact ${contactId}`);
  console.log(`  ${contact.name} <${contact.email}>, ${contact.title ?? ''} at ${contact.organization_name}`);
  for (const phone of contact.phone_numbers ?? []) {
    console.log(`  phone ${phone.sanitized_number} (${phone.type})`);
  }
}

async function main(): Promise<void> {
  const file = resolve(PROJECT_ROOT, 'events/enrichment-completed.json');
  console.log(`1. Sending the enrichment webhook for Mark Twain to ${api}/webhooks/enrichment-completed`);
  const first = await sendWebhook(webhookBody(file));
  const result = (first.body as { results?: Result[] }).results?.[0];
  console.log(`   HTTP ${first.status}: ${JSON.stringify(first.body)}`);
  if (!result?.id) throw new Error('the webhook did not queue the person');

  console.log(
    '\n2. Following the conversion (queued, converted in bulk, verified through people/bulk_match)',
  );
  const record = await followConversion(result.id);
  console.log(`   ${JSON.stringify(record)}`);
  const contactId = typeof record.contact_id === 'string' ? record.contact_id : undefined;
  if (contactId === undefined) throw new Error('the conversion did not produce a contact');

  console.log(`\n3. The contact in Apollo (${contactId})`);
  await showContact(contactId);

  console.log('\n4. Sending the same webhook again (a retry or replay)');
  const again = await sendWebhook(webhookBody(file));
  const replay = (again.body as { results?: Result[] }).results?.[0];
  console.log(`   HTTP ${again.status}: status "${replay?.status}", contact ${replay?.contact_id}`);
  console.log(
    replay?.status === 'duplicate'
      ? '   Answered from the ledger: no Apollo call, no second contact, no credits.'
      : '   (the first run already converted this person before this demo started)',
  );
}

main().catch((error: unknown) => {
  const code = (error as { cause?: { code?: string } }).cause?.code;
  console.error(
    code === 'ECONNREFUSED'
      ? 'Nothing answers on the local API: start the stack first with `npm start`.'
      : `Demo failed: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
