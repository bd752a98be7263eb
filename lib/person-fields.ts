/**
 * The names of a person's input fields, with nothing else in the module: the configuration loader
 * (custom sources) and the CLI name them without bundling person parsing (zod schemas,
 * libphonenumber-js). `personInputSchema` (lib/person.ts) has exactly `PERSON_INPUT_FIELDS`; a
 * test holds the two equal.
 */

/** The contact's own fields: names, company, title, address, and the five typed phones. */
export const CONTACT_INPUT_FIELDS = [
  'first_name',
  'last_name',
  'email',
  'organization_name',
  'website_url',
  'title',
  'linkedin_url',
  'present_raw_address',
  'direct_phone',
  'corporate_phone',
  'mobile_phone',
  'home_phone',
  'other_phone',
] as const;

/** The CRM record ids a person may carry, as Apollo's contacts name them. */
export const CRM_ID_FIELDS = ['hubspot_id', 'salesforce_contact_id', 'salesforce_lead_id'] as const;
export type CrmIdField = (typeof CRM_ID_FIELDS)[number];

/** Every field of the person input: the contact's own, its lists, its CRM record ids. */
export const PERSON_INPUT_FIELDS = [...CONTACT_INPUT_FIELDS, 'label_names', ...CRM_ID_FIELDS] as const;
