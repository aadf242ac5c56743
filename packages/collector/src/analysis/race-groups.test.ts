import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Event } from './event.js';
import type { RaceGroup } from './race-groups.js';
import { arbitraryProgram, runProgram } from './test-support/random-trace.js';
import { TraceSimulator } from './test-support/trace-simulator.js';
import { detectTraceRaceGroups } from './trace-races.js';

/** k contexts of one trace, each writing one resource once, none synchronised with another. */
function concurrentWriters(k: number): Event[] {
  const traceId = 'a'.repeat(32);
  return Array.from({ length: k }, (_, i) => {
    const component = `svc#${i}`;
    return {
      id: i.toString(16).padStart(32, '0'),
      trace_id: traceId,
      span_id: 'b'.repeat(16),
      parent_span_id: null,
      service: 'svc',
      instance: 'svc-1',
      component,
      ts_us: 1_700_000_000_000_000 + i,
      kind: 'state_write' as const,
      clock: { [component]: 1 },
      data: { resource: 'stock:1', value: i },
    };
  });
}

const BOUNDED = { budget: { exactMaxContexts: 0 } };

function sitePairs(groups: RaceGroup[], kinds?: RaceGroup['kind'][]): string[] {
  return [
    ...new Set(
      groups
        .filter((g) => !kinds || kinds.includes(g.kind))
        .map((g) => `${g.resource}|${g.sides.map((s) => `${s.service} ${s.route}`).join('|')}`),
    ),
  ].sort();
}

describe('detectTraceRaceGroups', () => {
  for (const k of [2000, 20_000]) {
    it(`files ${k} concurrent writers as one group without enumerating pairs`, () => {
      const { groups, limits } = detectTraceRaceGroups(concurrentWriters(k));
      expect(groups).toHaveLength(1);
      const [group] = groups;
      expect(group).toMatchObject({
        kind: 'write_write',
        resource: 'stock:1',
        sides: [
          { service: 'svc', route: null },
          { service: 'svc', route: null },
        ],
        count: k - 1,
        countExact: false,
      });
      expect(group!.examples).toHaveLength(3);
      expect(group!.examples[0]!.accesses).toHaveLength(2);
      expect(limits).toEqual([
        expect.objectContaining({ kind: 'bounded_detector', contexts: k, accesses: k }),
      ]);
    });
  }

  it('groups the pairs of the exact detector by resource, kind and sides, with routes', () => {
    const sim = new TraceSimulator();
    const gateway = sim.service('gateway');
    const order = sim.service('order');
    const root = sim.request(gateway, { route: 'POST /checkout' });
    const calls = [root.fork(), root.fork(), root.fork()].map((branch) => branch.call(order));
    const served = calls.map((call) => call.serve({ route: '/reserve' }));
    for (const s of served) s.read('stock:42', { value: 5 });
    for (const s of served) s.write('stock:42', { value: 4 });
    const { groups, limits } = detectTraceRaceGroups(sim.events);
    expect(limits).toEqual([]);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({
      kind: 'lost_update',
      count: 3,
      countExact: true,
      sides: [
        { service: 'order', route: 'GET /reserve' },
        { service: 'order', route: 'GET /reserve' },
      ],
    });
    expect(groups[0]!.explanation).toMatch(/^3 lost updates on stock:42 between concurrent/);
    expect(groups[0]!.examples[0]!.accesses[0]!.route).toBe('GET /reserve');
  });

  it('finds lost updates with the bounded detector too', () => {
    const sim = new TraceSimulator();
    const root = sim.request(sim.service('gateway'));
    const [a, b] = [root.fork(), root.fork()];
    a!.read('r', { value: 1 });
    b!.read('r', { value: 1 });
    a!.write('r', { value: 2 });
    b!.write('r', { value: 2 });
    const { groups } = detectTraceRaceGroups(sim.events, BOUNDED);
    expect(groups.map((g) => g.kind).sort()).toEqual(['lost_update', 'read_write']);
    expect(groups.find((g) => g.kind === 'lost_update')!.examples[0]!.accesses).toHaveLength(4);
  });

  it('finds the same racing site pairs with the bounded detector as with the exact one', () => {
    fc.assert(
      fc.property(arbitraryProgram(70), fc.integer({ min: 1, max: 3 }), (steps, resources) => {
        const events = runProgram(steps, { resources });
        const exact = detectTraceRaceGroups(events).groups;
        const bounded = detectTraceRaceGroups(events, BOUNDED).groups;
        // The exact detector folds the read-write pairs of a lost update into it; the
        // bounded one reports them as read-write groups of their own.
        expect(sitePairs(bounded)).toEqual(expect.arrayContaining(sitePairs(exact)));
        expect(sitePairs(exact, ['write_write', 'lost_update'])).toEqual(
          sitePairs(bounded, ['write_write', 'lost_update']),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('stops at its time budget and names what it did not check', () => {
    const { groups, limits } = detectTraceRaceGroups(concurrentWriters(100), {
      budget: { timeMs: -1 },
    });
    expect(groups).toEqual([]);
    expect(limits).toEqual([
      expect.objectContaining({ kind: 'time_budget', resources: ['stock:1'] }),
    ]);
  });
});
