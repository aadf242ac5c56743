import { describe, expect, it } from 'vitest';
import { buildDependencyGraph } from './dependency-graph.js';
import { serviceMetrics } from './service-metrics.js';
import { TraceSimulator } from './test-support/trace-simulator.js';
import { TrafficAggregates, type TrafficBucketJSON } from './traffic-aggregates.js';

/** Checkouts calling inventory (answered) and a payment host nobody instruments. */
function traffic(startUs: number) {
  const events = [];
  for (let i = 0; i < 5; i++) {
    const sim = new TraceSimulator({ startUs: startUs + i * 1000, autoAdvanceUs: 10 });
    const gateway = sim.service('gateway');
    const inventory = sim.service('inventory');
    const root = sim.request(gateway, { route: '/checkout' });
    const call = root.call(inventory);
    call.serve({ route: '/reserve' }).respond({ status: i === 0 ? 503 : 200 });
    call.receive({ status: i === 0 ? 503 : 200 });
    const pay = root.call('pay.example');
    pay.receive({ status: 200 });
    root.respond();
    events.push(...sim.events);
  }
  return events;
}

describe('TrafficAggregates', () => {
  const nowMs = Date.now();
  const events = traffic((nowMs - 60_000) * 1000);

  it('gives the service metrics and dependency graph the raw-event functions give', () => {
    const aggregates = new TrafficAggregates();
    aggregates.add(events, nowMs);
    const range = [nowMs - 3_600_000, nowMs] as const;
    const fromEvents = serviceMetrics(events, { windowMs: 3_600_000 });
    expect(aggregates.serviceMetrics(...range)).toEqual(
      fromEvents.map((s) =>
        expect.objectContaining({ service: s.service, requests: s.requests, errors: s.errors }),
      ),
    );
    const graph = buildDependencyGraph(events);
    const aggregated = aggregates.dependencyGraph(...range);
    expect(aggregated.nodes).toEqual(graph.nodes);
    expect(aggregated.edges.map(({ latencyMs: _, ...e }) => e)).toEqual(
      graph.edges.map(({ latencyMs: _, ...e }) => e),
    );
  });

  it('matches a call with the server span that answered it in either arrival order', () => {
    const serverFirst = new TrafficAggregates();
    const clientFirst = new TrafficAggregates();
    const servers = events.filter(
      (e) => e.kind === 'request_received' || e.kind === 'response_sent',
    );
    const clients = events.filter((e) => !servers.includes(e));
    serverFirst.add(servers, nowMs);
    serverFirst.add(clients, nowMs);
    clientFirst.add(clients, nowMs);
    clientFirst.add(servers, nowMs);
    const range = [nowMs - 3_600_000, nowMs] as const;
    expect(clientFirst.dependencyGraph(...range)).toEqual(serverFirst.dependencyGraph(...range));
  });

  it('keeps minutes for a day, hours beyond, nothing past the horizon', () => {
    const aggregates = new TrafficAggregates(3 * 86_400_000, 86_400_000);
    const old = traffic((nowMs - 2 * 86_400_000) * 1000);
    const ancient = traffic((nowMs - 4 * 86_400_000) * 1000);
    aggregates.add([...old, ...ancient, ...events], nowMs);
    const all = aggregates.serviceMetrics(0, nowMs);
    expect(all.find((s) => s.service === 'gateway')?.requests).toBe(10);
    expect(aggregates.coverage(nowMs - 4 * 86_400_000, nowMs, nowMs).truncated).toBe(true);
    expect(aggregates.coverage(nowMs - 3_600_000, nowMs, nowMs).truncated).toBe(false);
  });

  it('gives, through its saved changes, the answers it gives itself (compaction included)', () => {
    // What a store of its changes holds: buckets by span and start, compacted minutes gone.
    const saved = new Map<string, TrafficBucketJSON>();
    const save = (aggregates: TrafficAggregates) => {
      const { buckets, compactedMinutes } = aggregates.takeChanged();
      for (const minute of compactedMinutes) saved.delete(`${60_000}:${minute}`);
      for (const bucket of buckets) saved.set(`${bucket.spanMs}:${bucket.startMs}`, bucket);
    };
    const hourMs = 3_600_000;
    const aggregates = new TrafficAggregates(10 * hourMs, 2 * hourMs);
    const startMs = nowMs - 5 * hourMs;
    // Five hours of traffic, saved as it goes; minutes cross into hours on the way.
    for (let step = 0; step < 30; step++) {
      const atMs = startMs + step * 10 * 60_000;
      aggregates.add(traffic(atMs * 1000), atMs + 2 * hourMs + 61_000);
      save(aggregates);
    }
    expect([...saved.keys()].some((k) => k.startsWith(`${hourMs}:`))).toBe(true);
    const stored = TrafficAggregates.fromBuckets(saved.values());
    const range = [startMs - hourMs, nowMs] as const;
    expect(stored.serviceMetrics(...range)).toEqual(aggregates.serviceMetrics(...range));
    expect(stored.dependencyGraph(...range)).toEqual(aggregates.dependencyGraph(...range));
    expect(stored.serviceMetrics(...range).find((m) => m.service === 'gateway')?.requests).toBe(
      150,
    );
    // Two collectors' rows of the same minutes add up.
    const twice = TrafficAggregates.fromBuckets([...saved.values(), ...saved.values()]);
    expect(twice.serviceMetrics(...range).find((m) => m.service === 'gateway')?.requests).toBe(300);
  });

  it('names the callee of an unanswered host from elsewhere, and lists its sample calls', () => {
    const sim = new TraceSimulator({ startUs: (nowMs - 60_000) * 1000, autoAdvanceUs: 10 });
    const root = sim.request(sim.service('svc-a'), { route: '/a' });
    const call = root.call('svc-b:80');
    call.receive({ status: 200 });
    root.respond();
    const aggregates = new TrafficAggregates();
    aggregates.add(sim.events, nowMs);
    const range = [nowMs - 3_600_000, nowMs] as const;
    const unmatched = aggregates.unmatchedHosts(...range);
    expect([...unmatched.keys()]).toEqual(['svc-b:80']);
    expect(unmatched.get('svc-b:80')?.[0]).toMatch(/^[0-9a-f]{32}:[0-9a-f]{16}$/);
    expect(aggregates.dependencyGraph(...range).nodes).toContainEqual({
      name: 'svc-b:80',
      uninstrumented: true,
    });
    const resolved = aggregates.dependencyGraph(...range, new Map([['svc-b:80', 'svc-b']]));
    expect(resolved.nodes).toEqual([
      { name: 'svc-a', uninstrumented: false },
      { name: 'svc-b', uninstrumented: false },
    ]);
    expect(resolved.edges).toEqual([
      expect.objectContaining({ from: 'svc-a', to: 'svc-b', calls: 1, unmatched: 0 }),
    ]);
  });
});
