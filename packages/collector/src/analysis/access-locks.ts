import type { Access } from './accesses.js';
import { ownEpoch } from './clock.js';
import { compareIds } from './collections.js';
import type { Event } from './event.js';
import type { SqlEventAccess } from './sql/sql-accesses.js';

/**
 * The locks held at each access (`prepareAccesses`): each context's lock state while the
 * events are read in input order, the check that a context's events came in its program order,
 * and, for a context whose events did not, its accesses given their locks again in that order.
 */

/** No locks. */
export const EMPTY: readonly string[] = Object.freeze([]);

/** An access event of a context that builds no access: it still takes its place in program order. */
export interface Blank {
  ctx: number;
  position: number;
  event: Event;
}

/**
 * The lock events of a context that took locks (in input order, with their own epochs and
 * input positions, read while each event was at hand), then the indices of its accesses.
 * `locks[i]` null: an access event that built no access.
 */
export interface LockingChain {
  events: Event[];
  epochs: number[];
  positions: number[];
  locks: Array<string | null>;
  acquires: boolean[];
  accesses: number[];
}

/**
 * Per context, its previous event (of those {@link prepareAccesses} reads) in input order, to
 * tell whether its events came in program order (`byProgramOrder`, accesses.ts): the same comparison of
 * neighbours that decided, before one pass built the accesses, whether to sort them.
 */
export class ProgramOrderCheck {
  /** Per context, its previous event's key: an access (its copies) or a lock or blank event's. */
  private readonly last: Array<ProgramOrderKey | undefined> = [];
  /** Contexts with an event out of program order. */
  readonly disordered = new Set<number>();

  next(ctx: number, key: ProgramOrderKey): void {
    const last = this.last[ctx];
    if (last !== undefined) {
      const order = last.epoch - key.epoch;
      if (order > 0 || (order === 0 && (last.tsUs - key.tsUs || compareIds(last.id, key.id)) > 0))
        this.disordered.add(ctx);
    }
    this.last[ctx] = key;
  }
}

/** What program order compares: own epoch, time, id (an access carries copies of them). */
interface ProgramOrderKey {
  epoch: number;
  tsUs: number;
  id: string;
}

/** The program-order key of an event that builds no access. */
export function keyOf(event: Event, epoch = ownEpoch(event)): ProgramOrderKey {
  return { epoch, tsUs: event.ts_us, id: event.id };
}

/**
 * The accesses in their final order: the input order, except that the accesses of a locking
 * context whose events came out of its program order are given their locks again in that
 * order and take its places in the list in that order. (The list stays in input order, which is
 * the order the accesses were allocated in: the passes that follow read memory front to back.)
 * Context numbers come out as they always have: locking contexts first, in the order of their
 * first lock event, then the others in order of appearance (the cross-trace detector walks
 * contexts by number).
 */
export function withLocks({
  accesses,
  positions,
  blanks,
  chains,
  contexts,
  disordered,
  lockSets,
  sqlSources,
}: {
  accesses: Access[];
  positions: readonly number[];
  blanks: readonly Blank[];
  chains: Map<number, LockingChain>;
  contexts: number;
  disordered: ReadonlySet<number>;
  lockSets: LockSets;
  sqlSources: ReadonlyMap<Access, SqlEventAccess> | undefined;
}): Access[] {
  const renumbered = new Int32Array(contexts).fill(-1);
  /** The chains of disordered contexts, by (old) context number. */
  const redone: Array<LockingChain | undefined> = [];
  let next = 0;
  for (const [ctx, chain] of chains) {
    renumbered[ctx] = next++;
    if (disordered.has(ctx)) redone[ctx] = chain;
  }
  for (let ctx = 0; ctx < contexts; ctx++) if (renumbered[ctx] === -1) renumbered[ctx] = next++;
  if (disordered.size > 0) addBlanks(blanks, redone);
  for (let k = 0; k < accesses.length; k++) {
    const access = accesses[k]!;
    if (disordered.size > 0) redone[access.ctx]?.accesses.push(k);
    access.ctx = renumbered[access.ctx]!;
  }
  if (disordered.size === 0) return accesses;
  const out = accesses.slice();
  for (const chain of redone) {
    if (chain === undefined) continue;
    const held = new HeldLocks(lockSets);
    // The context's places in the list, in list order, take its accesses in program order.
    let place = 0;
    for (const code of programOrder(chain, accesses, positions)) {
      if (code >= 0) {
        const access = accesses[code]!;
        const source = sqlSources?.get(access);
        if (source === undefined) {
          access.locks = held.locks();
          access.lockHolds = held.holds();
        } else [access.locks, access.lockHolds] = sqlLocks(held.locks(), held.holds(), source);
        out[chain.accesses[place++]!] = access;
        continue;
      }
      const lock = chain.locks[-code - 1]!;
      if (lock === null) continue;
      if (chain.acquires[-code - 1]) held.acquire(lock);
      else held.release(lock);
    }
  }
  return out;
}

/** Files the blank access events of locking contexts among their lock events, by position. */
function addBlanks(
  blanks: readonly Blank[],
  chainOf: ReadonlyArray<LockingChain | undefined>,
): void {
  const touched = new Set<LockingChain>();
  for (const { ctx, position, event } of blanks) {
    const chain = chainOf[ctx];
    if (chain === undefined) continue;
    chain.events.push(event);
    chain.epochs.push(ownEpoch(event));
    chain.positions.push(position);
    chain.locks.push(null);
    chain.acquires.push(false);
    touched.add(chain);
  }
  for (const chain of touched) {
    const order = chain.positions
      .map((_, i) => i)
      .sort((a, b) => chain.positions[a]! - chain.positions[b]!);
    for (const key of ['events', 'epochs', 'positions', 'locks', 'acquires'] as const) {
      const column = chain[key] as unknown[];
      const sorted = order.map((i) => column[i]);
      for (let i = 0; i < sorted.length; i++) column[i] = sorted[i];
    }
  }
}

/**
 * A locking context's lock events and accesses in program order (`byProgramOrder`, accesses.ts), as
 * codes: an access index (>= 0) or -(lock event index + 1): a stable sort of their input order.
 */
function programOrder(
  chain: LockingChain,
  accesses: readonly Access[],
  positions: readonly number[],
): number[] {
  const codes: number[] = [];
  let r = 0;
  for (const k of chain.accesses) {
    while (r < chain.positions.length && chain.positions[r]! < positions[k]!) codes.push(-++r);
    codes.push(k);
  }
  while (r < chain.positions.length) codes.push(-++r);
  const epoch = (code: number) => (code >= 0 ? accesses[code]!.epoch : chain.epochs[-code - 1]!);
  const compare = (x: number, y: number) =>
    epoch(x) - epoch(y) ||
    (x >= 0 ? accesses[x]!.tsUs : chain.events[-x - 1]!.ts_us) -
      (y >= 0 ? accesses[y]!.tsUs : chain.events[-y - 1]!.ts_us) ||
    compareIds(
      x >= 0 ? accesses[x]!.id : chain.events[-x - 1]!.id,
      y >= 0 ? accesses[y]!.id : chain.events[-y - 1]!.id,
    );
  return codes.sort(compare);
}

/**
 * The locks a context holds while its events are walked in program order (a lock taken twice
 * without release is held until released twice). The sorted lists of locks and of hold tokens
 * are built once per change and shared by every access made in between: most accesses of a
 * locking context come between the same acquire and release.
 */
export class HeldLocks {
  private readonly held = new Map<string, { depth: number; hold: number }>();
  private holdSeq = 0;
  private cachedLocks: readonly string[] | null = EMPTY;
  private cachedHolds: readonly string[] = EMPTY;

  constructor(private readonly lockSets: LockSets) {}

  acquire(lock: string): void {
    const current = this.held.get(lock);
    if (current) current.depth++;
    else {
      this.held.set(lock, { depth: 1, hold: ++this.holdSeq });
      this.cachedLocks = null;
    }
  }

  release(lock: string): void {
    const current = this.held.get(lock);
    if (current && --current.depth === 0) {
      this.held.delete(lock);
      this.cachedLocks = null;
    }
  }

  /** Locks held, sorted. */
  locks(): readonly string[] {
    if (this.cachedLocks === null) this.refresh();
    return this.cachedLocks!;
  }

  /** One token per held lock and acquisition, in the order of {@link locks}. */
  holds(): readonly string[] {
    if (this.cachedLocks === null) this.refresh();
    return this.cachedHolds;
  }

  private refresh(): void {
    if (this.held.size === 0) {
      this.cachedLocks = EMPTY;
      this.cachedHolds = EMPTY;
      return;
    }
    const locks = this.lockSets.shared([...this.held.keys()].sort());
    this.cachedLocks = locks;
    this.cachedHolds = locks.map((l) => `${l}\u0000${this.held.get(l)!.hold}`);
  }
}

/**
 * One array per set of locks held, shared by every access made under that set in any context:
 * the conflict classes know a locks array by identity (race-classes.ts), so a lock taken and
 * released around each access would otherwise give each access a class name to build.
 */
export class LockSets {
  private readonly byName = new Map<string, readonly string[]>();

  /** The shared array equal to `sorted` (itself when it is the first of its set). */
  shared(sorted: readonly string[]): readonly string[] {
    const name = sorted.length === 1 ? sorted[0]! : sorted.join('\u0000');
    const known = this.byName.get(name);
    if (known === undefined) {
      this.byName.set(name, sorted);
      return sorted;
    }
    // Names joined with \u0000 can coincide for different sets: share equal sets only.
    return known.length === sorted.length && known.every((lock, i) => lock === sorted[i])
      ? known
      : sorted;
  }
}

/**
 * The locks and hold tokens of a database access: those its context held, with the database
 * locks its transaction held.
 */
export function sqlLocks(
  locks: readonly string[],
  lockHolds: readonly string[],
  source: SqlEventAccess,
): [readonly string[], readonly string[]] {
  return [
    source.locks.length === 0 ? locks : [...new Set([...locks, ...source.locks])].sort(),
    source.holds.length === 0 ? lockHolds : [...lockHolds, ...source.holds],
  ];
}
