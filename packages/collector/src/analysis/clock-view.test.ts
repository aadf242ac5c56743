import { describe, expect, it } from 'vitest';
import type { Access } from './accesses.js';
import { entry } from './clock.js';
import { ClockView } from './clock-view.js';

/** Only what the view reads of an access: its context, component and clock. */
function access(ctx: number, component: string, clock: Record<string, number>): Access {
  return { ctx, component, clock } as unknown as Access;
}

describe('ClockView', () => {
  it('reads the same entries as a lookup by component, absent ones as 0', () => {
    const view = new ClockView();
    const a = access(0, 'a#1', { 'a#1': 3, 'b#2': 5 });
    const b = access(1, 'b#2', { 'b#2': 7 });
    const c = access(2, 'c#3', { 'c#3': 1, 'a#1': 2 });
    for (const x of [a, b, c]) view.slotOfContext(x.ctx, x.component);
    for (const f of [a, b, c]) {
      view.load(f.clock);
      for (const g of [a, b, c])
        expect(view.entry(view.slotOfContext(g.ctx, g.component))).toBe(
          entry(f.clock, g.component),
        );
    }
  });

  it('looks up components named like inherited properties as a plain lookup does', () => {
    const view = new ClockView();
    const odd = access(0, 'toString', { toString: 4 });
    const other = access(1, 'b#2', { 'b#2': 1 });
    const slot = view.slotOfContext(odd.ctx, odd.component);
    view.slotOfContext(other.ctx, other.component);
    view.load(other.clock);
    expect(view.entry(slot)).toBe(entry(other.clock, 'toString'));
    view.load(odd.clock);
    expect(view.entry(slot)).toBe(4);
  });

  it('reads a loaded clock again for a slot registered after the load', () => {
    const view = new ClockView();
    const f = access(0, 'a#1', { 'a#1': 2, 'late#9': 6 });
    view.slotOfContext(f.ctx, f.component);
    view.load(f.clock);
    const late = view.slotOfContext(1, 'late#9');
    view.load(f.clock);
    expect(view.entry(late)).toBe(6);
  });
});
