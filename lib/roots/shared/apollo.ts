import type { Apollo } from '../../apollo/apollo';
import { ApolloHttpClient } from '../../apollo/http-client';
import { isRunningLow } from '../../apollo/rate-limits';
import type { Config } from '../../config';
import { logger } from '../../logger';
import type { RateLimitPacer } from '../../rate-limit-pacer';
import { serviceMetrics } from './metrics';

/**
 * The one Apollo client, over the built-in fetch; warns when a rate-limit window runs low, tells
 * `pacer` (the queue's consumer) what each reply said of its endpoint's windows, and counts every
 * request by endpoint and status (429s too) in the container's metrics.
 */
export function apolloClient(config: Config, pacer?: RateLimitPacer): Apollo {
  const metrics = serviceMetrics();
  return new ApolloHttpClient({
    baseUrl: config.apolloBaseUrl,
    apiKey: () => config.secret('APOLLO_API_KEY'),
    timeoutMs: config.apolloTimeoutMs,
    maxRetryWaitSeconds: config.apolloMaxRetryWaitSeconds,
    onResponse: (endpoint, status) => metrics.apolloRequest(endpoint, status),
    onRateLimit: (windows, endpoint) => {
      pacer?.observe(endpoint, windows);
      for (const window of windows.filter((w) => isRunningLow(w))) {
        logger.warn('Apollo rate limit running low', { ...window });
      }
    },
  });
}
