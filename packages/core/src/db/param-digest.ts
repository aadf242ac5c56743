import { createHmac } from 'node:crypto';

/** The digest key when `RACEWAY_DIGEST_KEY` is not set (spec 4.3). */
export const DEFAULT_DIGEST_KEY = 'raceway-digest-v1';

const FLOAT_BITS = new DataView(new ArrayBuffer(8));

/** `i:` and the decimal digits of an integral number, exactly (1e21 is not `1e+21`). */
function integer(value: number | bigint): string {
  return `i:${BigInt(value).toString()}`;
}

function float(value: number): string {
  if (Number.isNaN(value)) return 'f:7ff8000000000000';
  FLOAT_BITS.setFloat64(0, value);
  return `f:${FLOAT_BITS.getBigUint64(0).toString(16).padStart(16, '0')}`;
}

/** JSON with object keys sorted by code point at every level, without white space. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The canonical form of a parameter value (spec 4.3): what its digest hashes, so that equal
 * values give equal digests in every language.
 *
 * @example
 * canonicalParam(42); // 'i:42'
 * canonicalParam(1.5); // 'f:3ff8000000000000'
 * canonicalParam('mug'); // 's:mug'
 */
export function canonicalParam(value: unknown): string {
  if (value === null || value === undefined) return 'n';
  switch (typeof value) {
    case 'boolean':
      return value ? 'b:true' : 'b:false';
    case 'bigint':
      return integer(value);
    case 'number':
      return Number.isFinite(value) && Number.isInteger(value) ? integer(value) : float(value);
    case 'string':
      return `s:${value}`;
    default:
      break;
  }
  if (value instanceof Uint8Array) return `x:${Buffer.from(value).toString('hex')}`;
  // Drivers send a Date as its ISO form in UTC.
  if (value instanceof Date) return `s:${value.toISOString()}`;
  return `j:${sortedJson(value)}`;
}

/**
 * The digest of a parameter value: the first 8 bytes of HMAC-SHA256 over its canonical form,
 * as 16 lowercase hex digits (spec 4.3). Equal values give equal digests across services and
 * languages that share the key; the value itself never leaves the service.
 *
 * @example
 * paramDigest(42); // 16 hex digits, the same in every SDK
 */
export function paramDigest(value: unknown, key: string = DEFAULT_DIGEST_KEY): string {
  return digestCanonical(canonicalParam(value), key);
}

/**
 * The digest of a canonical form already built: how the collector digests the literals of
 * SQL text (`WHERE id = 42`) so that they match parameters sent as digests.
 */
export function digestCanonical(canonical: string, key: string = DEFAULT_DIGEST_KEY): string {
  if (canonical.length > MAX_CACHED_LENGTH) return hmac(canonical, key);
  const cacheKey = `${key}\u0000${canonical}`;
  let digest = recentDigests.get(cacheKey);
  if (digest === undefined) {
    digest = hmac(canonical, key);
    // Oldest first out: a bounded memory, and ids and counters that repeat stay in.
    if (recentDigests.size >= MAX_CACHED_DIGESTS) {
      recentDigests.delete(recentDigests.keys().next().value as string);
    }
    recentDigests.set(cacheKey, digest);
  }
  return digest;
}

function hmac(canonical: string, key: string): string {
  return createHmac('sha256', key).update(canonical, 'utf8').digest('hex').slice(0, 16);
}

// An HMAC costs about 3 µs, and a query digests its parameters and the values it read: the same
// ids and values come back query after query, so the recent digests are kept (short values only,
// a bounded number: the values are in the process's memory anyway).
const MAX_CACHED_DIGESTS = 4096;
const MAX_CACHED_LENGTH = 256;
const recentDigests = new Map<string, string>();
