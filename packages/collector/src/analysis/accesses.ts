import { clockSum, isClockUncertain, ownEpoch } from './clock.js';
import { getOrCreate } from './collections.js';
import { type Event, isAtomicWrite, lockOf, resourceOf } from './event.js';
import { isStructuralEvent } from './inferred-order.js';
import { type SqlAnalysisOptions, type SqlEventAccess, sqlAccesses } from './sql/sql-accesses.js';

/** A state access with what the race rules need, computed once. */
export interface Access {
  event: Event;
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

  of(event: Event): number {
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
  // `db_query` events: their accesses and the database locks held at each, by transaction.
  const sql = events.some((e) => e.kind === 'db_query')
    ? sqlAccesses(events, options).byEvent
    : null;
  const isAccessEvent = (event: Event) => resourceOf(event) !== null || sql?.has(event) === true;
  // Contexts that took locks need their events in program order; the others need no grouping.
  const locking = new Map<number, Event[]>();
  for (const event of events) {
    if (lockOf(event) !== null) {
      const ctx = ids.of(event);
      if (!locking.has(ctx)) locking.set(ctx, []);
    }
  }
  const out: Access[] = [];
  for (const event of events) {
    const isLock = lockOf(event) !== null;
    if (!isLock && !isAccessEvent(event)) continue;
    const ctx = ids.of(event);
    const chain = locking.get(ctx);
    if (chain !== undefined) chain.push(event);
    else if (!isLock) pushAccess(out, event, ctx, EMPTY, EMPTY, sql?.get(event));
  }
  for (const [ctx, chain] of locking) {
    chain.sort(byProgramOrder);
    const held = new Map<string, { depth: number; hold: number }>();
    let holdSeq = 0;
    for (const event of chain) {
      const lock = lockOf(event);
      if (lock === null) {
        const locks = held.size === 0 ? EMPTY : [...held.keys()].sort();
        const holds = held.size === 0 ? EMPTY : locks.map((l) => `${l}\u0000${held.get(l)!.hold}`);
        pushAccess(out, event, ctx, locks, holds, sql?.get(event));
      } else if (event.kind === 'lock_acquire') {
        const current = held.get(lock);
        if (current) current.depth++;
        else held.set(lock, { depth: 1, hold: ++holdSeq });
      } else {
        const current = held.get(lock);
        if (current && --current.depth === 0) held.delete(lock);
      }
    }
  }
  return out;
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
      out.push({
        event,
        resource: a.resource,
        ctx,
        write: a.write,
        atomic: a.atomic,
        locks: both,
        lockHolds: a.holds.length === 0 ? lockHolds : [...lockHolds, ...a.holds],
        epoch: ownEpoch(event),
        sum: clockSum(event.clock),
        uncertain: isClockUncertain(event),
        inferred: event.clock_inferred === true || isStructuralEvent(event),
        sql: a.value === undefined ? {} : { value: a.value },
      });
    }
    return;
  }
  const resource = resourceOf(event);
  if (resource === null || resource === '') return;
  out.push({
    event,
    resource,
    ctx,
    write: event.kind === 'state_write',
    atomic: isAtomicWrite(event),
    locks,
    lockHolds,
    epoch: ownEpoch(event),
    sum: clockSum(event.clock),
    uncertain: isClockUncertain(event),
    inferred: event.clock_inferred === true || isStructuralEvent(event),
  });
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * Sorts accesses into an order consistent with happens-before: by clock sum (e -> f implies
 * sum(e) < sum(f)), then time, then event id, so the result never depends on input order.
 */
export function sortHappensBeforeConsistent(accesses: Access[]): Access[] {
  return accesses.sort(
    (a, b) => a.sum - b.sum || a.event.ts_us - b.event.ts_us || compareIds(a.event.id, b.event.id),
  );
}
