/** Scripted phone-reveal callbacks: what Apollo POSTs to a people/match request's webhook_url, and when. */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isoSeconds } from './ids';
import { toJson } from './replies';
import type { PhoneCallbackBehaviour, SandboxCallback, SandboxPhoneCallbackPayload } from './types';

const DEFAULT_CALLBACK_DELAY_MS = 100;
const DEFAULT_CALLBACK_BEHAVIOUR: PhoneCallbackBehaviour = {
  mode: 'once',
  delayMs: DEFAULT_CALLBACK_DELAY_MS,
};
/** A receiver that has not answered by then counts as unreachable (status 0). */
const CALLBACK_TIMEOUT_MS = 5_000;

/** A phone reveal Apollo accepted: what it will deliver, where, and from when it can be polled. */
export interface PhoneRequest {
  requestId: string;
  requestType: 'phone' | 'waterfall';
  webhookUrl: string;
  payload: SandboxPhoneCallbackPayload;
  /** When the first callback is due; webhook_result answers 200 from then on. */
  readyAt: number;
  lastDispatchedAt: string | null;
}

/**
 * POSTs a JSON body to `target` on a fresh connection (no keep-alive socket outlives it) and
 * resolves with the status answered, or 0 when the receiver is unreachable, too slow, or the
 * delivery is aborted. Never rejects.
 */
function postJson(target: string, body: string, signal: AbortSignal): Promise<number> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      resolve(0);
      return;
    }
    const send = { 'http:': httpRequest, 'https:': httpsRequest }[url.protocol];
    if (!send) {
      resolve(0);
      return;
    }
    const request = send(
      url,
      {
        method: 'POST',
        agent: false,
        signal,
        timeout: CALLBACK_TIMEOUT_MS,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('timeout', () => request.destroy(new Error('callback timed out')));
    request.on('error', () => resolve(0));
    request.end(body);
  });
}

export function checkCallbackBehaviour(behaviour: PhoneCallbackBehaviour): PhoneCallbackBehaviour {
  if (!['once', 'twice', 'never'].includes(behaviour.mode)) {
    throw new TypeError(`Unknown phone callback mode: ${String(behaviour.mode)}`);
  }
  for (const name of ['delayMs', 'secondDelayMs'] as const) {
    const value = behaviour[name];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`${name} must be a finite number of milliseconds >= 0, got ${value}`);
    }
  }
  return { ...behaviour };
}

/**
 * The phone-reveal callbacks: each accepted reveal is POSTed to its webhook_url once, twice or
 * never, as `setPhoneCallbacks` scripts it, and every delivery is recorded.
 */
export class PhoneCallbacks {
  /** The deliveries made, in the order they completed. */
  readonly delivered: SandboxCallback[] = [];
  behaviour: PhoneCallbackBehaviour = DEFAULT_CALLBACK_BEHAVIOUR;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** Aborted by dispose(): cancels callbacks in flight and refuses to schedule new ones. */
  private readonly deliveries = new AbortController();

  /** The phone request of an accepted reveal, its callbacks scheduled as the current behaviour says. */
  accept(request: Omit<PhoneRequest, 'readyAt' | 'lastDispatchedAt'>): PhoneRequest {
    const { mode, delayMs = DEFAULT_CALLBACK_DELAY_MS, secondDelayMs } = this.behaviour;
    const phone: PhoneRequest = { ...request, readyAt: Date.now() + delayMs, lastDispatchedAt: null };
    const delays = { once: [delayMs], twice: [delayMs, secondDelayMs ?? delayMs + 100], never: [] }[mode];
    if (this.deliveries.signal.aborted) return phone;
    for (const delay of delays) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.deliver(phone);
      }, delay);
      // A forgotten sandbox must not keep the process alive for a callback.
      timer.unref();
      this.timers.add(timer);
    }
    return phone;
  }

  /** Cancels pending callbacks and those in flight; nothing is delivered or recorded afterwards. */
  dispose(): void {
    this.deliveries.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** One unsigned POST of the payload; failures are recorded and not retried (Apollo's retries are 'twice'). */
  private async deliver(phone: PhoneRequest): Promise<void> {
    const { signal } = this.deliveries;
    if (signal.aborted) return;
    const at = Date.now();
    phone.lastDispatchedAt = isoSeconds(at);
    const status = await postJson(phone.webhookUrl, toJson(phone.payload), signal);
    if (signal.aborted) return;
    this.delivered.push({
      url: phone.webhookUrl,
      requestId: phone.requestId,
      at,
      status,
      body: structuredClone(phone.payload),
    });
  }
}
