import {
  type Blank,
  EMPTY,
  HeldLocks,
  keyOf,
  type LockingChain,
  LockSets,
  ProgramOrderCheck,
  sqlLocks,
  withLocks,
} from './access-locks.js';
import { clockSum, ownEpoch } from './clock.js';
import { compareIds, getOrCreate } from './collections.js';
import { type Event, isAtomicWrite, stringField } from './event.js';
import { isStructuralEvent } from './inferred-order.js';
import { type SqlAnalysisOptions, type SqlEventAccess, sqlAccesses } from './sql/sql-accesses.js';
import { StringIds } from './string-ids.js';

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
  /**
   * The resource as a small number unique within one call: the sweeps group accesses by it
   * without hashing the name of each (read while the event was at hand).
   */
  resourceId: number;
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

export { compareIds };

/**
 * Small numbers for contexts (trace id and component). Components are random per context, so
 * one trace per component is the rule; a component seen in a second trace gets a map of its own.
 */
class ContextIds {
  /** Components numbered as seen (a request each, 10^5 and more across traces). */
  private readonly components = new StringIds();
  /** Per component number: the trace it was first seen in, and that context's id. */
  private readonly firstTrace: string[] = [];
  private readonly firstId: number[] = [];
  /** Per component number: the contexts of its other traces, by trace id. */
  private readonly others: Array<Map<string, number> | undefined> = [];
  size = 0;
  /**
   * The context of the previous call: a context's events often come in a row, and a lookup in
   * a table of one entry per request costs cache misses that comparing two short strings does
   * not.
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
    const component = this.components.idOf(event.component);
    if (component === this.firstTrace.length) {
      const id = this.size++;
      this.firstTrace.push(event.trace_id);
      this.firstId.push(id);
      return id;
    }
    if (this.firstTrace[component] === event.trace_id) return this.firstId[component]!;
    let others = this.others[component];
    if (others === undefined) {
      others = new Map();
      this.others[component] = others;
    }
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
 * One pass over the events builds every access (each pass over the events of a large trace
 * costs a cache miss per event), with the locks its context held so far: right when the
 * context's events came in program order, as they almost always do. The accesses of a context
 * whose events did not are given their locks again, in program order.
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
  const resourceIds = new Map<string, number>();
  const resourceIdOf = (resource: string): number => {
    let id = resourceIds.get(resource);
    if (id === undefined) {
      id = resourceIds.size;
      resourceIds.set(resource, id);
    }
    return id;
  };
  const chains = new Map<number, LockingChain>();
  const lockSets = new LockSets();
  /** Per context that took a lock: the locks it holds at this point of the input. */
  const heldBy: Array<HeldLocks | undefined> = [];
  const order = new ProgramOrderCheck();
  const accesses: Access[] = [];
  /** Input position of each access, to place it among its context's lock events. */
  const positions: number[] = [];
  /** Access events that build no access (no resource name, no keyed row), rare. */
  const blanks: Blank[] = [];
  /** Per context: whether its component is that of an OpenTelemetry span (clock inferred). */
  const structural: boolean[] = [];
  const structuralOf = (ctx: number, event: Event): boolean => {
    let known = structural[ctx];
    if (known === undefined) {
      known = isStructuralEvent(event);
      structural[ctx] = known;
    }
    return known;
  };
  // `db_query` events: their accesses and the database locks held at each, by transaction
  // (which spans events), read on the first such event.
  let sql: Map<Event, SqlEventAccess[]> | undefined;
  let sqlSources: Map<Access, SqlEventAccess> | undefined;
  for (let position = 0; position < events.length; position++) {
    const event = events[position]!;
    const kind = event.kind;
    if (kind === 'state_read' || kind === 'state_write') {
      const resource = stringField(event, 'resource');
      if (resource === undefined) continue;
      const ctx = ids.of(event);
      if (resource === '') {
        order.next(ctx, keyOf(event));
        blanks.push({ ctx, position, event });
        continue;
      }
      const inferred = structuralOf(ctx, event);
      const access = newAccess(
        event,
        resource,
        resourceIdOf(resource),
        ctx,
        kind === 'state_write',
        isAtomicWrite(event),
        inferred,
      );
      order.next(ctx, access);
      const held = heldBy[ctx];
      if (held !== undefined) {
        access.locks = held.locks();
        access.lockHolds = held.holds();
      }
      accesses.push(access);
      positions.push(position);
    } else if (kind === 'lock_acquire' || kind === 'lock_release') {
      const lock = stringField(event, 'lock');
      if (lock === undefined) continue;
      const ctx = ids.of(event);
      let chain = chains.get(ctx);
      if (chain === undefined) {
        chain = { events: [], epochs: [], positions: [], locks: [], acquires: [], accesses: [] };
        chains.set(ctx, chain);
      }
      const epoch = ownEpoch(event);
      order.next(ctx, keyOf(event, epoch));
      chain.events.push(event);
      chain.epochs.push(epoch);
      chain.positions.push(position);
      chain.locks.push(lock);
      chain.acquires.push(kind === 'lock_acquire');
      let held = heldBy[ctx];
      if (held === undefined) {
        held = new HeldLocks(lockSets);
        heldBy[ctx] = held;
      }
      if (kind === 'lock_acquire') held.acquire(lock);
      else held.release(lock);
    } else if (kind === 'db_query') {
      sql ??= sqlAccesses(events, options).byEvent;
      const list = sql.get(event);
      if (list === undefined) continue;
      const ctx = ids.of(event);
      if (list.length === 0) {
        order.next(ctx, keyOf(event));
        blanks.push({ ctx, position, event });
      }
      const inferred = structuralOf(ctx, event);
      const held = heldBy[ctx];
      for (const source of list) {
        const [locks, holds] = sqlLocks(held?.locks() ?? EMPTY, held?.holds() ?? EMPTY, source);
        const access = newAccess(
          event,
          source.resource,
          resourceIdOf(source.resource),
          ctx,
          source.write,
          source.atomic,
          inferred,
        );
        access.locks = locks;
        access.lockHolds = holds;
        access.sql = source.value === undefined ? {} : { value: source.value };
        order.next(ctx, access);
        accesses.push(access);
        positions.push(position);
        sqlSources ??= new Map();
        sqlSources.set(access, source);
      }
    }
  }
  if (chains.size === 0) return accesses;
  return withLocks({
    accesses,
    positions,
    blanks,
    chains,
    contexts: ids.size,
    disordered: order.disordered,
    lockSets,
    sqlSources,
  });
}

/**
 * An access, its clock read once: the own epoch and whether the clock is uncertain come from one
 * lookup of the event's own entry (the same tests as `ownEpoch` and `isClockUncertain`), since
 * keyed clock lookups are much of what preparing 10^6 accesses costs.
 */
function newAccess(
  event: Event,
  resource: string,
  resourceId: number,
  ctx: number,
  write: boolean,
  atomic: boolean,
  structural: boolean,
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
    resourceId,
    ctx,
    write,
    atomic,
    locks: EMPTY,
    lockHolds: EMPTY,
    epoch: recorded ? own : Number.POSITIVE_INFINITY,
    sum: clockSum(event.clock),
    uncertain: event.clock_dropped !== undefined || !recorded,
    inferred: event.clock_inferred === true || structural,
  };
}

/**
 * Sorts accesses into an order consistent with happens-before: by clock sum (e -> f implies
 * sum(e) < sum(f)), then time, then event id, so the result never depends on input order.
 */
export function sortHappensBeforeConsistent(accesses: Access[]): Access[] {
  return accesses.sort((a, b) => a.sum - b.sum || a.tsUs - b.tsUs || compareIds(a.id, b.id));
}
