import type { ContactFields } from '../person';
import type { BulkContact, CrmIds } from './apollo';

/**
 * Splits a person's contact fields for the bulk path: what `POST /contacts/bulk_create` takes,
 * and what must follow in `POST /contacts/bulk_update` (typed phones, website, lists), or
 * undefined when nothing must. `extra` adds what only bulk_create knows (CRM ids, LinkedIn URL).
 *
 * @example
 * toBulkContact({ email: 'ada@example.com', mobile_phone: '+14155550100' })
 * // { contact: { email: 'ada@example.com' }, followUp: { mobile_phone: '+14155550100' } }
 */
export function toBulkContact(
  fields: ContactFields,
  extra: CrmIds & { linkedin_url?: string } = {},
): { contact: BulkContact; followUp: ContactFields | undefined } {
  const {
    direct_phone,
    corporate_phone,
    mobile_phone,
    home_phone,
    other_phone,
    website_url,
    label_names,
    ...created
  } = fields;
  const followUp = definedOnly({
    direct_phone,
    corporate_phone,
    mobile_phone,
    home_phone,
    other_phone,
    website_url,
    label_names,
  });
  return {
    contact: { ...created, ...definedOnly(extra) },
    followUp: Object.keys(followUp).length > 0 ? followUp : undefined,
  };
}

function definedOnly<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}
