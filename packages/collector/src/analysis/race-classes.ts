import type { Access } from './accesses.js';

/**
 * Access classes: (read or write, atomic or not, of a database row or not, locks held). Whether
 * two accesses of different contexts may race depends only on their classes and their clocks,
 * so the detectors intern classes once and memoise the class-level part of the race rule.
 */
export class ConflictClasses {
  private readonly ids = new Map<string, number>();
  private readonly classes: Array<{
    write: boolean;
    atomic: boolean;
    sql: boolean;
    locks: readonly string[];
  }> = [];
  private readonly memo = new Map<number, boolean>();
  /** Ids of the lock-free classes: read, write, atomic write, each of state or SQL (most accesses). */
  private readonly lockFree: number[] = [];
  /** Class ids of accesses holding locks, by their locks array and the same slots. */
  private readonly byLocks = new Map<readonly string[], number[]>();

  /** The class id of an access. */
  classOf(access: Access): number {
    const slot = kindSlot(access);
    if (access.locks.length === 0) {
      const known = this.lockFree[slot];
      if (known !== undefined) return known;
      const id = this.intern(access);
      this.lockFree[slot] = id;
      return id;
    }
    // Accesses made between the same acquire and release share one locks array (accesses.ts):
    // known by identity, the class needs no name built.
    let bySlot = this.byLocks.get(access.locks);
    if (bySlot === undefined) {
      bySlot = [];
      this.byLocks.set(access.locks, bySlot);
    }
    const known = bySlot[slot];
    if (known !== undefined) return known;
    const id = this.intern(access);
    bySlot[slot] = id;
    return id;
  }

  private intern(access: Access): number {
    const name = `${access.write ? 'w' : 'r'}${access.atomic ? 'a' : '-'}${isSql(access) ? 's' : '-'}${access.locks.join('\u0000')}`;
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.classes.length;
      this.ids.set(name, id);
      this.classes.push({
        write: access.write,
        atomic: access.atomic,
        sql: isSql(access),
        locks: access.locks,
      });
    }
    return id;
  }

  /**
   * The class-level race rule: at least one write, not two atomic writes, no lock in common,
   * and not a database read beside an atomic database write: the database applies that write
   * (`SET c = c - 1`, a compare-and-set) to the row as it is, so a read sees the row before or
   * after it, both states that were, and a compare-and-set based on a stale read does nothing.
   * (Different contexts and concurrency are checked per pair.)
   */
  conflicts(a: number, b: number): boolean {
    const memoKey = a < b ? a * 1_048_576 + b : b * 1_048_576 + a;
    const known = this.memo.get(memoKey);
    if (known !== undefined) return known;
    const x = this.classes[a]!;
    const y = this.classes[b]!;
    const result =
      (x.write || y.write) &&
      !(x.write && y.write && x.atomic && y.atomic) &&
      !(x.sql && y.sql && ((x.atomic && !y.write) || (y.atomic && !x.write))) &&
      !x.locks.some((lock) => y.locks.includes(lock));
    this.memo.set(memoKey, result);
    return result;
  }
}

/** The access's kind as 0..5: read, write, atomic write, each of state or SQL. */
function kindSlot(access: Access): number {
  return (access.write ? (access.atomic ? 2 : 1) : 0) + (isSql(access) ? 3 : 0);
}

/** An access of a `db_query` event (a database row), as opposed to a tracked state event. */
function isSql(access: Access): boolean {
  return access.sql !== undefined;
}
