import { getServices } from '../lib/services';
import { stateMachineTask } from '../lib/state-machine-task';
import type { PhoneRevealPoll } from '../lib/schedulers';

/** State machine task: reads webhook_result when Apollo's phone callback did not come. */
export const handler = stateMachineTask((input: PhoneRevealPoll, deadline) =>
  getServices().enrichment.pollPhoneResult(input, { deadline }),
);
