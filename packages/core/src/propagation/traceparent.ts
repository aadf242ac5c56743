import { isValidSpanId, isValidTraceId } from '../ids.js';
import { headerCopies, singleHeader } from './carrier.js';

/** A parsed W3C `traceparent` (spec 2.2). */
export interface Traceparent {
  version: string;
  traceId: string;
  /** The span id of the caller's span. */
  parentId: string;
  flags: string;
}

const TRACEPARENT_LENGTH = 55;
const LOWER_HEX_2 = /^[0-9a-f]{2}$/;

/**
 * Parses a `traceparent` value per W3C Trace Context level 1 (spec 2.2): version `00` is
 * exactly 55 characters; a higher version (not `ff`) may be longer if the 56th character is
 * `-`, and only its first 55 characters are read. Returns null for anything invalid; never
 * throws. The value is expected trimmed.
 *
 * @example
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
 * // { version: '00', traceId: '4bf92f35…', parentId: '00f067aa0ba902b7', flags: '01' }
 */
export function parseTraceparent(value: string): Traceparent | null {
  if (typeof value !== 'string' || value.length < TRACEPARENT_LENGTH) return null;
  const version = value.slice(0, 2);
  if (!LOWER_HEX_2.test(version) || version === 'ff') return null;
  if (version === '00' && value.length !== TRACEPARENT_LENGTH) return null;
  if (value.length > TRACEPARENT_LENGTH && value[TRACEPARENT_LENGTH] !== '-') return null;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return null;
  const traceId = value.slice(3, 35);
  const parentId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!isValidTraceId(traceId) || !isValidSpanId(parentId) || !LOWER_HEX_2.test(flags)) {
    return null;
  }
  return { version, traceId, parentId, flags };
}

/**
 * The `traceparent` Raceway emits: version 00, with the context's trace flags (spec 2.2).
 *
 * @example
 * formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', '03');
 * // '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03'
 */
export function formatTraceparent(traceId: string, spanId: string, flags: string): string {
  return `00-${traceId}-${spanId}-${flags}`;
}

/** What a `traceparent` header gave (spec 2.1, 2.2, 2.4). */
export type TraceparentHeader =
  | { kind: 'absent' }
  | { kind: 'valid'; traceparent: Traceparent }
  | { kind: 'invalid'; reason: 'traceparent_invalid' | 'duplicate_conflict' };

const ABSENT: TraceparentHeader = { kind: 'absent' };

/**
 * Reads `traceparent`: copies (a list or a comma-separated value, which a valid traceparent
 * never contains) are trimmed and must be identical, then parsed.
 */
export function readTraceparentHeader(value: unknown): TraceparentHeader {
  const single = singleHeader(headerCopies(value, true));
  if (single.kind === 'absent') return ABSENT;
  if (single.kind === 'conflict') return { kind: 'invalid', reason: 'duplicate_conflict' };
  const traceparent = parseTraceparent(single.value);
  return traceparent === null
    ? { kind: 'invalid', reason: 'traceparent_invalid' }
    : { kind: 'valid', traceparent };
}
