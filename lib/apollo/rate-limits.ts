/**
 * The Apollo endpoints this service calls, as `onRateLimit` names them: Apollo counts each
 * endpoint's windows separately, so a caller pacing itself (the bulk consumer) reads its own.
 */
export type ApolloEndpoint =
  | 'POST /contacts'
  | 'POST /contacts/search'
  | 'PATCH /contacts/{contact_id}'
  | 'POST /contacts/bulk_create'
  | 'POST /contacts/bulk_update'
  | 'POST /people/match'
  | 'POST /people/bulk_match'
  | 'GET /webhook_result/{request_id}';

/** One of Apollo's fixed rate-limit windows, as its reply headers describe it. */
export interface RateLimitWindow {
  window: 'minute' | 'hour' | 'day';
  limit?: number;
  used?: number;
  left?: number;
}

// Apollo documents `...-daily` for the day window, but live accounts send `...-24-hour`: read both.
const WINDOW_HEADERS: Array<{
  window: RateLimitWindow['window'];
  limit: string;
  used: string;
  left: string;
}> = [
  { window: 'minute', limit: 'x-rate-limit-minute', used: 'x-minute-usage', left: 'x-minute-requests-left' },
  { window: 'hour', limit: 'x-rate-limit-hourly', used: 'x-hourly-usage', left: 'x-hourly-requests-left' },
  { window: 'day', limit: 'x-rate-limit-daily', used: 'x-daily-usage', left: 'x-daily-requests-left' },
  { window: 'day', limit: 'x-rate-limit-24-hour', used: 'x-24-hour-usage', left: 'x-24-hour-requests-left' },
];

function numberHeader(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  if (value === null || value.trim() === '') return undefined;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/** Reads the minute, hour and day windows from a reply; a window with no header is left out. */
export function parseRateLimitHeaders(headers: Headers): RateLimitWindow[] {
  const windows = new Map<RateLimitWindow['window'], RateLimitWindow>();
  for (const names of WINDOW_HEADERS) {
    const limit = numberHeader(headers, names.limit);
    const used = numberHeader(headers, names.used);
    const left = numberHeader(headers, names.left);
    if (limit === undefined && used === undefined && left === undefined) continue;
    const known = windows.get(names.window);
    windows.set(names.window, {
      window: names.window,
      limit: limit ?? known?.limit,
      used: used ?? known?.used,
      left: left ?? known?.left,
    });
  }
  return [...windows.values()];
}

/** True when a window has less than `fraction` of its limit left: worth a warning to the operator. */
export function isRunningLow(window: RateLimitWindow, fraction = 0.1): boolean {
  return window.limit !== undefined && window.left !== undefined && window.left < window.limit * fraction;
}
