import { clockSum, ownEpoch } from './clock.js';
import { getOrCreate } from './collections.js';
import { type Event, isAtomicWrite, lockOf, resourceOf } from './event.js';
import { isStructuralEvent } from './inferred-order.js';
import { type SqlAnalysisOptions, type SqlEventAccess, sqlAccesses } from './sql/sql-accesses.js';

/** A state access with what the race rules need, computed once. */
export interface Access {
  event: Event;
  /**
   * Copies of the event's id, time, component and clock: the sorts and the sweep read these for
   * every comparison, and an access (allocated with its neighbours) is much closer at hand than
   * an event of a trace of 10^6 events.
   */
  id: string;
  tsUs: number;
  component: string;
  clock: Record<string, number>;
  resource: string;
  /** The access's context (trace and component), as a small number unique within one call. */
  ctx: number;
  write: boolean;
  /** An atomic write (it cannot lose another write); always false for reads. */
  atomic: boolean;
  /** Locks its context held at the access (acquired and not yet released), sorted. */
  locks: readonly string[];
  /** One token per held lock and acquisition, so a lock released and taken again differs. */
  lockHolds: readonly string[];
  /** The event's own epoch (its place in its context's program order). */
  epoch: number;
  /** Sum of the clock: the primary key of the happens-before-consistent order. */
  sum: number;
  /** The clock was truncated or malformed: happens-before involving it may be missing. */
  uncertain: boolean;
  /** The clock was inferred from the trace's structure (inferred-order.ts), not recorded. */
  inferred: boolean;
  /**
   * An access of a `db_query` event (DESIGN 11): what it read or wrote (a parameter digest), in
   * place of the `value` a state event carries.
   */
  sql?: { value?: string };
}

/** Program order of a context: own epoch, then time, then id (for malformed clocks). */
export function byProgramOrder(a: Event, b: Event): number {
  return ownEpoch(a) - ownEpoch(b) || a.ts_us - b.ts_us || compareIds(a.id, b.id);
}

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Small numbers for contexts (trace id and component). Components are random per context, so
 * one trace per component is the rule; a component seen in a second trace gets a map of its own.
 */
class ContextIds {
  private readonly byComponent = new Map<
    string,
    { trace: string; id: number; others?: Map<string, number> }
  >();
  size = 0;
  /**
   * The context of the previous call: a context's events often come in a row, and a lookup in
   * a map of one entry per request (10^5 requests and more for the cross-trace detector) costs
   * cache misses that comparing two short strings does not.
   */
  private lastComponent: string | null = null;
  private lastTrace = '';
  private lastId = 0;

  of(event: Event): number {
    if (this.lastComponent === event.component && this.lastTrace === event.trace_id)
      return this.lastId;
    this.lastComponent = event.component;
    this.lastTrace = event.trace_id;
    this.lastId = this.lookUp(event);
    return this.lastId;
  }

  private lookUp(event: Event): number {
    const known = this.byComponent.get(event.component);
    if (known === undefined) {
      const id = this.size++;
      this.byComponent.set(event.component, { trace: event.trace_id, id });
      return id;
    }
    if (known.trace === event.trace_id) return known.id;
    known.others ??= new Map();
    const others = known.others;
    return getOrCreate(others, event.trace_id, () => this.size++);
  }
}

/**
 * The state accesses among `events`, each with the locks its context held at that point. Lock
 * events bracket accesses in their context's program order (a lock taken twice without release
 * is held until released twice); an access with an empty resource name is skipped. The result
 * keeps the input order, except that accesses of a context that took locks come in its program
 * order.
 *
 * @example
 * const accesses = prepareAccesses(traceEvents);
 * accesses.filter((a) => a.write && a.locks.length === 0); // unprotected writes
 */
export function prepareAccesses(
  events: readonly Event[],
  options: SqlAnalysisOptions = {},
): Access[] {
  const ids = new ContextIds();
  // One pass finds both the contexts that took locks (they need their events in program order;
  // the others need no grouping) and whether there are `db_query` events: each pass over the
  // events of a large trace costs a cache miss per event.
  const locking = new Map<number, LockingChain>();
  let hasSql = false;
  for (const event of events) {
    if (event.kind === 'db_query') hasSql = true;
    else if (lockOf(event) !== null) {
      const ctx = ids.of(event);
      if (!locking.has(ctx)) locking.set(ctx, { events: [], epochs: [] });
    }
  }
  // `db_query` events: their accesses and the database locks held at each, by transaction.
  const sql = hasSql ? sqlAccesses(events, options).byEvent : null;
  const isAccessEvent = (event: Event) => resourceOf(event) !== null || sql?.has(event) === true;
  const out: Access[] = [];
  for (const event of events) {
    const isLock = lockOf(event) !== null;
    if (!isLock && !isAccessEvent(event)) continue;
    const ctx = ids.of(event);
    const chain = locking.get(ctx);
    if (chain !== undefined) {
      chain.events.push(event);
      chain.epochs.push(ownEpoch(event));
    } else if (!isLock) pushAccess(out, event, ctx, EMPTY, EMPTY, sql?.get(event));
  }
  for (const [ctx, chain] of locking) {
    const held = new HeldLocks();
    for (const event of inProgramOrder(chain)) {
      const lock = lockOf(event);
      if (lock === null) pushAccess(out, event, ctx, held.locks(), held.holds(), sql?.get(event));
      else if (event.kind === 'lock_acquire') held.acquire(lock);
      else held.release(lock);
    }
  }
  return out;
}

/**
 * The events of one context in program order ({@link byProgramOrder}). They mostly arrive in
 * it already, so a pass over the epochs read beforehand checks that first: the sort's
 * comparator reads two epochs from the clocks per comparison.
 */
function inProgramOrder({ events, epochs }: LockingChain): Event[] {
  for (let i = 1; i < events.length; i++) {
    const order = epochs[i - 1]! - epochs[i]!;
    if (order > 0 || (order === 0 && byProgramOrder(events[i - 1]!, events[i]!) > 0))
      return events.sort(byProgramOrder);
  }
  return events;
}

/**
 * The lock and access events of a context that took locks, in input order, with their own
 * epochs read while each event was at hand (reading them again later misses the CPU caches
 * once per event of a large trace).
 */
interface LockingChain {
  events: Event[];
  epochs: number[];
}

/**
 * The locks a context holds while its events are walked in program order (a lock taken twice
 * without release is held until released twice). The sorted lists of locks and of hold tokens
 * are built once per change and shared by every access made in between: most accesses of a
 * locking context come between the same acquire and release.
 */
class HeldLocks {
  private readonly held = new Map<string, { depth: number; hold: number }>();
  private holdSeq = 0;
  private cachedLocks: readonly string[] | null = EMPTY;
  private cachedHolds: readonly string[] = EMPTY;

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
    const locks = [...this.held.keys()].sort();
    this.cachedLocks = locks;
    this.cachedHolds = locks.map((l) => `${l}\u0000${this.held.get(l)!.hold}`);
  }
}

function pushAccess(
  out: Access[],
  event: Event,
  ctx: number,
  locks: readonly string[],
  lockHolds: readonly string[],
  sql?: readonly SqlEventAccess[],
): void {
  if (sql !== undefined) {
    for (const a of sql) {
      const both = a.locks.length === 0 ? locks : [...new Set([...locks, ...a.locks])].sort();
      const holds = a.holds.length === 0 ? lockHolds : [...lockHolds, ...a.holds];
      const access = newAccess(event, a.resource, ctx, a.write, a.atomic, both, holds);
      access.sql = a.value === undefined ? {} : { value: a.value };
      out.push(access);
    }
    return;
  }
  const resource = resourceOf(event);
  if (resource === null || resource === '') return;
  const write = event.kind === 'state_write';
  out.push(newAccess(event, resource, ctx, write, isAtomicWrite(event), locks, lockHolds));
}

/**
 * An access, its clock read once: the own epoch and whether the clock is uncertain come from one
 * lookup of the event's own entry (the same tests as `ownEpoch` and `isClockUncertain`), since
 * keyed clock lookups are much of what preparing 10^6 accesses costs.
 */
function newAccess(
  event: Event,
  resource: string,
  ctx: number,
  write: boolean,
  atomic: boolean,
  locks: readonly string[],
  lockHolds: readonly string[],
): Access {
  const own = event.clock[event.component];
  const recorded = typeof own === 'number';
  return {
    event,
    id: event.id,
    tsUs: event.ts_us,
    component: event.component,
    clock: event.clock,
    resource,
    ctx,
    write,
    atomic,
    locks,
    lockHolds,
    epoch: recorded ? own : Number.POSITIVE_INFINITY,
    sum: clockSum(event.clock),
    uncertain: event.clock_dropped !== undefined || !recorded,
    inferred: event.clock_inferred === true || isStructuralEvent(event),
  };
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * Sorts accesses into an order consistent with happens-before: by clock sum (e -> f implies
 * sum(e) < sum(f)), then time, then event id, so the result never depends on input order.
 */
export function sortHappensBeforeConsistent(accesses: Access[]): Access[] {
  return accesses.sort((a, b) => a.sum - b.sum || a.tsUs - b.tsUs || compareIds(a.id, b.id));
}
