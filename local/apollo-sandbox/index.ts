/**
 * Apollo API sandbox: a local HTTP server that behaves like the parts of Apollo's REST API this
 * service uses (create, view, update and search contacts; bulk create and bulk update; people/match
 * and people/bulk_match with phone reveal and its webhook callback; webhook_result polling), for
 * `npm start` and for integration and fault tests.
 *
 * It copies Apollo's awkward parts on purpose, because those are what the service must survive:
 * create does not deduplicate, `run_dedupe` silently overwrites, search is fuzzy, bulk_create
 * answers without an index and merges namesakes at one company, errors come in five different
 * shapes (401 is text/plain), the day rate-limit headers have two spellings, and `request_id` does
 * not fit in a JS number. Scripted faults (`inject`) add the failures a live Apollo only shows at
 * random: outages, connection resets, timeouts, "created, then failed", 429s midway through a
 * burst, and replies rewritten so that they cannot be mapped.
 *
 * Modules: `types` (the public types), `state` (the in-memory store), `params` (reading requests),
 * `routes/` (one per endpoint group: contacts, bulk-contacts, people, webhook-result),
 * `serializers` and `replies` (Apollo's shapes and error bodies), `callbacks` (scripted
 * phone-reveal deliveries), `server` (HTTP wiring, auth, rate limits, faults), `admin` (the same
 * handle over HTTP under `/_sandbox/`, for `npm run probe` against `npm start`).
 *
 * @example
 * const apollo = await startApolloSandbox();
 * await fetch(`${apollo.url}/contacts`, {
 *   method: 'POST',
 *   headers: { 'x-api-key': apollo.apiKey, 'content-type': 'application/json' },
 *   body: JSON.stringify({ first_name: 'Mark', last_name: 'Twain' }),
 * });
 * apollo.contacts(); // [{ id: '6650…', name: 'Mark Twain', … }]
 * await apollo.close();
 *
 * @example Phone reveal: a person in Apollo's directory, a callback to your webhook, or a poll.
 * apollo.addPerson({ first_name: 'Mark', last_name: 'Twain', email: 'mark@example.com',
 *   mobile_phones: [{ raw_number: '555-765-4321' }] });
 * apollo.setPhoneCallbacks({ mode: 'twice', delayMs: 50 });
 * // POST /people/match {email, reveal_phone_number: true, webhook_url: 'http://…/hook?token=…'}
 * // → 200 {person, request_id: -4611686018427387904}; 50 ms later POST …/hook?token=… {people: [...]}
 * apollo.callbacks(); // [{ url, requestId: '-4611…', status: 200, body: {...} }, …]
 * apollo.creditsConsumed(); // 9: 1 for the person, 8 for a mobile phone
 */
export { startApolloSandbox } from './server';
export { SANDBOX_CONTACT_STAGES } from './team';
export type {
  ApolloSandbox,
  ApolloSandboxOptions,
  BulkCreatePhoneFields,
  FaultRule,
  PhoneCallbackBehaviour,
  RateLimits,
  SandboxCallback,
  SandboxContact,
  SandboxContactSeed,
  SandboxEndpoint,
  SandboxPerson,
  SandboxPersonPhone,
  SandboxPersonPhoneSeed,
  SandboxPersonSeed,
  SandboxPhoneCallbackPayload,
  SandboxPhoneNumber,
  SandboxPhoneNumberSeed,
  SandboxPhoneType,
  SandboxRequest,
  SandboxRevealedPhone,
} from './types';
