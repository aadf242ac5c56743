import { type Access, sortHappensBeforeConsistent } from './accesses.js';
import { concurrentFull } from './clock.js';
import { getOrCreate } from './collections.js';
import { ConflictClasses } from './race-classes.js';
import type { RacePair } from './race-pairs.js';

/**
 * The reported race pairs computed straight from their definition (see `findRacePairs`):
 * every pair of accesses of a resource is compared with the full vector-clock comparison, and
 * for every access and every key the latest concurrent access of that key is found by a scan.
 * Quadratic: for tests and benchmarks, which hold the fast detector to the same output.
 *
 * @example
 * const accesses = prepareAccesses(events);
 * findRacePairsBruteForce(accesses).length === findRacePairs(accesses).length; // true
 */
export function findRacePairsBruteForce(accesses: readonly Access[]): RacePair[] {
  const classes = new ConflictClasses();
  const sorted = sortHappensBeforeConsistent([...accesses]);
  const position = new Map<Access, number>();
  for (let i = 0; i < sorted.length; i++) position.set(sorted[i]!, i);
  const byResource = new Map<string, Access[]>();
  for (const access of sorted) {
    getOrCreate(byResource, access.resource, () => []).push(access);
  }
  const pairs: RacePair[] = [];
  for (const group of byResource.values()) {
    // Chains per key, in program order.
    const chains = new Map<string, Access[]>();
    const keyOf = new Map<Access, string>();
    for (const access of group) {
      const key = `${classes.classOf(access)}\u0000${access.event.component}`;
      keyOf.set(access, key);
      getOrCreate(chains, key, () => []).push(access);
    }
    for (const chain of chains.values()) chain.sort((x, y) => x.epoch - y.epoch);
    const races = (e: Access, f: Access) =>
      e.event.component !== f.event.component &&
      classes.conflicts(classes.classOf(e), classes.classOf(f)) &&
      concurrentFull(e.event, f.event);
    // latest.get(f).get(key) = the latest access of `key` concurrent with f (and racing it).
    const latest = new Map<Access, Map<string, Access>>();
    for (const f of group) {
      const perKey = new Map<string, Access>();
      for (const [key, chain] of chains) {
        let found: Access | undefined;
        for (const e of chain) if (races(e, f)) found = e;
        if (found !== undefined) perKey.set(key, found);
      }
      latest.set(f, perKey);
    }
    for (const f of group) {
      for (const e of latest.get(f)!.values()) {
        if (latest.get(e)!.get(keyOf.get(f)!) !== f) continue;
        // Each mutual pair is seen from both ends; keep it once, earlier access first.
        if (position.get(e)! < position.get(f)!) pairs.push([e, f]);
      }
    }
  }
  return pairs;
}
