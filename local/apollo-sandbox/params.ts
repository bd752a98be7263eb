/**
 * Reading a request's parameters the way Apollo does: body and query string merged, blank text
 * meaning "clear", and everything validated before the store changes.
 */
import { misconfigured } from './replies';
import type { BulkCreatePhoneFields } from './types';
import { SANDBOX_CONTACT_STAGES } from './team';
import { domainOf, linkedinKey, sameText } from './text';

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const APOLLO_ID_PATTERN = /^[0-9a-f]{24}$/;

export const TEXT_FIELDS = [
  'first_name',
  'last_name',
  'organization_name',
  'title',
  'email',
  'website_url',
  'present_raw_address',
  'account_id',
  'contact_stage_id',
] as const;
type TextField = (typeof TEXT_FIELDS)[number];

/** Which phone_numbers `type` each create field produces (Apollo documents only direct_phone and mobile_phone). */
export const PHONE_TYPE_BY_FIELD = {
  direct_phone: 'work_direct',
  corporate_phone: 'work_hq',
  mobile_phone: 'mobile',
  home_phone: 'home',
  other_phone: 'other',
} as const;
type PhoneField = keyof typeof PHONE_TYPE_BY_FIELD;
export const PHONE_FIELDS = Object.keys(PHONE_TYPE_BY_FIELD) as PhoneField[];

export type Params = Record<string, unknown>;

/** The contact fields one create/update request sends; null means "sent empty", which clears the field. */
export interface ContactChanges {
  text: Partial<Record<TextField, string | null>>;
  phones: Partial<Record<PhoneField, string | null>>;
  labelNames: string[] | undefined;
  customFields: Record<string, unknown> | undefined;
}

export function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}

export function stringParam(params: Params, name: string): string | undefined {
  const value = params[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export function positiveIntParam(params: Params, name: string, fallback: number): number {
  const value = params[name];
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number >= 1 ? number : fallback;
}

export function stringListParam(params: Params, name: string): string[] {
  const value = params[name];
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((item): item is string => typeof item === 'string' && item !== '');
}

/** Apollo takes the body's fields as query parameters too; list parameters arrive as `name[]=…`. */
export function mergeQueryAndBody(query: URLSearchParams, body: Params): Params {
  const params: Params = {};
  for (const [key, value] of query) {
    if (key.endsWith('[]')) {
      const name = key.slice(0, -2);
      const list = params[name];
      params[name] = Array.isArray(list) ? [...(list as unknown[]), value] : [value];
    } else {
      params[key] = value;
    }
  }
  return { ...params, ...body };
}

function readTextField(params: Params, field: string): string | null {
  const value = params[field];
  if (value === null) return null;
  if (typeof value !== 'string') throw misconfigured(`${field} must be a string`);
  return value.trim() === '' ? null : value;
}

/** Reads and validates everything before any change is made, so a 422 leaves the store untouched. */
export function readContactChanges(params: Params): ContactChanges {
  const changes: ContactChanges = { text: {}, phones: {}, labelNames: undefined, customFields: undefined };
  for (const field of TEXT_FIELDS) {
    if (params[field] !== undefined) changes.text[field] = readTextField(params, field);
  }
  for (const field of PHONE_FIELDS) {
    if (params[field] !== undefined) changes.phones[field] = readTextField(params, field);
  }
  const { email, contact_stage_id: stageId, account_id: accountId } = changes.text;
  if (email && !EMAIL_PATTERN.test(email.trim())) throw misconfigured('email is not a valid email address');
  if (stageId && !SANDBOX_CONTACT_STAGES.some((stage) => stage.id === stageId)) {
    throw misconfigured(`${stageId} is not a valid ID`);
  }
  if (accountId && !APOLLO_ID_PATTERN.test(accountId)) throw misconfigured(`${accountId} is not a valid ID`);

  const labelNames = params.label_names;
  if (labelNames === null || labelNames === '') {
    changes.labelNames = [];
  } else if (labelNames !== undefined) {
    if (!Array.isArray(labelNames) || !labelNames.every((name) => typeof name === 'string')) {
      throw misconfigured('label_names must be an array of strings');
    }
    const names = labelNames.map((name) => name.trim()).filter((name) => name !== '');
    changes.labelNames = names.filter(
      (name, index) => names.findIndex((other) => sameText(other, name)) === index,
    );
  }

  const customFields = params.typed_custom_fields;
  if (customFields !== undefined && customFields !== null) {
    if (typeof customFields !== 'object' || Array.isArray(customFields)) {
      throw misconfigured('typed_custom_fields must be an object');
    }
    changes.customFields = customFields as Record<string, unknown>;
  }
  return changes;
}

/** How people/match identifies a person; empty strings and missing fields are undefined/null. */
interface PersonIdentity {
  personId: string | undefined;
  email: string | undefined;
  linkedin: string | null;
  firstName: string | undefined;
  lastName: string | undefined;
  company: string | undefined;
  domain: string | null;
}

export function readPersonIdentity(params: Params): PersonIdentity {
  const [firstFromName, ...lastFromName] = (stringParam(params, 'name') ?? '').split(/\s+/);
  return {
    personId: stringParam(params, 'id'),
    email: stringParam(params, 'email'),
    linkedin: linkedinKey(stringParam(params, 'linkedin_url') ?? null),
    firstName: stringParam(params, 'first_name') ?? firstFromName,
    lastName: stringParam(params, 'last_name') ?? lastFromName.join(' '),
    company: stringParam(params, 'organization_name'),
    domain: domainOf(stringParam(params, 'domain')),
  };
}

/** The CRM ids bulk_create takes per contact, which its `run_dedupe` matches on (after the contact id). */
export const CRM_ID_FIELDS = [
  'hubspot_id',
  'salesforce_id',
  'salesforce_contact_id',
  'salesforce_lead_id',
  'outreach_id',
  'salesloft_id',
] as const;
export type CrmIdField = (typeof CRM_ID_FIELDS)[number];

/** The text fields of bulk_create's documented contact schema that a contact stores. */
const BULK_TEXT_FIELDS = [
  'first_name',
  'last_name',
  'organization_name',
  'title',
  'email',
  'present_raw_address',
  'account_id',
  'contact_stage_id',
] as const;

/** One contact of a bulk_create, read and checked: what to store, and what run_dedupe matches on. */
export interface BulkContactInput {
  changes: ContactChanges;
  /** A contact id or Apollo person id sent along: run_dedupe's first keys. */
  id: string | undefined;
  personId: string | undefined;
  organizationId: string | undefined;
  crmIds: Partial<Record<CrmIdField, string>>;
  linkedinUrl: string | undefined;
  /** `contact_emails[]` beyond the primary email, by position. */
  additionalEmails: string[];
  /** `phone` and `phone_numbers[]` (by position): numbers without a type. */
  untypedPhones: string[];
}

function optionalString(raw: Record<string, unknown>, field: string, at: string): string | undefined {
  const value = raw[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw misconfigured(`${at}.${field} must be a string`);
  return value.trim() === '' ? undefined : value.trim();
}

/** Objects of an array sorted by their `position` (missing positions last), with their index for messages. */
function byPosition(raw: unknown, at: string): Array<Record<string, unknown>> {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw misconfigured(`${at} must be an array`);
  return raw
    .map((item, index) => {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        throw misconfigured(`${at}[${index}] must be an object`);
      }
      return item as Record<string, unknown>;
    })
    .map((item, index) => ({
      item,
      index,
      position: typeof item.position === 'number' ? item.position : Infinity,
    }))
    .sort((a, b) => a.position - b.position || a.index - b.index)
    .map(({ item }) => item);
}

/**
 * Reads one contact of `POST /contacts/bulk_create` the way its documented schema has it: the
 * single create's text fields (no `website_url`, no `label_names`), `primary_title` over `title`,
 * `linkedin_url`, CRM ids, `contact_emails[]` (the lowest position is the primary email when
 * `email` is not sent), and phones only as untyped `phone` and `phone_numbers[]`. The single
 * create's typed phone fields are handled as `phoneFields` says. Fields not in the schema are
 * ignored, as Apollo ignores parameters it does not know.
 */
export function readBulkContact(
  raw: unknown,
  at: string,
  phoneFields: BulkCreatePhoneFields,
): BulkContactInput {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw misconfigured(`${at} must be an object`);
  const fields = raw as Record<string, unknown>;
  const singleCreateFields: Params = {};
  for (const field of BULK_TEXT_FIELDS) singleCreateFields[field] = fields[field];
  const primaryTitle = optionalString(fields, 'primary_title', at);
  if (primaryTitle !== undefined) singleCreateFields.title = primaryTitle;
  singleCreateFields.typed_custom_fields = fields.typed_custom_fields;

  const emails = byPosition(fields.contact_emails, `${at}.contact_emails`).flatMap((item, index) => {
    const email = optionalString(item, 'email', `${at}.contact_emails[${index}]`);
    return email === undefined ? [] : [email];
  });
  const primaryEmail = optionalString(fields, 'email', at) ?? emails[0];
  if (primaryEmail !== undefined) singleCreateFields.email = primaryEmail;
  for (const email of emails) {
    if (!EMAIL_PATTERN.test(email)) throw misconfigured(`${at}: ${email} is not a valid email address`);
  }
  const typedPhones = phoneFields === 'typed';
  if (typedPhones) for (const field of PHONE_FIELDS) singleCreateFields[field] = fields[field];
  const changes = readContactChanges(singleCreateFields);
  // A blank text sent to a new contact clears nothing: leave it out.
  for (const [field, value] of Object.entries(changes.text)) {
    if (value === null) delete changes.text[field as TextField];
  }

  const phone = optionalString(fields, 'phone', at);
  const phoneNumbers = byPosition(fields.phone_numbers, `${at}.phone_numbers`).flatMap((item, index) => {
    const number = optionalString(item, 'raw_number', `${at}.phone_numbers[${index}]`);
    return number === undefined ? [] : [number];
  });
  const untypedFields =
    phoneFields === 'untyped'
      ? PHONE_FIELDS.flatMap((field) => {
          const number = optionalString(fields, field, at);
          return number === undefined ? [] : [number];
        })
      : [];
  const crmIds: Partial<Record<CrmIdField, string>> = {};
  for (const field of CRM_ID_FIELDS) {
    // Apollo's examples send HubSpot ids as strings; a JSON number is taken as its digits.
    const value =
      typeof fields[field] === 'number' ? String(fields[field]) : optionalString(fields, field, at);
    if (value !== undefined) crmIds[field] = value;
  }
  return {
    changes,
    id: optionalString(fields, 'id', at),
    personId: optionalString(fields, 'person_id', at),
    organizationId: optionalString(fields, 'organization_id', at),
    crmIds,
    linkedinUrl: optionalString(fields, 'linkedin_url', at),
    additionalEmails: emails.filter((email) => !sameText(email, primaryEmail)),
    untypedPhones: [...new Set([...(phone === undefined ? [] : [phone]), ...phoneNumbers, ...untypedFields])],
  };
}
