import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prepareAccesses } from './accesses.js';
import { findRacePairs } from './race-pairs.js';
import { findRacePairsBruteForce } from './race-pairs-brute-force.js';
import { arbitraryProgram, runProgram } from './test-support/random-trace.js';
import { TraceSimulator } from './test-support/trace-simulator.js';
import { detectRacesBruteForce, detectTraceRaces } from './trace-races.js';

function shop() {
  const sim = new TraceSimulator();
  const gateway = sim.service('gateway');
  const order = sim.service('order');
  const inventory = sim.service('inventory');
  return { sim, gateway, order, inventory };
}

describe('detectTraceRaces', () => {
  it('says a lost update did not happen when one side read what the other wrote', () => {
    const { sim, gateway, order, inventory } = shop();
    const root = sim.request(gateway, { route: 'POST /checkout' });
    const toOrder = root.fork();
    const toInventory = root.fork();
    const i = toInventory.call(inventory).serve();
    const o = toOrder.call(order).serve();
    // Nothing orders the two, but inventory happened to finish first and order read its write.
    i.read('stock:42', { value: 9986 });
    i.write('stock:42', { value: 9985 });
    o.read('stock:42', { value: 9985 });
    o.write('stock:42', { value: 9984 });
    const lost = detectTraceRaces(sim.events).filter((r) => r.kind === 'lost_update');
    expect(lost).toHaveLength(1);
    expect(lost[0]?.outcome).toBe('not_lost');
    expect(lost[0]?.explanation).toMatch(
      /so an update can be lost; this time none was: order read stock:42 = 9985, the value inventory wrote/,
    );
  });

  it('reports a lost update between two services that read then write concurrently', () => {
    const { sim, gateway, order, inventory } = shop();
    const root = sim.request(gateway, { route: 'POST /checkout' });
    const toOrder = root.fork();
    const toInventory = root.fork();
    const callOrder = toOrder.call(order);
    const callInventory = toInventory.call(inventory);
    const o = callOrder.serve();
    const i = callInventory.serve();
    o.read('stock:42', { value: 5 });
    i.read('stock:42', { value: 5 });
    o.write('stock:42', { value: 4 });
    i.write('stock:42', { value: 4 });
    o.respond();
    i.respond();
    callOrder.receive();
    callInventory.receive();
    root.join(toOrder);
    root.join(toInventory);
    root.respond();

    const races = detectTraceRaces(sim.events);
    expect(races).toHaveLength(1);
    const [race] = races;
    expect(race?.kind).toBe('lost_update');
    expect(race?.confidence).toBe('certain');
    expect(race?.resource).toBe('stock:42');
    expect(race?.services.sort()).toEqual(['inventory', 'order']);
    expect(race?.accesses.map((a) => a.kind)).toEqual([
      'state_read',
      'state_write',
      'state_read',
      'state_write',
    ]);
    expect(race?.accesses.map((a) => a.service)).toEqual([
      'order',
      'order',
      'inventory',
      'inventory',
    ]);
    expect(race?.explanation).toBe(
      'order and inventory both read stock:42 = 5 and both wrote it back with nothing ordering them (concurrent clocks): one update is lost (order wrote 4, inventory wrote 4)',
    );
  });

  it('reports nothing when the two services run one after the other', () => {
    const { sim, gateway, order, inventory } = shop();
    const root = sim.request(gateway);
    for (const target of [order, inventory]) {
      const call = root.call(target);
      const handler = call.serve();
      handler.read('stock:42', { value: 5 });
      handler.write('stock:42', { value: 4 });
      handler.respond();
      call.receive();
    }
    root.respond();
    expect(detectTraceRaces(sim.events)).toEqual([]);
  });

  it('orders a read after a call by the clock the response carried back', () => {
    const { sim, gateway, inventory } = shop();
    const root = sim.request(gateway);
    const call = root.call(inventory);
    const handler = call.serve();
    handler.write('stock:42', { value: 4 });
    handler.respond();
    call.receive();
    root.read('stock:42', { value: 4 });
    root.respond();
    expect(detectTraceRaces(sim.events)).toEqual([]);
  });

  it('would report that read without the response clock (the rule matters)', () => {
    const { sim, gateway, inventory } = shop();
    const root = sim.request(gateway);
    const call = root.call(inventory);
    const handler = call.serve();
    handler.write('stock:42', { value: 4 });
    handler.respond();
    // A network error: the response clock never arrives, so nothing orders the read.
    call.receive({ error: { type: 'Error', message: 'socket hang up' } });
    root.read('stock:42', { value: 4 });
    const races = detectTraceRaces(sim.events);
    expect(races.map((r) => r.kind)).toEqual(['read_write']);
    expect(races[0]?.explanation).toBe(
      'gateway read stock:42 = 4 while inventory wrote it = 4 concurrently; the read may see either value',
    );
  });

  it('does not report accesses that both hold a common lock', () => {
    const { sim, gateway } = shop();
    const root = sim.request(gateway);
    const a = root.fork();
    const b = root.fork();
    for (const branch of [a, b]) {
      branch.lock('stock-lock');
      branch.read('stock:42', { value: 5 });
      branch.write('stock:42', { value: 4 });
      branch.unlock('stock-lock');
    }
    root.join(a);
    root.join(b);
    expect(detectTraceRaces(sim.events)).toEqual([]);
  });

  it('still reports when only one side holds the lock', () => {
    const { sim, gateway } = shop();
    const root = sim.request(gateway);
    const a = root.fork();
    const b = root.fork();
    a.lock('stock-lock');
    a.write('stock:42', { value: 1 });
    a.unlock('stock-lock');
    b.write('stock:42', { value: 2 });
    b.lock('stock-lock');
    b.unlock('stock-lock');
    expect(detectTraceRaces(sim.events).map((r) => r.kind)).toEqual(['write_write']);
  });

  it('does not report two atomic writes, but reports an atomic write against a plain one', () => {
    const { sim, gateway } = shop();
    const root = sim.request(gateway);
    const a = root.fork();
    const b = root.fork();
    const c = root.fork();
    a.write('stock:42', { atomic: true });
    b.write('stock:42', { atomic: true });
    expect(detectTraceRaces(sim.events)).toEqual([]);
    c.write('stock:42', { value: 9 });
    const races = detectTraceRaces(sim.events);
    expect(races.map((r) => r.kind)).toEqual(['write_write', 'write_write']);
    expect(races.every((r) => r.accesses.some((x) => x.component === c.component))).toBe(true);
  });

  it('does not call two read-modify-writes with atomic writes a lost update', () => {
    const { sim, gateway } = shop();
    const root = sim.request(gateway);
    const a = root.fork();
    const b = root.fork();
    for (const branch of [a, b]) {
      branch.read('stock:42', { value: 5 });
      branch.write('stock:42', { atomic: true });
    }
    // Each read races with the other branch's write; the two atomic writes do not race.
    expect(detectTraceRaces(sim.events).map((r) => r.kind)).toEqual(['read_write', 'read_write']);
  });

  it('reports a race between fork/join branches of one handler and none after the join', () => {
    const { sim, order } = shop();
    const root = sim.request(order, { route: 'POST /orders' });
    const reserve = root.fork();
    const charge = root.fork();
    reserve.write('order:7', { value: { status: 'reserved' } });
    charge.write('order:7', { value: { status: 'charged' } });
    root.join(reserve);
    root.join(charge);
    root.read('order:7');
    root.write('order:7', { value: { status: 'done' } });
    const races = detectTraceRaces(sim.events);
    expect(races).toHaveLength(1);
    expect(races[0]?.kind).toBe('write_write');
    expect(races[0]?.accesses.map((a) => a.component)).toEqual([
      reserve.component,
      charge.component,
    ]);
    expect(races[0]?.explanation).toBe(
      `${reserve.component} wrote order:7 = {"status":"reserved"} and ${charge.component} wrote it = {"status":"charged"} concurrently; which write survives depends on timing`,
    );
  });

  it('reports a loop of writes racing with one write once, with the loop’s last write', () => {
    const { sim, order } = shop();
    const root = sim.request(order);
    const loop = root.fork();
    const other = root.fork();
    const writes = Array.from({ length: 50 }, (_, n) => loop.write('counter', { value: n }));
    other.write('counter', { value: -1 });
    const races = detectTraceRaces(sim.events);
    expect(races).toHaveLength(1);
    expect(races[0]?.accesses.map((a) => a.eventId)).toContain(writes[49]!.id);
  });

  it('reports each stretch of two contexts that race, synchronise and race again', () => {
    const { sim, gateway, order } = shop();
    const root = sim.request(gateway);
    const branch = root.fork();
    root.write('x', { value: 1 });
    branch.write('x', { value: 2 });
    // The branch calls back into a service that the root waits for: both ordered after this.
    root.join(branch);
    const second = root.fork();
    const call = root.call(order);
    const handler = call.serve();
    handler.write('x', { value: 3 });
    second.write('x', { value: 4 });
    expect(detectTraceRaces(sim.events).map((r) => r.kind)).toEqual(['write_write', 'write_write']);
  });

  it('qualifies races of truncated clocks and drops those far apart in time', () => {
    const { sim, gateway } = shop();
    const root = sim.request(gateway);
    const a = root.fork().truncate(3);
    const b = root.fork();
    a.write('x', { value: 1 });
    b.write('x', { value: 2 });
    sim.advance(100);
    b.write('y', { value: 1 });
    sim.advance(100);
    a.write('y', { value: 2 });
    const races = detectTraceRaces(sim.events);
    expect(races.map((r) => [r.resource, r.confidence])).toEqual([['x', 'uncertain']]);
    expect(races[0]?.explanation).toContain('uncertain: a truncated clock may hide an order');
    // A wider tolerance keeps the pair on y too.
    expect(detectTraceRaces(sim.events, { skewToleranceMs: 500 }).map((r) => r.resource)).toEqual([
      'x',
      'y',
    ]);
  });
});

function pairIds(
  pairs: ReadonlyArray<readonly [{ event: { id: string } }, { event: { id: string } }]>,
): string[] {
  return pairs.map(([a, b]) => [a.event.id, b.event.id].sort().join('|')).sort();
}

describe('fast detector against the brute-force definition', () => {
  it('reports exactly the brute-force pairs on random happens-before graphs', () => {
    fc.assert(
      fc.property(arbitraryProgram(70), fc.integer({ min: 1, max: 3 }), (steps, resources) => {
        const accesses = prepareAccesses(runProgram(steps, { resources }));
        expect(pairIds(findRacePairs(accesses))).toEqual(
          pairIds(findRacePairsBruteForce(accesses)),
        );
      }),
      { numRuns: 400 },
    );
  });

  it('gives the same races, in the same order, as the brute-force detector', () => {
    fc.assert(
      fc.property(arbitraryProgram(70), (steps) => {
        const events = runProgram(steps);
        expect(detectTraceRaces(events)).toEqual(detectRacesBruteForce(events));
      }),
      { numRuns: 200 },
    );
  });

  it('does not depend on the order events arrive in', () => {
    fc.assert(
      fc.property(arbitraryProgram(50), fc.integer(), (steps, seed) => {
        const events = runProgram(steps);
        const shuffled = [...events].sort(
          (x, y) => ((hash(x.id) ^ seed) >>> 0) - ((hash(y.id) ^ seed) >>> 0),
        );
        expect(detectTraceRaces(shuffled)).toEqual(detectTraceRaces(events));
      }),
      { numRuns: 100 },
    );
  });
});

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h;
}
