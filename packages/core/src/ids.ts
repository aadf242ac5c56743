import { randomFillSync } from 'node:crypto';

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ANY_CASE_TRACE_ID = /^[0-9a-fA-F]{32}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ALL_ZERO = /^0+$/;
const NOT_SERVICE_CHAR = /[^A-Za-z0-9._-]/;

/** Longest service part of a component, so that `<service>#<8 hex>` fits in 64 characters. */
const MAX_SERVICE_PART = 55;

// Ids are drawn from one pooled buffer: one system call per 256 trace ids instead of one per
// id, which matters because every recorded event needs a fresh event id.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

function randomNonZeroHex(bytes: number): string {
  let hex = randomHex(bytes);
  // The all-zero id is invalid everywhere (W3C); the chance is 2^-64 at worst, but it is cheap
  // to rule out for certain.
  while (ALL_ZERO.test(hex)) hex = randomHex(bytes);
  return hex;
}

/**
 * A new random trace id: 32 lowercase hex digits, never all zero (spec 1).
 *
 * @example
 * newTraceId(); // '4bf92f3577b34da6a3ce929d0e0e4736'
 */
export function newTraceId(): string {
  return randomNonZeroHex(16);
}

/**
 * A new random span id: 16 lowercase hex digits, never all zero (spec 1).
 *
 * @example
 * newSpanId(); // '00f067aa0ba902b7'
 */
export function newSpanId(): string {
  return randomNonZeroHex(8);
}

// Event ids are the most frequent ids (every recorded event needs one) and need only be
// unique, not unpredictable: a random 64-bit prefix, drawn again in a forked process and
// before the counter could wrap, followed by a 64-bit counter. The hex of all but the counter's
// last byte is kept, so that an id is one table lookup and one concatenation.
const MAX_EVENT_COUNTER = 0xffffffff;
const BYTE_HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
let eventIdPid = -1;
let eventIdCounter = MAX_EVENT_COUNTER;
/** The prefix and the counter's upper 14 digits, as of the last multiple of 256. */
let eventIdHead = '';

/**
 * A new event id: 32 lowercase hex digits, never all zero, unique per event (spec 1): a random
 * per-process prefix (16 digits, never all zero) followed by a counter (16 digits).
 *
 * @example
 * newEventId(); // '9c4b3f1e2a7d4e0f0000000000000001'
 */
export function newEventId(): string {
  if (eventIdCounter >= MAX_EVENT_COUNTER || eventIdPid !== process.pid) {
    eventIdHead = randomNonZeroHex(8) + '0'.repeat(14);
    eventIdPid = process.pid;
    eventIdCounter = 0;
  }
  eventIdCounter += 1;
  const low = eventIdCounter & 0xff;
  if (low === 0) {
    eventIdHead =
      eventIdHead.slice(0, 16) +
      Math.floor(eventIdCounter / 256)
        .toString(16)
        .padStart(14, '0');
  }
  return eventIdHead + (BYTE_HEX[low] as string);
}

/**
 * The service part of a component name (spec 3.1): every code point outside `[A-Za-z0-9._-]`
 * becomes `_`, and the result is cut to 55 characters.
 *
 * @example
 * sanitizeServiceName('checkout api'); // 'checkout_api'
 */
export function sanitizeServiceName(service: string): string {
  let out = '';
  // for..of walks code points, so a character outside the BMP becomes one `_`, as it does in
  // the Python, Go and Rust SDKs.
  for (const ch of service) {
    out += NOT_SERVICE_CHAR.test(ch) ? '_' : ch;
    if (out.length >= MAX_SERVICE_PART) break;
  }
  return out;
}

/**
 * A new component name for one execution context: `<sanitized service>#<8 lowercase hex>`
 * (spec 3.1). Components are per execution context, never per service, so that two concurrent
 * requests to one service stay concurrent in the clocks.
 *
 * @example
 * newComponent('inventory'); // 'inventory#1f3a9c07'
 */
export function newComponent(service: string): string {
  if (service !== lastService) {
    lastServicePart = sanitizeServiceName(service);
    lastService = service;
  }
  return `${lastServicePart}#${randomHex(4)}`;
}

// A process nearly always names one service: the sanitised name of the last one is kept, so
// that a new context (one per request) does not sanitise it again.
let lastService: string | undefined;
let lastServicePart = '';

/**
 * Normalises a trace id received on input: 32 hex digits in any case, or the dashed UUID form
 * (8-4-4-4-12), become 32 lowercase hex digits. Anything else, and the all-zero id, gives null.
 * The caller trims surrounding whitespace first.
 *
 * @example
 * normalizeTraceId('4BF92F35-77B3-4DA6-A3CE-929D0E0E4736'); // '4bf92f3577b34da6a3ce929d0e0e4736'
 * normalizeTraceId('not-a-trace-id'); // null
 */
export function normalizeTraceId(input: string): string | null {
  if (typeof input !== 'string') return null;
  let hex: string;
  if (input.length === 32 && ANY_CASE_TRACE_ID.test(input)) hex = input;
  else if (input.length === 36 && UUID.test(input)) hex = input.replaceAll('-', '');
  else return null;
  hex = hex.toLowerCase();
  return ALL_ZERO.test(hex) ? null : hex;
}

/**
 * True for a trace id in its canonical form: 32 lowercase hex digits, not all zero.
 *
 * @example
 * isValidTraceId('4bf92f3577b34da6a3ce929d0e0e4736'); // true
 * isValidTraceId('4BF92F3577B34DA6A3CE929D0E0E4736'); // false (not canonical)
 */
export function isValidTraceId(value: unknown): value is string {
  return typeof value === 'string' && TRACE_ID.test(value) && !ALL_ZERO.test(value);
}

/**
 * True for a span id in its canonical form: 16 lowercase hex digits, not all zero.
 *
 * @example
 * isValidSpanId('00f067aa0ba902b7'); // true
 */
export function isValidSpanId(value: unknown): value is string {
  return typeof value === 'string' && SPAN_ID.test(value) && !ALL_ZERO.test(value);
}
