import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../event.js';
import { MemoryAccessWindows } from './access-windows.js';

let n = 0;
function event(
  kind: StoredEvent['kind'],
  tsUs: number,
  component: string,
  data: Record<string, unknown>,
): StoredEvent {
  n++;
  return {
    id: n.toString(16).padStart(32, '0'),
    trace_id: 'a'.repeat(32),
    span_id: 'b'.repeat(16),
    parent_span_id: null,
    service: 'svc',
    instance: 'svc-1',
    component,
    ts_us: tsUs,
    kind,
    clock: { [component]: 1 },
    data,
  };
}

describe('MemoryAccessWindows', () => {
  it('keeps recent accesses per resource, with the lock events of their contexts', async () => {
    const windows = new MemoryAccessWindows(10_000);
    const lock = event('lock_acquire', 100, 'svc#1', { lock: 'L' });
    const read = event('state_read', 110, 'svc#1', { resource: 'r' });
    const other = event('state_write', 120, 'svc#2', { resource: 'q' });
    const otherLock = event('lock_acquire', 120, 'svc#3', { lock: 'L' });
    windows.add([lock, read, other, otherLock, event('custom', 130, 'svc#1', { name: 'x' })]);
    expect(windows.read('r', 0, 1000)).toEqual([read, lock]);
    expect(windows.read('r', 200, 1000)).toEqual([]);
    expect(windows.read('unknown', 0, 1000)).toEqual([]);
  });

  it('forgets accesses older than the horizon and beyond the per-resource cap', async () => {
    const windows = new MemoryAccessWindows(1000, 3);
    const old = event('state_read', 0, 'c#1', { resource: 'r' });
    const recent = [1500, 1600, 1700, 1800].map((ts) =>
      event('state_write', ts, 'c#1', { resource: 'r' }),
    );
    windows.add([old, ...recent]);
    expect(windows.read('r', 0, 10_000)).toEqual(recent.slice(1));
  });

  it('forgets the least recently touched resources past its total of accesses', () => {
    const windows = new MemoryAccessWindows(1000, 10, 100, 3);
    windows.add(['a', 'b'].map((r) => event('state_read', 5, 'c#1', { resource: r })));
    windows.add(['c', 'c'].map((r) => event('state_read', 6, 'c#1', { resource: r })));
    expect(windows.read('a', 0, 10)).toEqual([]);
    expect(windows.read('b', 0, 10)).toHaveLength(1);
    expect(windows.read('c', 0, 10)).toHaveLength(2);
  });

  it('forgets the least recently touched resources beyond its capacity', async () => {
    const windows = new MemoryAccessWindows(1000, 10, 2);
    windows.add(['a', 'b', 'c'].map((r) => event('state_read', 5, 'c#1', { resource: r })));
    expect(windows.read('a', 0, 10)).toEqual([]);
    expect(windows.read('c', 0, 10)).toHaveLength(1);
  });
});
