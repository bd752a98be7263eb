import type { WebhookDeliveries } from '../../ledger';
import { WebhookDeliveryMemory } from '../../webhook-deliveries';

/**
 * How long an answered webhook delivery is remembered by its `webhook-id`: longer than a Standard
 * Webhooks sender keeps retrying (about a day), short enough to keep the table small.
 */
const WEBHOOK_REPLAY_WINDOW_SECONDS = 3 * 86_400;

/** Remembers answered webhook deliveries, so a replayed `webhook-id` is answered without converting. */
export function webhookDeliveryMemory(ledger: WebhookDeliveries): WebhookDeliveryMemory {
  return new WebhookDeliveryMemory({ ledger, rememberSeconds: WEBHOOK_REPLAY_WINDOW_SECONDS });
}
