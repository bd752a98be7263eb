import type { LedgerReader } from '../ledger';
import { compositionRoot } from './shared/composition-root';
import { dynamoDbLedger } from './shared/dynamodb';

/** getConversion, lookupConversion: read the ledger. No Apollo, no Step Functions, no libphonenumber. */
export const getLedgerReaderRoot = compositionRoot((config) => {
  const ledger: LedgerReader = dynamoDbLedger(config);
  return { config, ledger };
});
