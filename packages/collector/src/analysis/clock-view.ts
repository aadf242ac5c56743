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
  /**
   * Slots by component: a prototype-less object, not a Map: the clock keys `load` looks up are
   * property names (internalised strings), which a dictionary object finds faster.
   */
  private readonly slots: Record<string, number> = Object.create(null);
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

  /** The slot of a context's component (`Access.ctx`, `Access.component`), registered on first use. */
  slotOfContext(ctx: number, component: string): number {
    let slot = this.byCtx[ctx];
    if (slot === undefined) {
      slot = this.slotOf(component);
      this.byCtx[ctx] = slot;
    }
    return slot;
  }

  /** The slot of a component, registered on first use. */
  slotOf(component: string): number {
    let slot = this.slots[component];
    if (slot === undefined) {
      slot = this.components.length;
      this.slots[component] = slot;
      this.components.push(component);
      this.inherited.push(component in Object.prototype);
      this.values.push(0);
      this.stamps.push(0);
      // The clock loaded last was read without this slot: the next load reads it again.
      this.clock = null;
    }
    return slot;
  }

  /** Reads a clock into the slots (a no-op when it is the clock already loaded). */
  load(clock: Record<string, number>): void {
    if (clock === this.clock) return;
    this.clock = clock;
    const stamp = ++this.stamp;
    const { slots, values, stamps } = this;
    for (const key in clock) {
      const slot = slots[key];
      if (slot === undefined) continue;
      values[slot] = clock[key] ?? 0;
      stamps[slot] = stamp;
    }
  }

  /** The loaded clock's entry for the slot's component, 0 when absent. */
  entry(slot: number): number {
    if (this.stamps[slot] === this.stamp) return this.values[slot] as number;
    return this.inherited[slot] ? entry(this.clock!, this.components[slot]!) : 0;
  }
}
