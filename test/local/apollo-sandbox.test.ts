import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SANDBOX_CONTACT_STAGES, startApolloSandbox, type ApolloSandbox } from '../../local/apollo-sandbox';

// Keys of the 200 examples in Apollo's OpenAPI document (create/view/update contact, search,
// people/match), copied here so the test needs nothing outside the repository.
const EXAMPLE_CONTACT_KEYS =
  `contact_roles id first_name last_name name linkedin_url title contact_stage_id owner_id
  creator_id person_id email_needs_tickling organization_name source original_source organization_id headline
  photo_url present_raw_address linkedin_uid extrapolated_email_confidence salesforce_id salesforce_lead_id
  salesforce_contact_id salesforce_account_id crm_owner_id created_at emailer_campaign_ids direct_dial_status
  direct_dial_enrichment_failed_at email_status email_source account_id last_activity_date hubspot_vid
  hubspot_company_id crm_id sanitized_phone merged_crm_ids updated_at queued_for_crm_push
  suggested_from_rule_engine_config_id email_unsubscribed label_ids has_pending_email_arcgate_request
  has_email_arcgate_request existence_level email email_from_customer custom_field_errors crm_record_url
  email_status_unavailable_reason email_true_status updated_email_true_status contact_rule_config_statuses
  source_display_name twitter_url contact_campaign_statuses contact_emails next_contact_id time_zone city state
  country show_intent phone_numbers account_phone_note free_domain is_likely_to_engage email_domain_catchall
  typed_custom_fields`.split(/\s+/);
const EXAMPLE_SEARCH_ONLY_CONTACT_KEYS = ['account', 'organization', 'contact_job_change_event'];
const EXAMPLE_LABEL_KEYS = ['id', 'modality', 'cached_count', 'name', 'created_at', 'updated_at', 'user_id'];
const EXAMPLE_PHONE_KEYS = `raw_number sanitized_number type position status dnc_status dnc_other_info
  dialer_flags`.split(/\s+/);
const EXAMPLE_SEARCH_KEYS = `contacts breadcrumbs partial_results_only has_join disable_eu_prospecting
  partial_results_limit pagination num_fetch_result`.split(/\s+/);
const EXAMPLE_PERSON_KEYS =
  `id first_name last_name name linkedin_url title email_status photo_url twitter_url
  github_url facebook_url extrapolated_email_confidence headline email organization_id employment_history state city
  country contact_id contact revealed_for_current_team organization is_likely_to_engage show_intent departments
  subdepartments functions seniority`.split(/\s+/);
const EXAMPLE_ORGANIZATION_KEYS =
  `id name website_url blog_url angellist_url linkedin_url twitter_url facebook_url
  primary_phone languages alexa_ranking phone linkedin_uid founded_year publicly_traded_symbol
  publicly_traded_exchange logo_url crunchbase_url primary_domain`.split(/\s+/);

// Keys of the webhook_result example (Poll Webhook Result, phone enrichment): the poll reply, its
// `webhook_result` (the callback payload) and one of its phone numbers.
const EXAMPLE_POLL_KEYS = `request_id webhook_status request_type last_dispatched_at failure_reason
  webhook_result`.split(/\s+/);
const EXAMPLE_WEBHOOK_RESULT_KEYS =
  `status total_requested_enrichments unique_enriched_records missing_records
  credits_consumed people`.split(/\s+/);
const EXAMPLE_WEBHOOK_PHONE_KEYS = `_id confidence_cd created_at direct_dial_source_cd dnc_other_info
  dnc_status_cd dnc_status_updated_at position raw_number sanitized_number status_cd type_cd updated_at id
  key`.split(/\s+/);

const MARK_TWAIN = {
  first_name: 'Mark',
  last_name: 'Twain',
  organization_name: 'Great American Writers Co.',
  title: 'Author',
  email: 'mark.twain@greatamericanwriters.example',
  website_url: 'https://www.greatamericanwriters.example',
  present_raw_address: 'Hartford, Connecticut',
  direct_phone: '555-123-4567',
  mobile_phone: '555-765-4321',
};
/** A person in Apollo's directory who is not a contact of the team. */
const SAMUEL = {
  first_name: 'Samuel',
  last_name: 'Clemens',
  email: 'samuel.clemens@hartfordmail.example',
  organization_name: 'Great American Writers Co.',
  domain: 'greatamericanwriters.example',
};
const ACCOUNT_ID = '63f53afe4ceeca00016bdd2f';
const APOLLO_ID = /^[0-9a-f]{24}$/;

interface ApolloPhone {
  raw_number: string;
  sanitized_number: string;
  type: string;
  position: number;
}
interface ApolloContact {
  id: string;
  first_name: string | null;
  last_name: string | null;
  name: string | null;
  email: string | null;
  title: string | null;
  organization_name: string | null;
  present_raw_address: string | null;
  person_id: string | null;
  source: string;
  sanitized_phone: string | null;
  label_ids: string[];
  phone_numbers: ApolloPhone[];
}
interface ContactReply {
  contact: ApolloContact;
  labels: Array<{ id: string; name: string; cached_count: number }>;
}
interface SearchReply {
  contacts: ApolloContact[];
  pagination: { page: number; per_page: number; total_entries: number; total_pages: number };
}
interface MatchReply {
  person: null | {
    id: string;
    email: string | null;
    name: string | null;
    contact_id: string;
    contact: ApolloContact;
    organization: { name: string; primary_domain: string | null };
  };
}

interface DirectoryMatchReply {
  person: null | { id: string; organization: Record<string, unknown> | null; [field: string]: unknown };
}

function keysOf(value: unknown): string[] {
  return Object.keys(value as object);
}

/** request_id as the raw JSON text has it: JSON.parse would round it to the nearest double. */
function rawRequestId(text: string): string {
  const raw = /"request_id":(-?\d+)[,}]/.exec(text)?.[1];
  if (raw === undefined) throw new Error(`No bare integer request_id in ${text.slice(0, 200)}`);
  return raw;
}

/** A tiny webhook receiver: records every request and answers `answer` (200 unless changed). */
interface Receiver {
  /** Origin, e.g. 'http://127.0.0.1:41235'. */
  url: string;
  deliveries: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }>;
  answer: number;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const deliveries: Receiver['deliveries'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      deliveries.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(receiver.answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}`,
    deliveries,
    answer: 200,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return receiver;
}

describe('Apollo sandbox', () => {
  let sandbox: ApolloSandbox;

  /** Calls the sandbox like the service does: JSON body, key in x-api-key unless `headers` says otherwise. */
  function callApollo(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = { 'x-api-key': sandbox.apiKey },
  ): Promise<Response> {
    return fetch(`${sandbox.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async function createContact(body: Record<string, unknown>): Promise<ContactReply> {
    const response = await callApollo('POST', '/contacts', body);
    expect(response.status).toBe(200);
    return (await response.json()) as ContactReply;
  }

  beforeAll(async () => {
    sandbox = await startApolloSandbox();
  });

  afterAll(async () => {
    await sandbox.close();
  });

  beforeEach(() => {
    sandbox.reset();
  });

  describe('auth', () => {
    it('answers 401 text/plain when the x-api-key header is missing', async () => {
      // Act
      const response = await callApollo('POST', '/contacts', MARK_TWAIN, {});

      // Assess
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await response.text()).toMatch(/^Invalid API key\./);
      expect(sandbox.contacts()).toHaveLength(0);
    });

    it('answers 401 when the key is sent as Authorization: Bearer', async () => {
      // Act
      const response = await callApollo('POST', '/contacts', MARK_TWAIN, {
        authorization: `Bearer ${sandbox.apiKey}`,
      });

      // Assess
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(sandbox.contacts()).toHaveLength(0);
      expect(sandbox.requests()).toMatchObject([{ method: 'POST', path: '/contacts', status: 401 }]);
    });
  });

  describe('POST /contacts', () => {
    it('answers 200 with the contact and its labels in the shape of the OpenAPI example', async () => {
      // Act
      const reply = await createContact({ ...MARK_TWAIN, label_names: ['Writers', 'Humorists'] });

      // Assess
      expect(keysOf(reply)).toEqual(['contact', 'labels']);
      expect(keysOf(reply.contact)).toEqual(expect.arrayContaining(EXAMPLE_CONTACT_KEYS));
      expect(keysOf(reply.contact.phone_numbers[0])).toEqual(EXAMPLE_PHONE_KEYS);
      expect(reply.contact).toMatchObject({
        first_name: 'Mark',
        last_name: 'Twain',
        name: 'Mark Twain',
        email: 'mark.twain@greatamericanwriters.example',
        organization_name: 'Great American Writers Co.',
        person_id: null,
        source: 'api',
        contact_stage_id: SANDBOX_CONTACT_STAGES[0].id,
      });
      expect(reply.contact.id).toMatch(APOLLO_ID);
      expect(reply.labels.map((label) => label.name)).toEqual(['Writers', 'Humorists']);
      expect(keysOf(reply.labels[0])).toEqual(EXAMPLE_LABEL_KEYS);
      expect(reply.contact.label_ids).toEqual(reply.labels.map((label) => label.id));
      expect(sandbox.contacts()[0]).toMatchObject({
        id: reply.contact.id,
        label_names: ['Writers', 'Humorists'],
      });
    });

    it('creates a second contact when the same email is sent twice without run_dedupe', async () => {
      // Act
      const first = await createContact(MARK_TWAIN);
      const second = await createContact(MARK_TWAIN);

      // Assess
      expect(second.contact.id).not.toBe(first.contact.id);
      expect(sandbox.contacts().map((contact) => contact.id)).toEqual([first.contact.id, second.contact.id]);
      expect(sandbox.contacts().map((contact) => contact.email)).toEqual([
        MARK_TWAIN.email,
        MARK_TWAIN.email,
      ]);
    });

    it('creates one contact per request when 50 creates arrive at once', async () => {
      // Act
      const replies = await Promise.all(Array.from({ length: 50 }, () => createContact(MARK_TWAIN)));

      // Assess
      expect(new Set(replies.map((reply) => reply.contact.id)).size).toBe(50);
      expect(sandbox.contacts()).toHaveLength(50);
    });

    it('upserts with run_dedupe: old id, sent fields overwritten, omitted kept, empty ones cleared', async () => {
      // Prepare
      const original = await createContact(MARK_TWAIN);

      // Act
      const upserted = await createContact({
        email: 'MARK.TWAIN@greatamericanwriters.example',
        title: 'Humorist',
        present_raw_address: '',
        run_dedupe: true,
      });

      // Assess
      expect(upserted.contact.id).toBe(original.contact.id);
      expect(upserted.contact).toMatchObject({
        title: 'Humorist',
        present_raw_address: null,
        organization_name: 'Great American Writers Co.',
        first_name: 'Mark',
        email: 'MARK.TWAIN@greatamericanwriters.example',
      });
      expect(upserted.contact.phone_numbers).toHaveLength(2);
      expect(sandbox.contacts()).toHaveLength(1);
      expect(sandbox.contacts()[0]?.title).toBe('Humorist');
    });

    it('matches run_dedupe on name plus company although the email differs, and overwrites the email', async () => {
      // Prepare
      const original = await createContact(MARK_TWAIN);

      // Act
      const upserted = await createContact({
        first_name: 'mark',
        last_name: 'TWAIN',
        organization_name: 'great american writers co.',
        email: 'samuel.clemens@hartfordmail.example',
        run_dedupe: true,
      });

      // Assess
      expect(upserted.contact.id).toBe(original.contact.id);
      expect(sandbox.contacts()).toHaveLength(1);
      expect(sandbox.contacts()[0]?.email).toBe('samuel.clemens@hartfordmail.example');
    });

    it('stores each phone field with its raw number, an E.164 number and its type', async () => {
      // Act
      const reply = await createContact({
        first_name: 'Mark',
        last_name: 'Twain',
        direct_phone: '555-123-4567',
        corporate_phone: '+44 7700 900852',
        mobile_phone: '(555) 765-4321',
        home_phone: '555.222.0101',
        other_phone: '5550109999',
      });

      // Assess
      expect(reply.contact.phone_numbers).toEqual([
        expect.objectContaining({
          raw_number: '555-123-4567',
          sanitized_number: '+15551234567',
          type: 'work_direct',
          position: 0,
        }),
        expect.objectContaining({
          raw_number: '+44 7700 900852',
          sanitized_number: '+447700900852',
          type: 'work_hq',
          position: 1,
        }),
        expect.objectContaining({
          raw_number: '(555) 765-4321',
          sanitized_number: '+15557654321',
          type: 'mobile',
          position: 2,
        }),
        expect.objectContaining({
          raw_number: '555.222.0101',
          sanitized_number: '+15552220101',
          type: 'home',
          position: 3,
        }),
        expect.objectContaining({
          raw_number: '5550109999',
          sanitized_number: '+15550109999',
          type: 'other',
          position: 4,
        }),
      ]);
      expect(reply.contact.sanitized_phone).toBe('+15551234567');
    });

    it.each([
      [
        'an unknown contact_stage_id',
        { contact_stage_id: '2342432' },
        'Parameters misconfigured. 2342432 is not a valid ID',
      ],
      [
        'a malformed account_id',
        { account_id: 'not-an-id' },
        'Parameters misconfigured. not-an-id is not a valid ID',
      ],
      [
        'an email that is not an email',
        { email: 'mark.twain' },
        expect.stringMatching(/^Parameters misconfigured\./) as unknown,
      ],
    ])('answers 422 {error} and stores nothing for %s', async (_case, fields, error) => {
      // Act
      const response = await callApollo('POST', '/contacts', { ...MARK_TWAIN, ...fields });

      // Assess
      expect(response.status).toBe(422);
      expect(await response.json()).toEqual({ error });
      expect(sandbox.contacts()).toHaveLength(0);
    });

    it('answers 422 {error} when the body is not JSON', async () => {
      // Act
      const response = await fetch(`${sandbox.url}/contacts`, {
        method: 'POST',
        headers: { 'x-api-key': sandbox.apiKey, 'content-type': 'application/json' },
        body: '{"first_name": "Mark",',
      });

      // Assess
      expect(response.status).toBe(422);
      expect(await response.json()).toEqual({ error: expect.stringMatching(/not valid JSON/) as unknown });
      expect(sandbox.requests()[0]?.body).toBe('{"first_name": "Mark",');
    });
  });

  describe('GET and PATCH /contacts/{id}', () => {
    it('shows a contact, and PATCH updates sent fields and replaces label_names', async () => {
      // Prepare
      const { contact } = await createContact({ ...MARK_TWAIN, label_names: ['Writers'] });

      // Act
      const patched = await callApollo('PATCH', `/contacts/${contact.id}`, {
        title: 'Riverboat Pilot',
        label_names: ['Pilots'],
      });
      const viewed = await callApollo('GET', `/contacts/${contact.id}`);

      // Assess
      expect(patched.status).toBe(200);
      const viewedReply = (await viewed.json()) as ContactReply;
      expect(viewedReply.contact).toMatchObject({
        id: contact.id,
        title: 'Riverboat Pilot',
        first_name: 'Mark',
      });
      expect(viewedReply.labels.map((label) => label.name)).toEqual(['Pilots']);
      expect(keysOf(viewedReply.contact)).toEqual(expect.arrayContaining(EXAMPLE_CONTACT_KEYS));
      expect(sandbox.contacts()[0]?.label_names).toEqual(['Pilots']);
    });

    it('answers an unknown contact id with 422, as Apollo does', async () => {
      // Act
      const viewed = await callApollo('GET', '/contacts/66e34b81740c50074e3d1bd4');
      const patched = await callApollo('PUT', '/contacts/66e34b81740c50074e3d1bd4', { title: 'Author' });

      // Assess
      expect(viewed.status).toBe(422);
      expect(await viewed.json()).toEqual({ error: 'Oops! This contact does not exist in Apollo.' });
      expect(patched.status).toBe(422);
    });
  });

  describe('POST /contacts/search', () => {
    beforeEach(() => {
      sandbox.addContact({ ...MARK_TWAIN, account_id: ACCOUNT_ID });
      sandbox.addContact({
        first_name: 'Huck',
        last_name: 'Finn',
        email: 'huck.finn.mark.twain@greatamericanwriters.example',
        organization_name: 'Raft Adventures',
        title: 'Adventurer',
      });
      sandbox.addContact({
        first_name: 'Becky',
        last_name: 'Thatcher',
        email: 'becky@hannibalschoolhouse.example',
        organization_name: 'Hannibal Schoolhouse',
        title: 'Teacher',
      });
    });

    async function search(body: Record<string, unknown>): Promise<SearchReply> {
      const response = await callApollo('POST', '/contacts/search', body);
      expect(response.status).toBe(200);
      return (await response.json()) as SearchReply;
    }

    it('matches a partial keyword in names, emails, companies and titles, case-insensitively', async () => {
      // Act
      const byPartialName = await search({ q_keywords: 'TWA' });
      const byCompanyAndTitle = await search({ q_keywords: 'schoolhouse teach' });
      const all = await search({});

      // Assess
      expect(byPartialName.contacts.map((contact) => contact.name)).toEqual(['Mark Twain', 'Huck Finn']);
      expect(byCompanyAndTitle.contacts.map((contact) => contact.name)).toEqual(['Becky Thatcher']);
      expect(all.pagination.total_entries).toBe(3);
    });

    it('returns other contacts too when searching for an exact email', async () => {
      // Act
      const reply = await search({ q_keywords: MARK_TWAIN.email });

      // Assess
      expect(reply.contacts.map((contact) => contact.email)).toEqual([
        'mark.twain@greatamericanwriters.example',
        'huck.finn.mark.twain@greatamericanwriters.example',
      ]);
    });

    it('answers in the shape of the OpenAPI example', async () => {
      // Act
      const reply = await search({ q_keywords: 'author' });

      // Assess
      expect(keysOf(reply)).toEqual(expect.arrayContaining(EXAMPLE_SEARCH_KEYS));
      expect(keysOf(reply.contacts[0])).toEqual(
        expect.arrayContaining([...EXAMPLE_CONTACT_KEYS, ...EXAMPLE_SEARCH_ONLY_CONTACT_KEYS]),
      );
      expect(reply).toMatchObject({
        breadcrumbs: [{ signal_field_name: 'q_keywords', value: 'author' }],
        contacts: [{ account: { id: ACCOUNT_ID }, organization: { name: 'Great American Writers Co.' } }],
      });
    });

    it('paginates with page and per_page, 10 per page by default and at most 100', async () => {
      // Prepare
      for (let index = 1; index <= 9; index += 1) {
        sandbox.addContact({ first_name: 'Tom', last_name: `Sawyer ${index}`, title: 'Adventurer' });
      }

      // Act
      const thirdPage = await search({ q_keywords: 'adventurer', page: 3, per_page: 4 });
      const defaultPage = await search({});
      const hugePage = await search({ per_page: 500 });

      // Assess
      expect(thirdPage.pagination).toEqual({ page: 3, per_page: 4, total_entries: 10, total_pages: 3 });
      expect(thirdPage.contacts.map((contact) => contact.last_name)).toEqual(['Sawyer 8', 'Sawyer 9']);
      expect(defaultPage.pagination).toEqual({ page: 1, per_page: 10, total_entries: 12, total_pages: 2 });
      expect(defaultPage.contacts).toHaveLength(10);
      expect(hugePage.pagination.per_page).toBe(100);
      expect(hugePage.contacts).toHaveLength(12);
    });
  });

  describe('POST /people/match', () => {
    async function match(body: Record<string, unknown>): Promise<MatchReply> {
      const response = await callApollo('POST', '/people/match', body);
      expect(response.status).toBe(200);
      return (await response.json()) as MatchReply;
    }

    it('finds a saved contact by email and returns it with its phones, in the example shape', async () => {
      // Prepare
      const { contact } = await createContact(MARK_TWAIN);

      // Act
      const reply = await match({ email: 'Mark.Twain@GreatAmericanWriters.example' });

      // Assess
      expect(keysOf(reply.person)).toEqual(expect.arrayContaining(EXAMPLE_PERSON_KEYS));
      expect(keysOf(reply.person?.organization)).toEqual(expect.arrayContaining(EXAMPLE_ORGANIZATION_KEYS));
      expect(reply.person).toMatchObject({
        email: MARK_TWAIN.email,
        name: 'Mark Twain',
        contact_id: contact.id,
        contact: { id: contact.id, person_id: null },
        organization: { name: 'Great American Writers Co.', primary_domain: 'greatamericanwriters.example' },
      });
      expect(reply.person?.id).toMatch(APOLLO_ID);
      expect(reply.person?.id).not.toBe(contact.id);
      expect(
        reply.person?.contact.phone_numbers.map((phone) => [phone.type, phone.sanitized_number]),
      ).toEqual([
        ['work_direct', '+15551234567'],
        ['mobile', '+15557654321'],
      ]);
    });

    it('finds a saved contact by name plus the domain of its website', async () => {
      // Prepare
      const { contact } = await createContact(MARK_TWAIN);

      // Act
      const reply = await match({ name: 'Mark Twain', domain: 'greatamericanwriters.example' });

      // Assess
      expect(reply.person?.contact_id).toBe(contact.id);
    });

    it('reads the identifying fields from the query string too', async () => {
      // Prepare
      const { contact } = await createContact(MARK_TWAIN);

      // Act
      const response = await callApollo(
        'POST',
        `/people/match?email=${encodeURIComponent(MARK_TWAIN.email)}`,
      );

      // Assess
      expect(((await response.json()) as MatchReply).person?.contact_id).toBe(contact.id);
    });

    it('answers 200 with person: null for an unknown email', async () => {
      // Prepare
      await createContact(MARK_TWAIN);

      // Act
      const reply = await match({ email: 'nobody@greatamericanwriters.example' });

      // Assess
      expect(reply.person).toBeNull();
    });

    it('answers 400 to reveal_phone_number without a webhook_url', async () => {
      // Act
      const response = await callApollo('POST', '/people/match', {
        email: MARK_TWAIN.email,
        reveal_phone_number: true,
      });

      // Assess
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: expect.stringContaining('webhook_url') as unknown });
    });

    it('sends request_id as a JSON integer too large for a JS number', async () => {
      // Act
      const response = await callApollo('POST', '/people/match', { email: MARK_TWAIN.email });

      // Assess
      const rawRequestId = /"request_id":(-?\d+)/.exec(await response.text())?.[1];
      expect(rawRequestId).toBeDefined();
      const requestId = BigInt(rawRequestId ?? '0');
      expect(requestId > BigInt(Number.MAX_SAFE_INTEGER) || requestId < BigInt(Number.MIN_SAFE_INTEGER)).toBe(
        true,
      );
    });
  });

  describe('rate limits', () => {
    it('sends the minute, hour and day headers, the day in both spellings, on success', async () => {
      // Prepare
      await createContact(MARK_TWAIN);

      // Act
      const response = await callApollo('POST', '/contacts', MARK_TWAIN);

      // Assess
      expect(Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('x-')))).toEqual({
        'x-rate-limit-minute': '200',
        'x-minute-usage': '2',
        'x-minute-requests-left': '198',
        'x-rate-limit-hourly': '600',
        'x-hourly-usage': '2',
        'x-hourly-requests-left': '598',
        'x-rate-limit-daily': '2000',
        'x-daily-usage': '2',
        'x-daily-requests-left': '1998',
        'x-rate-limit-24-hour': '2000',
        'x-24-hour-usage': '2',
        'x-24-hour-requests-left': '1998',
      });
    });

    it('counts each endpoint separately, with 1000 a minute for people/match', async () => {
      // Prepare
      await createContact(MARK_TWAIN);

      // Act
      const response = await callApollo('POST', '/people/match', { email: MARK_TWAIN.email });

      // Assess
      expect(response.headers.get('x-rate-limit-minute')).toBe('1000');
      expect(response.headers.get('x-minute-usage')).toBe('1');
    });

    it('answers 429 with retry-after and {message} once the minute limit is used up', async () => {
      // Prepare
      const limited = await startApolloSandbox({ rateLimitPerMinute: 2 });
      const createMarkTwain = () =>
        fetch(`${limited.url}/contacts`, {
          method: 'POST',
          headers: { 'x-api-key': limited.apiKey, 'content-type': 'application/json' },
          body: JSON.stringify(MARK_TWAIN),
        });

      try {
        // Act
        const statuses = [(await createMarkTwain()).status, (await createMarkTwain()).status];
        const refused = await createMarkTwain();
        const otherEndpoint = await fetch(`${limited.url}/contacts/search`, {
          method: 'POST',
          headers: { 'x-api-key': limited.apiKey },
        });

        // Assess
        expect(statuses).toEqual([200, 200]);
        expect(refused.status).toBe(429);
        const retryAfter = Number(refused.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(60);
        expect(await refused.json()).toEqual({
          message: expect.stringMatching(
            /^The maximum number of api calls allowed for api\/v1\/contacts is 2 times per minute\./,
          ) as unknown,
        });
        expect(limited.contacts()).toHaveLength(2);
        expect(otherEndpoint.status).toBe(200);
      } finally {
        await limited.close();
      }
    });
  });

  describe('faults', () => {
    it('respond: answers the injected 503 once, without creating the contact', async () => {
      // Prepare
      sandbox.inject({ method: 'POST', path: '/contacts', status: 503 });

      // Act
      const failed = await callApollo('POST', '/contacts', MARK_TWAIN);
      const retried = await callApollo('POST', '/contacts', MARK_TWAIN);

      // Assess
      expect(failed.status).toBe(503);
      expect(await failed.json()).toEqual({ error: 'Service Unavailable' });
      expect(retried.status).toBe(200);
      expect(sandbox.contacts()).toHaveLength(1);
    });

    it("respond: answers injected 403 and 429 in Apollo's shapes", async () => {
      // Prepare
      sandbox.inject({ path: '/contacts/search', status: 403 });
      sandbox.inject({ path: '/contacts/search', status: 429, retryAfterSeconds: 7 });

      // Act
      const forbidden = await callApollo('POST', '/contacts/search', {});
      const limited = await callApollo('POST', '/contacts/search', {});

      // Assess
      expect(forbidden.status).toBe(403);
      expect(await forbidden.json()).toEqual({
        error: expect.any(String) as unknown,
        error_code: 'API_INACCESSIBLE',
      });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('7');
      expect(await limited.json()).toEqual({
        message: expect.stringContaining('api/v1/contacts/search') as unknown,
      });
    });

    it('applies a rule to `times` matching requests only, matching paths by RegExp', async () => {
      // Prepare
      sandbox.inject({ path: /^\/contacts\/search$/, status: 502, times: 2 });

      // Act
      const create = await callApollo('POST', '/contacts', MARK_TWAIN);
      const searches = [];
      for (let attempt = 0; attempt < 3; attempt += 1) {
        searches.push((await callApollo('POST', '/contacts/search', {})).status);
      }

      // Assess
      expect(create.status).toBe(200);
      expect(searches).toEqual([502, 502, 200]);
    });

    it('reset: drops the connection without answering and without creating', async () => {
      // Prepare
      sandbox.inject({ method: 'POST', path: '/contacts', action: 'reset' });

      // Act
      const attempt = callApollo('POST', '/contacts', MARK_TWAIN);

      // Assess
      await expect(attempt).rejects.toThrow();
      expect(sandbox.contacts()).toHaveLength(0);
      expect(sandbox.requests()).toMatchObject([{ method: 'POST', path: '/contacts', status: 0 }]);
    });

    it('delay: the client times out while the sandbox still creates the contact', async () => {
      // Prepare
      sandbox.inject({ method: 'POST', path: '/contacts', action: 'delay', delayMs: 500 });

      // Act
      const attempt = fetch(`${sandbox.url}/contacts`, {
        method: 'POST',
        headers: { 'x-api-key': sandbox.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify(MARK_TWAIN),
        signal: AbortSignal.timeout(50),
      });

      // Assess
      await expect(attempt).rejects.toThrow();
      expect(sandbox.contacts()).toHaveLength(0);
      await vi.waitFor(() => expect(sandbox.contacts()).toHaveLength(1), { timeout: 2_000 });
      expect(sandbox.requests()).toMatchObject([{ path: '/contacts', status: 200 }]);
    });

    it('create-then-fail: the contact exists although 500 is answered', async () => {
      // Prepare
      sandbox.inject({ method: 'POST', path: '/contacts', action: 'create-then-fail' });

      // Act
      const response = await callApollo('POST', '/contacts', MARK_TWAIN);

      // Assess
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'Internal Server Error' });
      expect(sandbox.contacts()).toMatchObject([{ email: MARK_TWAIN.email }]);
    });

    it('clearFaults forgets queued rules', async () => {
      // Prepare
      sandbox.inject({ status: 500, times: 5 });
      sandbox.clearFaults();

      // Act
      const response = await callApollo('POST', '/contacts', MARK_TWAIN);

      // Assess
      expect(response.status).toBe(200);
    });
  });

  describe('routing and bookkeeping', () => {
    it('serves the older /v1 prefix and answers 404 JSON for unknown routes', async () => {
      // Prepare
      const origin = new URL(sandbox.url).origin;
      const headers = { 'x-api-key': sandbox.apiKey, 'content-type': 'application/json' };

      // Act
      const legacy = await fetch(`${origin}/v1/contacts`, {
        method: 'POST',
        headers,
        body: JSON.stringify(MARK_TWAIN),
      });
      const unknown = await fetch(`${origin}/api/v1/contacts/bulk_delete`, { method: 'POST', headers });

      // Assess
      expect(legacy.status).toBe(200);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({ error: 'Not Found' });
      expect(sandbox.countRequests('post', '/contacts')).toBe(1);
      expect(sandbox.countRequests('POST', /^\/contacts/)).toBe(2);
    });

    it('records each request with its path, parsed body and status', async () => {
      // Act
      await callApollo('POST', '/contacts', MARK_TWAIN, {});
      await callApollo('POST', '/contacts', MARK_TWAIN);

      // Assess
      expect(sandbox.requests()).toMatchObject([
        { method: 'POST', path: '/contacts', body: MARK_TWAIN, status: 401 },
        { method: 'POST', path: '/contacts', body: MARK_TWAIN, status: 200 },
      ]);
    });

    it('addContact seeds a contact that search and people/match find', async () => {
      // Prepare
      const seeded = sandbox.addContact({
        first_name: 'Mark',
        last_name: 'Twain',
        email: MARK_TWAIN.email,
        phone_numbers: [{ raw_number: '555-123-4567', type: 'work_direct' }],
      });

      // Act
      const matched = (await (
        await callApollo('POST', '/people/match', { email: MARK_TWAIN.email })
      ).json()) as MatchReply;

      // Assess
      expect(seeded).toMatchObject({
        id: expect.stringMatching(APOLLO_ID) as unknown,
        name: 'Mark Twain',
        person_id: null,
      });
      expect(matched.person?.contact.phone_numbers).toEqual([
        expect.objectContaining({ sanitized_number: '+15551234567', type: 'work_direct', position: 0 }),
      ]);
      expect(sandbox.contacts()).toHaveLength(1);
    });

    it('logs one line per request without bodies', async () => {
      // Prepare
      const lines: string[] = [];
      const logged = await startApolloSandbox({ log: (line) => lines.push(line) });

      try {
        // Act
        await fetch(`${logged.url}/contacts`, {
          method: 'POST',
          headers: { 'x-api-key': logged.apiKey, 'content-type': 'application/json' },
          body: JSON.stringify(MARK_TWAIN),
        });

        // Assess
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^POST \/api\/v1\/contacts 200 \d+ms$/);
      } finally {
        await logged.close();
      }
    });

    it('closes despite keep-alive and in-flight requests, and close is idempotent', async () => {
      // Prepare
      const closing = await startApolloSandbox();
      const headers = { 'x-api-key': closing.apiKey, 'content-type': 'application/json' };
      await fetch(`${closing.url}/contacts/search`, { method: 'POST', headers });
      closing.inject({ action: 'delay', delayMs: 60_000 });
      const stuck = fetch(`${closing.url}/contacts/search`, { method: 'POST', headers });
      await vi.waitFor(() => expect(closing.countRequests('POST', '/contacts/search')).toBe(2));

      // Act
      const startedAt = Date.now();
      await closing.close();
      await closing.close();

      // Assess
      expect(Date.now() - startedAt).toBeLessThan(1_000);
      await expect(stuck).rejects.toThrow();
    });
  });

  describe('people directory and POST /people/match', () => {
    const TIM = {
      first_name: 'Tim',
      last_name: 'Zheng',
      email: 'tim@apollo.example',
      title: 'Founder & CEO',
      organization_name: 'Apollo Example',
      domain: 'apollo.example',
      linkedin_url: 'http://www.linkedin.com/in/tim-zheng-677ba010',
    };

    async function match(body: Record<string, unknown>): Promise<DirectoryMatchReply> {
      const response = await callApollo('POST', '/people/match', body);
      expect(response.status).toBe(200);
      return (await response.json()) as DirectoryMatchReply;
    }

    it('addPerson stores a person with a generated 24-hex id, people() lists it, reset() forgets it', () => {
      // Act
      const added = sandbox.addPerson({ ...TIM, mobile_phones: [{ raw_number: '(415) 555-0164' }] });

      // Assess
      expect(added).toMatchObject({
        id: expect.stringMatching(APOLLO_ID) as unknown,
        name: 'Tim Zheng',
        website_url: 'http://www.apollo.example',
        domain: 'apollo.example',
        organization_id: expect.stringMatching(APOLLO_ID) as unknown,
        mobile_phones: [
          {
            _id: expect.stringMatching(APOLLO_ID) as unknown,
            sanitized_number: '+14155550164',
            type_cd: 'mobile',
          },
        ],
        phone_numbers: [],
      });
      expect(sandbox.people()).toEqual([added]);
      expect(sandbox.addPerson({ ...TIM, id: '587cf802f65125cad923a266' }).id).toBe(
        '587cf802f65125cad923a266',
      );
      sandbox.reset();
      expect(sandbox.people()).toEqual([]);
    });

    it.each([
      ['id', { id: '587cf802f65125cad923a266' }],
      ['email in any case', { email: 'TIM@Apollo.Example' }],
      [
        'linkedin_url without scheme, www or with a trailing slash',
        { linkedin_url: 'linkedin.com/in/tim-zheng-677ba010/' },
      ],
      ['linkedin_url over https', { linkedin_url: 'https://www.linkedin.com/in/tim-zheng-677ba010' }],
      [
        'first_name + last_name + organization_name',
        { first_name: 'tim', last_name: 'ZHENG', organization_name: 'apollo example' },
      ],
      ['name + domain', { name: 'Tim Zheng', domain: 'www.apollo.example' }],
    ])('finds a directory person by %s, in the example shape', async (_case, identity) => {
      // Prepare
      sandbox.addPerson({ ...TIM, id: '587cf802f65125cad923a266' });
      sandbox.addPerson({
        first_name: 'Tim',
        last_name: 'Zheng',
        organization_name: 'Other Co',
        domain: 'other.example',
      });

      // Act
      const reply = await match(identity);

      // Assess
      const personKeys = EXAMPLE_PERSON_KEYS.filter((key) => key !== 'contact' && key !== 'contact_id');
      expect(keysOf(reply.person)).toEqual(expect.arrayContaining(personKeys));
      expect(keysOf(reply.person?.organization)).toEqual(expect.arrayContaining(EXAMPLE_ORGANIZATION_KEYS));
      expect(reply.person).toMatchObject({
        id: '587cf802f65125cad923a266',
        email: 'tim@apollo.example',
        title: 'Founder & CEO',
        linkedin_url: TIM.linkedin_url,
        organization: {
          name: 'Apollo Example',
          website_url: 'http://www.apollo.example',
          primary_domain: 'apollo.example',
        },
      });
      expect(reply.person).not.toHaveProperty('contact_id');
      expect(reply.person).not.toHaveProperty('contact');
    });

    it('does not find a directory person by name without a company or domain', async () => {
      // Prepare
      sandbox.addPerson(TIM);

      // Act
      const reply = await match({ first_name: 'Tim', last_name: 'Zheng' });

      // Assess
      expect(reply.person).toBeNull();
      expect(sandbox.creditsConsumed()).toBe(0);
    });

    it('adds contact and contact_id when the team saved the person, by email or by person_id', async () => {
      // Prepare
      const tim = sandbox.addPerson(TIM);
      const byEmail = sandbox.addContact({
        first_name: 'Tim',
        last_name: 'Zheng',
        email: 'Tim@apollo.example',
      });
      const ada = sandbox.addPerson({
        first_name: 'Ada',
        last_name: 'Lovelace',
        email: 'ada@engines.example',
      });
      const byPersonId = sandbox.addContact({ first_name: 'Ada', last_name: 'Lovelace', person_id: ada.id });

      // Act
      const timReply = await match({ linkedin_url: TIM.linkedin_url });
      const adaReply = await match({ email: 'ada@engines.example' });

      // Assess
      expect(timReply.person).toMatchObject({
        id: tim.id,
        contact_id: byEmail.id,
        contact: { id: byEmail.id },
      });
      expect(keysOf(timReply.person)).toEqual(expect.arrayContaining(EXAMPLE_PERSON_KEYS));
      expect(adaReply.person).toMatchObject({
        id: ada.id,
        contact_id: byPersonId.id,
        contact: { id: byPersonId.id, person_id: ada.id },
      });
    });

    it('still matches saved contacts that are not in the directory, and answers person: null otherwise', async () => {
      // Prepare
      sandbox.addPerson(TIM);
      const contact = sandbox.addContact({ first_name: 'Mark', last_name: 'Twain', email: MARK_TWAIN.email });

      // Act
      const saved = await match({ email: MARK_TWAIN.email });
      const unknown = await match({ email: 'nobody@apollo.example' });

      // Assess
      expect(saved.person).toMatchObject({ contact_id: contact.id, email: MARK_TWAIN.email });
      expect(unknown.person).toBeNull();
    });
  });

  describe('credits', () => {
    it('costs 1 for a person who is not a saved contact, 0 for a saved contact, 0 when nothing is found', async () => {
      // Prepare
      sandbox.addPerson({ first_name: 'Tim', last_name: 'Zheng', email: 'tim@apollo.example' });
      sandbox.addPerson({ first_name: 'Mark', last_name: 'Twain', email: MARK_TWAIN.email });
      sandbox.addContact({ first_name: 'Mark', last_name: 'Twain', email: MARK_TWAIN.email });

      // Act
      await callApollo('POST', '/people/match', { email: 'tim@apollo.example' });
      const afterNewPerson = sandbox.creditsConsumed();
      await callApollo('POST', '/people/match', { email: MARK_TWAIN.email });
      await callApollo('POST', '/people/match', { email: 'nobody@apollo.example' });

      // Assess
      expect(afterNewPerson).toBe(1);
      expect(sandbox.creditsConsumed()).toBe(1);
    });

    it('costs 8 more when a mobile phone is revealed, and the callback says what the request cost', async () => {
      // Prepare
      const receiver = await startReceiver();
      sandbox.setPhoneCallbacks({ mode: 'once', delayMs: 10 });
      sandbox.addPerson({
        first_name: 'Tim',
        last_name: 'Zheng',
        email: 'tim@apollo.example',
        mobile_phones: [{ raw_number: '(415) 555-0164' }],
      });
      sandbox.addPerson({
        first_name: 'Mark',
        last_name: 'Twain',
        email: MARK_TWAIN.email,
        mobile_phones: [{ raw_number: '555-765-4321' }],
      });
      sandbox.addContact({ first_name: 'Mark', last_name: 'Twain', email: MARK_TWAIN.email });
      const reveal = { reveal_phone_number: true, webhook_url: receiver.url };

      try {
        // Act
        await callApollo('POST', '/people/match', { email: 'tim@apollo.example', ...reveal });
        await callApollo('POST', '/people/match', { email: MARK_TWAIN.email, ...reveal });
        await vi.waitFor(() => expect(sandbox.callbacks()).toHaveLength(2));

        // Assess
        expect(sandbox.creditsConsumed()).toBe(1 + 8 + 8);
        const costs = Object.fromEntries(
          sandbox
            .callbacks()
            .map((callback): [string, number] => [
              callback.body.people[0]?.phone_numbers[0]?.raw_number ?? 'no phone',
              callback.body.credits_consumed,
            ]),
        );
        expect(costs).toEqual({ '(415) 555-0164': 9, '555-765-4321': 8 });
      } finally {
        await receiver.close();
      }
    });

    it('reveals other phones without the 8 credits, as in the webhook_result example', async () => {
      // Prepare
      const receiver = await startReceiver();
      sandbox.setPhoneCallbacks({ mode: 'once', delayMs: 10 });
      sandbox.addPerson({
        first_name: 'Tim',
        last_name: 'Zheng',
        email: 'tim@apollo.example',
        phone_numbers: [{ raw_number: '+1 415-555-0117' }],
      });

      try {
        // Act
        await callApollo('POST', '/people/match', {
          email: 'tim@apollo.example',
          reveal_phone_number: true,
          webhook_url: receiver.url,
        });
        await vi.waitFor(() => expect(sandbox.callbacks()).toHaveLength(1));

        // Assess
        expect(sandbox.creditsConsumed()).toBe(1);
        expect(sandbox.callbacks()[0]?.body).toMatchObject({
          credits_consumed: 1,
          people: [{ phone_numbers: [{ type_cd: 'other', sanitized_number: '+14155550117' }] }],
        });
      } finally {
        await receiver.close();
      }
    });
  });

  describe('its own door, /_sandbox/ (for a process that did not start it)', () => {
    function callAdmin(method: string, path: string, body?: unknown, key = sandbox.apiKey) {
      return fetch(`${new URL(sandbox.url).origin}/_sandbox/${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    }

    it('adds a directory person, and shows the credits each request used without recording itself', async () => {
      // Act
      const added = await callAdmin('POST', 'people', {
        first_name: 'Tim',
        last_name: 'Zheng',
        email: 'tim@apollo.example',
      });
      await callApollo('POST', '/people/match', { email: 'tim@apollo.example' });
      await callApollo('POST', '/contacts', {
        first_name: 'Tim',
        last_name: 'Zheng',
        email: 'tim@apollo.example',
      });
      await callApollo('POST', '/people/match', { email: 'tim@apollo.example' });
      const state = (await (await callAdmin('GET', 'state')).json()) as {
        credits_consumed: number;
        contacts: Array<{ email: string }>;
        requests: Array<{ method: string; path: string; creditsConsumed: number }>;
      };

      // Assess
      expect(added.status).toBe(200);
      expect(((await added.json()) as { id: string }).id).toMatch(APOLLO_ID);
      expect(state.credits_consumed).toBe(1);
      expect(state.contacts.map((contact) => contact.email)).toEqual(['tim@apollo.example']);
      expect(
        state.requests.map(({ method, path, creditsConsumed }) => [method, path, creditsConsumed]),
      ).toEqual([
        ['POST', '/people/match', 1],
        ['POST', '/contacts', 0],
        ['POST', '/people/match', 0],
      ]);
    });

    it('scripts faults as inject() does, and clears them', async () => {
      // Act
      const scripted = await callAdmin('POST', 'faults', {
        method: 'POST',
        path: '/people/match',
        status: 503,
        times: 2,
      });
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await callApollo('POST', '/people/match', { email: 'x@apollo.example' })).status);
      await callAdmin('POST', 'faults', { path: '/people/match', times: 5 });
      const cleared = await callAdmin('DELETE', 'faults');
      const afterClear = await callApollo('POST', '/people/match', { email: 'x@apollo.example' });
      const refused = await callAdmin('POST', 'faults', { path: /x/.source, action: 'explode' });

      // Assess
      expect(scripted.status).toBe(200);
      expect(statuses).toEqual([503, 503, 200]);
      expect(cleared.status).toBe(200);
      expect(afterClear.status).toBe(200);
      expect(refused.status).toBe(422);
    });

    it('refuses a wrong key (401), a person without names (422) and unknown paths (404)', async () => {
      // Act
      const statuses = [
        (await callAdmin('GET', 'state', undefined, 'wrong-key')).status,
        (await callAdmin('POST', 'people', { email: 'tim@apollo.example' })).status,
        (await callAdmin('GET', 'nothing-here')).status,
      ];

      // Assess
      expect(statuses).toEqual([401, 422, 404]);
      expect(sandbox.people()).toEqual([]);
    });
  });

  describe('request_id', () => {
    it('is a bare negative 19-digit integer in the raw reply text, beyond what a JS number holds', async () => {
      // Act
      const replies = await Promise.all(
        Array.from({ length: 20 }, async () =>
          (await callApollo('POST', '/people/match', { email: MARK_TWAIN.email })).text(),
        ),
      );

      // Assess
      for (const text of replies) {
        const raw = rawRequestId(text);
        expect(raw).toMatch(/^-\d{19}$/);
        expect(BigInt(raw)).toBeLessThan(-(2n ** 53n));
        expect(BigInt(raw)).toBeGreaterThanOrEqual(-(2n ** 63n));
        expect(BigInt(raw).toString()).toBe(raw);
        expect(Number.isSafeInteger(Number(raw))).toBe(false);
      }
      expect(new Set(replies.map(rawRequestId)).size).toBe(20);
    });

    it('round-trips exactly: the raw id finds its webhook_result and names its callbacks', async () => {
      // Prepare
      const receiver = await startReceiver();
      sandbox.setPhoneCallbacks({ mode: 'once', delayMs: 10 });
      sandbox.addPerson({ ...SAMUEL, mobile_phones: [{ raw_number: '555-765-4321' }] });

      try {
        // Act
        const response = await callApollo('POST', '/people/match', {
          email: SAMUEL.email,
          reveal_phone_number: true,
          webhook_url: receiver.url,
        });
        const raw = rawRequestId(await response.text());
        await vi.waitFor(() => expect(sandbox.callbacks()).toHaveLength(1));
        const polled = await callApollo('GET', `/webhook_result/${raw}`);

        // Assess
        expect(polled.status).toBe(200);
        expect(((await polled.json()) as { request_id: unknown }).request_id).toBe(raw);
        expect(sandbox.callbacks()[0]?.requestId).toBe(raw);
      } finally {
        await receiver.close();
      }
    });
  });

  describe('phone-reveal callbacks', () => {
    let receiver: Receiver;

    beforeAll(async () => {
      receiver = await startReceiver();
    });

    afterAll(async () => {
      await receiver.close();
    });

    beforeEach(() => {
      receiver.deliveries.length = 0;
      receiver.answer = 200;
      sandbox.addPerson({
        ...SAMUEL,
        mobile_phones: [{ raw_number: '(415) 555-0164' }],
        phone_numbers: [{ raw_number: '555-123-4567', type_cd: 'work_direct' }],
      });
    });

    function revealPhones(
      webhookUrl = `${receiver.url}/apollo/phones?token=s3cr%2Bt&x=1`,
    ): Promise<Response> {
      return callApollo('POST', '/people/match', {
        email: SAMUEL.email,
        reveal_phone_number: true,
        webhook_url: webhookUrl,
      });
    }

    it('replies at once without phones, then POSTs the payload once to the webhook_url, query string intact', async () => {
      // Prepare
      sandbox.setPhoneCallbacks({ mode: 'once', delayMs: 150 });
      const webhookUrl = `${receiver.url}/apollo/phones?token=s3cr%2Bt&x=1`;

      // Act
      const response = await revealPhones(webhookUrl);
      const text = await response.text();
      const deliveriesAtReply = receiver.deliveries.length;
      await vi.waitFor(() => expect(sandbox.callbacks()).toHaveLength(1));

      // Assess
      expect(response.status).toBe(200);
      expect(deliveriesAtReply).toBe(0);
      expect(text).not.toContain('555-0164');
      const person = sandbox.people()[0];
      expect(receiver.deliveries).toHaveLength(1);
      const [delivery] = receiver.deliveries;
      expect(delivery?.method).toBe('POST');
      expect(delivery?.url).toBe('/apollo/phones?token=s3cr%2Bt&x=1');
      expect(delivery?.headers['content-type']).toBe('application/json');
      expect(
        Object.keys(delivery?.headers ?? {}).filter((name) => /signature|authorization|api-key/i.test(name)),
      ).toEqual([]);
      const body = JSON.parse(delivery?.body ?? '') as unknown;
      expect(keysOf(body)).toEqual(EXAMPLE_WEBHOOK_RESULT_KEYS);
      expect(body).toEqual({
        status: 'success',
        total_requested_enrichments: 1,
        unique_enriched_records: 1,
        missing_records: 0,
        credits_consumed: 9,
        people: [
          {
            id: person?.id,
            status: 'success',
            phone_numbers: [
              expect.objectContaining({
                _id: person?.mobile_phones[0]?._id,
                raw_number: '(415) 555-0164',
                sanitized_number: '+14155550164',
                type_cd: 'mobile',
                status_cd: 'valid_number',
                confidence_cd: 'high',
                dnc_status_cd: 'not_found',
                dnc_other_info: { country: 'United States' },
                position: 0,
              }),
              expect.objectContaining({
                raw_number: '555-123-4567',
                sanitized_number: '+15551234567',
                type_cd: 'work_direct',
                position: 1,
              }),
            ],
          },
        ],
      });
      const phoneNumbers = (body as { people: Array<{ phone_numbers: unknown[] }> }).people[0]?.phone_numbers;
      expect(keysOf(phoneNumbers?.[0])).toEqual(EXAMPLE_WEBHOOK_PHONE_KEYS);
      expect(sandbox.callbacks()).toEqual([
        {
          url: webhookUrl,
          requestId: rawRequestId(text),
          at: expect.any(Number) as unknown,
          status: 200,
          body,
        },
      ]);
    });

    it('twice: delivers the same payload again, as Apollo may retry', async () => {
      // Prepare
      sandbox.setPhoneCallbacks({ mode: 'twice', delayMs: 10, secondDelayMs: 80 });

      // Act
      const requestId = rawRequestId(await (await revealPhones()).text());
      await vi.waitFor(() => expect(sandbox.callbacks()).toHaveLength(2));

      // Assess
      expect(receiver.deliveries).toHaveLength(2);
      expect(receiver.deliveries[1]?.body).toBe(receiver.deliveries[0]?.body);
      expect(sandbox.callbacks().map((callback) => [callback.requestId, callback.status])).toEqual([
        [requestId, 200],
        [requestId, 200],
      ]);
      const [first, second] = sandbox.callbacks();
      expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(50);
    });

    it('never: delivers nothing, yet the result can be polled once it is due', async () => {
      // Prepare
      sandbox.setPhoneCallbacks({ mode: 'never', delayMs: 10 });

      // Act
      const requestId = rawRequestId(await (await revealPhones()).text());
      await sleep(200);
      const polled = await callApollo('GET', `/webhook_result/${requestId}`);

      // Assess
      expect(receiver.deliveries).toHaveLength(0);
      expect(sandbox.callbacks()).toEqual([]);
      expect(polled.status).toBe(200);
      expect(await polled.json()).toMatchObject({
        last_dispatched_at: null,
        webhook_result: { credits_consumed: 9 },
      });
    });

    it('records a delivery the receiver refuses, and does not retry it', async () => {
      // Prepare
      receiver.answer = 500;
      sandbox.setPhoneCallbacks({ mode: 'once', delayMs: 10 });

      // Act
      await revealPhones();
      await vi.waitFor(() => expect(sandbox.callbacks()).toHaveLength(1));
      await sleep(200);

      // Assess
      expect(sandbox.callbacks()).toMatchObject([{ status: 500 }]);
      expect(receiver.deliveries).toHaveLength(1);
    });

    it('records status 0 when the webhook_url is unreachable', async () => {
      // Prepare
      const gone = await startReceiver();
      await gone.close();
      sandbox.setPhoneCallbacks({ mode: 'once', delayMs: 10 });

      // Act
      await revealPhones(`${gone.url}/hook?token=t`);
      await vi.waitFor(() => expect(sandbox.callbacks()).toHaveLength(1));

      // Assess
      expect(sandbox.callbacks()).toMatchObject([{ url: `${gone.url}/hook?token=t`, status: 0 }]);
    });

    it('reports the record missing when the person has no phones to reveal, at no phone cost', async () => {
      // Prepare
      sandbox.setPhoneCallbacks({ mode: 'once', delayMs: 10 });
      const noPhones = sandbox.addPerson({
        first_name: 'Ada',
        last_name: 'Lovelace',
        email: 'ada@engines.example',
      });

      // Act
      await callApollo('POST', '/people/match', {
        email: 'ada@engines.example',
        run_waterfall_phone: true,
        webhook_url: receiver.url,
      });
      await vi.waitFor(() => expect(sandbox.callbacks()).toHaveLength(1));

      // Assess
      expect(sandbox.callbacks()[0]?.body).toEqual({
        status: 'success',
        total_requested_enrichments: 1,
        unique_enriched_records: 0,
        missing_records: 1,
        credits_consumed: 1,
        people: [{ id: noPhones.id, status: 'not_found', phone_numbers: [] }],
      });
    });

    it('reset() cancels pending callbacks and restores the default behaviour', async () => {
      // Prepare
      sandbox.setPhoneCallbacks({ mode: 'twice', delayMs: 100 });
      await revealPhones();

      // Act
      sandbox.reset();
      await sleep(400);
      const cancelled = receiver.deliveries.length;
      sandbox.addPerson({ ...SAMUEL, mobile_phones: [{ raw_number: '(415) 555-0164' }] });
      const revealedAt = Date.now();
      await revealPhones();
      await vi.waitFor(() => expect(sandbox.callbacks()).toHaveLength(1));
      await sleep(300);

      // Assess
      expect(cancelled).toBe(0);
      expect(receiver.deliveries).toHaveLength(1);
      expect(sandbox.callbacks()).toHaveLength(1);
      expect((sandbox.callbacks()[0]?.at ?? 0) - revealedAt).toBeGreaterThanOrEqual(90);
    });

    it('close() cancels pending callbacks', async () => {
      // Prepare
      const closing = await startApolloSandbox();
      closing.addPerson({ ...SAMUEL, mobile_phones: [{ raw_number: '(415) 555-0164' }] });
      closing.setPhoneCallbacks({ mode: 'once', delayMs: 100 });
      const response = await fetch(`${closing.url}/people/match`, {
        method: 'POST',
        headers: { 'x-api-key': closing.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ email: SAMUEL.email, reveal_phone_number: true, webhook_url: receiver.url }),
      });
      expect(response.status).toBe(200);

      // Act
      await closing.close();
      await sleep(300);

      // Assess
      expect(receiver.deliveries).toHaveLength(0);
      expect(closing.callbacks()).toEqual([]);
    });

    it('rejects an unknown callback mode', () => {
      // Act / Assess
      expect(() => sandbox.setPhoneCallbacks({ mode: 'sometimes' as 'once' })).toThrow(/mode/);
      expect(() => sandbox.setPhoneCallbacks({ mode: 'once', delayMs: -1 })).toThrow(/delayMs/);
    });
  });

  describe('GET /webhook_result/{request_id}', () => {
    async function revealPhones(): Promise<string> {
      sandbox.addPerson({ ...SAMUEL, mobile_phones: [{ raw_number: '(415) 555-0164' }] });
      const response = await callApollo('POST', '/people/match', {
        email: SAMUEL.email,
        reveal_phone_number: true,
        // Nobody listens here: the poll is the fallback for a lost callback.
        webhook_url: 'http://127.0.0.1:9/apollo/phones?token=abc',
      });
      return rawRequestId(await response.text());
    }

    it('answers result_pending, then the payload once the callback is due, then 410 once expired', async () => {
      // Prepare
      sandbox.setPhoneCallbacks({ mode: 'once', delayMs: 300 });
      const requestId = await revealPhones();

      // Act
      const pending = await callApollo('GET', `/webhook_result/${requestId}`);
      const pendingBody: unknown = await pending.json();
      await sleep(350);
      const ready = await callApollo('GET', `/webhook_result/${requestId}`);
      const readyBody = (await ready.json()) as Record<string, unknown>;
      sandbox.expireRequest(requestId);
      const expired = await callApollo('GET', `/webhook_result/${requestId}`);

      // Assess
      expect(pending.status).toBe(404);
      expect(pendingBody).toEqual({ error_code: 'result_pending', retry_after_seconds: 1 });
      expect(ready.status).toBe(200);
      expect(keysOf(readyBody)).toEqual(EXAMPLE_POLL_KEYS);
      expect(readyBody).toMatchObject({
        request_id: requestId,
        webhook_status: 'success',
        request_type: 'phone',
        failure_reason: null,
        webhook_result: {
          status: 'success',
          unique_enriched_records: 1,
          credits_consumed: 9,
          people: [{ id: sandbox.people()[0]?.id, phone_numbers: [{ sanitized_number: '+14155550164' }] }],
        },
      });
      expect(
        readyBody.last_dispatched_at === null ||
          (typeof readyBody.last_dispatched_at === 'string' &&
            /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(readyBody.last_dispatched_at)),
      ).toBe(true);
      expect(expired.status).toBe(410);
      expect(await expired.json()).toEqual({ error_code: 'request_id_expired' });
    });

    it('shows when the last callback went out', async () => {
      // Prepare
      sandbox.setPhoneCallbacks({ mode: 'once', delayMs: 10 });
      const requestId = await revealPhones();
      await vi.waitFor(() => expect(sandbox.callbacks()).toHaveLength(1));

      // Act
      const polled = (await (await callApollo('GET', `/webhook_result/${requestId}`)).json()) as {
        last_dispatched_at: string;
      };

      // Assess
      expect(polled.last_dispatched_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(
        Math.abs(Date.parse(polled.last_dispatched_at) - (sandbox.callbacks()[0]?.at ?? 0)),
      ).toBeLessThan(1_000);
    });

    it('answers 404 request_id_unknown for an id never issued, or issued without a webhook', async () => {
      // Prepare
      const withoutWebhook = rawRequestId(
        await (await callApollo('POST', '/people/match', { email: MARK_TWAIN.email })).text(),
      );

      // Act
      const neverIssued = await callApollo('GET', '/webhook_result/-1039995589705121900');
      const noWebhook = await callApollo('GET', `/webhook_result/${withoutWebhook}`);
      const smallest = await callApollo('GET', '/webhook_result/-9223372036854775808');

      // Assess
      for (const response of [neverIssued, noWebhook, smallest]) {
        expect(response.status).toBe(404);
        expect(await response.json()).toEqual({ error_code: 'request_id_unknown' });
      }
      expect(() => sandbox.expireRequest('-1039995589705121900')).toThrow(/never issued/);
    });

    it.each([['abc'], ['1.5'], ['9223372036854775808'], ['-9223372036854775809'], ['1e18']])(
      'answers 400 invalid_request_id to %s',
      async (requestId) => {
        // Act
        const response = await callApollo('GET', `/webhook_result/${requestId}`);

        // Assess
        expect(response.status).toBe(400);
        expect(await response.json()).toEqual({ error_code: 'invalid_request_id' });
      },
    );

    it('checks the key, serves /v1, counts its rate limit and takes injected faults', async () => {
      // Prepare
      sandbox.setPhoneCallbacks({ mode: 'never', delayMs: 0 });
      const requestId = await revealPhones();
      const origin = new URL(sandbox.url).origin;
      sandbox.inject({ method: 'GET', path: /^\/webhook_result\//, status: 503 });

      // Act
      const unauthorized = await callApollo('GET', `/webhook_result/${requestId}`, undefined, {});
      const failed = await callApollo('GET', `/webhook_result/${requestId}`);
      const legacy = await fetch(`${origin}/v1/webhook_result/${requestId}`, {
        headers: { 'x-api-key': sandbox.apiKey },
      });

      // Assess
      expect(unauthorized.status).toBe(401);
      expect(await unauthorized.text()).toMatch(/^Invalid API key\./);
      expect(failed.status).toBe(503);
      expect(legacy.status).toBe(200);
      expect(legacy.headers.get('x-minute-usage')).toBe('2');
      expect(sandbox.countRequests('GET', /^\/webhook_result\//)).toBe(3);
    });
  });
});
