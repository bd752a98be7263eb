/** The contacts endpoints: create (with and without `run_dedupe`), view, update, search. */
import { isTrue, positiveIntParam, readContactChanges, stringListParam, stringParam } from '../params';
import { ApolloReplyError, type Reply } from '../replies';
import { toApolloContact, toApolloSearchContact } from '../serializers';
import type { SandboxState } from '../state';
import { SANDBOX_CONTACT_STAGES, SANDBOX_USER_ID } from '../team';
import type { SandboxContact } from '../types';
import type { RouteRequest } from './route';

const CONTACT_NOT_FOUND_MESSAGE = 'Oops! This contact does not exist in Apollo.';
/** *unsure*: Apollo documents no default page size; 10 is the value its examples use. */
const DEFAULT_PER_PAGE = 10;
const MAX_PER_PAGE = 100;
/** Apollo's display limit for contact search: 100 per page, up to 500 pages. */
const MAX_REACHABLE_SEARCH_RESULTS = 50_000;

function contactReply(state: SandboxState, contact: SandboxContact): Reply {
  const labels = state.labelsOf(contact).map((label) => ({
    id: label.id,
    modality: 'contacts',
    cached_count: state.labelUseCount(label),
    name: label.name,
    created_at: label.created_at,
    updated_at: label.updated_at,
    user_id: SANDBOX_USER_ID,
  }));
  return { status: 200, body: { contact: toApolloContact(contact), labels } };
}

function existingContact(state: SandboxState, id: string | undefined): SandboxContact {
  const contact = state.findContact(id);
  // Apollo answers an unknown contact id with 422, not 404.
  if (!contact) throw new ApolloReplyError({ status: 422, body: { error: CONTACT_NOT_FOUND_MESSAGE } });
  return contact;
}

export function createContact(state: SandboxState, { params, now }: RouteRequest): Reply {
  const changes = readContactChanges(params);
  const match = isTrue(params.run_dedupe) ? state.findDedupeMatch(changes, params) : undefined;
  const contact = match ?? state.newContact(now);
  state.applyChanges(contact, changes, now);
  return contactReply(state, contact);
}

export function viewContact(state: SandboxState, { pathId }: RouteRequest): Reply {
  return contactReply(state, existingContact(state, pathId));
}

export function updateContact(state: SandboxState, { params, pathId, now }: RouteRequest): Reply {
  const contact = existingContact(state, pathId);
  state.applyChanges(contact, readContactChanges(params), now);
  return contactReply(state, contact);
}

/** The sort_by_field values whose data the sandbox has; the others (activity dates) leave the order alone. */
const SEARCH_SORT_FIELDS = new Map<string, 'created_at' | 'updated_at'>([
  ['contact_created_at', 'created_at'],
  ['contact_updated_at', 'updated_at'],
]);

/** Fuzzy like Apollo's keyword search: every word must appear somewhere in name, email, company or title. */
function matchesKeywords(contact: SandboxContact, words: string[]): boolean {
  const fields = [contact.name, contact.email, contact.organization_name, contact.title].flatMap((field) =>
    field ? [field.toLowerCase()] : [],
  );
  return words.every((word) => fields.some((field) => field.includes(word)));
}

export function searchContacts(state: SandboxState, { params }: RouteRequest): Reply {
  const keywords = stringParam(params, 'q_keywords');
  const words = keywords?.toLowerCase().split(/\s+/) ?? [];
  const stageIds = stringListParam(params, 'contact_stage_ids');
  const labelIds = stringListParam(params, 'contact_label_ids');
  const page = positiveIntParam(params, 'page', 1);
  const perPage = Math.min(positiveIntParam(params, 'per_page', DEFAULT_PER_PAGE), MAX_PER_PAGE);

  const matches = state.contacts.filter(
    (contact) =>
      matchesKeywords(contact, words) &&
      (stageIds.length === 0 || stageIds.includes(contact.contact_stage_id ?? '')) &&
      (labelIds.length === 0 || contact.label_ids.some((id) => labelIds.includes(id))),
  );
  const sortBy = SEARCH_SORT_FIELDS.get(stringParam(params, 'sort_by_field') ?? '');
  if (sortBy) {
    const direction = isTrue(params.sort_ascending) ? 1 : -1;
    matches.sort((a, b) => direction * a[sortBy].localeCompare(b[sortBy]));
  }
  const reachable = matches.slice(0, MAX_REACHABLE_SEARCH_RESULTS);
  const pageContacts = reachable.slice((page - 1) * perPage, page * perPage);

  const breadcrumbs = [
    ...(keywords
      ? [
          {
            label: 'Contains Keywords',
            signal_field_name: 'q_keywords',
            value: keywords,
            display_name: keywords,
          },
        ]
      : []),
    ...stageIds.map((id) => ({
      label: 'Contact Stage',
      signal_field_name: 'contact_stage_ids',
      value: id,
      display_name: SANDBOX_CONTACT_STAGES.find((stage) => stage.id === id)?.name ?? '[Deleted Stage]',
    })),
  ];
  return {
    status: 200,
    body: {
      contacts: pageContacts.map(toApolloSearchContact),
      breadcrumbs,
      partial_results_only: false,
      has_join: false,
      disable_eu_prospecting: false,
      partial_results_limit: 10_000,
      pagination: {
        page,
        per_page: perPage,
        total_entries: matches.length,
        total_pages: Math.ceil(matches.length / perPage),
      },
      num_fetch_result: null,
    },
  };
}
