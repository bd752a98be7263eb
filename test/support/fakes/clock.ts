/** A clock the test moves by hand: `now` is what the use cases take as their `now` dependency. */
export class FakeClock {
  constructor(private ms: number = Date.parse('2026-11-26T10:00:00.000Z')) {}

  /** Epoch ms. An arrow, so it can be handed over as `now` on its own. */
  readonly now = (): number => this.ms;

  advance(ms: number): void {
    this.ms += ms;
  }

  advanceSeconds(seconds: number): void {
    this.advance(seconds * 1000);
  }

  /** The current time as the ledger writes it (ISO 8601). */
  iso(): string {
    return new Date(this.ms).toISOString();
  }

  /** The current time as a DynamoDB TTL counts it (epoch seconds). */
  epochSeconds(): number {
    return Math.floor(this.ms / 1000);
  }
}

/** Deterministic claim tokens: `token-1`, `token-2`, ... in the order they are asked for. */
export function sequentialTokens(prefix = 'token'): () => string {
  let issued = 0;
  return () => `${prefix}-${++issued}`;
}
