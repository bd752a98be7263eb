import {
  answeredAsDocumented,
  collectIds,
  CONVERTED,
  enrichmentCompleted,
  recordsUntil,
  statusesOf,
  type ProbeContext,
} from './context';
import { isNamed, probePerson, type ProbePerson } from './people';
import { tally } from './report';
import type { Answer } from './service-client';

type Input = Record<string, string>;

/** Apollo's company as senders spell it: legal forms, case, punctuation. */
const COMPANY = { name: 'Seq Co.', domain: 'seq.example' };
const COMPANY_SPELLINGS = ['Seq Co.', 'Seq Co', 'SEQ', 'Seq, Inc.', 'seq company ltd'];
const WEBSITE_SPELLINGS = [
  'https://www.seq.example',
  'seq.example',
  'http://careers.seq.example/jobs',
  'WWW.SEQ.EXAMPLE/',
];

/**
 * Seven deliveries of one person as CRMs send them: case, spaces and tabs, invisible characters
 * (zero-width space, soft hyphen, bidi marks, BOM) between the letters, with and without email,
 * the company as organisation (`shared: 'org'`: every delivery has it, some the website too) or as
 * website (`shared: 'website'`).
 */
export function variantsOf(person: ProbePerson, shared: 'org' | 'website'): Input[] {
  const [word = '', tag = ''] = [person.first_name.slice(0, -10), person.first_name.slice(-10)];
  const spellings: Array<{ first: string; last: string; email?: string }> = [
    { first: person.first_name, last: person.last_name, email: person.email },
    {
      first: person.first_name.toUpperCase(),
      last: person.last_name.toLowerCase(),
      email: ` ${person.email.toUpperCase()} `,
    },
    { first: `  ${person.first_name}\t`, last: ` ${person.last_name}  ` },
    {
      first: `${word}\u200b${tag}`,
      last: `${person.last_name.slice(0, 5)}\u00ad${person.last_name.slice(5)}`,
      email: `\ufeff${person.email}`,
    },
    { first: `\u200f${person.first_name}\u200e`, last: `${person.last_name}\u2060` },
    { first: person.first_name.toLowerCase(), last: person.last_name.toUpperCase() },
    { first: person.first_name, last: person.last_name, email: person.email.replace('@', '@\u200b') },
  ];
  return spellings.map((spelling, index) => {
    const input: Input = { first_name: spelling.first, last_name: spelling.last };
    if (spelling.email !== undefined) input.email = spelling.email;
    const company = COMPANY_SPELLINGS[index % COMPANY_SPELLINGS.length] as string;
    const website = WEBSITE_SPELLINGS[index % WEBSITE_SPELLINGS.length] as string;
    const withBoth = index % 3 === 2;
    if (shared === 'org' || withBoth)
      input.organization_name = index === 3 ? `\u202a${company}\u202c` : company;
    if (shared === 'website' || withBoth) input.website_url = website;
    return input;
  });
}

/**
 * Delivers one person through the webhook (even positions) or `POST /contacts` (odd), retrying
 * "retry later". With `converted`, returns only once the person is converted (the consumer made
 * or linked the contact): `POST /contacts?wait=20` for the door that offers it, the record read
 * until converted for the webhook; so a delivery in sequence meets the person the previous one
 * converted, as it did when the doors converted synchronously.
 */
async function deliver(
  context: ProbeContext,
  input: Input,
  position: number,
  { converted = false }: { converted?: boolean } = {},
): Promise<Answer> {
  const { service } = context;
  const { answer } = await service.withRetries(() =>
    position % 2 === 0
      ? service.webhook(enrichmentCompleted({ person: input }))
      : service.post(converted ? '/contacts?wait=20' : '/contacts', input),
  );
  const results = collectIds(context, answer);
  if (converted) await recordsUntil(context, [results[0]?.id], CONVERTED, 30_000);
  return answer;
}

/** The records of every id the answers returned, once verified (or otherwise settled). */
async function settledRecordsOf(context: ProbeContext, answers: Answer[]) {
  const ids = answers.flatMap((answer) => collectIds(context, answer).map((result) => result.id));
  return recordsUntil(context, ids);
}

async function contactsOf(context: ProbeContext, person: ProbePerson) {
  return (await context.sandbox.state()).contacts.filter(
    (contact) => isNamed(person, contact.first_name) || isNamed(person, contact.name),
  );
}

/** Issue 10, 2: every spelling of one person, in sequence and then all at once, ends in one contact. */
export async function variantsMakeOneContact(context: ProbeContext): Promise<void> {
  const { service, report, tag } = context;
  service.probe = 'variants of one person';
  const cases: Array<{ word: string; shared: 'org' | 'website'; order: 'without email first' | 'at once' }> =
    [
      { word: 'odalys', shared: 'org', order: 'without email first' },
      { word: 'ermengarde', shared: 'website', order: 'without email first' },
      { word: 'philippa', shared: 'org', order: 'at once' },
      { word: 'rosamund', shared: 'website', order: 'at once' },
    ];
  for (const { word, shared, order } of cases) {
    const person = probePerson(word, tag, COMPANY);
    const variants = variantsOf(person, shared);
    const answers: Answer[] = [];
    if (order === 'without email first') {
      // One after another, each converted before the next is sent.
      const withoutEmailFirst = [...variants].sort((a, b) => Number('email' in a) - Number('email' in b));
      for (const [position, input] of withoutEmailFirst.entries())
        answers.push(await deliver(context, input, position, { converted: true }));
    }
    answers.push(
      ...(await Promise.all(variants.map((input, position) => deliver(context, input, position)))),
    );
    const results = answers.map((answer) => collectIds(context, answer)[0]);
    const ids = new Set(results.map((result) => result?.id));
    const records = await settledRecordsOf(context, answers);
    const contacts = await contactsOf(context, person);
    report.check(
      `${variants.length} spellings of one person, company by ${shared}, ${order} then all at once (${answers.length} deliveries)`,
      'one conversion id, verified; one Apollo contact; every answer 202 queued or 200 final, as documented',
      `HTTP ${tally(answers.map((a) => a.status))}; ${tally(results.map((r) => r?.status))}; ${ids.size} id(s) ` +
        `(${tally(statusesOf(records))}); ${contacts.length} contact(s)`,
      answers.every(answeredAsDocumented) &&
        ids.size === 1 &&
        [...records.values()].every((r) => r?.status === 'verified') &&
        contacts.length === 1,
    );
  }

  // The issue's own words: once with an email and the organisation, once without email with only the website.
  const person = probePerson('cordelia', tag, COMPANY);
  const first = await deliver(
    context,
    {
      first_name: person.first_name,
      last_name: person.last_name,
      email: person.email,
      organization_name: 'Seq Co.',
    },
    0,
    { converted: true },
  );
  const second = await deliver(
    context,
    { first_name: person.first_name, last_name: person.last_name, website_url: 'https://seq.example' },
    1,
    { converted: true },
  );
  const ids = new Set([collectIds(context, first)[0]?.id, collectIds(context, second)[0]?.id]);
  const records = await settledRecordsOf(context, [first, second]);
  const contacts = await contactsOf(context, person);
  report.check(
    'one person with email + organisation, then (once converted) without email with only the website',
    'one Apollo contact',
    `${tally([first, second].map((a) => collectIds(context, a)[0]?.status))}; ${ids.size} id(s) ` +
      `(${tally(statusesOf(records))}); ${contacts.length} contact(s)`,
    contacts.length === 1,
  );

  // Four spellings of one person inside one batch, between two other people.
  const batchPerson = probePerson('wilhelmina', tag, COMPANY);
  const others = [probePerson('anselm', tag, COMPANY), probePerson('gisela', tag, COMPANY)];
  const people = [
    others[0],
    ...variantsOf(batchPerson, 'org')
      .filter((v) => 'email' in v)
      .slice(0, 4),
    others[1],
  ];
  const { answer } = await service.withRetries(() => service.webhook(enrichmentCompleted({ people })));
  const results = collectIds(context, answer);
  const batchIds = new Set(results.slice(1, 5).map((result) => result.id));
  const batchRecords = await settledRecordsOf(context, [answer]);
  const counts = [
    (await contactsOf(context, batchPerson)).length,
    (await contactsOf(context, others[0] as ProbePerson)).length,
    (await contactsOf(context, others[1] as ProbePerson)).length,
  ];
  report.check(
    'one batch holding 4 spellings of one person between 2 other people',
    '202 (queued) or 200 as documented; 3 ids, the 4 share one; once verified, one contact each',
    `HTTP ${answer.status}; ${tally(results.map((r) => r.status))}; ${batchIds.size} id(s) for the 4, ` +
      `${new Set(results.map((r) => r.id)).size} in all (${tally(statusesOf(batchRecords))}); ` +
      `${counts[0]} contact(s); others ${counts[1]}+${counts[2]}`,
    answeredAsDocumented(answer) &&
      batchIds.size === 1 &&
      new Set(results.map((r) => r.id)).size === 3 &&
      [...batchRecords.values()].every((r) => r?.status === 'verified') &&
      counts.every((count) => count === 1),
  );
}

/** Issue 10, 3: names whose separators would collide in `name:${first} ${last}|${company}` are two people. */
export async function separatorsDoNotCollide(context: ProbeContext): Promise<void> {
  const { service, report, tag } = context;
  service.probe = 'colliding separators';
  const T = `${tag[0]?.toUpperCase() ?? ''}${tag.slice(1)}`;
  const pairs: Array<[string, Input, Input]> = [
    [
      "last name 'X|Y' at 'Z' vs last name 'X' at 'Y|Z'",
      { first_name: `Bertram${T}`, last_name: `X${T}|Yonder`, organization_name: 'Zeta Works' },
      { first_name: `Bertram${T}`, last_name: `X${T}`, organization_name: 'Yonder|Zeta Works' },
    ],
    [
      "'Ann Marie' + 'Smith' vs 'Ann' + 'Marie Smith'",
      { first_name: `Ann${T} Marie${T}`, last_name: `Smith${T}`, organization_name: 'Zeta Works' },
      { first_name: `Ann${T}`, last_name: `Marie${T} Smith${T}`, organization_name: 'Zeta Works' },
    ],
  ];
  for (const [name, one, two] of pairs) {
    const first = collectIds(context, await deliver(context, one, 0, { converted: true }))[0];
    const second = collectIds(context, await deliver(context, two, 1, { converted: true }))[0];
    const records = await recordsUntil(context, [first?.id, second?.id]);
    const contactOf = (id: string | null | undefined) => records.get(String(id))?.contact_id;
    report.check(
      `two people without email: ${name}`,
      'two conversion ids; neither answered duplicate',
      `${first?.status} ${first?.id ? 'id1' : 'no id'}, ${second?.status} ${second?.id === first?.id ? 'id1 (same)' : 'id2'}; ` +
        `contacts ${contactOf(first?.id) === contactOf(second?.id) ? 'shared (Apollo matched the name)' : 'two'}`,
      first?.id != null && second?.id != null && first.id !== second.id && second.status !== 'duplicate',
    );
  }
}
