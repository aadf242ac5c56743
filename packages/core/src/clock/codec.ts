import {
  adoptValidatedEntries,
  compareKeys,
  KEY_CHAR,
  MAX_CLOCK_COUNTER,
  type VectorClock,
} from './vector-clock.js';

/** Most entries a clock carries on the wire (spec 3.4); the `~dropped` marker is not counted. */
export const MAX_CLOCK_ENTRIES = 64;
/** Longest `X-Raceway-VC` value a decoder reads, in bytes (spec 3.3). */
export const MAX_CLOCK_HEADER_BYTES = 8192;
/** Reserved key that tells how many entries a truncated clock left out (spec 3.4). */
export const CLOCK_DROPPED_KEY = '~dropped';

/** Options of {@link encodeClock}. */
export interface EncodeClockOptions {
  /** The sending context's own component: always kept when the clock must be cut. */
  own?: string;
  /**
   * Entries already missing from this clock (it was received truncated): they are added to
   * the marker, so that a truncated clock stays marked truncated on every later hop.
   */
  dropped?: number;
}

/** Result of {@link decodeClock}. */
export type DecodedClock =
  | { ok: true; clock: VectorClock; dropped: number }
  | { ok: false; reason: 'vc_invalid' | 'vc_oversized' };

/**
 * Encodes a clock for `X-Raceway-VC` in canonical form (spec 3.3): a compact JSON object with
 * keys in byte order. A clock of more than 64 entries is cut (spec 3.4): `own` is kept, then the
 * highest counters (ties: the smaller key), and `"~dropped":<n>` is appended, n counting the
 * entries left out plus `options.dropped`.
 *
 * @example
 * encodeClock(new VectorClock({ 'web#00000002': 1, 'api#00000001': 3 }));
 * // '{"api#00000001":3,"web#00000002":1}'
 */
export function encodeClock(clock: VectorClock, options: EncodeClockOptions = {}): string {
  const { json, dropped } = encodeClockEntries(clock, options);
  return withDroppedMarker(json, dropped);
}

/** The entries of a clock in canonical form, and how many entries the wire form lacks. */
export interface EncodedClockEntries {
  /** A compact JSON object, keys in byte order, at most 64 entries, no `~dropped` marker. */
  readonly json: string;
  /** `options.dropped` plus the entries cut to fit 64: what the `~dropped` marker says. */
  readonly dropped: number;
}

/**
 * The entries part of {@link encodeClock}: the canonical JSON of the clock, cut to 64 entries
 * as spec 3.4 says (`own` kept), without the marker, and the count the marker would carry.
 * Events carry this text as their clock snapshot, with the count in their `clock_dropped`
 * field instead of the marker.
 *
 * @example
 * encodeClockEntries(new VectorClock({ 'api#00000001': 3 })); // { json: '{"api#00000001":3}', dropped: 0 }
 */
export function encodeClockEntries(
  clock: VectorClock,
  options: EncodeClockOptions = {},
): EncodedClockEntries {
  let dropped = isDroppedCount(options.dropped) ? options.dropped : 0;
  let keys = clock.sortedKeys();
  if (keys.length > MAX_CLOCK_ENTRIES) {
    dropped = Math.min(dropped + keys.length - MAX_CLOCK_ENTRIES, MAX_CLOCK_COUNTER);
    keys = keptKeys(clock, options.own);
  }
  let json = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    json += `${i === 0 ? '"' : ',"'}${key}":${clock.get(key)}`;
  }
  return { json: `${json}}`, dropped };
}

/**
 * Appends the `"~dropped":<n>` marker (spec 3.4) to clock entries made by
 * {@link encodeClockEntries}; nothing when `dropped` is 0.
 *
 * @example
 * withDroppedMarker('{"api#00000001":3}', 2); // '{"api#00000001":3,"~dropped":2}'
 */
export function withDroppedMarker(json: string, dropped: number): string {
  if (!(dropped > 0)) return json;
  const marker = `"${CLOCK_DROPPED_KEY}":${dropped}}`;
  return json.length > 2 ? `${json.slice(0, -1)},${marker}` : `{${marker}`;
}

/** The 64 keys a cut clock keeps (spec 3.4), in canonical order. */
function keptKeys(clock: VectorClock, own: string | undefined): string[] {
  const entries = Array.from(clock.entries());
  entries.sort((a, b) => {
    if (a[0] === own) return -1;
    if (b[0] === own) return 1;
    return b[1] - a[1] || compareKeys(a[0], b[0]);
  });
  const kept = new Set<string>();
  for (let i = 0; i < MAX_CLOCK_ENTRIES; i++) kept.add((entries[i] as [string, number])[0]);
  // The clock's cached canonical order, filtered: no second sort.
  return clock.sortedKeys().filter((key) => kept.has(key));
}

function isDroppedCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

// Characters of the grammar; those of component names are KEY_CHAR (vector-clock.ts).
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MAX_KEY_LENGTH = 64;
const MAX_COUNTER_DIGITS = 16;
const MARKER_TOKEN = `${CLOCK_DROPPED_KEY}"`;

const INVALID: DecodedClock = { ok: false, reason: 'vc_invalid' };
const OVERSIZED: DecodedClock = { ok: false, reason: 'vc_oversized' };

/**
 * Decodes an `X-Raceway-VC` value strictly (spec 3.3, 3.4). Never throws: anything but a valid
 * clock gives `{ ok: false, reason }`. The `~dropped` marker is reported as `dropped` and is not
 * part of the clock.
 *
 * @example
 * decodeClock('{"api#00000001":3, "web#00000002":1}');
 * // { ok: true, clock: VectorClock { api#00000001: 3, web#00000002: 1 }, dropped: 0 }
 * decodeClock('{"api#00000001":0}'); // { ok: false, reason: 'vc_invalid' }
 */
export function decodeClock(input: string): DecodedClock {
  if (typeof input !== 'string') return INVALID;
  if (exceedsUtf8Bytes(input, MAX_CLOCK_HEADER_BYTES)) return OVERSIZED;
  // A hand-written scanner rather than JSON.parse: JSON.parse silently keeps the last of two
  // duplicate keys, accepts escapes, exponents and fractions, and builds objects whose keys
  // (`__proto__`) need care. The grammar is tiny and regular (one flat object of ASCII keys and
  // positive integers), so one left-to-right pass checks all of spec 3.3 exactly, reports the
  // first problem it meets, and allocates nothing but the result.
  const n = input.length;
  let i = skipWhitespace(input, 0);
  if (input.charCodeAt(i) !== OPEN) return INVALID;
  i = skipWhitespace(input, i + 1);
  const entries = new Map<string, number>();
  let dropped = 0;
  if (input.charCodeAt(i) === CLOSE) {
    i++;
  } else {
    for (;;) {
      if (input.charCodeAt(i) !== QUOTE) return INVALID;
      const keyStart = i + 1;
      const isMarker = input.startsWith(MARKER_TOKEN, keyStart);
      let keyEnd: number;
      if (isMarker) {
        if (dropped > 0) return INVALID; // the marker twice is a duplicate key
        keyEnd = keyStart + CLOCK_DROPPED_KEY.length;
      } else {
        // More than 64 entries: stop here, before reading the rest (spec 3.3).
        if (entries.size >= MAX_CLOCK_ENTRIES) return OVERSIZED;
        keyEnd = keyStart;
        let code = input.charCodeAt(keyEnd);
        while (code < 128 && KEY_CHAR[code] === 1) code = input.charCodeAt(++keyEnd);
        const length = keyEnd - keyStart;
        if (code !== QUOTE || length === 0 || length > MAX_KEY_LENGTH) return INVALID;
      }
      i = skipWhitespace(input, keyEnd + 1);
      if (input.charCodeAt(i) !== COLON) return INVALID;
      i = skipWhitespace(input, i + 1);
      // Counter: [1-9][0-9]*, at most 2^53-1. A leading 0 is either zero or a leading zero;
      // a sign, quote, fraction or exponent fails the check that follows the digits.
      let code = input.charCodeAt(i);
      if (!(code > DIGIT_0 && code <= DIGIT_9)) return INVALID;
      const start = i;
      let value = 0;
      while (code >= DIGIT_0 && code <= DIGIT_9) {
        if (i - start >= MAX_COUNTER_DIGITS) return INVALID;
        value = value * 10 + (code - DIGIT_0);
        code = input.charCodeAt(++i);
      }
      // Above 2^53 the sum may round, but only upwards of 2^53, so the test stays exact.
      if (value > MAX_CLOCK_COUNTER) return INVALID;
      if (isMarker) {
        dropped = value;
      } else {
        const size = entries.size;
        entries.set(input.slice(keyStart, keyEnd), value);
        if (entries.size === size) return INVALID; // a duplicate key
      }
      i = skipWhitespace(input, i);
      code = input.charCodeAt(i);
      if (code === COMMA) {
        i = skipWhitespace(input, i + 1);
        continue;
      }
      if (code === CLOSE) {
        i++;
        break;
      }
      return INVALID;
    }
  }
  if (skipWhitespace(input, i) !== n) return INVALID;
  return { ok: true, clock: adoptValidatedEntries(entries), dropped };
}

function skipWhitespace(input: string, from: number): number {
  let i = from;
  for (;;) {
    const code = input.charCodeAt(i);
    if (code !== SPACE && code !== TAB && code !== LF && code !== CR) return i;
    i++;
  }
}

/** True when `input` encoded as UTF-8 is longer than `max` bytes (counted without encoding). */
function exceedsUtf8Bytes(input: string, max: number): boolean {
  if (input.length > max) return true;
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short strings need no count.
  if (input.length * 3 <= max) return false;
  let bytes = 0;
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(input.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
    if (bytes > max) return true;
  }
  return false;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
