import type { Apollo } from '../../apollo/apollo';
import type { Config } from '../../config';
import { PersonEnrichment, type EnrichmentDependencies } from '../../enrichment';
import { ConfigurationError } from '../../errors';
import type { PhoneRevealScheduler } from '../../schedulers';
import { serviceMetrics } from './metrics';

/** Where Apollo posts revealed phones: the public API URL, with the callback token. */
async function phoneCallbackUrl(config: Config): Promise<string> {
  if (!config.publicApiUrl)
    throw new ConfigurationError('PUBLIC_API_URL must be set to receive phone reveals');
  const token = await config.secret('APOLLO_CALLBACK_TOKEN');
  return `${config.publicApiUrl}/webhooks/apollo/phone-numbers?token=${encodeURIComponent(token)}`;
}

/** The enrichment (enrich on demand, and the phone reveal's callback and fallback), with its settings. */
export function personEnrichment(
  config: Config,
  ports: {
    ledger: EnrichmentDependencies['ledger'];
    apollo: Apollo;
    conversion: EnrichmentDependencies['conversion'];
    phoneReveals: PhoneRevealScheduler;
  },
): PersonEnrichment {
  return new PersonEnrichment({
    ...ports,
    callbackUrl: () => phoneCallbackUrl(config),
    defaultPhoneCountry: config.defaultPhoneCountry,
    heldPhonesTtlSeconds: config.heldPhonesTtlSeconds,
    maxResultPolls: config.maxResultPolls,
    metrics: serviceMetrics(),
  });
}
