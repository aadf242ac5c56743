import fc from 'fast-check';
import { VectorClock } from './vector-clock.js';

// Test-only generators shared by the clock and propagation property tests. A few fixed keys
// make clocks overlap often (merge and compare are only interesting on shared components);
// random keys cover the whole alphabet.
const commonKeys = fc.constantFrom('a', 'b', 'c', 'api#00000001', 'web#0a1b2c3d', 'db#ffffffff');
export const clockKey = fc.oneof(
  { arbitrary: commonKeys, weight: 3 },
  { arbitrary: fc.stringMatching(/^[A-Za-z0-9._:#@/+-]{1,64}$/), weight: 1 },
);
export const counter = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 4 }), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), weight: 1 },
);

/** A clock of up to `maxEntries` entries. */
export function clockArb(maxEntries = 8): fc.Arbitrary<VectorClock> {
  return fc
    .uniqueArray(fc.tuple(clockKey, counter), {
      selector: (entry) => entry[0],
      maxLength: maxEntries,
    })
    .map((entries) => new VectorClock(entries));
}
