import type {
  FaultRule,
  SandboxCallback,
  SandboxContact,
  SandboxPerson,
  SandboxPersonSeed,
  SandboxRequest,
} from '../apollo-sandbox';
import { LOCAL_DEFAULTS, localPorts } from '../stack';
import type { ProbePerson } from './people';

export interface SandboxSnapshot {
  credits_consumed: number;
  contacts: SandboxContact[];
  requests: SandboxRequest[];
  callbacks: SandboxCallback[];
}

/** The Apollo sandbox of a running `npm start`, through its own door (`/_sandbox/`, see `local/apollo-sandbox/admin.ts`). */
export class SandboxDoor {
  private readonly origin = `http://127.0.0.1:${localPorts().apollo}`;

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.origin}/_sandbox/${path}`, {
      method,
      headers: { 'x-api-key': LOCAL_DEFAULTS.APOLLO_SANDBOX_KEY, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status !== 200) {
      throw new Error(`the Apollo sandbox answered ${response.status} to ${method} /_sandbox/${path}`);
    }
    return (await response.json()) as T;
  }

  state(): Promise<SandboxSnapshot> {
    return this.call('GET', 'state');
  }

  addPerson(seed: SandboxPersonSeed): Promise<SandboxPerson> {
    return this.call('POST', 'people', seed);
  }

  /** Scripts a fault (`inject`): the next `times` matching requests fail. */
  async inject(rule: Omit<FaultRule, 'path'> & { path?: string }): Promise<void> {
    await this.call('POST', 'faults', rule);
  }

  async clearFaults(): Promise<void> {
    await this.call('DELETE', 'faults');
  }
}

/** Whether a people/match request spent credits or asked for a reveal: a paid call. */
export function isPaidMatch(request: SandboxRequest): boolean {
  if (request.path !== '/people/match') return false;
  const body = (request.body ?? {}) as Record<string, unknown>;
  const asked = [body.reveal_phone_number, body.run_waterfall_phone, body.run_waterfall_email].some(
    (flag) => flag === true || flag === 'true',
  );
  return asked || request.creditsConsumed > 0;
}

/** Whether a request's body or query names the person (its names, its email) or one of `ids`, in any case. */
export function mentions(request: SandboxRequest, person: ProbePerson, ids: string[] = []): boolean {
  const text = `${JSON.stringify(request.body)} ${JSON.stringify(request.query)}`.toLowerCase();
  return [person.token, person.email, ...ids].some((needle) => text.includes(needle.toLowerCase()));
}
