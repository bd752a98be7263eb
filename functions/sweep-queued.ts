import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from '../lib/logger';
import { getQueuedSweepRoot } from '../lib/roots/queued-sweep';

/** Scheduled: sends again the keys of people left `queued` whose message was lost. */
export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(() => getQueuedSweepRoot().queuedSweep.sweep());
