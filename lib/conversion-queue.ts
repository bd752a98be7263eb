/**
 * The conversion queue: where the front doors put the people they accepted (by record key only),
 * and where the bulk consumer gets them from. Messages carry `{"key": "c_…"}` and nothing else:
 * the consumer reads the person from the ledger record, so a message holds no personal data and
 * re-sending one is always harmless (the consumer's claim makes a second delivery a no-op).
 */
export interface ConversionQueue {
  /**
   * One message `{"key"}` per distinct key (SendMessageBatch, in chunks of 10). Never throws for a
   * failed send: returns the keys whose message was not accepted (an entry refused, or a whole call
   * that failed), so the caller can answer for exactly those people.
   */
  enqueue(keys: readonly string[]): Promise<{ failedKeys: string[] }>;
  /**
   * Hides received messages for `delaySeconds` (Apollo's `retry-after`) instead of letting them
   * come back after the queue's visibility timeout (ChangeMessageVisibilityBatch). Clamped to what
   * SQS allows (0 to 12 hours). A message whose visibility could not be changed simply comes back
   * after the queue's visibility timeout: that is logged, not thrown. A call that fails as a whole
   * (the queue unreachable, no permission) throws.
   */
  postpone(receiptHandles: readonly string[], delaySeconds: number): Promise<void>;
}

/** The body of a conversion message. */
export interface ConversionMessage {
  key: string;
}

/** The message body for a key: the only place that spells it, read back by `parseConversionMessage`. */
export function conversionMessageBody(key: string): string {
  return JSON.stringify({ key } satisfies ConversionMessage);
}

/** The key a message body carries, or undefined for a body that is not a conversion message. */
export function parseConversionMessage(body: string): ConversionMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { key } = parsed as { key?: unknown };
  return typeof key === 'string' && key !== '' ? { key } : undefined;
}
