/**
 * Reading a request's parameters the way Apollo does: body and query string merged, blank text
 * meaning "clear", and everything validated before the store changes.
 */
import { misconfigured } from './replies';
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
