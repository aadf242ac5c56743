import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import { type Collector, startCollector } from '../src/server.js';
import {
  ContextRecorder,
  createTestDatabase,
  getJson,
  makeTrace,
  newTraceId,
  postBatch,
} from './fixtures.js';

// End to end with the real analysis module: events in over HTTP, analysis in the background
// scheduler, results out of the query API. Run on SQLite (cross-trace windows kept in memory)
// and on PostgreSQL (windows read back from the shared database).

/** One request whose handler forks two branches that both write `cart:7`: an intra-trace race. */
function forkedWrites(startUs: number): StoredEvent[] {
  const traceId = newTraceId();
  const parent = new ContextRecorder('cart', traceId, null, startUs);
  parent.record('request_received', {
    method: 'POST',
    path: '/cart/7',
    route: '/cart/:id',
    incoming: { status: 'absent', reasons: [] },
  });
  const a = new ContextRecorder(
    'cart',
    traceId,
    null,
    startUs + 2000,
    {},
    { spanId: parent.spanId },
  );
  const b = new ContextRecorder(
    'cart',
    traceId,
    null,
    startUs + 2000,
    {},
    { spanId: parent.spanId },
  );
  parent.record('fork', { child: a.component });
  a.merge(parent.clock);
  parent.record('fork', { child: b.component });
  b.merge(parent.clock);
  a.record('state_write', { resource: 'cart:7', value: { items: 1 } });
  b.record('state_write', { resource: 'cart:7', value: { items: 2 } });
  parent.merge(a.clock);
  parent.record('join', { child: a.component });
  parent.merge(b.clock);
  parent.record('join', { child: b.component });
  parent.record('response_sent', {
    method: 'POST',
    route: '/cart/:id',
    status: 200,
    duration_ms: 9,
  });
  return [...parent.events, ...a.events, ...b.events];
}

/** Two requests that read stock:42 (same version) and then both write it: a lost update. */
function lostUpdate(startUs: number): [StoredEvent[], StoredEvent[]] {
  const make = (offsetUs: number, value: number) => {
    const r = new ContextRecorder('inventory', newTraceId(), null, startUs + offsetUs);
    r.record('request_received', {
      method: 'POST',
      path: '/reserve',
      route: '/reserve',
      incoming: { status: 'absent', reasons: [] },
    });
    r.at(startUs + offsetUs + 2000);
    r.record('state_read', { resource: 'stock:42', value: 5, version: 7 });
    r.at(startUs + offsetUs + 22_000);
    r.record('state_write', { resource: 'stock:42', value, version: 8 });
    r.record('response_sent', { method: 'POST', route: '/reserve', status: 200, duration_ms: 25 });
    return r.events;
  };
  return [make(0, 4), make(1000, 4)];
}

const adminUrl = inject('pgUrl');
const backends: Array<[string, () => Promise<string> | string]> = [
  ['sqlite', () => 'sqlite::memory:'],
];
if (adminUrl) backends.push(['postgres', () => createTestDatabase(adminUrl)]);

describe.each(backends)('analysis through the API (%s)', (_name, storage) => {
  let collector: Collector;
  const start = Date.now() * 1000 - 60_000_000;
  const forked = forkedWrites(start);
  const [first, second] = lostUpdate(start + 5_000_000);
  const checkout = makeTrace({
    startUs: start + 10_000_000,
    uninstrumentedHost: 'pay.example',
    backendStatus: 500,
  });
  const id = (events: StoredEvent[]) => events[0]!.trace_id;
  const api = async (path: string) => (await getJson(`${collector.url}${path}`)).json;

  beforeAll(async () => {
    collector = await startCollector({
      port: 0,
      storage: await storage(),
      analysisDelayMs: 60_000,
    });
    // Split across batches, the way several SDKs would send them.
    expect((await postBatch(collector.url, { events: [...forked, ...first] })).status).toBe(200);
    expect((await postBatch(collector.url, { events: [...second, ...checkout] })).status).toBe(200);
    const run = await fetch(`${collector.url}/api/analysis/run`, { method: 'POST' });
    expect(await run.json()).toMatchObject({
      pending_traces: 0,
      pending_resources: 0,
      failures: 0,
    });
  });
  afterAll(async () => {
    await collector?.close();
  });

  it('finds the intra-trace race between two forked branches', async () => {
    const { races, analysis } = await api(`/api/traces/${id(forked)}/races`);
    expect(analysis).toBe('done');
    expect(races).toHaveLength(1);
    expect(races[0]).toMatchObject({
      scope: 'trace',
      resource: 'cart:7',
      trace_ids: [id(forked)],
      services: ['cart'],
    });
    expect(races[0]).toMatchObject({ kind: 'write_write', count: 1, count_exact: true });
    expect(races[0].examples[0]).toMatchObject({ kind: 'write_write', scope: 'trace' });
  });

  it('finds the lost update across the two requests, from either side', async () => {
    for (const events of [first, second]) {
      const { races } = await api(`/api/traces/${id(events)}/races`);
      expect(races).toHaveLength(1);
      expect(races[0]).toMatchObject({ scope: 'cross', resource: 'stock:42' });
      expect([...races[0].trace_ids].sort()).toEqual([id(first), id(second)].sort());
      expect(races[0]).toMatchObject({ kind: 'lost_update', evidence: 'same_version', count: 1 });
      expect(races[0].examples[0]).toMatchObject({ kind: 'lost_update', evidence: 'same_version' });
      // Each side names the route of the request it ran in, as the sides of a race within a
      // trace do.
      expect(races[0].sides.map((side: { route: string | null }) => side.route)).toEqual([
        'POST /reserve',
        'POST /reserve',
      ]);
    }
    const listed = await api('/api/races?scope=cross&resource=stock:42');
    expect(listed.races).toHaveLength(1);
    expect((await api('/api/races?service=cart')).races).toHaveLength(1);
    const withRaces = await api('/api/traces?has_races=true');
    expect(withRaces.traces.map((t: { trace_id: string }) => t.trace_id).sort()).toEqual(
      [id(forked), id(first), id(second)].sort(),
    );
  });

  it('serves the critical path and diagnostics of a trace', async () => {
    const path = await api(`/api/traces/${id(checkout)}/critical-path`);
    expect(path.critical_path).not.toBeNull();
    expect(JSON.stringify(path.critical_path)).toContain('inventory');
    const { diagnostics } = await api(`/api/traces/${id(checkout)}/diagnostics`);
    expect(diagnostics.errors.length).toBeGreaterThan(0);
    const listed = await api('/api/diagnostics');
    expect(listed.traces.map((t: { trace_id: string }) => t.trace_id)).toContain(id(checkout));
  });

  it('builds the dependency graph with an uninstrumented peer, and service metrics', async () => {
    const range = `from=${Math.floor(start / 1000)}&to=${Math.floor(start / 1000) + 60_000}`;
    const graph = await api(`/api/dependencies?${range}`);
    expect(graph.edges).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ from: 'frontend', to: 'inventory', calls: 1, errors: 1 }),
        expect.objectContaining({ from: 'frontend', to: 'pay.example', calls: 1 }),
      ]),
    );
    expect(graph.nodes).toEqual(
      expect.arrayContaining([{ name: 'pay.example', uninstrumented: true }]),
    );
    const { services } = await api(`/api/services?${range}`);
    const inventory = services.find((s: { service: string }) => s.service === 'inventory');
    expect(inventory).toMatchObject({ requests: 3, errors: 1 });
    expect(inventory.latencyMs.p99).toBeGreaterThan(0);
  });
});
