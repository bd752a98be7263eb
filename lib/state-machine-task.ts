import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from './logger';
import { publishingMetrics } from './metrics';
import { keyPersonRefs } from './person-refs';

/**
 * Wraps a Step Functions task as a Lambda handler. Errors are not caught: their `name` becomes the
 * state's error, which the state machine's Retry and Catch rules match on.
 */
export function stateMachineTask<Input, Output>(task: (input: Input, deadline: number) => Promise<Output>) {
  return middy<Input, Output>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishingMetrics())
    .handler(async (input, context) => {
      await keyPersonRefs();
      return task(input, Date.now() + context.getRemainingTimeInMillis());
    });
}
