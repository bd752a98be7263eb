import { compositionRoot } from './shared/composition-root';
import { conversionQueue } from './shared/conversion-queue';
import { dynamoDbLedger } from './shared/dynamodb';
import { conversionIntake } from './shared/intake';
import { withSupportedPhoneCountry } from './shared/phone-country';
import { stateMachineStarts } from './shared/step-functions';
import { webhookDeliveryMemory } from './shared/webhook-deliveries';

/**
 * enrichmentWebhook, createContacts: parse people (phones included), queue them through the ledger
 * and the conversion queue (no Apollo), answer converted people from the ledger (starting a
 * verification that never started); the webhook remembers answered deliveries.
 */
export const getConversionRoot = compositionRoot((loaded) => {
  const config = withSupportedPhoneCountry(loaded);
  const ledger = dynamoDbLedger(config);
  const { verifications, redrives } = stateMachineStarts(config);
  return {
    config,
    intake: conversionIntake(config, {
      ledger,
      queue: conversionQueue(config),
      verifications,
      redrives,
    }),
    webhookDeliveries: webhookDeliveryMemory(ledger),
  };
});
