/** An endpoint the sandbox serves: how a request finds it, its rate limits, and its handler. */
import type { Params } from '../params';
import type { RateLimits } from '../rate-limits';
import type { Reply } from '../replies';
import type { SandboxState } from '../state';
import type { BulkCreatePhoneFields, SandboxEndpoint } from '../types';

/** The sandbox's settings a handler reads (from `ApolloSandboxOptions`, defaults filled in). */
export interface SandboxBehaviour {
  bulkCreatePhoneFields: BulkCreatePhoneFields;
  bulkUpdateJobDelayMs: number;
}

export interface RouteRequest {
  params: Params;
  /** The path parameter (`{contact_id}`, `{request_id}`, still percent-encoded), for routes that have one. */
  pathId: string | undefined;
  now: string;
  behaviour: SandboxBehaviour;
  /** A scripted fault's `applyFirst`: a bulk handler processes only this many items. */
  applyFirst?: number;
}

export interface Route {
  /** `METHOD /template`: the key of its rate-limit counters and of `ApolloSandboxOptions.rateLimits`. */
  endpoint: SandboxEndpoint;
  method: string;
  /** The path as Apollo names the endpoint in its messages, e.g. '/contacts/{contact_id}'. */
  template: string;
  pattern: RegExp;
  limits: RateLimits;
  /** A minute limit that is a share of another endpoint's (people/bulk_match: half of people/match's). */
  minuteShareOf?: { endpoint: SandboxEndpoint; share: number };
  handle: (state: SandboxState, request: RouteRequest) => Reply;
}
