import type { ApolloSandbox } from '../local/apollo-sandbox';
import type { BenchPerson } from './people';

/**
 * The Apollo contacts of each bench person, counted from the sandbox's own state: recognised by
 * email, else by name and company. `strangers` are contacts that belong to no bench person.
 */
export function contactsPerPerson(
  apollo: ApolloSandbox,
  people: readonly BenchPerson[],
): { counts: number[]; strangers: number; min: number; max: number; total: number; exactlyOne: boolean } {
  const byIdentity = new Map<string, number>();
  for (const contact of apollo.contacts()) {
    const identity =
      contact.email?.toLowerCase() ??
      `${contact.first_name}|${contact.last_name}|${contact.organization_name}`.toLowerCase();
    byIdentity.set(identity, (byIdentity.get(identity) ?? 0) + 1);
  }
  const identities = new Set(people.map((person) => person.identity));
  const counts = people.map((person) => byIdentity.get(person.identity) ?? 0);
  const strangers = [...byIdentity.entries()]
    .filter(([identity]) => !identities.has(identity))
    .reduce((sum, [, n]) => sum + n, 0);
  const min = counts.length === 0 ? 0 : Math.min(...counts);
  const max = counts.length === 0 ? 0 : Math.max(...counts);
  return {
    counts,
    strangers,
    min,
    max,
    total: counts.reduce((a, b) => a + b, 0) + strangers,
    exactlyOne: min === 1 && max === 1 && strangers === 0,
  };
}
