/**
 * The conversion queue, as the use cases see it: the port. The doors put keys on it
 * (`ConversionIntake`), the consumer (`BulkConversion`) hides a batch it cannot convert yet.
 * Messages carry only `{"key": "c_…"}`: the person itself stays in the ledger.
 */
export interface ConversionQueue {
  /** One message {"key"} per key, SendMessageBatch in chunks of 10. Returns the keys whose send failed. */
  enqueue(keys: readonly string[]): Promise<{ failedKeys: string[] }>;
  /** Hides received messages for `delaySeconds` (Apollo's retry-after): ChangeMessageVisibilityBatch. */
  postpone(receiptHandles: readonly string[], delaySeconds: number): Promise<void>;
}
