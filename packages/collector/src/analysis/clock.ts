import type { Event } from './event.js';

/**
 * Happens-before from vector clocks (DESIGN 4, spec 3.5).
 *
 * Every event increments its own component once, so its own entry is an epoch that places it
 * in its context's program order, and e -> f iff VC(e)[ctx(e)] <= VC(f)[ctx(e)] (FastTrack's
 * O(1) epoch test). The full comparison (VC(e) <= VC(f), and they differ) is kept for the
 * brute-force checker, which the property test holds against the epoch test.
 */

/**
 * The event's own epoch: its entry for its own component. An event whose clock lacks that
 * entry is malformed; it gets +Infinity so that the epoch test orders nothing after it
 * (and {@link isClockUncertain} flags it).
 */
export function ownEpoch(event: Event): number {
  const own = event.clock[event.component];
  return typeof own === 'number' ? own : Number.POSITIVE_INFINITY;
}

/** The clock's entry for `component`, 0 when absent. */
export function entry(clock: Record<string, number>, component: string): number {
  return clock[component] ?? 0;
}

/** e -> f by the epoch test. Two different events of one context are always ordered. */
export function happensBefore(e: Event, f: Event, eEpoch = ownEpoch(e)): boolean {
  return eEpoch <= entry(f.clock, e.component);
}

/** Neither e -> f nor f -> e (epoch test). */
export function concurrent(e: Event, f: Event): boolean {
  return !happensBefore(e, f) && !happensBefore(f, e);
}

/** VC(a) <= VC(b) entry by entry (absent entries are 0). */
export function clockLeq(a: Record<string, number>, b: Record<string, number>): boolean {
  for (const key in a) {
    if ((a[key] ?? 0) > (b[key] ?? 0)) return false;
  }
  return true;
}

/** e -> f by the full comparison: VC(e) <= VC(f) and the clocks differ. */
export function happensBeforeFull(e: Event, f: Event): boolean {
  return clockLeq(e.clock, f.clock) && !clockLeq(f.clock, e.clock);
}

/** Neither e -> f nor f -> e (full comparison). */
export function concurrentFull(e: Event, f: Event): boolean {
  return !happensBeforeFull(e, f) && !happensBeforeFull(f, e);
}

/**
 * The sum of the clock's entries. e -> f implies sum(e) < sum(f), so sorting by the sum (then
 * by time and id) gives an order consistent with happens-before, in one sort.
 */
export function clockSum(clock: Record<string, number>): number {
  let sum = 0;
  for (const key in clock) sum += clock[key] ?? 0;
  return sum;
}

/**
 * Whether happens-before involving this event may be missing: its context's clock was
 * truncated (spec 3.4), or the clock lacks the event's own component.
 */
export function isClockUncertain(event: Event): boolean {
  return event.clock_dropped !== undefined || typeof event.clock[event.component] !== 'number';
}
