import type { Access } from './accesses.js';
import { entry } from './clock.js';

/**
 * The clock of one access, read by context in O(1): the sweep over a resource asks the clock
 * of each access f for the entries of every other context active on the resource. Looking an
 * entry up by component in the clock object is slow on a large trace (its clocks have many
 * key orders, so many object shapes: each lookup misses V8's caches), while one pass over the
 * clock's own keys is fast. `load` reads f's clock once into slots, one slot per component
 * registered with `slotOf`; `entry` then reads a slot.
 *
 * Same values as `entry(clock, component)` of clock.ts: an absent entry is 0, and a component
 * named like a property every object inherits (`toString`) is looked up as that function does.
 */
export class ClockView {
  private readonly slots = new Map<string, number>();
  /** Slots by context id (`Access.ctx`), so that most accesses find theirs without hashing. */
  private readonly byCtx: number[] = [];
  private readonly components: string[] = [];
  /** Components that a plain lookup finds on Object.prototype when absent from the clock. */
  private readonly inherited: boolean[] = [];
  private readonly values: unknown[] = [];
  /** `stamps[slot] === stamp`: the slot holds the loaded clock's entry; else the entry is absent. */
  private readonly stamps: number[] = [];
  private stamp = 0;
  private clock: Record<string, number> | null = null;

  /** The slot of an access's component, registered on first use. */
  slotOfAccess(access: Access): number {
    let slot = this.byCtx[access.ctx];
    if (slot === undefined) {
      slot = this.slotOf(access.component);
      this.byCtx[access.ctx] = slot;
    }
    return slot;
  }

  /** The slot of a component, registered on first use. */
  slotOf(component: string): number {
    let slot = this.slots.get(component);
    if (slot === undefined) {
      slot = this.components.length;
      this.slots.set(component, slot);
      this.components.push(component);
      this.inherited.push(component in Object.prototype);
      this.values.push(0);
      this.stamps.push(0);
      // The clock loaded last was read without this slot: the next load reads it again.
      this.clock = null;
    }
    return slot;
  }

  /** Reads `access`'s clock into the slots (a no-op when it is the clock already loaded). */
  load(access: Access): void {
    const clock = access.clock;
    if (clock === this.clock) return;
    this.clock = clock;
    const stamp = ++this.stamp;
    for (const key in clock) {
      const slot = this.slots.get(key);
      if (slot === undefined) continue;
      this.values[slot] = clock[key] ?? 0;
      this.stamps[slot] = stamp;
    }
  }

  /** The loaded clock's entry for the slot's component, 0 when absent. */
  entry(slot: number): number {
    if (this.stamps[slot] === this.stamp) return this.values[slot] as number;
    return this.inherited[slot] ? entry(this.clock!, this.components[slot]!) : 0;
  }
}
