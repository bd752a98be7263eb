import { createHash } from 'node:crypto';
import type { FloorPerson } from './floors/conversion';

/** Far above anything the bench sends in a minute, for runs that measure conversions, not 429s. */
export const NO_RATE_LIMIT = 1_000_000_000;

const FIRST_NAMES = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Radia',
  'Niklaus',
];
const LAST_NAMES = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Perlman',
];
const COMPANIES = [
  'Analytical Engines',
  'Compiler Works',
  'Bletchley Labs',
  'Semaphore Systems',
  'Abstraction Co',
];
const TITLES = ['Engineer', 'Head of Research', 'Founder', 'CTO', 'Analyst'];

/** A person as a CRM sends it in a webhook (raw phone formats), as the fictional data of the tests. */
export interface PersonInput {
  first_name: string;
  last_name: string;
  email?: string;
  organization_name: string;
  website_url: string;
  title: string;
  direct_phone: string;
  mobile_phone: string;
}

export interface BenchPerson {
  input: PersonInput;
  /** How the bench recognises the person's contacts in the sandbox: email, else name + company. */
  identity: string;
  /** What the warm-path floor sends: the service's normalised form, computed ahead of time. */
  floor: FloorPerson;
}

function pick<T>(list: readonly T[], index: number): T {
  return list[index % list.length] as T;
}

/** `555-0123-4567`-style US numbers (555 is fictional), written the way CRMs write them. */
function phone(seed: number): { raw: string; e164: string } {
  const line = String(1000 + (seed % 9000));
  const exchange = String(100 + (Math.floor(seed / 9000) % 900));
  return { raw: `555-${exchange}-${line}`, e164: `+1555${exchange}${line}` };
}

const sha256 = (text: string, encoding: 'hex' | 'base64url') =>
  createHash('sha256').update(text).digest(encoding);

/**
 * The `index`-th fictional person of a run; `runTag` keeps runs (and phases) apart, so every
 * conversion of the warm path is a new person. People without email are identified by name + company.
 */
export function benchPerson(runTag: string, index: number, { withEmail = true } = {}): BenchPerson {
  const first = pick(FIRST_NAMES, index);
  const last = `${pick(LAST_NAMES, index * 7)}-${runTag}${index}`;
  const company = pick(COMPANIES, index * 3);
  const domain = `${company.toLowerCase().replace(/\s+/g, '')}.example`;
  const email = withEmail ? `${first}.${last}@${domain}`.toLowerCase() : undefined;
  const direct = phone(index * 2);
  const mobile = phone(index * 2 + 1);
  const input: PersonInput = {
    first_name: first,
    last_name: last,
    ...(email !== undefined && { email }),
    organization_name: company,
    website_url: `https://${domain}`,
    title: pick(TITLES, index),
    direct_phone: direct.raw,
    mobile_phone: mobile.raw,
  };
  const fields = { ...input, direct_phone: direct.e164, mobile_phone: mobile.e164 };
  const key = email ?? `name:${first} ${last}|${company}`.toLowerCase();
  return {
    input,
    identity: email ?? `${first}|${last}|${company}`.toLowerCase(),
    floor: {
      key,
      email: email ?? '',
      fields,
      fingerprint: sha256(JSON.stringify(Object.entries(fields).sort()), 'base64url'),
      phoneHashes: [direct.e164, mobile.e164].map((number) => sha256(number, 'base64url')),
    },
  };
}

/** The body of a `person.enrichment.completed` webhook: one person, or a batch. */
export function enrichmentCompletedBody(people: readonly PersonInput[]): string {
  const data = people.length === 1 ? { person: people[0] } : { people };
  return JSON.stringify({ type: 'person.enrichment.completed', timestamp: new Date().toISOString(), data });
}

/** Ways CRMs write the same US number (555 is fictional). */
const PHONE_STYLES = [
  (area: string, exchange: string, line: string) => `(${area}) ${exchange}-${line}`,
  (area: string, exchange: string, line: string) => `+1 ${area}.${exchange}.${line}`,
  (area: string, exchange: string, line: string) => `${area} ${exchange} ${line}`,
  (area: string, exchange: string, line: string) => `1-${area}-${exchange}-${line}`,
];

/**
 * The `index`-th person of a burst, written the way exports from CRMs and enrichment tools come:
 * emails in mixed case with stray spaces, phones in four styles, websites with and without scheme
 * or `www.`, and one person in twenty without email (known by name and company). `identity` is
 * what the service normalises them to, so contacts can be counted per person.
 */
export function messyBenchPerson(runTag: string, index: number): BenchPerson {
  const clean = benchPerson(runTag, index, { withEmail: index % 20 !== 19 });
  const style = (n: number) => PHONE_STYLES[n % PHONE_STYLES.length] as (typeof PHONE_STYLES)[number];
  const parts = (raw: string) => raw.split('-') as [string, string, string];
  const domain = new URL(clean.input.website_url).hostname;
  const email = clean.input.email;
  const input: PersonInput = {
    ...clean.input,
    ...(email !== undefined && {
      email: index % 3 === 0 ? ` ${email.toUpperCase()} ` : index % 3 === 1 ? email : `${email} `,
    }),
    website_url: [`https://${domain}`, `www.${domain}`, `http://www.${domain}/`][index % 3] as string,
    direct_phone: style(index)(...parts(clean.input.direct_phone)),
    mobile_phone: style(index + 1)(...parts(clean.input.mobile_phone)),
  };
  return { ...clean, input };
}
