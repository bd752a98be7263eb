import * as z from 'zod/mini';
import { InvalidRequestError } from './errors';
import { foldEmail, foldLinkedin, identitiesOf, identityKey, isConversionId } from './identity';
import type { ConversionRecord, LedgerReader } from './ledger';
import { describeIssue } from './person';

/**
 * Finding a person's record without putting who they are in a URL: `GET /conversions/{id}` takes
 * the opaque conversion id, `POST /conversions/lookup` takes an identity in its body.
 */

/** The record with conversion id `id`; 400 for something that is not a conversion id (any length). */
export async function conversionById(ledger: LedgerReader, id: string): Promise<ConversionRecord | null> {
  if (!isConversionId(id)) throw new InvalidRequestError('id: not a conversion id (c_ and 22 characters)');
  return ledger.get({ key: id });
}

const text = (max: number) => z.optional(z.string().check(z.trim(), z.minLength(1), z.maxLength(max)));

const lookupSchema = z.object({
  email: text(320),
  first_name: text(200),
  last_name: text(200),
  organization_name: text(300),
  website_url: text(2048),
  linkedin_url: text(2048),
  apollo_person_id: z.optional(
    z.string().check(z.regex(/^[A-Za-z0-9]{1,64}$/, 'must be an Apollo person id')),
  ),
});

/**
 * The ledger keys `POST /conversions/lookup` tries, in order, for a body with `email`; or
 * `first_name` + `last_name` with `organization_name` and/or `website_url`; or `linkedin_url`; or
 * `apollo_person_id`. The identities are folded as the conversion folds them.
 */
export function parseConversionLookup(rawBody: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody);
  } catch {
    throw new InvalidRequestError('body: not valid JSON');
  }
  const result = lookupSchema.safeParse(parsed);
  if (!result.success) throw new InvalidRequestError(describeIssue(result.error, 'body'));
  const body = result.data;
  if (body.email !== undefined) return [identityKey(['email', foldEmail(body.email)])];
  if (body.apollo_person_id !== undefined) return [`person:${body.apollo_person_id}`];
  if (body.linkedin_url !== undefined) return [identityKey(['linkedin', foldLinkedin(body.linkedin_url)])];
  const keys = identitiesOf({
    first_name: body.first_name,
    last_name: body.last_name,
    organization_name: body.organization_name,
    website_url: body.website_url,
  }).map(identityKey);
  if (keys.length === 0) {
    throw new InvalidRequestError(
      'body: needs email, apollo_person_id, linkedin_url, or first_name and last_name with organization_name or website_url',
    );
  }
  return keys;
}

/** The first record one of `keys` names, or null (also when a name names several people). */
export async function lookUpConversion(
  ledger: LedgerReader,
  keys: string[],
): Promise<ConversionRecord | null> {
  for (const key of keys) {
    const record = await ledger.find({ keyOrAlias: key });
    if (record !== null) return record;
  }
  return null;
}
