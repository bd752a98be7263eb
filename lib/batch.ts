import type { ConversionResult } from './conversion';
import type { Person } from './person';
import { isInvalidPerson, type InvalidPersonResult, type PersonEntry } from './requests';

/** What a request of people answers: one result per position, converted or invalid. */
export type PersonResult = ConversionResult | InvalidPersonResult;

/**
 * Converts the valid people of a request and answers every position in input order: an invalid
 * person with its own `invalid` result (nothing written for it), the others with their conversion.
 * A person another request holds makes the whole request `RetryLaterError` (see `deliver`).
 */
export async function convertEntries(
  conversion: {
    deliver(people: readonly Person[], options: { deadline: number }): Promise<ConversionResult[]>;
  },
  entries: readonly PersonEntry[],
  options: { deadline: number },
): Promise<PersonResult[]> {
  const people = entries.filter((entry): entry is Person => !isInvalidPerson(entry));
  const converted = await conversion.deliver(people, options);
  let next = 0;
  return entries.map((entry) => (isInvalidPerson(entry) ? entry : (converted[next++] as ConversionResult)));
}
