import { describe, expect, it } from 'vitest';
import { detectCrossTraceRaces } from './cross-trace-races.js';
import type { Event } from './event.js';
import { type SimContext, TraceSimulator } from './test-support/trace-simulator.js';

/**
 * One request to `instance` that reads stock at `readMs` and writes it at `writeMs` (true
 * time), on a host whose clock is `skewMs` off.
 */
function checkout(
  readMs: number,
  writeMs: number,
  options: {
    instance?: string;
    skewMs?: number;
    seen?: { value?: unknown; version?: number };
    /** What it writes back (default 4). */
    wrote?: unknown;
    atomic?: boolean;
    lock?: string;
    resource?: string;
  } = {},
): Event[] {
  const sim = new TraceSimulator();
  const inventory = sim.service('inventory', {
    instance: options.instance ?? 'inventory-1',
    skewMs: options.skewMs ?? 0,
  });
  sim.at(readMs - 1);
  const ctx: SimContext = sim.request(inventory, { route: 'POST /reserve' });
  const resource = options.resource ?? 'stock:42';
  if (options.lock) ctx.lock(options.lock);
  sim.at(readMs);
  ctx.read(resource, options.seen ?? { value: 5 });
  sim.at(writeMs);
  ctx.write(resource, { value: options.wrote ?? 4, atomic: options.atomic ?? false });
  if (options.lock) ctx.unlock(options.lock);
  ctx.respond();
  return sim.events;
}

const states = (events: Event[]) =>
  events.filter((e) => e.kind.startsWith('state_') || e.kind.startsWith('lock_'));

describe('detectCrossTraceRaces', () => {
  it('reports overlapping read-modify-writes of two requests as a lost update', () => {
    const a = checkout(0, 20);
    const b = checkout(10, 30);
    const races = detectCrossTraceRaces(states([...b, ...a]));
    expect(races).toHaveLength(1);
    const [race] = races;
    expect(race?.kind).toBe('lost_update');
    expect(race?.scope).toBe('cross_trace');
    expect(race?.evidence).toBe('same_value');
    expect(race?.confidence).toBe('certain');
    expect(race?.overlapMs).toBe(10);
    expect(race?.traceIds).toEqual([a[0]!.trace_id, b[0]!.trace_id]);
    expect(race?.accesses.map((x) => x.kind)).toEqual([
      'state_read',
      'state_write',
      'state_read',
      'state_write',
    ]);
    expect(race?.explanation).toBe(
      `inventory (trace ${a[0]!.trace_id.slice(0, 8)}) and inventory (trace ${b[0]!.trace_id.slice(0, 8)}) both read stock:42 = 5 and both wrote it back in separate requests whose read-modify-write windows overlap by 10 ms: one update is lost (inventory (trace ${a[0]!.trace_id.slice(0, 8)}) wrote 4, inventory (trace ${b[0]!.trace_id.slice(0, 8)}) wrote 4)`,
    );
  });

  it('says the race did no harm when the second request read what the first wrote, whatever the timestamps', () => {
    // Read 9986 -> wrote 9985, then read 9985 -> wrote 9984: the windows overlap in time (a
    // write event is recorded before the database has it), but the values show the second
    // read saw the first write. Values outrank timing.
    const a = checkout(0, 20, { seen: { value: 9986 }, wrote: 9985 });
    const b = checkout(10, 30, { seen: { value: 9985 }, wrote: 9984 });
    const [race] = detectCrossTraceRaces(states([...a, ...b]));
    const [nameA, nameB] = [a, b].map((t) => `inventory (trace ${t[0]!.trace_id.slice(0, 8)})`);
    expect(race?.outcome).toBe('not_lost');
    expect(race?.explanation).toBe(
      `${nameA} and ${nameB} read-modify-wrote stock:42 in separate requests whose read-modify-write windows overlap by 10 ms, so an update can be lost; this time none was: ${nameB} read stock:42 = 9985, the value ${nameA} wrote (${nameA} wrote 9985, ${nameB} wrote 9984)`,
    );
    expect(race?.explanation).not.toMatch(/one update is lost/);
  });

  it('ranks a race that lost an update above one that did no harm', () => {
    const harmless = [
      ...checkout(0, 20, { seen: { value: 9986 }, wrote: 9985, resource: 'stock:1' }),
      ...checkout(10, 30, { seen: { value: 9985 }, wrote: 9984, resource: 'stock:1' }),
    ];
    const lost = [
      ...checkout(100, 120, { resource: 'stock:2' }),
      ...checkout(110, 130, { resource: 'stock:2' }),
    ];
    const races = detectCrossTraceRaces(states([...harmless, ...lost]));
    expect(races.map((r) => [r.resource, r.outcome])).toEqual([
      ['stock:2', 'lost'],
      ['stock:1', 'not_lost'],
    ]);
  });

  it('says the values cannot tell when the accesses recorded none', () => {
    const [race] = detectCrossTraceRaces(
      states([...checkout(0, 20, { seen: {} }), ...checkout(10, 30, { seen: {} })]),
    );
    expect(race?.outcome).toBe('unknown');
    expect(race?.explanation).toMatch(
      /an update can be lost; the values recorded do not tell whether one was/,
    );
  });

  it('reports a window nested inside another', () => {
    expect(detectCrossTraceRaces(states([...checkout(0, 50), ...checkout(10, 20)]))).toHaveLength(
      1,
    );
  });

  it("pairs a write only with a read of its own request, not another request's", () => {
    // One request only reads stock:42, another only writes it: no read-modify-write between
    // them, so nothing to race with the request that does read-modify-write it.
    const sim = new TraceSimulator();
    const inventory = sim.service('inventory');
    const reader = sim.request(inventory);
    reader.read('stock:42', { value: 5 });
    sim.at(1);
    reader.read('stock:7', { value: 1 });
    const writes = new TraceSimulator();
    const writer = writes.request(writes.service('inventory'));
    writes.at(30);
    writer.write('stock:42', { value: 4 });
    writes.at(31);
    writer.write('stock:9', { value: 0 });
    expect(
      detectCrossTraceRaces(states([...sim.events, ...writes.events, ...checkout(10, 20)])),
    ).toEqual([]);
  });

  it('reports nothing for requests one after the other', () => {
    expect(
      detectCrossTraceRaces(states([...checkout(0, 10), ...checkout(15, 25), ...checkout(40, 60)])),
    ).toEqual([]);
  });

  it('does not trust an overlap smaller than the skew tolerance between different hosts', () => {
    const a = checkout(0, 12, { instance: 'inventory-1', seen: { value: 5 } });
    const b = checkout(10, 30, { instance: 'inventory-2', seen: { value: 4 } });
    // 2 ms of overlap across hosts: within the 5 ms tolerance, and the reads differ.
    expect(detectCrossTraceRaces(states([...a, ...b]))).toEqual([]);
    // On one host the clocks agree, so 2 ms of overlap is an interleaving.
    const c = checkout(10, 30, { instance: 'inventory-1', seen: { value: 4 } });
    expect(detectCrossTraceRaces(states([...a, ...c])).map((r) => r.confidence)).toEqual([
      'certain',
    ]);
    // With a smaller tolerance the cross-host overlap counts.
    expect(detectCrossTraceRaces(states([...a, ...b]), { skewToleranceMs: 1 })).toHaveLength(1);
  });

  it('reports windows within the tolerance as uncertain when both reads saw the same version', () => {
    const a = checkout(0, 10, { instance: 'inventory-1', seen: { version: 7 } });
    const b = checkout(12, 30, { instance: 'inventory-2', seen: { version: 7 } });
    const races = detectCrossTraceRaces(states([...a, ...b]));
    expect(races.map((r) => [r.evidence, r.confidence])).toEqual([['same_version', 'uncertain']]);
    expect(races[0]?.explanation).toContain('both read stock:42 at version 7');
    expect(races[0]?.explanation).toContain('within the 5 ms clock-skew tolerance');
  });

  it('ranks the strongest evidence first', () => {
    const timing = [
      ...checkout(0, 20, { seen: { value: 1 }, resource: 'a' }),
      ...checkout(5, 25, { seen: { value: 2 }, resource: 'a' }),
    ];
    const value = [...checkout(0, 20, { resource: 'b' }), ...checkout(5, 25, { resource: 'b' })];
    const version = [
      ...checkout(0, 20, { seen: { version: 3 }, resource: 'c' }),
      ...checkout(18, 25, { seen: { version: 3 }, resource: 'c' }),
    ];
    const races = detectCrossTraceRaces(states([...timing, ...value, ...version]));
    expect(races.map((r) => [r.resource, r.evidence])).toEqual([
      ['c', 'same_version'],
      ['b', 'same_value'],
      ['a', 'timing'],
    ]);
  });

  it('does not report windows serialised by a common lock', () => {
    const a = checkout(0, 20, { lock: 'stock-lock' });
    const b = checkout(10, 30, { lock: 'stock-lock' });
    expect(detectCrossTraceRaces(states([...a, ...b]))).toEqual([]);
    const c = checkout(10, 30, { lock: 'other-lock' });
    expect(detectCrossTraceRaces(states([...a, ...c]))).toHaveLength(1);
  });

  it('does not call atomic writes lost updates', () => {
    expect(
      detectCrossTraceRaces(
        states([...checkout(0, 20, { atomic: true }), ...checkout(10, 30, { atomic: true })]),
      ),
    ).toEqual([]);
    expect(
      detectCrossTraceRaces(states([...checkout(0, 20), ...checkout(10, 30, { atomic: true })])),
    ).toEqual([]);
  });

  it('leaves windows of one trace to the intra-trace detector, and ignores other kinds', () => {
    const sim = new TraceSimulator();
    const svc = sim.service('inventory');
    const root = sim.request(svc);
    const x = root.fork();
    const y = root.fork();
    x.read('stock:42');
    y.read('stock:42');
    sim.advance(5);
    x.write('stock:42');
    y.write('stock:42');
    expect(detectCrossTraceRaces(sim.events)).toEqual([]);
  });

  it('reports every overlapping pair among many concurrent requests', () => {
    const events = [0, 1, 2, 3].flatMap((n) => states(checkout(n, 10 + n)));
    expect(detectCrossTraceRaces(events)).toHaveLength(6);
  });
});
