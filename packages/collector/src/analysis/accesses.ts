import { clockSum, isClockUncertain, ownEpoch } from './clock.js';
import { type Event, isAtomicWrite, lockOf, resourceOf } from './event.js';

/** A state access with what the race rules need, computed once. */
export interface Access {
  event: Event;
  resource: string;
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
}

/** Program order of a context: own epoch, then time, then id (for malformed clocks). */
function byProgramOrder(a: Event, b: Event): number {
  return ownEpoch(a) - ownEpoch(b) || a.ts_us - b.ts_us || compareIds(a.id, b.id);
}

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The state accesses among `events`, each with the locks its context held at that point. Lock
 * events bracket accesses in their context's program order (a lock taken twice without release
 * is held until released twice); an access with an empty resource name is skipped.
 *
 * @example
 * const accesses = prepareAccesses(traceEvents);
 * accesses.filter((a) => a.write && a.locks.length === 0); // unprotected writes
 */
export function prepareAccesses(events: readonly Event[]): Access[] {
  const byContext = new Map<string, Event[]>();
  let anyLock = false;
  for (const event of events) {
    const isLock = lockOf(event) !== null;
    if (!isLock && resourceOf(event) === null) continue;
    anyLock ||= isLock;
    // Components are random per context, but keying by trace too keeps traces apart anyway.
    const key = `${event.trace_id}\u0000${event.component}`;
    let list = byContext.get(key);
    if (list === undefined) byContext.set(key, (list = []));
    list.push(event);
  }
  const out: Access[] = [];
  for (const list of byContext.values()) {
    if (anyLock) list.sort(byProgramOrder);
    const held = new Map<string, { depth: number; hold: number }>();
    let holdSeq = 0;
    for (const event of list) {
      const lock = lockOf(event);
      if (lock !== null) {
        const current = held.get(lock);
        if (event.kind === 'lock_acquire') {
          if (current) current.depth++;
          else held.set(lock, { depth: 1, hold: ++holdSeq });
        } else if (current && --current.depth === 0) {
          held.delete(lock);
        }
        continue;
      }
      const resource = resourceOf(event);
      if (resource === null || resource === '') continue;
      const locks = held.size === 0 ? EMPTY : [...held.keys()].sort();
      out.push({
        event,
        resource,
        write: event.kind === 'state_write',
        atomic: isAtomicWrite(event),
        locks,
        lockHolds: held.size === 0 ? EMPTY : locks.map((l) => `${l}\u0000${held.get(l)!.hold}`),
        epoch: ownEpoch(event),
        sum: clockSum(event.clock),
        uncertain: isClockUncertain(event),
      });
    }
  }
  return out;
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
