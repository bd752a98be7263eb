import {
  answeredAsDocumented,
  collectIds,
  enrichmentCompleted,
  recordsUntil,
  type ProbeContext,
} from './context';
import { probePerson, type ProbePerson } from './people';
import { tally } from './report';
import { isPaidMatch, mentions } from './sandbox-door';
import type { EnrichmentAnswer } from './service-client';

/** Issue 10, 1 and 11: twenty concurrent enrichments of one new person pay Apollo once, and say so alike. */
export async function concurrentEnrichments(
  context: ProbeContext,
): Promise<{ person: ProbePerson; id: string } | null> {
  const { service, sandbox, report, tag } = context;
  service.probe = 'concurrent enrichments';
  const person = probePerson('ysolde', tag);
  await sandbox.addPerson({ ...person, mobile_phones: [{ raw_number: '+1 555 010 4242' }] });
  const before = (await sandbox.state()).requests.length;

  const sent = await Promise.all(
    Array.from({ length: 20 }, () =>
      service.withRetries(() =>
        service.post('/enrichments', { email: person.email, reveal_phone_number: true }),
      ),
    ),
  );
  for (const { answer } of sent) collectIds(context, answer);
  const answers = sent.map(({ answer }) => answer.json as EnrichmentAnswer);
  const ids = new Set(answers.map((answer) => answer.id));
  const payers = answers.filter((answer) => answer.credits_saved === false);
  const id = answers.find((answer) => answer.id)?.id ?? null;
  const record =
    id === null
      ? null
      : await service.recordUntil(id, (r) => r.status === 'verified' && r.phone_reveal !== 'pending');
  const calls = (await sandbox.state()).requests
    .slice(before)
    .filter((request) => request.path === '/people/match' && mentions(request, person));
  const paid = calls.filter(isPaidMatch);
  const apolloCredits = calls.reduce((sum, request) => sum + request.creditsConsumed, 0);

  report.check(
    '20 concurrent POST /enrichments of one new person (phone reveal)',
    'one paid people/match',
    `${paid.length} paid people/match (${calls.length} people/match in all, verification included)`,
    paid.length === 1,
  );
  report.check(
    '20 concurrent POST /enrichments: answers',
    'every sender ends with 200 (after 409/503 + Retry-After), one conversion id, one payer',
    `HTTP ${tally(sent.map(({ answer }) => answer.status))}; status ${tally(answers.map((a) => a.status))}; ` +
      `${ids.size} id(s); ${payers.length} payer(s); ${sent.reduce((n, s) => n + s.attempts - 1, 0)} retries`,
    sent.every(({ answer }) => answer.status === 200) && ids.size === 1 && payers.length === 1,
  );
  const payer = payers[0];
  const answered = (payer?.credits_consumed ?? 0) + (payer?.credits_pending ?? 0);
  report.check(
    '20 concurrent POST /enrichments: credits',
    "payer's answer (consumed + pending) = record = what Apollo charged (9); others 0",
    `answer ${payer?.credits_consumed}+${payer?.credits_pending}, record ${String(record?.credits_consumed)} ` +
      `(${String(record?.phone_reveal)}), Apollo ${apolloCredits}, others ${tally(answers.filter((a) => a !== payer).map((a) => a.credits_consumed))}`,
    answered === record?.credits_consumed &&
      apolloCredits === answered &&
      answers.every((a) => a === payer || a.credits_consumed === 0),
  );
  return id === null ? null : { person, id };
}

/** Issue 10, 10: the person enriched by email, enriched again by each other identity: Apollo is not called. */
export async function reEnrichByOtherIdentities(
  context: ProbeContext,
  known: { person: ProbePerson; id: string },
): Promise<void> {
  const { service, sandbox, report } = context;
  service.probe = 're-enrichment by other identities';
  const { person, id } = known;
  const before = await service.record(id);
  const apolloPersonId = String(before?.apollo_person_id);
  const identities: Array<[string, Record<string, unknown>]> = [
    [
      'name + organisation (other spelling)',
      {
        first_name: person.first_name.toUpperCase(),
        last_name: person.last_name,
        organization_name: 'ANALYTICAL ENGINES',
      },
    ],
    [
      'name + domain',
      { first_name: person.first_name, last_name: person.last_name.toLowerCase(), domain: person.domain },
    ],
    [
      'LinkedIn URL (other spelling)',
      { linkedin_url: `${person.linkedin_url.replace('https://www.', 'http://')}/` },
    ],
    ['Apollo person id', { id: apolloPersonId }],
    ['email (upper case)', { email: person.email.toUpperCase() }],
  ];
  for (const [name, identity] of identities) {
    const start = (await sandbox.state()).requests.length;
    const { answer } = await service.withRetries(() =>
      service.post('/enrichments', { ...identity, reveal_phone_number: true }),
    );
    const json = answer.json as EnrichmentAnswer;
    const calls = (await sandbox.state()).requests
      .slice(start)
      .filter((request) => request.path === '/people/match' && mentions(request, person, [apolloPersonId]));
    report.check(
      `re-enrich a known person by ${name} (phone reveal)`,
      '200 duplicate, same id, credits_saved, no people/match',
      `HTTP ${answer.status} ${json?.status}, ${json?.id === id ? 'same id' : `id ${String(json?.id)}`}, ` +
        `credits_saved ${String(json?.credits_saved)}, ${calls.length} people/match (${calls.filter(isPaidMatch).length} paid)`,
      answer.status === 200 && json.status === 'duplicate' && json.id === id && calls.length === 0,
    );
  }
  const after = await service.record(id);
  report.check(
    're-enrichment by 5 other identities: the record',
    'request_id, phone_reveal, credits unchanged; free_lookups +5',
    `request_id ${before?.request_id === after?.request_id ? 'same' : 'changed'}, phone_reveal ${String(before?.phone_reveal)} → ${String(after?.phone_reveal)}, ` +
      `credits ${String(before?.credits_consumed)} → ${String(after?.credits_consumed)}, free_lookups ${String(before?.free_lookups)} → ${String(after?.free_lookups)}`,
    before?.request_id === after?.request_id &&
      before?.phone_reveal === after?.phone_reveal &&
      before?.credits_consumed === after?.credits_consumed &&
      Number(after?.free_lookups) === Number(before?.free_lookups) + identities.length,
  );
}

/** Issue 10, 12: a reveal that finds no phone (`phone_numbers: []` in the callback) ends `unavailable`. */
export async function revealWithoutPhones(context: ProbeContext): Promise<void> {
  const { service, sandbox, report, tag } = context;
  service.probe = 'reveal without phones';
  const person = probePerson('melisande', tag);
  await sandbox.addPerson({ ...person });
  const { answer } = await service.withRetries(() =>
    service.post('/enrichments', { email: person.email, reveal_phone_number: true }),
  );
  collectIds(context, answer);
  const json = answer.json as EnrichmentAnswer;
  const record = json?.id
    ? await service.recordUntil(json.id, (r) => r.phone_reveal !== 'pending', 20_000)
    : null;
  const callback = (await sandbox.state()).callbacks.find((c) => c.requestId === json?.request_id);
  report.check(
    'phone reveal of a person Apollo has no phone for',
    "callback with phone_numbers: []; record phone_reveal unavailable, note 'no phone found'",
    `HTTP ${answer.status} ${json?.status}; callback phone_numbers ${JSON.stringify(callback?.body.people[0]?.phone_numbers)}; ` +
      `record ${String(record?.phone_reveal)} (${String(record?.phone_reveal_note)})`,
    answer.status === 200 &&
      record?.phone_reveal === 'unavailable' &&
      record.phone_reveal_note === 'no phone found',
  );
}

/**
 * Issue 10, 1, for a person without email: twenty concurrent enrichments by name + organisation,
 * spelled four ways (case, spaces), pay Apollo once.
 */
export async function concurrentEnrichmentsByName(context: ProbeContext): Promise<void> {
  const { service, sandbox, report, tag } = context;
  service.probe = 'concurrent enrichments by name';
  const person = probePerson('isolde', tag);
  await sandbox.addPerson({ ...person, email: null });
  // Case and outer spaces only: the service folds legal forms too, but Apollo may not match them.
  const spellings = [
    {
      first_name: person.first_name,
      last_name: person.last_name,
      organization_name: 'Analytical Engines Ltd',
    },
    {
      first_name: person.first_name.toUpperCase(),
      last_name: person.last_name,
      organization_name: 'analytical engines ltd',
    },
    {
      first_name: ` ${person.first_name} `,
      last_name: person.last_name.toLowerCase(),
      organization_name: ' ANALYTICAL ENGINES LTD',
    },
    {
      first_name: person.first_name.toLowerCase(),
      last_name: ` ${person.last_name}`,
      organization_name: 'Analytical Engines Ltd ',
    },
  ];
  const before = (await sandbox.state()).requests.length;
  const sent = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      service.withRetries(() => service.post('/enrichments', spellings[i % spellings.length])),
    ),
  );
  for (const { answer } of sent) collectIds(context, answer);
  const answers = sent.map(({ answer }) => answer.json as EnrichmentAnswer);
  const id = answers.find((answer) => answer.id)?.id ?? null;
  const record = id === null ? null : await service.recordUntil(id, (r) => r.status !== 'created');
  const convertedAtMs = Date.parse(String(record?.converted_at));
  const paid = (await sandbox.state()).requests
    .slice(before)
    .filter(
      (request) => request.path === '/people/match' && mentions(request, person) && isPaidMatch(request),
    );
  const beforeConversion = paid.filter((request) => request.at <= convertedAtMs);
  report.check(
    '20 concurrent POST /enrichments of one new person without email, by name + organisation spelled 4 ways (case, spaces)',
    'one paid people/match; every sender 200, one conversion id',
    `${beforeConversion.length} paid people/match; HTTP ${tally(sent.map(({ answer }) => answer.status))}; ` +
      `status ${tally(answers.map((a) => a.status))}; ${new Set(answers.map((a) => a.id)).size} id(s)`,
    beforeConversion.length === 1 &&
      sent.every(({ answer }) => answer.status === 200) &&
      new Set(answers.map((a) => a.id)).size === 1,
  );
  report.check(
    'the verification of that person (by name and organisation)',
    'verified; no credit spent',
    `${String(record?.status)}${record?.last_error ? ` (${JSON.stringify(record.last_error)})` : ''}; ` +
      `${paid.length - beforeConversion.length} people/match charged (${paid
        .slice(beforeConversion.length)
        .reduce((sum, request) => sum + request.creditsConsumed, 0)} credits) after the conversion`,
    record?.status === 'verified' && paid.length === beforeConversion.length,
  );
}

/**
 * A webhook converts, it never enriches: a person without email whom Apollo's database knows (but
 * not as a contact of the team) is converted and verified without a credit spent.
 */
export async function webhookPersonApolloKnows(context: ProbeContext): Promise<void> {
  const { service, sandbox, report, tag } = context;
  service.probe = 'webhook person Apollo knows';
  const person = probePerson('rowena', tag);
  await sandbox.addPerson({ ...person, email: null });
  const before = (await sandbox.state()).requests.length;
  const { answer } = await service.withRetries(() =>
    service.webhook(
      enrichmentCompleted({
        person: {
          first_name: person.first_name,
          last_name: person.last_name,
          organization_name: person.organization_name,
        },
      }),
    ),
  );
  const [result] = collectIds(context, answer);
  // Queued: the consumer converts it, then one batch verification (contacts search without email).
  const record = (await recordsUntil(context, [result?.id])).get(String(result?.id)) ?? null;
  const charged = (await sandbox.state()).requests
    .slice(before)
    .filter((request) => mentions(request, person) && request.creditsConsumed > 0);
  report.check(
    'a webhook person without email whom Apollo knows (not a contact): conversion and verification',
    '202 queued (as documented), then created and verified; no credit spent',
    `HTTP ${answer.status} ${String(result?.status)}; record ${String(record?.status)} (outcome ${String(record?.outcome)}); ` +
      `${charged.length} people/match charged (${charged.reduce((sum, r) => sum + r.creditsConsumed, 0)} credits)`,
    answeredAsDocumented(answer) &&
      record?.status === 'verified' &&
      record.outcome === 'created' &&
      charged.length === 0,
  );
}
