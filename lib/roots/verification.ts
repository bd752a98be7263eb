import type { ContactVerification } from '../verification';
import { compositionRoot } from './shared/composition-root';
import { apolloClient } from './shared/apollo';
import { dynamoDbLedger } from './shared/dynamodb';
import { withSupportedPhoneCountry } from './shared/phone-country';
import { contactVerification } from './shared/verification';

/** verifyContact: the ledger and Apollo's people/bulk_match and contacts search. No Step Functions. */
export const getVerificationRoot = compositionRoot((loaded) => {
  const config = withSupportedPhoneCountry(loaded);
  const verification: Pick<ContactVerification, 'verify'> = contactVerification(config, {
    ledger: dynamoDbLedger(config),
    apollo: apolloClient(config),
  });
  return { verification };
});
