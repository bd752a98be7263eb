import type { ProbeReport } from './report';
import type { SandboxDoor } from './sandbox-door';
import type { Answer, ServiceClient } from './service-client';

/** What every probe gets: the service, the sandbox, the report, the run's tag. */
export interface ProbeContext {
  service: ServiceClient;
  sandbox: SandboxDoor;
  report: ProbeReport;
  tag: string;
  /** Every conversion id any answer returned: the stuck-record check reads them all at the end. */
  conversionIds: Set<string>;
}

/** The results of a `POST /contacts` or webhook answer (empty when there are none). */
export function resultsOf(
  answer: Answer,
): Array<{ id: string | null; status: string; contact_id: string | null }> {
  const results = (answer.json as { results?: unknown } | undefined)?.results;
  return Array.isArray(results)
    ? (results as Array<{ id: string | null; status: string; contact_id: string | null }>)
    : [];
}

/** Remembers the conversion ids of `answer` for the stuck-record check, and returns its results. */
export function collectIds(context: ProbeContext, answer: Answer): ReturnType<typeof resultsOf> {
  const results = resultsOf(answer);
  for (const result of results) if (result.id) context.conversionIds.add(result.id);
  const single = (answer.json as { id?: unknown } | undefined)?.id;
  if (typeof single === 'string') context.conversionIds.add(single);
  return results;
}

/** A webhook body as a CRM sends it. */
export function enrichmentCompleted(data: { person: unknown } | { people: unknown[] }): string {
  return JSON.stringify({ type: 'person.enrichment.completed', timestamp: new Date().toISOString(), data });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Results that are final (README "Answers of both"); `queued` is not, `invalid` has no record. */
export const FINAL_RESULTS = new Set(['created', 'existing', 'duplicate', 'rejected', 'failed']);

/** Record statuses a record may end in; `queued`, `creating` and `created` are not ends. */
export const SETTLED = new Set(['verified', 'verification_failed', 'rejected', 'failed']);

/** Record statuses after the consumer converted the person (the contact exists or Apollo refused it). */
export const CONVERTED = new Set(['created', ...SETTLED]);

/**
 * Whether a door's answer is the one the README documents for its results: 202 when some person
 * is `queued`, 200 when every result is final (or `invalid` beside final ones).
 */
export function answeredAsDocumented(answer: Answer): boolean {
  const results = resultsOf(answer);
  if (results.length === 0) return false;
  if (results.some((result) => result.status === 'queued')) return answer.status === 202;
  return (
    answer.status === 200 &&
    results.every((result) => FINAL_RESULTS.has(result.status) || result.status === 'invalid')
  );
}

/**
 * The records of `ids` (conversion ids), read until each is in `until` or `timeoutMs` has
 * passed: the queued pipeline converts and verifies without the sender, so a probe that counts
 * contacts waits for this first.
 */
export async function recordsUntil(
  context: ProbeContext,
  ids: Array<string | null | undefined>,
  until: Set<string> = SETTLED,
  timeoutMs = 60_000,
): Promise<Map<string, Record<string, unknown> | null>> {
  const records = new Map<string, Record<string, unknown> | null>();
  const deadline = Date.now() + timeoutMs;
  let pending = [...new Set(ids.filter((id): id is string => typeof id === 'string'))];
  for (;;) {
    for (const id of pending) records.set(id, await context.service.record(id));
    pending = pending.filter((id) => !until.has(String(records.get(id)?.status)));
    if (pending.length === 0 || Date.now() > deadline) return records;
    await sleep(500);
  }
}

/** The statuses of records read by `recordsUntil` (`null` for a record that could not be read). */
export function statusesOf(records: Map<string, Record<string, unknown> | null>): string[] {
  return [...records.values()].map((record) => (record === null ? 'null' : String(record.status)));
}
