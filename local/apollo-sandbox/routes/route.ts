/** An endpoint the sandbox serves: how a request finds it, its rate limits, and its handler. */
import type { Params } from '../params';
import type { RateLimits } from '../rate-limits';
import type { Reply } from '../replies';
import type { SandboxState } from '../state';

export interface RouteRequest {
  params: Params;
  /** The path parameter (`{contact_id}`, `{request_id}`, still percent-encoded), for routes that have one. */
  pathId: string | undefined;
  now: string;
}

export interface Route {
  method: string;
  /** The path as Apollo names the endpoint in its messages, e.g. '/contacts/{contact_id}'. */
  template: string;
  pattern: RegExp;
  limits: RateLimits;
  handle: (state: SandboxState, request: RouteRequest) => Reply;
}
