/** Apollo's fixed-window rate limits per endpoint (minute, hour, day) and the headers that report them. */

export type WindowName = 'minute' | 'hour' | 'day';
export type RateLimits = Record<WindowName, number>;
export const WINDOW_NAMES: WindowName[] = ['minute', 'hour', 'day'];
export const WINDOW_MS: Record<WindowName, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** Header spellings per window; live accounts send the day window as "24-hour", the docs say "daily". */
const RATE_LIMIT_HEADER_SPELLINGS: Array<[WindowName, string]> = [
  ['minute', 'minute'],
  ['hour', 'hourly'],
  ['day', 'daily'],
  ['day', '24-hour'],
];
/** Typical paid plan. *unsure*: the day limits are not published; they only need to exceed the hour. */
export const CONTACTS_RATE_LIMITS: RateLimits = { minute: 200, hour: 600, day: 2_000 };
export const ENRICHMENT_RATE_LIMITS: RateLimits = { minute: 1_000, hour: 2_000, day: 5_000 };
/** *unsure*: Apollo publishes no limits for polling webhook results; the enrichment ones stand in. */
export const WEBHOOK_RESULT_RATE_LIMITS = ENRICHMENT_RATE_LIMITS;

interface RateWindow {
  startedAt: number;
  used: number;
}
export type EndpointUsage = Record<WindowName, RateWindow>;

export function rateLimitHeaders(limits: RateLimits, usage: EndpointUsage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [window, spelling] of RATE_LIMIT_HEADER_SPELLINGS) {
    headers[`x-rate-limit-${spelling}`] = String(limits[window]);
    headers[`x-${spelling}-usage`] = String(usage[window].used);
    headers[`x-${spelling}-requests-left`] = String(Math.max(0, limits[window] - usage[window].used));
  }
  return headers;
}
