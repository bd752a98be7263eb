import { compositionRoot } from './shared/composition-root';
import { apolloClient } from './shared/apollo';
import { contactConversion } from './shared/conversion';
import { dynamoDbLedger } from './shared/dynamodb';
import { withSupportedPhoneCountry } from './shared/phone-country';
import { stateMachineStarts } from './shared/step-functions';
import { webhookDeliveryMemory } from './shared/webhook-deliveries';

/**
 * enrichmentWebhook, createContacts: parse people (phones included), convert them through the
 * ledger and Apollo, start their verifications; the webhook remembers answered deliveries.
 */
export const getConversionRoot = compositionRoot((loaded) => {
  const config = withSupportedPhoneCountry(loaded);
  const ledger = dynamoDbLedger(config);
  const { verifications, redrives } = stateMachineStarts(config);
  return {
    config,
    conversion: contactConversion(config, { ledger, apollo: apolloClient(config), verifications, redrives }),
    webhookDeliveries: webhookDeliveryMemory(ledger),
  };
});
