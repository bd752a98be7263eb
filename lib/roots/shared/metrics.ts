import { publishAtEachInvocationEnd, type ServiceMetrics } from '../../metrics';
import { PowertoolsServiceMetrics } from '../../powertools-metrics';

let built: PowertoolsServiceMetrics | undefined;

/**
 * The container's one metrics adapter (EMF through Powertools), published by the handler wrappers
 * at the end of each invocation. Only roots whose use cases count something call this, so only
 * their bundles hold Powertools Metrics.
 */
export function serviceMetrics(): ServiceMetrics {
  if (built === undefined) {
    const metrics = new PowertoolsServiceMetrics();
    publishAtEachInvocationEnd(() => metrics.publish());
    built = metrics;
  }
  return built;
}
