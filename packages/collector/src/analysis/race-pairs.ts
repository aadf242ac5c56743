import { AccessTable } from './access-table.js';
import type { Access } from './accesses.js';
import { entry } from './clock.js';
import { ClockView } from './clock-view.js';
import { ConflictClasses } from './race-classes.js';

/**
 * A racing pair, `[a, b]` with `a` first in the happens-before-consistent order (clock sum,
 * time, event id).
 */
export type RacePair = readonly [Access, Access];

/**
 * Intra-trace race pairs: the fast detector.
 *
 * ## Which pairs are reported
 *
 * Two accesses e, f to the same resource **race** when they come from different contexts,
 * at least one is a write, they are not both atomic writes, no lock is held at both (the locks
 * a context holds are those its `lock_acquire`/`lock_release` events bracket around the access),
 * and neither happens before the other.
 *
 * The **key** of an access is its context together with its class (read or write, atomic or
 * not, the set of locks held). The accesses of one key form a chain in program order, and
 * whether two accesses race depends only on their two keys and their clocks. The accesses of a
 * key that are concurrent with a given access f form one contiguous stretch of that chain
 * (those before the stretch happen before f, those after it happen after f).
 *
 * The pairs that matter are the **mutually latest racing pairs**: {e, f} is reported iff
 *   1. e and f race,
 *   2. e is the latest access of its key that is concurrent with f, and
 *   3. f is the latest access of its key that is concurrent with e.
 *
 * So a loop of a hundred writes racing with one write of another context is one finding (the
 * last write of the loop against it), not a hundred; a read and a write of the same context
 * that both race with a write of another context are two findings (their keys differ); and two
 * contexts that race, synchronise, then race again give two findings, one per stretch. Between
 * two keys there are at most min(|K1|, |K2|) reported pairs.
 *
 * `findRacePairsBruteForce` computes this set straight from the definition (all pairs, full
 * vector-clock comparison); the property test holds the two to the same output on random
 * happens-before graphs.
 *
 * ## How
 *
 * One sort into a happens-before-consistent order, then a sweep per resource that keeps, for
 * each key, its latest access so far and the candidate pairs waiting on it. When f arrives:
 *   - f is the next access of its key K after `last(K)`. Every pending candidate {last(K), g}
 *     is settled: if f is concurrent with g, last(K) is not the latest of K concurrent with g
 *     and the candidate dies; otherwise g -> f, so no later access of K is concurrent with g
 *     either, and condition 2 or 3 holds for good.
 *   - For every other key L whose class conflicts with f's and whose latest access g is
 *     concurrent with f, {g, f} becomes a candidate. Any reported pair {e, f} with e earlier
 *     in the order is found this way: an access of e's key between e and f would be
 *     concurrent with f, contradicting condition 2.
 * Candidates still alive at the end are exactly the reported pairs. Happens-before is
 * FastTrack's O(1) epoch test. The keys of a resource are kept by context, with the largest own
 * epoch among their latest accesses: when f's clock holds that much of the context, every key
 * of the context happens before f, and one test passes over all of them. A resource that only
 * one context accessed has no race and is not swept.
 *
 * ## Cost
 *
 * O(n log n) for the sort, plus, per access, one check per context active on the resource and
 * one per key in a conflicting class of a context not wholly in f's past. A key whose latest
 * access is not concurrent with f belongs to a context in f's clock, and event clocks hold at
 * most 64 entries (spec 3.4); every other key checked yields a candidate. So the sweep is
 * O(n * k), k the number of keys concurrently active on a resource (DJIT+'s bound, FastTrack's
 * in the read-shared case), linear for a bounded number of concurrent contexts per resource.
 * The output is output-sensitive in the worst case: m contexts all writing one resource
 * concurrently give m(m-1)/2 pairs, and so does any definition that reports each racing pair
 * of contexts.
 *
 * Truncated clocks (`clock_dropped`) lose entries, so old contexts look concurrent: pairs
 * found through them are qualified later (see `buildRaces`).
 */
export function findRacePairs(accesses: readonly Access[]): RacePair[] {
  const classes = new ConflictClasses();
  const table = new AccessTable(accesses, classes, false);
  const view = new ClockView();
  const out: Candidate[] = [];
  // A resource only one context accessed has no race: its accesses are not even sorted.
  for (let g = 0; g < table.groups; g++)
    if (table.shared[g] === 1) sweepResource(table, g, classes, view, out);
  const pairs: RacePair[] = [];
  const { order } = table;
  for (const candidate of out)
    if (candidate.alive)
      pairs.push([accesses[order[candidate.a]!]!, accesses[order[candidate.b]!]!]);
  return pairs;
}

/** A candidate pair of rows of the {@link AccessTable}, `a` first in the order. */
interface Candidate {
  a: number;
  b: number;
  alive: boolean;
}

interface KeyState {
  cls: number;
  /** Row of the key's latest access. */
  last: number;
  /** Candidates one of whose ends is `last`, settled by the key's next access. */
  pending: Candidate[];
}

/** The keys of one context on the resource being swept. */
interface ContextKeys {
  ctx: number;
  /** The context's slot in the {@link ClockView}. */
  slot: number;
  /**
   * The largest own epoch among its keys' latest accesses: when f's clock holds at least this
   * for the context, every one of them happens before f, and its keys need no test of their own.
   */
  maxEpoch: number;
  keys: KeyState[];
}

/** Accesses grouped per resource, each group in happens-before-consistent order. */
export function groupByResource(accesses: readonly Access[]): Access[][] {
  const table = new AccessTable(accesses);
  const out: Access[][] = [];
  for (let g = 0; g < table.groups; g++) out.push(table.group(g));
  return out;
}

/** Neither access happens before the other (FastTrack's epoch test). */
export function isConcurrent(a: Access, b: Access): boolean {
  return a.epoch > entry(b.clock, a.component) && b.epoch > entry(a.clock, b.component);
}

/**
 * The same test as {@link isConcurrent} for the access at row `g` against the access f
 * whose clock `view` holds, its own epoch `fEpoch` and component `fComponent`: the entry of g's
 * context in f's clock comes from the view, the other lookup (needed only when the first half
 * holds) from g's clock.
 */
function isConcurrentWithLoaded(
  table: AccessTable,
  g: number,
  gSlot: number,
  view: ClockView,
  fEpoch: number,
  fComponent: string,
): boolean {
  return table.epoch[g]! > view.entry(gSlot) && fEpoch > entry(table.clocks[g]!, fComponent);
}

/**
 * The sweep of one resource (group `g` of the table), row by row. Everything it reads per access
 * comes from the table's columns; the access objects are not touched. Keys are kept by context,
 * so that a context whose every latest access f's clock already knows is passed over in one
 * test: that is most contexts for most accesses, as contexts synchronise.
 */
function sweepResource(
  table: AccessTable,
  g: number,
  classes: ConflictClasses,
  view: ClockView,
  out: Candidate[],
): void {
  const { ctx: ctxOf, cls: clsOf, epoch, clocks, components } = table;
  const keys = new Map<number, KeyState>();
  const contexts: ContextKeys[] = [];
  const contextIndex = new Map<number, ContextKeys>();
  /** Per pair of class ids: whether they conflict (filled lazily). */
  const conflicts: boolean[][] = [];
  const end = table.starts[g + 1]!;
  for (let f = table.starts[g]!; f < end; f++) {
    const fCtx = ctxOf[f]!;
    const fEpoch = epoch[f]!;
    const fComponent = components[f]!;
    const cls = clsOf[f]!;
    let mine = contextIndex.get(fCtx);
    if (mine === undefined) {
      mine = { ctx: fCtx, slot: view.slotOfContext(fCtx, fComponent), maxEpoch: fEpoch, keys: [] };
      contextIndex.set(fCtx, mine);
      contexts.push(mine);
    }
    // Class ids stay below 2^20 (ConflictClasses), so this number names (class, context).
    const keyId = fCtx * 1_048_576 + cls;
    let own = keys.get(keyId);
    if (own === undefined) {
      own = { cls, last: f, pending: [] };
      keys.set(keyId, own);
      mine.keys.push(own);
    } else {
      if (own.pending.length > 0) view.load(clocks[f]!);
      for (const candidate of own.pending) {
        const other = candidate.a === own.last ? candidate.b : candidate.a;
        if (
          candidate.alive &&
          isConcurrentWithLoaded(
            table,
            other,
            view.slotOfContext(ctxOf[other]!, components[other]!),
            view,
            fEpoch,
            fComponent,
          )
        )
          candidate.alive = false;
      }
      own.pending.length = 0;
      own.last = f;
    }
    if (fEpoch > mine.maxEpoch) mine.maxEpoch = fEpoch;
    if (contexts.length === 1) continue;
    view.load(clocks[f]!);
    let conflictsOfMine = conflicts[cls];
    if (conflictsOfMine === undefined) conflicts[cls] = conflictsOfMine = [];
    for (const context of contexts) {
      if (context.ctx === fCtx || context.maxEpoch <= view.entry(context.slot)) continue;
      for (const key of context.keys) {
        let conflict = conflictsOfMine[key.cls];
        if (conflict === undefined)
          conflictsOfMine[key.cls] = conflict = classes.conflicts(cls, key.cls);
        if (
          !conflict ||
          !isConcurrentWithLoaded(table, key.last, context.slot, view, fEpoch, fComponent)
        )
          continue;
        const candidate: Candidate = { a: key.last, b: f, alive: true };
        key.pending.push(candidate);
        own.pending.push(candidate);
        out.push(candidate);
      }
    }
  }
}
