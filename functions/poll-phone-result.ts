import { getPhoneRevealRoot } from '../lib/roots/phone-reveal';
import { stateMachineTask } from '../lib/state-machine-task';
import type { PhoneRevealPoll } from '../lib/schedulers';

/** State machine task: reads webhook_result when Apollo's phone callback did not come. */
export const handler = stateMachineTask((input: PhoneRevealPoll, deadline) =>
  getPhoneRevealRoot().phones.pollPhoneResult(input, { deadline }),
);
