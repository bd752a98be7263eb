import type { Apollo } from '../../apollo/apollo';
import type { Config } from '../../config';
import type { VerificationLedger } from '../../ledger';
import { ContactVerification } from '../../verification';
import { serviceMetrics } from './metrics';

/** The verification through people/bulk_match and the contacts search, with the phone country its comparison parses numbers in. */
export function contactVerification(
  config: Config,
  ports: { ledger: VerificationLedger; apollo: Apollo },
): ContactVerification {
  return new ContactVerification({
    ...ports,
    defaultPhoneCountry: config.defaultPhoneCountry,
    metrics: serviceMetrics(),
  });
}
