import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import * as z from 'zod/mini';
import { salesforceId18 } from './crm-ids';
import { InvalidRequestError } from './errors';
import { identitiesOf, identityKey, stripInvisible, type Identity } from './identity';
import type { CrmIdField } from './person-fields';

/** Most people one request may carry, for the webhook and the on-demand API alike. */
export const MAX_PEOPLE_PER_REQUEST = 100;

/** The phone fields Apollo's create endpoint accepts, in the order they are sent. */
export const PHONE_FIELDS = [
  'direct_phone',
  'corporate_phone',
  'mobile_phone',
  'home_phone',
  'other_phone',
] as const;
export type PhoneField = (typeof PHONE_FIELDS)[number];

const TEXT_FIELDS = [
  'first_name',
  'last_name',
  'email',
  'organization_name',
  'website_url',
  'title',
  'linkedin_url',
  'present_raw_address',
  ...PHONE_FIELDS,
] as const;

const optionalText = (max: number) => z.optional(z.nullable(z.string().check(z.maxLength(max))));

/** A CRM record id: trimmed, then held to the CRM's own form (`form` matches the whole id); blank is absent. */
const crmId = (form: string, message: string) =>
  z.optional(
    z.nullable(z.string().check(z.maxLength(64), z.trim(), z.regex(new RegExp(`^(?:${form})?$`), message))),
  );
const SALESFORCE_ID = '[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?';

/** A person as CRMs and scripts send it. Unknown fields are dropped, not rejected. */
export const personInputSchema = z.object({
  first_name: optionalText(200),
  last_name: optionalText(200),
  email: optionalText(320),
  organization_name: optionalText(300),
  website_url: optionalText(2048),
  title: optionalText(300),
  linkedin_url: optionalText(2048),
  present_raw_address: optionalText(1000),
  direct_phone: optionalText(64),
  corporate_phone: optionalText(64),
  mobile_phone: optionalText(64),
  home_phone: optionalText(64),
  other_phone: optionalText(64),
  label_names: z.optional(z.nullable(z.array(z.string().check(z.maxLength(200))).check(z.maxLength(50)))),
  // The sender's own record ids (CRM doors fill them): Apollo matches a contact on them.
  hubspot_id: crmId('\\d{1,20}', 'not a HubSpot record id (digits)'),
  salesforce_contact_id: crmId(SALESFORCE_ID, 'not a Salesforce id (15 or 18 letters and digits)'),
  salesforce_lead_id: crmId(SALESFORCE_ID, 'not a Salesforce id (15 or 18 letters and digits)'),
});
export type PersonInput = z.infer<typeof personInputSchema>;

/** The fields sent to Apollo's `POST /contacts`. Never an empty string: absent fields are left out. */
export interface ContactFields {
  first_name?: string;
  last_name?: string;
  email?: string;
  organization_name?: string;
  website_url?: string;
  title?: string;
  present_raw_address?: string;
  direct_phone?: string;
  corporate_phone?: string;
  mobile_phone?: string;
  home_phone?: string;
  other_phone?: string;
  label_names?: string[];
  /**
   * CRM record ids (`CRM_ID_FIELDS`): Apollo matches an existing contact on them before the email.
   * Salesforce ids in their 18-character form (`lib/crm-ids.ts`), whichever form the sender used.
   */
  hubspot_id?: string;
  salesforce_contact_id?: string;
  salesforce_lead_id?: string;
}

const SALESFORCE_ID_FIELDS = ['salesforce_contact_id', 'salesforce_lead_id'] as const;

/** How people/match finds the person again: by email, or by name and company. */
export type MatchIdentity =
  { email: string } | { first_name: string; last_name: string; organization_name?: string; domain?: string };

/** A validated person, ready to convert. */
export interface Person {
  /**
   * The ledger key of the person's strongest identity (`identities[0]`): tells two deliveries of
   * one person apart within a batch. The record's key (the conversion id) comes from resolving
   * all of `identities` (`IdentityResolution`).
   */
  key: string;
  /** Every identity of the person, strongest first (`identitiesOf`). */
  identities: Identity[];
  /** What is sent to Apollo. Phones are in E.164 so Apollo and the verification read them alike. */
  fields: ContactFields;
  match: MatchIdentity;
  /** E.164 numbers that were sent, for verification. */
  phones: string[];
  /** Phones that could not be read as phone numbers: left out of the contact, reported back. */
  droppedPhones: PhoneField[];
  /** Hash of `fields`: tells a changed re-delivery of a rejected person from a replay. */
  fingerprint: string;
  /**
   * What Apollo answered about this person a moment ago (a paid people/match): its saved
   * contact's id, or null when it holds none. The conversion takes it instead of asking again.
   */
  apolloContact?: { id: string | null };
}

export interface PersonOptions {
  /** Country assumed for numbers written without a `+` prefix (ISO 3166 alpha-2). */
  defaultPhoneCountry: CountryCode;
}

/**
 * The local part of an address: zod's email rule (letters, digits, `_ ' + - .`; no leading,
 * trailing or doubled dot), with letters, marks and digits of any script (RFC 6531), since
 * Apollo's documentation puts no limit on them.
 */
const LOCAL_PART = /^(?!\.)(?!.*\.\.)[\p{L}\p{M}\p{N}_'+\-.]*[\p{L}\p{M}\p{N}_+-]$/u;
/** A host name in ASCII form: letter-digit-hyphen labels, a letter TLD or an IDN (`xn--`) one. */
const ASCII_DOMAIN =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;
/** RFC 5321's limit on a local part, in octets. */
const MAX_LOCAL_PART_BYTES = 64;

/**
 * An email address with its domain in ASCII (an internationalised domain becomes its punycode,
 * `bücher.example` → `xn--bcher-kva.example`, as DNS and Apollo know it), or null when it is not
 * an address. Unicode local parts are kept as they are.
 */
export function toAsciiDomainEmail(email: string): string | null {
  const at = email.lastIndexOf('@');
  if (at <= 0) return null;
  const local = email.slice(0, at);
  if (Buffer.byteLength(local) > MAX_LOCAL_PART_BYTES || !LOCAL_PART.test(local)) return null;
  const domain = domainToASCII(email.slice(at + 1));
  return ASCII_DOMAIN.test(domain) ? `${local}@${domain}` : null;
}
// C0 and C1 control characters never belong in a name or address; tabs and newlines become spaces.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]+/g;

function cleanText(value: string | null | undefined): string | undefined {
  if (value == null) return undefined;
  // toWellFormed: a lone UTF-16 surrogate (valid in JSON) would be stored and sent as garbage.
  // Invisible characters (zero-width space, soft hyphen, bidi marks, ...) are dropped: they would
  // make one person look like two.
  const cleaned = stripInvisible(value.toWellFormed())
    .normalize('NFC')
    .replace(CONTROL_CHARACTERS, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned === '' ? undefined : cleaned;
}

/** `https://www.Example.com/about` → `example.com`; undefined when it is not a URL. */
export function websiteDomain(websiteUrl: string): string | undefined {
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(websiteUrl) ? websiteUrl : `https://${websiteUrl}`);
    const host = url.hostname.toLowerCase().replace(/^www\./, '');
    return host.includes('.') ? host : undefined;
  } catch {
    return undefined;
  }
}

/** Parses a phone number written in any common format into E.164, or undefined if it is not one. */
export function toE164(raw: string, defaultCountry: CountryCode): string | undefined {
  const parsed = parsePhoneNumberFromString(raw, defaultCountry);
  return parsed?.isPossible() ? parsed.number : undefined;
}

function fingerprintOf(fields: ContactFields): string {
  const canonical = JSON.stringify(Object.entries(fields).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * Validates one person and derives its identity. Throws InvalidRequestError naming the field and
 * `location` (e.g. `data.people[3]`) when the person cannot be converted.
 */
export function toPerson(input: PersonInput, location: string, options: PersonOptions): Person {
  const text: Partial<Record<(typeof TEXT_FIELDS)[number], string>> = {};
  for (const field of TEXT_FIELDS) text[field] = cleanText(input[field]);

  const email = text.email === undefined ? undefined : toAsciiDomainEmail(text.email.toLowerCase());
  if (email === null) throw new InvalidRequestError(`${location}.email: not an email address`);

  const phones: string[] = [];
  const droppedPhones: PhoneField[] = [];
  const phoneFields: Partial<Record<PhoneField, string>> = {};
  for (const field of PHONE_FIELDS) {
    const raw = text[field];
    if (raw === undefined) continue;
    const e164 = toE164(raw, options.defaultPhoneCountry);
    if (e164 === undefined) {
      droppedPhones.push(field);
      continue;
    }
    phoneFields[field] = e164;
    if (!phones.includes(e164)) phones.push(e164);
  }

  const labels = (input.label_names ?? []).map((label) => cleanText(label)).filter((l) => l !== undefined);
  const crmIds: Partial<Record<CrmIdField, string>> = {};
  const hubspotId = cleanText(input.hubspot_id);
  if (hubspotId !== undefined) crmIds.hubspot_id = hubspotId;
  // One record, one value: a 15-character id becomes its 18-character form.
  for (const field of SALESFORCE_ID_FIELDS) {
    const raw = cleanText(input[field]);
    if (raw === undefined) continue;
    const id = salesforceId18(raw);
    if (id === undefined) throw new InvalidRequestError(`${location}.${field}: not a Salesforce record id`);
    crmIds[field] = id;
  }
  const fields: ContactFields = {
    first_name: text.first_name,
    last_name: text.last_name,
    email,
    organization_name: text.organization_name,
    website_url: text.website_url,
    title: text.title,
    present_raw_address: text.present_raw_address,
    ...phoneFields,
    label_names: labels.length > 0 ? [...new Set(labels)] : undefined,
    ...crmIds,
  };
  for (const name of Object.keys(fields) as (keyof ContactFields)[]) {
    if (fields[name] === undefined) delete fields[name];
  }

  const identities = identitiesOf({ ...fields, linkedin_url: text.linkedin_url });
  const match = matchIdentity(fields, identities, location);
  return {
    key: identityKey(identities[0] as Identity),
    identities,
    match,
    fields,
    phones,
    droppedPhones,
    fingerprint: fingerprintOf(fields),
  };
}

/** How people/match finds the person: its email, else its name with the company it was given. */
function matchIdentity(fields: ContactFields, identities: Identity[], location: string): MatchIdentity {
  if (fields.email !== undefined) return { email: fields.email };
  const { first_name, last_name, organization_name, website_url } = fields;
  const domain = website_url === undefined ? undefined : websiteDomain(website_url);
  const named = identities.some(([kind]) => kind === 'name_org' || kind === 'name_domain');
  if (first_name === undefined || last_name === undefined || !named) {
    throw new InvalidRequestError(
      `${location}: no identity: needs email, or first_name and last_name with organization_name or website_url`,
    );
  }
  return identities.some(([kind]) => kind === 'name_org')
    ? { first_name, last_name, organization_name: organization_name as string }
    : { first_name, last_name, domain: domain as string };
}

/** Formats the first zod issue as `path.to.field: message`. */
export function describeIssue(error: z.core.$ZodError, prefix: string): string {
  const issue = error.issues[0];
  if (issue === undefined) return `${prefix}: invalid`;
  const path = issue.path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : `${text}.${String(part)}`),
    prefix,
  );
  return `${path}: ${issue.message}`;
}

/**
 * A phone number as the ledger keeps it: a SHA-256 of its E.164 form. Verification compares these,
 * so the ledger never holds the numbers themselves.
 */
export function phoneHash(e164: string): string {
  return createHash('sha256').update(e164).digest('base64url');
}
