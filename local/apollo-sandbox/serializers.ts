/** Stored contacts and people in the shapes of Apollo's documented replies (contact, search result, person). */
import { SANDBOX_TEAM_ID, SANDBOX_USER_ID } from './team';
import { domainOf } from './text';
import type { SandboxContact, SandboxPerson, SandboxPhoneNumber } from './types';

function toApolloPhoneNumber(phone: SandboxPhoneNumber) {
  return { ...phone, dnc_other_info: null, dialer_flags: null };
}

/** A stored contact in the shape of Apollo's contact objects (create/view/update examples). */
export function toApolloContact(contact: SandboxContact) {
  return {
    contact_roles: [],
    id: contact.id,
    first_name: contact.first_name,
    last_name: contact.last_name,
    name: contact.name,
    linkedin_url: contact.linkedin_url,
    title: contact.title,
    contact_stage_id: contact.contact_stage_id,
    owner_id: contact.owner_id,
    creator_id: contact.creator_id,
    person_id: contact.person_id,
    email_needs_tickling: null,
    organization_name: contact.organization_name,
    source: contact.source,
    original_source: contact.original_source,
    organization_id: contact.organization_id,
    headline: null,
    photo_url: null,
    present_raw_address: contact.present_raw_address,
    linkedin_uid: null,
    extrapolated_email_confidence: null,
    salesforce_id: contact.salesforce_id,
    salesforce_lead_id: contact.salesforce_lead_id,
    salesforce_contact_id: contact.salesforce_contact_id,
    salesforce_account_id: null,
    crm_owner_id: null,
    created_at: contact.created_at,
    emailer_campaign_ids: [],
    direct_dial_status: null,
    direct_dial_enrichment_failed_at: null,
    email_status: contact.email_status,
    email_source: null,
    account_id: contact.account_id,
    last_activity_date: null,
    hubspot_vid: contact.hubspot_id,
    hubspot_company_id: null,
    crm_id: null,
    sanitized_phone: contact.sanitized_phone,
    merged_crm_ids: null,
    updated_at: contact.updated_at,
    queued_for_crm_push: false,
    suggested_from_rule_engine_config_id: null,
    email_unsubscribed: null,
    label_ids: [...contact.label_ids],
    has_pending_email_arcgate_request: false,
    has_email_arcgate_request: false,
    existence_level: 'full',
    email: contact.email,
    email_from_customer: contact.email ? true : null,
    custom_field_errors: {},
    crm_record_url: null,
    email_status_unavailable_reason: null,
    email_true_status: contact.email ? 'User Managed' : null,
    updated_email_true_status: true,
    contact_rule_config_statuses: [],
    source_display_name: 'Created from API',
    twitter_url: null,
    contact_campaign_statuses: [],
    contact_emails: contact.additional_emails.map((email, index) => ({ email, position: index + 1 })),
    next_contact_id: null,
    time_zone: null,
    city: null,
    state: null,
    country: null,
    show_intent: false,
    phone_numbers: contact.phone_numbers.map(toApolloPhoneNumber),
    account_phone_note: null,
    free_domain: false,
    is_likely_to_engage: false,
    email_domain_catchall: false,
    typed_custom_fields: { ...contact.typed_custom_fields },
  };
}

/**
 * A contact in a bulk_create reply. Apollo's example shows a few fields (id, names, email, title,
 * organization_name, team_id, owner_id, stage, timestamps), third parties read more from it
 * (phone_numbers, account_id, typed_custom_fields): the sandbox sends the whole contact object, as
 * Apollo's other contact replies do, plus `team_id`. *unsure*: whether Apollo's shows the CRM ids.
 */
export function toApolloBulkContact(contact: SandboxContact) {
  return { ...toApolloContact(contact), team_id: SANDBOX_TEAM_ID };
}

function toApolloOrganization(contact: SandboxContact) {
  if (!contact.organization_name) return null;
  return organizationShape(
    contact.organization_id,
    contact.organization_name,
    contact.website_url,
    domainOf(contact.website_url),
  );
}

/** An organization in the shape of the people/match example's `organization`. */
function organizationShape(
  id: string | null,
  name: string | null,
  websiteUrl: string | null,
  primaryDomain: string | null,
) {
  return {
    id,
    name,
    website_url: websiteUrl,
    blog_url: null,
    angellist_url: null,
    linkedin_url: null,
    twitter_url: null,
    facebook_url: null,
    primary_phone: {},
    languages: [],
    alexa_ranking: null,
    phone: null,
    linkedin_uid: null,
    founded_year: null,
    publicly_traded_symbol: null,
    publicly_traded_exchange: null,
    logo_url: null,
    crunchbase_url: null,
    primary_domain: primaryDomain,
  };
}

/** Search results carry the contact's account and organization too. */
export function toApolloSearchContact(contact: SandboxContact) {
  const organization = toApolloOrganization(contact);
  const account = contact.account_id
    ? {
        ...organization,
        id: contact.account_id,
        name: contact.organization_name,
        domain: domainOf(contact.website_url),
        team_id: SANDBOX_TEAM_ID,
        organization_id: contact.organization_id,
        account_stage_id: null,
        source: 'api',
        original_source: 'api',
        owner_id: SANDBOX_USER_ID,
        modality: 'account',
      }
    : undefined;
  return { ...toApolloContact(contact), account, organization, contact_job_change_event: null };
}

export function toApolloPerson(contact: SandboxContact, personId: string) {
  return {
    id: personId,
    first_name: contact.first_name,
    last_name: contact.last_name,
    name: contact.name,
    linkedin_url: contact.linkedin_url,
    title: contact.title,
    email_status: contact.email_status,
    photo_url: null,
    twitter_url: null,
    github_url: null,
    facebook_url: null,
    extrapolated_email_confidence: null,
    headline: null,
    email: contact.email,
    organization_id: contact.organization_id,
    employment_history: [],
    state: null,
    city: null,
    country: null,
    contact_id: contact.id,
    contact: toApolloContact(contact),
    revealed_for_current_team: true,
    organization: toApolloOrganization(contact),
    is_likely_to_engage: false,
    show_intent: false,
    departments: [],
    subdepartments: [],
    functions: [],
    seniority: null,
  };
}

/**
 * A directory person in the people/match example's shape. `contact_id` and `contact` are only
 * there when the team has saved the person as a contact (Apollo's docs are *unsure* otherwise).
 */
export function toApolloDirectoryPerson(person: SandboxPerson, contact: SandboxContact | undefined) {
  return {
    id: person.id,
    first_name: person.first_name,
    last_name: person.last_name,
    name: person.name,
    linkedin_url: person.linkedin_url,
    title: person.title,
    email_status: person.email ? 'verified' : null,
    photo_url: null,
    twitter_url: null,
    github_url: null,
    facebook_url: null,
    extrapolated_email_confidence: null,
    headline: null,
    email: person.email,
    organization_id: person.organization_id,
    employment_history: [],
    state: null,
    city: null,
    country: null,
    ...(contact && { contact_id: contact.id, contact: toApolloContact(contact) }),
    revealed_for_current_team: true,
    organization:
      person.organization_name || person.domain
        ? organizationShape(
            person.organization_id,
            person.organization_name,
            person.website_url,
            person.domain,
          )
        : null,
    is_likely_to_engage: false,
    show_intent: false,
    departments: [],
    subdepartments: [],
    functions: [],
    seniority: null,
  };
}
