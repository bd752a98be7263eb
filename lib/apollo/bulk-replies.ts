// PIPELINE-STAND-IN: the bulk-apollo branch owns this mapping (same signature); this branch's
// version follows the agreed rules so the consumer and its tests run before the merge. Take
// bulk-apollo's on merge.
import { domainToASCII } from 'node:url';
import { foldCompany, foldName } from '../identity';
import type { ApolloContact, BulkContact } from './apollo';

type Outcome = 'created' | 'existing';

interface Returned {
  contact: ApolloContact;
  outcome: Outcome;
  taken: boolean;
}

const CRM_IDS = ['hubspot_id', 'salesforce_contact_id', 'salesforce_lead_id'] as const;

/** `Ada@Bücher.Example ` → `ada@xn--bcher-kva.example`: one mailbox, however it is spelled. */
function normalisedEmail(email: string | null | undefined): string | undefined {
  const trimmed = email?.trim().toLowerCase();
  if (!trimmed) return undefined;
  const at = trimmed.lastIndexOf('@');
  if (at <= 0) return trimmed;
  const domain = domainToASCII(trimmed.slice(at + 1));
  return `${trimmed.slice(0, at)}@${domain === '' ? trimmed.slice(at + 1) : domain}`;
}

/** First + last name with the organisation, folded as identities fold them; undefined if any is missing. */
function nameKey(person: {
  first_name?: string | null;
  last_name?: string | null;
  organization_name?: string | null;
}): string | undefined {
  const parts = [
    foldName(person.first_name ?? ''),
    foldName(person.last_name ?? ''),
    foldCompany(person.organization_name ?? ''),
  ];
  return parts.some((part) => part === '') ? undefined : JSON.stringify(parts);
}

/**
 * Maps a bulk_create reply back to what was sent. Apollo returns `created` and `existing` lists
 * without an index, so each sent contact is paired with a returned one by, in order: normalised
 * email; a CRM id; first + last name with organisation, when that is unique among the sent and
 * the still unpaired returned contacts. What pairs with more than one candidate stays unknown.
 */
export function mapBulkCreateReply(
  sent: ReadonlyArray<{ ref: string; contact: BulkContact }>,
  reply: { created: ApolloContact[]; existing: ApolloContact[] },
): {
  matched: Map<string, { contact: ApolloContact; outcome: 'created' | 'existing' }>;
  /** existing contacts whose email differs from the sent person's: Apollo's name+company false merge. */
  falseMerges: string[];
  /** refs that could not be mapped without doubt: resolve person by person. */
  unknown: string[];
} {
  const returned: Returned[] = [
    ...reply.created.map((contact) => ({ contact, outcome: 'created' as const, taken: false })),
    ...reply.existing.map((contact) => ({ contact, outcome: 'existing' as const, taken: false })),
  ];
  const matched = new Map<string, { contact: ApolloContact; outcome: Outcome }>();
  const falseMerges: string[] = [];
  const pair = (ref: string, found: Returned) => {
    found.taken = true;
    matched.set(ref, { contact: found.contact, outcome: found.outcome });
  };
  /**
   * The one returned contact `same` picks, or undefined for none or several. One contact may come
   * back twice (created for one entry, then existing for a later entry it matched): it is one
   * candidate, its creation first.
   */
  const single = (same: (candidate: Returned) => boolean): Returned | undefined => {
    const found = returned.filter(same);
    if (new Set(found.map((r) => r.contact.id)).size !== 1) return undefined;
    return found.find((r) => r.outcome === 'created') ?? found[0];
  };
  const unpaired = (): Array<{ ref: string; contact: BulkContact }> =>
    sent.filter(({ ref }) => !matched.has(ref) && !falseMerges.includes(ref));

  // 1. Email, then a CRM id: one returned contact for one sent person.
  for (const { ref, contact } of sent) {
    const email = normalisedEmail(contact.email);
    const byEmail = email && single((r) => !r.taken && normalisedEmail(r.contact.email) === email);
    if (byEmail) {
      pair(ref, byEmail);
      continue;
    }
    for (const crm of CRM_IDS) {
      const id = contact[crm];
      const byCrm = id && single((r) => !r.taken && r.contact[crm] === id);
      if (byCrm) {
        pair(ref, byCrm);
        break;
      }
    }
  }
  // 2. Name and organisation, unique on both sides.
  const rest = unpaired();
  for (const { ref, contact } of rest) {
    const key = nameKey(contact);
    if (key === undefined || rest.filter((other) => nameKey(other.contact) === key).length !== 1) continue;
    const byName = single((r) => !r.taken && nameKey(r.contact) === key);
    if (byName === undefined) continue;
    const sentEmail = normalisedEmail(contact.email);
    const shownEmail = normalisedEmail(byName.contact.email);
    if (sentEmail !== undefined && shownEmail !== sentEmail) {
      // Not this person: an existing contact of another email is Apollo's false merge; a created
      // one without this email cannot be this person's (it would carry the email sent).
      if (byName.outcome === 'existing' && shownEmail !== undefined) {
        byName.taken = true;
        falseMerges.push(ref);
      }
      continue;
    }
    if (sentEmail === undefined && byName.outcome === 'created' && shownEmail !== undefined) continue;
    pair(ref, byName);
  }
  return { matched, falseMerges, unknown: unpaired().map(({ ref }) => ref) };
}
