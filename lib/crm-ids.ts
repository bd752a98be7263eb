/**
 * Record ids of the CRMs that send people, in the one form this service keeps and sends to Apollo.
 *
 * A Salesforce id has two spellings: 15 characters, case-sensitive (`003…` in the UI), and 18
 * characters, the same 15 plus a 3-character suffix that encodes which of them are upper case, so
 * that the id survives case-insensitive tools (the API, Outbound Messages and exports use it). The
 * service keeps the 18-character form, so both spellings of one record are one value.
 */

const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** 15 case-sensitive characters, optionally followed by the 3-character case suffix. */
export const SALESFORCE_ID_PATTERN = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/;

/** The 3-character suffix of a 15-character id: one character per 5, a bit per upper-case letter. */
function caseSuffix(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk += 1) {
    let bits = 0;
    for (let position = 0; position < 5; position += 1) {
      const character = id15.charAt(chunk * 5 + position);
      if (character >= 'A' && character <= 'Z') bits |= 1 << position;
    }
    suffix += SUFFIX_ALPHABET.charAt(bits);
  }
  return suffix;
}

/**
 * The 18-character form of a Salesforce id given in either form, or undefined when it is not one:
 * not 15 or 18 letters and digits, or 18 whose suffix does not match the first 15 (a typo, or an
 * id whose case was changed by a tool that should not have touched it). The suffix is compared
 * without regard to case, as Salesforce itself does.
 */
export function salesforceId18(id: string): string | undefined {
  if (!SALESFORCE_ID_PATTERN.test(id)) return undefined;
  const id15 = id.slice(0, 15);
  const suffix = caseSuffix(id15);
  if (id.length === 18 && id.slice(15).toUpperCase() !== suffix) return undefined;
  return id15 + suffix;
}
