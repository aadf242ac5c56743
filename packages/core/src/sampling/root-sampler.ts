/**
 * The root sampling decision (spec 5.1): a pure function of the trace id, so that every SDK,
 * in every language, decides alike for the same id and rate. It is OpenTelemetry's consistent
 * probability form: R is the rightmost 56 bits of the trace id (its last 14 hex digits), the
 * threshold T is floor((1 - rate) * 2^56) in IEEE-754 doubles, and a trace is sampled when
 * R >= T. Rate 1 gives T = 0 (everything), rate 0 gives T = 2^56 (nothing).
 */

/** A compiled root decision for one rate: true when a trace id is sampled. Never throws. */
export type RootSampler = (traceId: string) => boolean;

// R and T are 56-bit integers, past the 53 bits a double holds exactly: both are compared as
// two 28-bit halves (7 hex digits each), which is exact and needs no BigInt per decision.
const HALF = 2 ** 28;

const SAMPLE_ALL: RootSampler = () => true;
const SAMPLE_NONE: RootSampler = () => false;

/**
 * The rejection threshold T for a rate in [0, 1], as the spec computes it: `1 - rate` in
 * doubles, times 2^56 (exact: a power of two), floored.
 *
 * @example
 * samplingThreshold(0.5); // 2 ** 55
 */
export function samplingThreshold(rate: number): number {
  return Math.floor((1 - rate) * 2 ** 56);
}

/**
 * Compiles the root decision for `rate` (a number in [0, 1], validated by the config layer).
 *
 * @example
 * const sampled = rootSampler(0.25); // T = 0xc0000000000000
 * sampled('4bf92f3577b34da6a3ce929d0e0e4736'); // true: R = 0xce929d0e0e4736 >= T
 * sampled('4bf92f3577b34da6a3bfffffffffffff'); // false: R = T - 1
 */
export function rootSampler(rate: number): RootSampler {
  if (rate >= 1) return SAMPLE_ALL;
  if (!(rate > 0)) return SAMPLE_NONE;
  const threshold = samplingThreshold(rate);
  // Both halves are exact: dividing by a power of two and flooring loses nothing.
  const high = Math.floor(threshold / HALF);
  const low = threshold - high * HALF;
  return (traceId) => {
    if (typeof traceId !== 'string' || traceId.length !== 32) return false;
    const rHigh = Number.parseInt(traceId.slice(18, 25), 16);
    if (rHigh !== high) return rHigh > high;
    return Number.parseInt(traceId.slice(25, 32), 16) >= low;
  };
}
