import { CONTACT_INPUT_FIELDS } from '../lib/person-fields';

/**
 * Column mapping: the headers of Apollo, HubSpot and Salesforce exports (and the service's own
 * field names) to the fields `POST /contacts` takes. Headers are compared folded: lower case,
 * letters and digits only ("Person Linkedin Url" → "personlinkedinurl").
 */
/** What a column may fill: the contact's own fields (no lists or CRM record ids from a file). */
export const SERVICE_FIELDS = CONTACT_INPUT_FIELDS;
export type ServiceField = (typeof SERVICE_FIELDS)[number];

export const fold = (header: string) => header.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Known spellings, folded, per field (Apollo "People" export, HubSpot contacts, Salesforce contacts/leads). */
const KNOWN: Record<ServiceField, string[]> = {
  first_name: ['firstname', 'first'],
  last_name: ['lastname', 'last', 'surname'],
  email: ['email', 'emailaddress', 'workemail', 'businessemail'],
  organization_name: ['company', 'companyname', 'organization', 'organizationname', 'accountname', 'account'],
  website_url: ['website', 'websiteurl', 'companywebsite', 'companydomainname', 'domain'],
  title: ['title', 'jobtitle'],
  linkedin_url: ['linkedinurl', 'personlinkedinurl', 'linkedin', 'linkedinprofile'],
  present_raw_address: ['address', 'mailingaddress', 'streetaddress'],
  direct_phone: ['workdirectphone', 'directphone', 'phone', 'phonenumber', 'businessphone'],
  corporate_phone: ['corporatephone', 'companyphone'],
  mobile_phone: ['mobilephone', 'mobile', 'mobilephonenumber', 'cellphone'],
  home_phone: ['homephone'],
  other_phone: ['otherphone'],
};

const FIELD_OF_HEADER = new Map<string, ServiceField>();
for (const field of SERVICE_FIELDS) {
  FIELD_OF_HEADER.set(fold(field), field);
  for (const spelling of KNOWN[field]) FIELD_OF_HEADER.set(spelling, field);
}

/** `--map "Header=field,Other Header=field"`: explicit mappings, checked against the service's fields. */
export function parseMapOption(spec: string | undefined): Map<string, ServiceField> {
  const map = new Map<string, ServiceField>();
  if (spec === undefined || spec.trim() === '') return map;
  for (const pair of spec.split(',')) {
    const at = pair.lastIndexOf('=');
    const header = pair.slice(0, at).trim();
    const field = pair.slice(at + 1).trim();
    if (at <= 0 || !(SERVICE_FIELDS as readonly string[]).includes(field)) {
      throw new Error(`--map: "${pair}" is not Header=field with field one of ${SERVICE_FIELDS.join(', ')}`);
    }
    map.set(fold(header), field as ServiceField);
  }
  return map;
}

/** The field each header maps to (`--map` first, then the known spellings); unmapped headers are left out. */
export function mapHeaders(headers: readonly string[], explicit: Map<string, ServiceField>) {
  const mapping = new Map<string, ServiceField>();
  const taken = new Set<ServiceField>();
  for (const header of headers) {
    const field = explicit.get(fold(header)) ?? FIELD_OF_HEADER.get(fold(header));
    // The first column wins when two map to one field (e.g. "Phone" and "Work Direct Phone").
    if (field !== undefined && !taken.has(field)) {
      mapping.set(header, field);
      taken.add(field);
    }
  }
  return mapping;
}

/** A row's values under the service's field names; empty cells are left out. */
export function toPersonInput(
  row: Record<string, unknown>,
  mapping: Map<string, ServiceField>,
): Partial<Record<ServiceField, string>> {
  const person: Partial<Record<ServiceField, string>> = {};
  for (const [header, field] of mapping) {
    const value = row[header];
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    const text = String(value).trim();
    if (text !== '') person[field] = text;
  }
  return person;
}
