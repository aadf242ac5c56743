// Lost updates across traces: two checkouts, two requests with no causal link, reserving the
// same stock row. Only their read-modify-write windows decide.
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  type Barrier,
  barrier,
  callService,
  type Race,
  rootRequest,
  type Scenario,
  StockTable,
  startScenario,
  stateAccesses,
} from '../src/fixtures/index.js';

/**
 * A shop whose gateway (Express, fetch) reserves stock row 7 at a stock service:
 * `inventory` (Fastify) for every checkout, or, with `hosts: 2`, `inventory` for the first and
 * `warehouse` (Koa, another host) for the second, so that the two windows come from two clocks.
 */
async function shop(hosts: 1 | 2, bothRead?: Barrier) {
  const s: Scenario = await startScenario();
  onTestFinished(() => s.close());
  const stock = new StockTable({ '7': 10 });
  const reserve = async () => {
    const quantity = stock.read('7');
    await bothRead?.arrive();
    // The time a real reservation spends between its SELECT and its UPDATE; beyond the
    // collector's 5 ms skew tolerance, so two hosts' windows overlap for certain.
    await delay(15);
    stock.write('7', quantity - 1);
    return { left: quantity - 1 };
  };
  const inventory = await s.service({
    name: 'inventory',
    framework: 'fastify',
    routes: { '/reserve': reserve },
  });
  const warehouse =
    hosts === 2
      ? await s.service({ name: 'warehouse', framework: 'koa', routes: { '/reserve': reserve } })
      : inventory;
  const gateway = await s.service({
    name: 'gateway',
    framework: 'express',
    routes: {
      '/checkout': (query) =>
        callService('fetch', `${query.at === '2' ? warehouse.url : inventory.url}/reserve`),
    },
  });
  const services = hosts === 2 ? ['inventory', 'warehouse'] : ['inventory'];
  return {
    s,
    stock,
    services,
    checkout: (n: 1 | 2) => rootRequest(`${gateway.url}/checkout?at=${n}`),
  };
}

describe.each([1, 2] as const)(
  'two checkouts in different traces, stock on %i host(s)',
  (hosts) => {
    it('reports a cross-trace lost update when their reservations overlap', async () => {
      const { s, stock, services, checkout } = await shop(hosts, barrier(2));
      const [a, b] = await Promise.all([checkout(1), checkout(2)]);
      const traceIds = [a.traceId, b.traceId].sort();
      expect(traceIds[0]).not.toBe(traceIds[1]);
      await s.settle(traceIds, { serverSpans: 2 });

      const cross = await s.api.races('scope=cross');
      expect(cross.races).toHaveLength(1);
      const [found] = cross.races as [Race];
      expect(found).toMatchObject({ scope: 'cross', resource: 'stock:7' });
      expect([...found.services].sort()).toEqual(services);
      expect([...found.trace_ids].sort()).toEqual(traceIds);
      expect(found.examples[0]!).toMatchObject({
        kind: 'lost_update',
        scope: 'cross_trace',
        confidence: 'certain',
        // Both reads saw the row at the same version: the strongest evidence there is.
        evidence: 'same_version',
      });
      expect(found.examples[0]!.overlapMs).toBeGreaterThan(10);
      expect(found.examples[0]!.accesses.map((x) => x.kind)).toEqual([
        'state_read',
        'state_write',
        'state_read',
        'state_write',
      ]);
      expect(new Set(found.examples[0]!.accesses.map((x) => x.traceId))).toEqual(new Set(traceIds));

      // Each trace lists it; neither has a race of its own.
      for (const traceId of traceIds) {
        const { races, analysis } = await s.api.traceRaces(traceId);
        expect(analysis).toBe('done');
        expect(races.map((r) => r.id)).toEqual([found.id]);
      }
      expect((await s.api.races('scope=trace')).races).toEqual([]);
      expect(stock.quantity('7')).toBe(9);
    });

    it('reports nothing when one checkout ends before the other starts', async () => {
      const { s, stock, checkout } = await shop(hosts);
      const a = await checkout(1);
      const b = await checkout(2);
      const traces = await s.settle([a.traceId, b.traceId], { serverSpans: 2 });
      for (const trace of traces) {
        expect(stateAccesses(trace).map((x) => x.kind)).toEqual(['state_read', 'state_write']);
      }

      expect((await s.api.races()).races).toEqual([]);
      for (const { traceId } of [a, b]) {
        const { races, analysis } = await s.api.traceRaces(traceId);
        expect(analysis).toBe('done');
        expect(races).toEqual([]);
      }
      expect(stock.quantity('7')).toBe(8);
    });
  },
);
