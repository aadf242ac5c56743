import { describe, expect, it } from 'vitest';
import { prepareAccesses } from './accesses.js';
import { TraceSimulator } from './test-support/trace-simulator.js';

/** Two contexts of one request: `a` writes under a lock, `b` reads without one. */
function lockedWrite() {
  const sim = new TraceSimulator({ autoAdvanceUs: 5 });
  const a = sim.request(sim.service('order'));
  const b = a.fork();
  const before = a.write('stock:1', { value: 1 });
  a.lock('L');
  const inside = a.write('stock:1', { value: 2 });
  a.unlock('L');
  const after = a.read('cart:1', { value: 0 });
  const read = b.read('stock:1', { value: 1 });
  return { events: sim.events, before, inside, after, read };
}

describe('prepareAccesses', () => {
  it('gives each access the locks its context held, events in program order', () => {
    const { events, before, inside, after } = lockedWrite();
    const locks = new Map(prepareAccesses(events).map((a) => [a.event.id, a.locks]));
    expect(locks.get(before.id)).toEqual([]);
    expect(locks.get(inside.id)).toEqual(['L']);
    expect(locks.get(after.id)).toEqual([]);
  });

  it('takes the locks from program order when a context’s events arrive out of it', () => {
    const { events, before, inside, after } = lockedWrite();
    // The release first, the acquire last: read in arrival order, the write would seem unlocked
    // and the accesses after the release locked.
    const reversed = [...events].reverse();
    const accesses = prepareAccesses(reversed);
    const locks = new Map(accesses.map((a) => [a.event.id, a.locks]));
    expect(locks.get(before.id)).toEqual([]);
    expect(locks.get(inside.id)).toEqual(['L']);
    expect(locks.get(after.id)).toEqual([]);
    // A locking context's accesses come last, in its program order.
    expect(accesses.slice(-3).map((a) => a.event.id)).toEqual([before.id, inside.id, after.id]);
  });

  it('numbers resources: one number per resource name', () => {
    const { events, before, inside, after, read } = lockedWrite();
    const ids = new Map(prepareAccesses(events).map((a) => [a.event.id, a.resourceId]));
    expect(ids.get(inside.id)).toBe(ids.get(before.id));
    expect(ids.get(read.id)).toBe(ids.get(before.id));
    expect(ids.get(after.id)).not.toBe(ids.get(before.id));
  });

  it('numbers contexts by trace and component: one component in two traces is two contexts', () => {
    const template = lockedWrite().read;
    const read = (id: string, trace: string, component: string) => ({
      ...template,
      id,
      trace_id: trace,
      component,
      clock: { [component]: 1 },
    });
    const accesses = prepareAccesses([
      read('e1', 't1', 'svc#1'),
      read('e2', 't2', 'svc#1'),
      read('e3', 't1', 'svc#2'),
      read('e4', 't1', 'svc#1'),
      read('e5', 't2', 'svc#1'),
      read('e6', 't3', 'svc#1'),
    ]);
    expect(accesses.map((a) => [a.id, a.ctx])).toEqual([
      ['e1', 0],
      ['e2', 1],
      ['e3', 2],
      ['e4', 0],
      ['e5', 1],
      ['e6', 3],
    ]);
  });
});
