import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SANDBOX_CONTACT_STAGES, startApolloSandbox, type ApolloSandbox } from '../lib/local/apollo-sandbox';

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

function keysOf(value: unknown): string[] {
  return Object.keys(value as object);
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
        expect.stringMatching(/^Parameters misconfigured\./),
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
      expect(await response.json()).toEqual({ error: expect.stringMatching(/not valid JSON/) });
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
      expect(await response.json()).toEqual({ error: expect.stringContaining('webhook_url') });
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
          ),
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
      expect(await forbidden.json()).toEqual({ error: expect.any(String), error_code: 'API_INACCESSIBLE' });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('7');
      expect(await limited.json()).toEqual({ message: expect.stringContaining('api/v1/contacts/search') });
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
        id: expect.stringMatching(APOLLO_ID),
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
});
