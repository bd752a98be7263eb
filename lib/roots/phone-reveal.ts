import type { PersonEnrichment } from '../enrichment';
import { ConfigurationError } from '../errors';
import { compositionRoot } from './shared/composition-root';
import { apolloClient } from './shared/apollo';
import { dynamoDbLedger } from './shared/dynamodb';
import { personEnrichment } from './shared/enrichment';
import { withSupportedPhoneCountry } from './shared/phone-country';

/**
 * Stands in for what `PersonEnrichment` needs for `enrich` only (converting the person, starting
 * the phone reveal's fallback), which the phone functions never call: so they bundle neither the
 * conversion nor a Step Functions client (their roles may not start executions). Refuses loudly
 * if that ever changes.
 */
const onlyInEnrichPerson = () =>
  Promise.reject(new ConfigurationError('this function only applies phones: enrichPerson enriches'));

/**
 * apolloPhoneCallback, pollPhoneResult: revealed phones written to the person's existing contact,
 * through the ledger and Apollo. No Step Functions.
 */
export const getPhoneRevealRoot = compositionRoot((loaded) => {
  const config = withSupportedPhoneCountry(loaded);
  const phones: Pick<PersonEnrichment, 'applyPhoneCallback' | 'pollPhoneResult'> = personEnrichment(config, {
    ledger: dynamoDbLedger(config),
    apollo: apolloClient(config),
    conversion: { convert: onlyInEnrichPerson },
    phoneReveals: { start: onlyInEnrichPerson },
  });
  return { config, phones };
});
