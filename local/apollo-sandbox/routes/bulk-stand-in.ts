/**
 * PIPELINE-STAND-IN: `POST /contacts/bulk_create` and `POST /contacts/bulk_update` as
 * docs/apollo/apollo-api.md describes them, just enough for the pipeline branch's integration
 * tests before the merge. The bulk-apollo branch's routes replace this file.
 */
import { isTrue, readContactChanges, type Params } from '../params';
import { misconfigured, type Reply } from '../replies';
import { toApolloContact } from '../serializers';
import type { SandboxState } from '../state';
import type { RouteRequest } from './route';

function entriesOf(params: Params, field: string, max: number): Params[] {
  const entries = params[field];
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > max) {
    throw misconfigured(`${field} must be an array of 1 to ${max} objects`);
  }
  if (!entries.every((entry) => typeof entry === 'object' && entry !== null && !Array.isArray(entry))) {
    throw misconfigured(`${field} must be an array of objects`);
  }
  return entries as Params[];
}

/** Up to 100 contacts; with `run_dedupe` a match comes back in `existing_contacts`, unchanged. No index. */
export function bulkCreateContacts(state: SandboxState, { params, now }: RouteRequest): Reply {
  const dedupe = isTrue(params.run_dedupe);
  const created: unknown[] = [];
  const existing: unknown[] = [];
  // Every entry is read first: one invalid entry refuses the whole request, as Apollo's 422 does.
  const entries = entriesOf(params, 'contacts', 100).map((entry) => ({
    entry,
    changes: readContactChanges(entry),
  }));
  for (const { entry, changes } of entries) {
    const match = dedupe ? state.findDedupeMatch(changes, entry) : undefined;
    if (match) {
      existing.push(toApolloContact(match));
      continue;
    }
    const contact = state.newContact(now);
    state.applyChanges(contact, changes, now);
    created.push(toApolloContact(contact));
  }
  return { status: 200, body: { created_contacts: created, existing_contacts: existing } };
}

/** Sets the given fields of each contact named by `id` (up to 100 applied at once). */
export function bulkUpdateContacts(state: SandboxState, { params, now }: RouteRequest): Reply {
  const updated: unknown[] = [];
  for (const entry of entriesOf(params, 'contact_attributes', 100)) {
    const contact = typeof entry.id === 'string' ? state.findContact(entry.id) : undefined;
    if (contact === undefined) continue;
    state.applyChanges(contact, readContactChanges(entry), now);
    updated.push(toApolloContact(contact));
  }
  return { status: 200, body: { contacts: updated } };
}
