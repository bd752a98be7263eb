import { ConversionOverview } from '../conversion-overview';
import { compositionRoot } from './shared/composition-root';
import { dynamoDbLedger } from './shared/dynamodb';

/** listConversions, conversionSummary: query the ledger's `by-status` index. Nothing else. */
export const getConversionOverviewRoot = compositionRoot((config) => ({
  config,
  overview: new ConversionOverview(dynamoDbLedger(config)),
}));
