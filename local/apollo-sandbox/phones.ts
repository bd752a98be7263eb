/** Phone numbers as Apollo stores them on contacts and reveals them for people. */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { newApolloId } from './ids';
import type {
  SandboxPerson,
  SandboxPersonPhone,
  SandboxPersonPhoneSeed,
  SandboxPhoneNumber,
  SandboxPhoneType,
  SandboxRevealedPhone,
} from './types';

const REGION_NAMES = new Intl.DisplayNames(['en'], { type: 'region' });

/** E.164 via libphonenumber-js (default country US); unparseable numbers keep their digits. */
export function sanitizePhone(rawNumber: string): string {
  const digits = rawNumber.replace(/\D/g, '');
  return parsePhoneNumberFromString(rawNumber, 'US')?.number ?? (digits ? `+${digits}` : '');
}

/** A number as a contact stores it; `type` null for one sent untyped. */
export function newPhoneNumber(rawNumber: string, type: string | null, position: number): SandboxPhoneNumber {
  return {
    raw_number: rawNumber,
    sanitized_number: sanitizePhone(rawNumber),
    type,
    position,
    status: 'no_status',
    dnc_status: null,
  };
}

export function newPersonPhone(
  seed: SandboxPersonPhoneSeed,
  defaultType: SandboxPhoneType,
): SandboxPersonPhone {
  return {
    _id: seed._id ?? newApolloId(),
    raw_number: seed.raw_number,
    sanitized_number: seed.sanitized_number ?? sanitizePhone(seed.raw_number),
    type_cd: seed.type_cd ?? defaultType,
  };
}

/** The phones a reveal delivers for a person: mobile phones first, then the others. */
export function revealedPhones(person: SandboxPerson, now: string): SandboxRevealedPhone[] {
  return [...person.mobile_phones, ...person.phone_numbers].map((phone, position) => {
    const country = parsePhoneNumberFromString(phone.sanitized_number || phone.raw_number, 'US')?.country;
    return {
      _id: phone._id,
      confidence_cd: 'high',
      created_at: null,
      direct_dial_source_cd: null,
      dnc_other_info: country ? { country: REGION_NAMES.of(country) ?? country } : {},
      dnc_status_cd: 'not_found',
      dnc_status_updated_at: now,
      position,
      raw_number: phone.raw_number,
      sanitized_number: phone.sanitized_number,
      status_cd: 'valid_number',
      type_cd: phone.type_cd,
      updated_at: null,
      id: phone._id,
      key: phone._id,
    };
  });
}
