import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from '../lib/logger';
import { getVerificationSweepRoot } from '../lib/roots/verification-sweep';

/** Scheduled (every 15 minutes): re-drives verifications of records left `created` without a verdict. */
export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(() => getVerificationSweepRoot().verificationSweep.sweep());
