/**
 * The sandbox's own door, for a process other than the one that started it (`npm run probe`
 * against `npm start`): what the in-process handle (`ApolloSandbox`) offers, over HTTP. Apollo has
 * nothing like it, so it lives outside Apollo's paths (`/_sandbox/...`), behind the same API key,
 * and its requests are neither recorded nor rate limited.
 */
import type { Reply } from './replies';
import type { SandboxState } from './state';
import type { FaultRule, SandboxPersonSeed } from './types';

/** The prefix of the sandbox's own paths; Apollo's are under `/api/v1` (or `/v1`). */
export const ADMIN_PREFIX = '/_sandbox/';

/**
 * `GET /_sandbox/state`: every contact, request (with the credits each one used), callback and
 * the credits used so far. `POST /_sandbox/people` (a `SandboxPersonSeed`): puts a person into
 * Apollo's directory and answers it with its id. `POST /_sandbox/faults` (a `FaultRule`, its path
 * a string): scripts a fault, as `inject` does; `DELETE /_sandbox/faults` clears them.
 */
export function answerAdmin(state: SandboxState, method: string, path: string, body: unknown): Reply {
  if (method === 'GET' && path === `${ADMIN_PREFIX}state`) {
    return {
      status: 200,
      body: {
        credits_consumed: state.creditsConsumed,
        contacts: state.contacts,
        requests: state.requests,
        callbacks: state.phoneCallbacks.delivered,
      },
    };
  }
  if (method === 'POST' && path === `${ADMIN_PREFIX}people`) {
    if (!isPersonSeed(body)) {
      return { status: 422, body: { error: 'A person needs first_name and last_name (strings).' } };
    }
    return { status: 200, body: state.addPerson(body) };
  }
  if (method === 'POST' && path === `${ADMIN_PREFIX}faults`) {
    if (!isFaultRule(body)) {
      return {
        status: 422,
        body: { error: 'A fault rule: method, path (a string), times, status, action, delayMs.' },
      };
    }
    state.faults.push({ rule: { ...body }, remaining: body.times ?? 1, skipped: 0 });
    return { status: 200, body: { faults: state.faults.length } };
  }
  if (method === 'DELETE' && path === `${ADMIN_PREFIX}faults`) {
    state.faults.length = 0;
    return { status: 200, body: { faults: 0 } };
  }
  return { status: 404, body: { error: 'Not Found' } };
}

const FAULT_ACTIONS = ['respond', 'reset', 'delay', 'create-then-fail'];

function isFaultRule(body: unknown): body is FaultRule {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const { method, path, times, status, action, delayMs } = body as Record<string, unknown>;
  const optional = (value: unknown, type: 'string' | 'number') =>
    value === undefined || typeof value === type;
  return (
    optional(method, 'string') &&
    optional(path, 'string') &&
    optional(times, 'number') &&
    optional(status, 'number') &&
    optional(delayMs, 'number') &&
    (action === undefined || FAULT_ACTIONS.includes(action as string))
  );
}

function isPersonSeed(body: unknown): body is SandboxPersonSeed {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const { first_name: first, last_name: last } = body as Record<string, unknown>;
  return typeof first === 'string' && typeof last === 'string';
}
