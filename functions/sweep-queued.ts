import { getQueuedSweepRoot } from '../lib/roots/queued-sweep';
import { scheduledTask } from '../lib/scheduled-task';

/** Scheduled: sends again the keys of people left `queued` whose message was lost. */
export const handler = scheduledTask(() => getQueuedSweepRoot().queuedSweep.sweep());
