import * as z from 'zod/mini';
import type { ApolloContact, MatchedPerson, PhoneRevealPayload } from './apollo';

/**
 * Apollo's replies as the adapter reads them. Each schema `satisfies` the port type it produces
 * (`./apollo`), so the two cannot disagree on a field they both name; a field added to one belongs
 * in the other. Loose objects: fields Apollo adds later pass through unread.
 */

const phoneNumberSchema = z.looseObject({
  raw_number: z.optional(z.nullable(z.string())),
  sanitized_number: z.optional(z.nullable(z.string())),
  type: z.optional(z.nullable(z.string())),
});

const contactSchema = z.looseObject({
  id: z.string(),
  first_name: z.optional(z.nullable(z.string())),
  last_name: z.optional(z.nullable(z.string())),
  organization_name: z.optional(z.nullable(z.string())),
  website_url: z.optional(z.nullable(z.string())),
  organization: z.optional(
    z.nullable(
      z.looseObject({
        website_url: z.optional(z.nullable(z.string())),
        primary_domain: z.optional(z.nullable(z.string())),
      }),
    ),
  ),
  account: z.optional(z.nullable(z.looseObject({ domain: z.optional(z.nullable(z.string())) }))),
  email: z.optional(z.nullable(z.string())),
  person_id: z.optional(z.nullable(z.string())),
  phone_numbers: z.optional(z.nullable(z.array(phoneNumberSchema))),
}) satisfies z.ZodMiniType<ApolloContact>;

const matchedPersonSchema = z.looseObject({
  id: z.optional(z.nullable(z.string())),
  first_name: z.optional(z.nullable(z.string())),
  last_name: z.optional(z.nullable(z.string())),
  email: z.optional(z.nullable(z.string())),
  title: z.optional(z.nullable(z.string())),
  linkedin_url: z.optional(z.nullable(z.string())),
  organization: z.optional(
    z.nullable(
      z.looseObject({
        name: z.optional(z.nullable(z.string())),
        website_url: z.optional(z.nullable(z.string())),
        primary_domain: z.optional(z.nullable(z.string())),
      }),
    ),
  ),
  contact_id: z.optional(z.nullable(z.string())),
  contact: z.optional(z.nullable(contactSchema)),
  phone_numbers: z.optional(z.nullable(z.array(phoneNumberSchema))),
}) satisfies z.ZodMiniType<MatchedPerson>;

/** `POST /contacts` and `PATCH /contacts/{id}`. */
export const createReplySchema = z.looseObject({ contact: contactSchema });

/** `POST /contacts/search`. */
export const searchReplySchema = z.looseObject({
  contacts: z.array(contactSchema),
  pagination: z.optional(z.looseObject({ total_pages: z.optional(z.nullable(z.number())) })),
});

/** `POST /people/match`. */
export const matchReplySchema = z.looseObject({
  person: z.optional(z.nullable(matchedPersonSchema)),
  // Read as text by `parseApolloJson`: a signed 64-bit integer that a JS number would round.
  request_id: z.optional(z.nullable(z.string())),
  // No `credits_consumed`: Apollo documents it for bulk_match only; the cost is counted by `./pricing`.
});

/**
 * `POST /people/bulk_match`: `matches[]` in the order of the request's `details[]`, null where
 * nobody was found. Each match is a person as people/match shows it (`request_id` and the credit
 * counts around it are not read).
 */
export const bulkMatchReplySchema = z.looseObject({
  matches: z.array(z.nullable(matchedPersonSchema)),
});

/** The payload of Apollo's phone-reveal callback, and of `webhook_result` once it is ready. */
export const phoneRevealPayloadSchema = z.looseObject({
  status: z.optional(z.nullable(z.string())),
  credits_consumed: z.optional(z.nullable(z.number())),
  people: z
    .array(
      z.looseObject({
        id: z.string().check(z.minLength(1), z.maxLength(64)),
        status: z.optional(z.nullable(z.string())),
        phone_numbers: z.optional(
          z.nullable(
            z
              .array(
                z.looseObject({
                  raw_number: z.optional(z.nullable(z.string())),
                  sanitized_number: z.optional(z.nullable(z.string())),
                  type_cd: z.optional(z.nullable(z.string())),
                  status_cd: z.optional(z.nullable(z.string())),
                }),
              )
              .check(z.maxLength(50)),
          ),
        ),
      }),
    )
    .check(z.maxLength(100)),
}) satisfies z.ZodMiniType<PhoneRevealPayload>;

/** `GET /webhook_result/{request_id}`. */
export const webhookResultReplySchema = z.looseObject({
  webhook_status: z.optional(z.nullable(z.string())),
  webhook_result: z.optional(z.nullable(z.unknown())),
  error_code: z.optional(z.nullable(z.string())),
  retry_after_seconds: z.optional(z.nullable(z.number())),
});

/** Digits a 64-bit integer can have: the bound on what a decimal or exponent spelling may expand to. */
const MAX_INTEGER_DIGITS = 20;

/**
 * The integer a JSON number denotes, as its decimal digits (`1.5e3` → `1500`, `-2.0` → `-2`), or
 * undefined when it is not an integer, or when a decimal or exponent spelling would expand to more
 * digits than a 64-bit integer has. Exact, because no JS number is involved; plain digits are
 * returned as written.
 */
export function jsonIntegerDigits(number: string): string | undefined {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(number);
  if (match === null) return undefined;
  const [, sign = '', whole = '', fraction = '', exponentText = '0'] = match;
  // Plain digits are kept exactly as written, however many.
  if (match[3] === undefined && match[4] === undefined) return number;
  const exponent = Number(exponentText);
  let digits = whole + fraction;
  // The decimal point sits after `whole.length + exponent` of `digits`.
  const point = whole.length + exponent;
  if (point < 0) return /^0*$/.test(digits) ? '0' : undefined;
  if (point - digits.length > MAX_INTEGER_DIGITS) return /^0*$/.test(digits) ? '0' : undefined;
  if (point >= digits.length) digits += '0'.repeat(point - digits.length);
  else if (/[^0]/.test(digits.slice(point))) return undefined; // a fraction remains
  const integer = digits.slice(0, point).replace(/^0+(?=\d)/, '') || '0';
  if (integer.length > MAX_INTEGER_DIGITS) return undefined;
  return integer === '0' ? '0' : `${sign}${integer}`;
}

/**
 * JSON.parse, except that `request_id` is kept as the digits of the integer Apollo sent: it is a
 * signed 64-bit integer, often beyond 2^53, which a JS number would silently round (Node 20 has no
 * JSON.parse source access to recover it later). Any JSON spelling of an integer is read
 * (`1500`, `1.5e3`, `1500.0`); a number that is not an integer is left as a number, for the schema
 * to refuse.
 */
export function parseApolloJson(text: string): unknown {
  return JSON.parse(
    text.replace(
      /(?<!\\)("request_id"\s*:\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g,
      (whole, prefix: string, number: string) => {
        const digits = jsonIntegerDigits(number);
        return digits === undefined ? whole : `${prefix}"${digits}"`;
      },
    ),
  );
}
