/**
 * The bulk contacts endpoints: `POST /contacts/bulk_create` (up to 100; `run_dedupe` returns
 * matches unchanged, no index in the reply) and `POST /contacts/bulk_update` (up to 1,000; 100 or
 * fewer applied at once, more as a job).
 */
import { newApolloId } from '../ids';
import {
  isTrue,
  readBulkContact,
  readContactChanges,
  stringListParam,
  type ContactChanges,
  type Params,
} from '../params';
import { ApolloReplyError, misconfigured, type Reply } from '../replies';
import { toApolloBulkContact, toApolloContact } from '../serializers';
import type { SandboxState } from '../state';
import { SANDBOX_USER_ID } from '../team';
import type { RouteRequest } from './route';

const MAX_BULK_CREATE = 100;
const MAX_BULK_UPDATE = 1_000;
/** Apollo applies a bulk_update of this many contacts or fewer at once; more become a job. */
const MAX_SYNCHRONOUS_UPDATE = 100;

/** Apollo's own wording, from bulk_create's documented 422 examples (it names the parameter `contact_attributes`). */
const NO_CONTACTS_MESSAGE =
  'Please provide an array of contact attributes in the "contact_attributes" parameter.';

function unprocessable(error: string): ApolloReplyError {
  return new ApolloReplyError({ status: 422, body: { error } });
}

/**
 * `POST /contacts/bulk_create`: 1 to 100 `contacts[]`, each read as its documented schema has it
 * (`readBulkContact`); everything is checked before anything is stored, so a 422 stores nothing
 * (*unsure*: whether Apollo refuses the whole call for one bad contact).
 *
 * Without `run_dedupe` every contact is created, duplicates included. With it, a contact Apollo
 * already has (`findBulkDedupeMatch`) comes back in `existing_contacts` exactly as it is, never
 * updated. Contacts are taken in order. The reply says nothing about which input each entry is
 * for. `append_label_names` lists the new contacts (*unsure* for matched ones: left unchanged).
 */
export function bulkCreateContacts(
  state: SandboxState,
  { params, now, behaviour, applyFirst }: RouteRequest,
): Reply {
  const contacts = params.contacts;
  if (!Array.isArray(contacts) || contacts.length === 0) throw unprocessable(NO_CONTACTS_MESSAGE);
  if (contacts.length > MAX_BULK_CREATE) {
    throw unprocessable(`Please limit your array to ${MAX_BULK_CREATE} contacts or fewer.`);
  }
  if (params.owner_id !== undefined && params.owner_id !== SANDBOX_USER_ID) {
    throw misconfigured(`owner_id ${JSON.stringify(params.owner_id)} does not belong to the current team`);
  }
  const labels = params.append_label_names;
  if (
    labels !== undefined &&
    (!Array.isArray(labels) || !labels.every((label) => typeof label === 'string'))
  ) {
    throw misconfigured('append_label_names must be an array of strings');
  }
  const labelNames = stringListParam(params, 'append_label_names');
  const inputs = contacts.map((raw, index) =>
    readBulkContact(raw, `contacts[${index}]`, behaviour.bulkCreatePhoneFields),
  );
  const runDedupe = isTrue(params.run_dedupe);

  const created: unknown[] = [];
  const existing: unknown[] = [];
  for (const input of inputs.slice(0, applyFirst)) {
    const match = runDedupe ? state.findBulkDedupeMatch(input) : undefined;
    if (match) existing.push(toApolloBulkContact(match));
    else created.push(toApolloBulkContact(state.createFromBulk(input, labelNames, now)));
  }
  return { status: 200, body: { created_contacts: created, existing_contacts: existing } };
}

/** One contact's update: its id and the fields `PATCH /contacts/{id}` takes. */
interface ContactUpdate {
  id: string;
  changes: ContactChanges;
}

function contactUpdate(raw: Params, at: string): ContactChanges {
  try {
    return readContactChanges(raw);
  } catch (error) {
    if (error instanceof ApolloReplyError) {
      const detail = (error.reply.body as { error?: string }).error ?? 'invalid';
      throw misconfigured(`${at}: ${detail.replace(/^Parameters misconfigured\. /, '')}`);
    }
    throw error;
  }
}

/**
 * Reads both forms Apollo takes: `contact_attributes[]` (each object its own `id` and fields) or
 * `contact_ids[]` with the fields at the top level (the same values for every contact).
 */
function readUpdates(params: Params): ContactUpdate[] {
  const { contact_attributes: attributes, contact_ids: ids } = params;
  if (Array.isArray(attributes) && attributes.length > 0) {
    return attributes.map((raw, index) => {
      const at = `contact_attributes[${index}]`;
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        throw misconfigured(`${at} must be an object`);
      const { id, ...fields } = raw as Params;
      if (typeof id !== 'string' || id.trim() === '') throw misconfigured(`${at}.id is required`);
      return { id: id.trim(), changes: contactUpdate(fields, at) };
    });
  }
  if (Array.isArray(ids) && ids.length > 0) {
    const { contact_ids: _ids, async: _async, ...fields } = params;
    const changes = contactUpdate(fields, 'body');
    return ids.map((id, index) => {
      if (typeof id !== 'string' || id.trim() === '')
        throw misconfigured(`contact_ids[${index}] must be a contact id`);
      return { id: id.trim(), changes };
    });
  }
  throw unprocessable('Please provide contact_ids or contact_attributes.');
}

/**
 * `POST /contacts/bulk_update`: up to 1,000 contacts (422 beyond), the same fields as
 * `PATCH /contacts/{id}` (typed phones included), everything checked before anything changes.
 * 100 or fewer are applied before the reply, which lists the updated contacts; more (or
 * `async: true`) are applied `bulkUpdateJobDelayMs` later, and the reply carries a `job_id`.
 * Unknown ids are skipped and named in `skipped_contact_ids` (*unsure*: Apollo's exact reply).
 */
export function bulkUpdateContacts(state: SandboxState, { params, now, behaviour }: RouteRequest): Reply {
  const updates = readUpdates(params);
  if (updates.length > MAX_BULK_UPDATE) {
    throw unprocessable(`Please limit your array to ${MAX_BULK_UPDATE} contacts or fewer.`);
  }
  const skipped: Record<string, string> = {};
  const apply = (): string[] => {
    const updated: string[] = [];
    for (const { id, changes } of updates) {
      const contact = state.findContact(id);
      if (!contact) {
        skipped[id] = 'not found';
        continue;
      }
      state.applyChanges(contact, changes, now);
      updated.push(contact.id);
    }
    return updated;
  };
  if (updates.length > MAX_SYNCHRONOUS_UPDATE || isTrue(params.async)) {
    state.schedule(behaviour.bulkUpdateJobDelayMs, () => void apply());
    return {
      status: 200,
      body: { message: `${updates.length} contacts queued for update`, job_id: newApolloId() },
    };
  }
  const updated = apply();
  return {
    status: 200,
    body: {
      message: `${updated.length} contacts updated`,
      contacts: updated.flatMap((id) => {
        const contact = state.findContact(id);
        return contact ? [toApolloContact(contact)] : [];
      }),
      skipped_contact_ids: skipped,
    },
  };
}
