/** Ids as Apollo issues them: 24-hex object ids, signed 64-bit request ids, second-precision timestamps. */
import { randomBytes } from 'node:crypto';

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
/** request_id magnitudes with exactly 19 digits: 10^18 up to 2^63 (|INT64_MIN|). */
const REQUEST_ID_MIN_MAGNITUDE = 10n ** 18n;
const REQUEST_ID_MAX_MAGNITUDE = 1n << 63n;

/** A 24-hex id shaped like Apollo's (MongoDB ObjectIds): the creation second, then random bytes. */
export function newApolloId(): string {
  const seconds = Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(8, '0');
  return seconds + randomBytes(8).toString('hex');
}

/**
 * Apollo's request_id: a signed 64-bit integer beyond 2^53, often negative, so JS numbers lose
 * it. The sandbox always issues negative ones with 19 digits, the hardest case for a client.
 */
export function newRequestId(): bigint {
  const span = REQUEST_ID_MAX_MAGNITUDE - REQUEST_ID_MIN_MAGNITUDE + 1n;
  return -(REQUEST_ID_MIN_MAGNITUDE + (randomBytes(8).readBigUInt64BE() % span));
}

/** A request_id in canonical decimal form, or undefined when it is not a signed 64-bit integer. */
export function parseRequestId(raw: string | bigint | undefined): string | undefined {
  let value: bigint;
  if (typeof raw === 'bigint') {
    value = raw;
  } else {
    let text: string;
    try {
      text = decodeURIComponent(raw ?? '');
    } catch {
      return undefined;
    }
    if (!/^[+-]?\d{1,25}$/.test(text)) return undefined;
    value = BigInt(text);
  }
  return value >= INT64_MIN && value <= INT64_MAX ? value.toString() : undefined;
}

/** ISO 8601 UTC to the second, as Apollo writes `last_dispatched_at`. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
