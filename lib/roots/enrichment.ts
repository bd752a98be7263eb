import { compositionRoot } from './shared/composition-root';
import { apolloClient } from './shared/apollo';
import { contactConversion } from './shared/conversion';
import { dynamoDbLedger } from './shared/dynamodb';
import { personEnrichment } from './shared/enrichment';
import { withSupportedPhoneCountry } from './shared/phone-country';
import { stateMachineStarts } from './shared/step-functions';

/**
 * enrichPerson: enriches through Apollo, converts like the webhook, and starts both state machines
 * (verification, and the phone-reveal fallback).
 */
export const getEnrichmentRoot = compositionRoot((loaded) => {
  const config = withSupportedPhoneCountry(loaded);
  const ledger = dynamoDbLedger(config);
  const apollo = apolloClient(config);
  const { verifications, redrives, phoneReveals } = stateMachineStarts(config);
  const conversion = contactConversion(config, { ledger, apollo, verifications, redrives });
  return { config, enrichment: personEnrichment(config, { ledger, apollo, conversion, phoneReveals }) };
});
