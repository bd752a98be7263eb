import { randomInt } from 'node:crypto';

/**
 * Fictional people for one probe run. Every first name, last name and email carries the run's
 * tag (ten random consonants), so one case-insensitive search for the tag finds any of them in a
 * log line or a URL, whatever else the line holds.
 */
export function newRunTag(): string {
  const consonants = 'bcdfghjklmnpqrstvwxz';
  return Array.from({ length: 10 }, () => consonants[randomInt(consonants.length)]).join('');
}

const capital = (word: string) => `${word[0]?.toUpperCase() ?? ''}${word.slice(1)}`;

export interface ProbePerson {
  /** `word` + tag, lower case: what this person's names and email contain, and no other person's. */
  token: string;
  first_name: string;
  last_name: string;
  email: string;
  organization_name: string;
  website_url: string;
  domain: string;
  linkedin_url: string;
}

/** A person named after `word` (unique within a run), at `company` (default Analytical Engines). */
export function probePerson(
  word: string,
  tag: string,
  company: { name: string; domain: string } = {
    name: 'Analytical Engines Ltd',
    domain: 'analyticalengines.example',
  },
): ProbePerson {
  const token = `${word}${tag}`;
  return {
    token,
    first_name: `${capital(word)}${capital(tag)}`,
    last_name: `Probe${capital(tag)}`,
    email: `${word}.${tag}@${company.domain}`,
    organization_name: company.name,
    website_url: `https://www.${company.domain}`,
    domain: company.domain,
    linkedin_url: `https://www.linkedin.com/in/${word}-${tag}`,
  };
}

/** Whether a stored name (Apollo's contact, say) is this person's: folded, invisible characters dropped. */
export function isNamed(person: ProbePerson, name: string | null | undefined): boolean {
  return (name ?? '')
    .replace(/\p{Default_Ignorable_Code_Point}/gu, '')
    .toLowerCase()
    .includes(person.token);
}
