import { describe, expect, it } from 'vitest';
import { buildDependencyGraph } from './dependency-graph.js';
import type { Event } from './event.js';
import { serviceMetrics } from './service-metrics.js';
import { TraceSimulator } from './test-support/trace-simulator.js';

/** One order request: order calls inventory (taking `ms`), then the uninstrumented payments host. */
function orderTrace(
  startMs: number,
  ms: number,
  options: { inventoryStatus?: number; dropInventory?: boolean } = {},
): Event[] {
  const sim = new TraceSimulator();
  const order = sim.service('order');
  const inventory = sim.service('inventory');
  sim.at(startMs);
  const root = sim.request(order, { method: 'POST', route: '/orders' });
  const call = root.call(inventory, { path: '/reserve' });
  const handler = call.serve();
  sim.advance(ms);
  handler.respond({ status: options.inventoryStatus ?? 200 });
  call.receive({ status: options.inventoryStatus ?? 200 });
  const pay = root.call('payments.example.com:443', { method: 'POST', path: '/charge' });
  sim.advance(20);
  pay.receive({ status: 200 });
  root.respond({ status: (options.inventoryStatus ?? 200) >= 500 ? 502 : 201 });
  return options.dropInventory ? sim.events.filter((e) => e.service !== 'inventory') : sim.events;
}

describe('buildDependencyGraph', () => {
  it('builds edges with counts, errors and latency percentiles, and uninstrumented peers', () => {
    const events = [
      ...Array.from({ length: 98 }, (_, i) => orderTrace(i * 100, 10 + (i % 10))).flat(),
      ...orderTrace(10_000, 40, { inventoryStatus: 503 }),
      ...orderTrace(10_100, 15, { dropInventory: true }),
    ];
    const graph = buildDependencyGraph(events);
    expect(graph.nodes).toEqual([
      { name: 'inventory', uninstrumented: false },
      { name: 'order', uninstrumented: false },
      { name: 'payments.example.com:443', uninstrumented: true },
    ]);
    const payments = graph.edges.find((e) => e.to === 'payments.example.com:443');
    const inventory = graph.edges.find((e) => e.to === 'inventory');
    expect(graph.edges).toHaveLength(2);
    expect(payments).toMatchObject({
      from: 'order',
      to: 'payments.example.com:443',
      calls: 100,
      errors: 0,
      unmatched: 0,
    });
    expect(payments?.latencyMs.p50).toBeCloseTo(20, 0);
    expect(inventory).toMatchObject({
      from: 'order',
      to: 'inventory',
      calls: 100,
      errors: 1,
      errorRate: 0.01,
      unmatched: 1,
    });
    // Latencies 10..19 ms (about ten each) plus 40 and 15: the value at rank 49.5 of 100 is 14,
    // at rank 98 it is 19; the sketch answers within 1%.
    expect(inventory?.latencyMs.p50).toBeGreaterThanOrEqual(14 * 0.99);
    expect(inventory?.latencyMs.p50).toBeLessThanOrEqual(14 * 1.01);
    expect(inventory?.latencyMs.p99).toBeGreaterThanOrEqual(18.8);
    expect(inventory?.latencyMs.p99).toBeLessThanOrEqual(19.2);
  });

  it('ignores other kinds and gives an empty graph for no calls', () => {
    expect(buildDependencyGraph([])).toEqual({ nodes: [], edges: [] });
  });
});

describe('serviceMetrics', () => {
  it('counts requests, errors, latency and throughput per service', () => {
    const events = [
      ...Array.from({ length: 9 }, (_, i) => orderTrace(i * 1000, 10)).flat(),
      ...orderTrace(9000, 10, { inventoryStatus: 500 }),
    ];
    const metrics = serviceMetrics(events);
    expect(metrics.map((m) => [m.service, m.requests, m.errors, m.errorRate, m.instances])).toEqual(
      [
        ['inventory', 10, 1, 0.1, 1],
        ['order', 10, 1, 0.1, 1],
      ],
    );
    const inventory = metrics[0]!;
    expect(inventory.latencyMs.p50).toBeCloseTo(10, 0);
    // Ten requests over the 9.03 s from the first event to the last.
    expect(inventory.requestsPerSecond).toBeCloseTo(10 / 9.03, 2);
    expect(serviceMetrics(events, { windowMs: 60_000 })[0]?.requestsPerSecond).toBeCloseTo(
      1 / 6,
      3,
    );
  });
});
