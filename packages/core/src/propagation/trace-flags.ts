/**
 * The trace flags Raceway propagates (spec 2.2): W3C `sampled` (0x01) and, from Trace Context
 * level 2, `random` (0x02: the trace id's rightmost 7 bytes are random). Other bits are zeroed
 * on output, as W3C asks of a vendor that does not know them.
 */
export type TraceFlags = '00' | '01' | '02' | '03';

const PROPAGATED: readonly TraceFlags[] = ['00', '01', '02', '03'];
const LOWER_HEX_2 = /^[0-9a-f]{2}$/;

/**
 * The flags to send on for flags received in a `traceparent` (two lowercase hex digits):
 * sampled and random kept as received, every other bit zeroed. Null for anything else.
 *
 * @example
 * propagatedFlags('01'); // '01'
 * propagatedFlags('ff'); // '03'
 * propagatedFlags('08'); // '00'
 */
export function propagatedFlags(received: string): TraceFlags | null {
  if (typeof received !== 'string' || !LOWER_HEX_2.test(received)) return null;
  return PROPAGATED[Number.parseInt(received, 16) & 0x03]!;
}

/**
 * The flags of a trace whose sampling was decided here (spec 5.2): a trace Raceway started has a
 * random id (`random` set); a trace joined through `X-Raceway-Trace-Id` alone may not.
 */
export function decidedFlags(sampled: boolean, randomTraceId: boolean): TraceFlags {
  return PROPAGATED[(sampled ? 0x01 : 0) | (randomTraceId ? 0x02 : 0)]!;
}

// Every two-digit value with the sampled bit: a lookup, as this runs for every new context.
const SAMPLED = new Set(
  Array.from({ length: 128 }, (_, i) => (i * 2 + 1).toString(16).padStart(2, '0')),
);

/** True when `flags` (two lowercase hex digits) has the sampled bit. */
export function isSampledFlags(flags: string): boolean {
  return SAMPLED.has(flags);
}
