import { toPerson, type Person, type PersonInput } from '../../../lib/person';
import type { DirectoryPerson } from './apollo';

/*
 * Fictional people only: invented names, `.example` domains (RFC 2606) and 555-01xx numbers,
 * which the North American numbering plan keeps for fiction.
 */

export const DEFAULT_PHONE_COUNTRY = 'US' as const;

/** A validated person, as the webhook and the API hand them to the conversion. */
export function person(input: PersonInput): Person {
  return toPerson(input, 'fixture', { defaultPhoneCountry: DEFAULT_PHONE_COUNTRY });
}

export const WREN_INPUT = {
  first_name: 'Wren',
  last_name: 'Halloway',
  email: 'wren.halloway@lanternfish.example',
  organization_name: 'Lanternfish Labs',
  title: 'Keeper of Tide Tables',
  direct_phone: '(202) 555-0143',
} satisfies PersonInput;

export const JUNO_INPUT = {
  first_name: 'Juno',
  last_name: 'Marsh',
  email: 'juno.marsh@brackenridge.example',
  organization_name: 'Brackenridge Mills',
} satisfies PersonInput;

export const TOBIN_INPUT = {
  first_name: 'Tobin',
  last_name: 'Vale',
  email: 'tobin.vale@quillfeather.example',
  organization_name: 'Quillfeather & Sons',
} satisfies PersonInput;

/** Someone without an email: keyed and matched by name and company. */
export const OTTILIE_INPUT = {
  first_name: 'Ottilie',
  last_name: 'Fenwick',
  organization_name: 'Cobblestone Cartography',
} satisfies PersonInput;

export const wren = () => person(WREN_INPUT);
export const juno = () => person(JUNO_INPUT);
export const tobin = () => person(TOBIN_INPUT);
export const ottilie = () => person(OTTILIE_INPUT);

/** Wren as Apollo's database knows her, with the mobile number a phone reveal brings. */
export const WREN_IN_APOLLO: DirectoryPerson = {
  id: 'person-wren',
  first_name: 'Wren',
  last_name: 'Halloway',
  email: 'wren.halloway@lanternfish.example',
  title: 'Keeper of Tide Tables',
  linkedin_url: 'https://www.linkedin.com/in/wren-halloway',
  organization: {
    name: 'Lanternfish Labs',
    website_url: 'https://www.lanternfish.example',
    primary_domain: 'lanternfish.example',
  },
  revealedPhones: [{ sanitized_number: '+12025550188', type_cd: 'mobile', status_cd: 'valid_number' }],
};
