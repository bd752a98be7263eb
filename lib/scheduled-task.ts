import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from './logger';
import { keyPersonRefs } from './person-refs';

/**
 * Wraps a scheduled task (the sweeps) as a Lambda handler: the logger's context, and person
 * references keyed with LOG_HASH_SECRET like every other handler's, so a sweep's log lines name
 * people by the same hash as the doors' and the consumer's.
 */
export function scheduledTask<Output>(task: () => Promise<Output>) {
  return middy()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async () => {
      await keyPersonRefs();
      return task();
    });
}
