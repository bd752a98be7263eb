import { queueConsumer } from '../lib/queue-consumer';
import { getBulkConversionRoot } from '../lib/roots/bulk-conversion';

/** The conversion queue's consumer: a batch of queued people, converted in bulk (`BulkConversion`). */
export const handler = queueConsumer((messages, deadline) =>
  getBulkConversionRoot().bulkConversion.convert(messages, { deadline }),
);
