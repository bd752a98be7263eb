import { createHash, randomBytes } from 'node:crypto';
import { salesforceId18 } from './crm-ids';

/**
 * Who a person is, as the ledger sees it: the pure part (no I/O). `./identity-resolution` uses
 * these to find the one record a person has under any of its identities.
 *
 * Each identity is a tuple `[kind, ...parts]` of folded text. Its ledger key is a SHA-256 (base64url)
 * of the tuple's JSON: an unambiguous encoding (a `|` or a space inside a part cannot shift it into
 * the next one), and always 47 bytes, far below DynamoDB's 2,048-byte partition key limit whatever
 * the person's names are. The key reveals nothing readable; the record keeps `match_identity`.
 */
export type Identity =
  | readonly ['email', string]
  | readonly ['linkedin', string]
  | readonly ['name_org', string, string, string]
  | readonly ['name_domain', string, string, string]
  /**
   * A CRM record id: `['crm', 'hubspot', '123']`, `['crm', 'salesforce', '003…']` (the 18-character
   * form, `lib/crm-ids.ts`: the same record whichever form the sender used). Weak, like a name:
   * see `WEAK_KINDS`.
   */
  | readonly ['crm', 'hubspot' | 'salesforce', string];

/**
 * Kinds two different people may share (one name at one company, say): they can turn ambiguous.
 *
 * A CRM record id is one of them, although a CRM means it to name one person. It is only as good
 * as the CRM's data: sales teams reuse a record for the successor of someone who left (a new name
 * and email on the old id), merges keep one id for two records, and a HubSpot id is unique only
 * within its portal (the customised workflow body carries no portal). Made strong like an email,
 * it would merge the two emails of such a reused record into one contact, which the ledger never
 * does (a record is owned by one email); and a second strong identity would need a second owner
 * per record. As a weak identity it does what is safe: it names the record of a person delivered
 * without email (the same CRM record seen again, whatever its name or company now says), it lets a
 * later delivery with the email adopt that record, and a CRM id two emails reach is marked
 * ambiguous and names nobody after, exactly like a shared name. Apollo still gets the id on the
 * contact and matches its own contacts on it.
 */
export const WEAK_KINDS = ['crm', 'linkedin', 'name_org', 'name_domain'] as const;

/**
 * Invisible and formatting characters: format controls (`\p{Cf}`: zero-width space and joiners,
 * soft hyphen, bidi marks and isolates, BOM, ...) and every Default_Ignorable code point
 * (variation selectors, combining grapheme joiner, Hangul fillers, ...). They change nothing a
 * reader sees, so they are dropped from what is sent to Apollo and from every key.
 */
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;

export function stripInvisible(value: string): string {
  return value.replace(INVISIBLE, '');
}

/** Apostrophes join a word (`O'Brien` = `OBrien`); dots join abbreviations (`S.A.` = `SA`). */
const JOINERS = /['\u2019\u02bc\u2018`´.]/g;
/** Punctuation, symbols, spaces and controls separate words; anything else (even an unassigned code point) is part of one. */
const WORD = /[^\s\p{P}\p{S}\p{Cc}\p{Cf}]+/gu;

/**
 * The words of a text as two spellings of one name share them: invisible characters dropped,
 * NFKC (full-width and ligature forms folded), lower case, apostrophes and dots joined,
 * punctuation, symbols and whitespace as separators. `  Smith-Jones ` → `['smith', 'jones']`. A text
 * made only of punctuation and symbols is one word, as it is.
 */
export function words(value: string): string[] {
  const folded = stripInvisible(value).normalize('NFKC').toLowerCase();
  const found = folded.replace(JOINERS, '').match(WORD);
  if (found) return found;
  // Only punctuation and symbols (`!`, `&`): kept whole, so the name still identifies someone.
  const whole = folded.replace(/\s+/g, ' ').trim();
  return whole === '' ? [] : [whole];
}

/** A folded name part: its words, single-spaced. */
export function foldName(value: string): string {
  return words(value).join(' ');
}

/**
 * Legal-form words ignored at the end of a company name. `Seq Co.`, `Seq Co`, `SEQ`, `Seq, Inc.`
 * and `Seq Company Ltd` are one company: `seq`. A name made only of them (`Co`) is kept.
 */
const LEGAL_SUFFIXES = new Set([
  'inc', 'incorporated', 'llc', 'llp', 'lp', 'ltd', 'limited', 'co', 'company', 'corp', 'corporation',
  'gmbh', 'ag', 'kg', 'sa', 'sas', 'sarl', 'srl', 'spa', 'bv', 'nv', 'plc', 'pty', 'pte', 'oy', 'ab', 'kk',
]); // prettier-ignore

export function foldCompany(value: string): string {
  const parts = words(value);
  let end = parts.length;
  while (end > 1 && LEGAL_SUFFIXES.has(parts[end - 1] as string)) end -= 1;
  return parts.slice(0, end).join(' ');
}

/** An email as one mailbox: invisible characters dropped, NFKC, lower case. */
export function foldEmail(email: string): string {
  return stripInvisible(email).normalize('NFKC').trim().toLowerCase();
}

/**
 * Second-level labels under which a country code TLD registers names (`example.co.uk`): the common
 * ones, not the whole Public Suffix List. Elsewhere the registrable domain is the last two labels.
 */
const SECOND_LEVEL = new Set(['co', 'com', 'net', 'org', 'ac', 'gov', 'edu', 'ne', 'or', 'go', 'gv']);

/**
 * `https://www.Careers.Example.co.uk/about` → `example.co.uk`: the registrable domain of a website,
 * or undefined when it is not a URL with a dotted host.
 */
export function registrableDomain(websiteUrl: string): string | undefined {
  const text = stripInvisible(websiteUrl).trim();
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
    const labels = url.hostname.toLowerCase().replace(/\.$/, '').split('.');
    if (labels.length < 2 || labels.some((label) => label === '')) return undefined;
    const top = labels[labels.length - 1] as string;
    const second = labels[labels.length - 2] as string;
    const take = labels.length > 2 && top.length === 2 && SECOND_LEVEL.has(second) ? 3 : 2;
    return labels.slice(-take).join('.');
  } catch {
    return undefined;
  }
}

/** `https://www.LinkedIn.com/in/Ada-L/?trk=x` and `linkedin.com/in/ada-l` are one profile. */
export function foldLinkedin(url: string): string {
  return stripInvisible(url)
    .normalize('NFKC')
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '')
    .replace(/^([a-z]{2,3}\.)?www\./, '')
    .replace(/^[a-z]{2}\.linkedin\./, 'linkedin.')
    .replace(/[?#].*$/, '')
    .replace(/\/+$/, '');
}

/** The ledger key of an identity: `id_` + SHA-256 (base64url) of its JSON. Always 46 characters. */
export function identityKey(identity: Identity): string {
  return `id_${createHash('sha256').update(JSON.stringify(identity)).digest('base64url')}`;
}

/** What a person is known by, as given (the person's own spelling). */
export interface IdentityFields {
  email?: string;
  first_name?: string;
  last_name?: string;
  organization_name?: string;
  website_url?: string;
  linkedin_url?: string;
  hubspot_id?: string;
  salesforce_contact_id?: string;
  salesforce_lead_id?: string;
}

/**
 * Every identity of a person, strongest first: email, CRM ids, LinkedIn URL, name + organisation,
 * name + website domain. Name identities need both names and a non-empty folded company.
 */
export function identitiesOf(fields: IdentityFields): Identity[] {
  const identities: Identity[] = [];
  if (fields.email !== undefined) identities.push(['email', foldEmail(fields.email)]);
  if (fields.hubspot_id !== undefined) identities.push(['crm', 'hubspot', fields.hubspot_id]);
  for (const id of [fields.salesforce_contact_id, fields.salesforce_lead_id]) {
    if (id !== undefined) identities.push(['crm', 'salesforce', salesforceId18(id) ?? id]);
  }
  if (fields.linkedin_url !== undefined) {
    const profile = foldLinkedin(fields.linkedin_url);
    if (/^linkedin\.com\/.+/.test(profile)) identities.push(['linkedin', profile]);
  }
  const first = fields.first_name === undefined ? '' : foldName(fields.first_name);
  const last = fields.last_name === undefined ? '' : foldName(fields.last_name);
  if (first !== '' && last !== '') {
    const company = fields.organization_name === undefined ? '' : foldCompany(fields.organization_name);
    if (company !== '') identities.push(['name_org', first, last, company]);
    const domain = fields.website_url === undefined ? undefined : registrableDomain(fields.website_url);
    if (domain !== undefined) identities.push(['name_domain', first, last, domain]);
  }
  return identities;
}

export function isWeak(identity: Identity): boolean {
  return (WEAK_KINDS as readonly string[]).includes(identity[0]);
}

/** A name with an organisation or a website's domain: what a contact's own fields can show. */
export function isNameIdentity(identity: Identity): boolean {
  return identity[0] === 'name_org' || identity[0] === 'name_domain';
}

/**
 * A conversion id: the ledger key of a person's record and the id the API shows. Random, so it
 * says nothing about the person: `c_` + 22 base64url characters (128 bits).
 */
export function newConversionId(): string {
  return `c_${randomBytes(16).toString('base64url')}`;
}

export const CONVERSION_ID_PATTERN = /^c_[A-Za-z0-9_-]{22}$/;

export function isConversionId(value: string): boolean {
  return CONVERSION_ID_PATTERN.test(value);
}
