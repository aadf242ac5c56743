import type { Clock } from './types.js';

// Vector clock comparison as spec section 3.5 defines it (absent entries are 0).

export type Relation = 'equal' | 'before' | 'after' | 'concurrent';

export function compareClocks(a: Clock, b: Clock): Relation {
  let less = false;
  let greater = false;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[key] ?? 0;
    const y = b[key] ?? 0;
    if (x < y) less = true;
    else if (x > y) greater = true;
    if (less && greater) return 'concurrent';
  }
  if (less) return 'before';
  if (greater) return 'after';
  return 'equal';
}

/** The sum of a clock's counters: strictly grows along happens-before, so it sorts causally. */
export function clockWeight(clock: Clock): number {
  let sum = 0;
  for (const value of Object.values(clock)) sum += value;
  return sum;
}
