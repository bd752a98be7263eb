import { queueConsumer } from '../lib/queue-consumer';
import { getServices } from '../lib/services';

/** The conversion queue's consumer: a batch of queued people, converted in bulk (`BulkConversion`). */
export const handler = queueConsumer((messages, deadline) =>
  getServices().bulkConversion.convert(messages, { deadline }),
);
