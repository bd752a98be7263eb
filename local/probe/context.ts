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
