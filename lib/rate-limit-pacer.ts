import type { RateLimitWindow } from './apollo/rate-limits';

/** How long each of Apollo's fixed windows lasts. */
const WINDOW_MS: Record<RateLimitWindow['window'], number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** The longest a batch is held back, in seconds: SQS's longest visibility timeout (12 hours). */
export const MAX_PACING_SECONDS = 43_200;

/**
 * Paces calls to one Apollo endpoint from what its replies said: a window seen with no requests
 * left holds calls back until that window must have ended, and a 429 holds them back for its
 * retry-after. Apollo's windows are fixed but their start is not shown, so "ended" is counted from
 * when the exhausted window was seen: at most one window's length of waiting too much.
 *
 * One pacer per Lambda container; concurrent consumers each pace from their own replies, so a 429
 * stays possible, and is rare.
 */
export class RateLimitPacer {
  /** From the latest reply's headers: until when its exhausted window must last. */
  private readonly exhaustedUntilMs = new Map<string, number>();
  /** From a 429: until when its retry-after holds. */
  private readonly blockedUntilMs = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * What a reply's rate-limit headers said for `endpoint` (e.g. `POST /contacts/bulk_create`). The
   * latest reply decides: one with requests left in every window lifts an earlier exhaustion.
   */
  observe(endpoint: string, windows: readonly RateLimitWindow[]): void {
    const nowMs = this.now();
    let until = 0;
    for (const window of windows) {
      if (window.left !== undefined && window.left <= 0) {
        until = Math.max(until, nowMs + WINDOW_MS[window.window]);
      }
    }
    if (until > 0) this.exhaustedUntilMs.set(endpoint, until);
    else this.exhaustedUntilMs.delete(endpoint);
  }

  /** Apollo answered 429 for `endpoint` with this retry-after. */
  block(endpoint: string, retryAfterSeconds: number): void {
    const until = this.now() + retryAfterSeconds * 1000;
    this.blockedUntilMs.set(endpoint, Math.max(until, this.blockedUntilMs.get(endpoint) ?? 0));
  }

  /** Whole seconds to wait before calling `endpoint` again; 0 to go ahead. */
  waitSeconds(endpoint: string): number {
    const until = Math.max(this.exhaustedUntilMs.get(endpoint) ?? 0, this.blockedUntilMs.get(endpoint) ?? 0);
    const waitMs = until - this.now();
    return waitMs > 0 ? Math.min(MAX_PACING_SECONDS, Math.ceil(waitMs / 1000)) : 0;
  }
}
