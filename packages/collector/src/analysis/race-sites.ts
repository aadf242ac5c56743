import type { Access } from './accesses.js';
import type { Budget } from './budget.js';
import type { ConflictClasses } from './race-classes.js';
import type { RaceSide } from './race-groups.js';
import { isConcurrent } from './race-pairs.js';

/**
 * Most clock entries an event carries (spec 3.4; the event schema's `maxProperties`). An access
 * happens before f only if its context is in f's clock, so among the latest accesses of more
 * than this many other contexts at least one is concurrent with f.
 */
export const MAX_CLOCK_ENTRIES = 64;

/** Latest contexts kept per site: enough that one concurrent with f is always among them. */
const RECENT_PER_SITE = MAX_CLOCK_ENTRIES + 2;

/** One racing instance found by {@link sweepSites}: `g` earlier in the order, `f` later. */
export interface SiteRace {
  g: Access;
  f: Access;
  /** The reads that `g` and `f` wrote back (read-modify-write), when both have one. */
  basis: [Access, Access] | null;
}

interface Site {
  cls: number;
  side: RaceSide;
  /** The latest access of each of the most recently active contexts, oldest first. */
  recent: Access[];
  conflicts: boolean[];
}

/**
 * The bounded intra-trace race sweep, for a resource with more concurrent contexts than the
 * exact detector takes. Accesses are filed under **sites**: (service, route, access class). For
 * each access f (in happens-before-consistent order) and each site S whose class conflicts
 * with f's, it reports one racing instance when some access of S races with f, and it never
 * looks at more than the latest accesses of {@link RECENT_PER_SITE} contexts per site.
 *
 * That is exact about *whether* f races with site S: an access g of another context that is
 * not concurrent with f happens before it, so g's context is in f's clock (at most 64
 * entries); among the latest accesses of 65 other contexts, one is concurrent with f. What it
 * gives up is the list of every racing pair: k concurrent writers give k - 1 instances (each
 * writer against an earlier one), not k(k-1)/2 pairs. Cost O(n log n + n * s * 66), s the
 * sites of the resource, whatever the number of contexts; `budget` stops it early.
 *
 * Returns false when the budget ran out before the end.
 */
export function sweepSites(
  group: readonly Access[],
  classes: ConflictClasses,
  sideOf: (access: Access) => RaceSide,
  /** Whether a concurrent pair counts (the truncated-clock rule of the exact detector). */
  accept: (g: Access, f: Access) => boolean,
  budget: Budget,
  found: (race: SiteRace, fSide: RaceSide, gSide: RaceSide) => void,
): boolean {
  const sites: Site[] = [];
  const siteIndex = new Map<string, Site>();
  /** Per context, its previous access of this resource (program order = sweep order). */
  const previous = new Map<number, Access>();
  /** Per read-modify-write write, the read it wrote back. */
  const basisOf = new Map<Access, Access>();
  for (let i = 0; i < group.length; i++) {
    if ((i & 255) === 0 && budget.exhausted()) return false;
    const f = group[i]!;
    const cls = classes.classOf(f);
    const side = sideOf(f);
    const prev = previous.get(f.ctx);
    previous.set(f.ctx, f);
    if (f.write && !f.atomic && prev !== undefined && !prev.write) basisOf.set(f, prev);
    const key = `${cls}\u0001${side.service}\u0001${side.route ?? ''}`;
    let mine = siteIndex.get(key);
    if (mine === undefined) {
      mine = { cls, side, recent: [], conflicts: [] };
      siteIndex.set(key, mine);
      sites.push(mine);
    }
    for (const site of sites) {
      let conflicts = mine.conflicts[site.cls];
      if (conflicts === undefined) {
        mine.conflicts[site.cls] = conflicts = classes.conflicts(cls, site.cls);
      }
      if (!conflicts) continue;
      const recent = site.recent;
      for (let j = recent.length - 1; j >= 0; j--) {
        const g = recent[j]!;
        if (g.ctx === f.ctx || !isConcurrent(g, f) || !accept(g, f)) continue;
        const gBasis = basisOf.get(g);
        const fBasis = basisOf.get(f);
        found({ g, f, basis: gBasis && fBasis ? [gBasis, fBasis] : null }, side, site.side);
        break;
      }
    }
    const recent = mine.recent;
    const at = recent.findIndex((a) => a.ctx === f.ctx);
    if (at >= 0) {
      basisOf.delete(recent[at]!);
      recent.splice(at, 1);
    } else if (recent.length >= RECENT_PER_SITE) {
      basisOf.delete(recent.shift()!);
    }
    recent.push(f);
  }
  return true;
}
