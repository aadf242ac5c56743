import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import type { AnalysisEngine } from '../src/scheduler/engine.js';
import { type Collector, startCollector } from '../src/server.js';
import { calleeMissing, criticalPath, diagnostics, raceGroup } from './analysis-results.js';
import { getJson, makeTrace, newTraceId, postBatch } from './fixtures.js';

// A stand-in for the analysis module with simple, predictable output of the module's types, so
// that these tests check the collector's wiring (scheduling, storage, filters, pagination) on
// their own.
const engine: AnalysisEngine = {
  analyzeTrace(events) {
    const reads = events.filter((e) => e.kind === 'state_read');
    const writes = events.filter((e) => e.kind === 'state_write');
    return {
      traceId: events[0]!.trace_id,
      races: writes.map((w, i) => raceGroup('read_write', 'trace', reads[i] ?? w, w)),
      criticalPath: criticalPath(events),
      diagnostics: diagnostics({
        brokenChains: events
          .filter((e) => e.kind === 'request_sent' && String(e.data.host).includes('example'))
          .map((e) => calleeMissing(e, String(e.data.host))),
      }),
    };
  },
  detectCrossTraceRaces(accesses) {
    const writes = accesses.filter((e) => e.kind === 'state_write');
    const races = [];
    for (let i = 1; i < writes.length; i++) {
      const [a, b] = [writes[i - 1]!, writes[i]!];
      if (a.trace_id !== b.trace_id) races.push(raceGroup('lost_update', 'cross_trace', a, b));
    }
    return races;
  },
};

const dir = mkdtempSync(join(tmpdir(), 'raceway-api-'));
let collector: Collector;
const base = Date.UTC(2025, 0, 1, 12) * 1000;
const traces: StoredEvent[][] = [];

beforeAll(async () => {
  // A long analysis delay: nothing is analysed until a test asks for it.
  collector = await startCollector({
    port: 0,
    storage: `sqlite:${join(dir, 'api.db')}`,
    engine,
    analysisDelayMs: 3_600_000,
    // The events are dated 2025: kept (and aggregated) whatever today's date.
    retention: '3650d',
  });
  for (let i = 0; i < 5; i++) {
    traces.push(
      makeTrace({
        startUs: base + i * 1_000_000,
        frontend: 'frontend',
        backend: i === 4 ? 'billing' : 'inventory',
        backendStatus: i === 2 ? 500 : 200,
        uninstrumentedHost: i === 1 ? 'pay.example' : undefined,
        resource: 'stock:sku-9',
      }),
    );
  }
  const res = await postBatch(collector.url, { events: traces.flat() });
  expect(res.status).toBe(200);
});

afterAll(async () => {
  await collector?.close();
  rmSync(dir, { recursive: true, force: true });
});

const api = (path: string) => getJson(`${collector.url}${path}`);
const window = `from=${new Date(base / 1000).toISOString()}&to=${base / 1000 + 3_600_000}`;

describe('GET /api/traces', () => {
  it('lists summaries newest first', async () => {
    const { status, json } = await api(`/api/traces?${window}`);
    expect(status).toBe(200);
    expect(json.traces.map((t: { trace_id: string }) => t.trace_id)).toEqual(
      traces.map((t) => t[0]!.trace_id).reverse(),
    );
    expect(json.traces[4]).toMatchObject({
      root_service: 'frontend',
      root_method: 'GET',
      root_route: '/checkout/:id',
      services: ['frontend', 'inventory'],
      span_count: 3,
      status: 'ok',
      analysis: 'pending',
      started_at: '2025-01-01T12:00:00.001000Z',
    });
    expect(json.next_cursor).toBeNull();
  });

  it('filters by service, status and time, and pages with next_cursor', async () => {
    const billing = await api(`/api/traces?${window}&service=billing`);
    expect(billing.json.traces.map((t: { trace_id: string }) => t.trace_id)).toEqual([
      traces[4]![0]!.trace_id,
    ]);
    const errors = await api(`/api/traces?${window}&status=error`);
    expect(errors.json.traces.map((t: { trace_id: string }) => t.trace_id)).toEqual([
      traces[2]![0]!.trace_id,
    ]);
    const late = await api(`/api/traces?from=${base / 1000 + 2_500}&to=${base / 1000 + 3_600_000}`);
    expect(late.json.traces).toHaveLength(2);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { json: { traces: Array<{ trace_id: string }>; next_cursor: string | null } } =
        await api(`/api/traces?${window}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.json.traces.map((t) => t.trace_id));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(seen).toEqual(traces.map((t) => t[0]!.trace_id).reverse());
  });

  it('filters by root route text and by duration', async () => {
    const ids = (page: { json: { traces: Array<{ trace_id: string }> } }) =>
      page.json.traces.map((t) => t.trace_id);
    const all = traces.map((t) => t[0]!.trace_id).reverse();
    expect(ids(await api(`/api/traces?${window}&route=CHECKOUT`))).toEqual(all);
    expect(ids(await api(`/api/traces?${window}&route=%2Fcart`))).toEqual([]);
    const { json } = await api(`/api/traces?${window}`);
    const durations = json.traces.map((t: { duration_ms: number }) => t.duration_ms);
    const shortest = Math.min(...durations);
    expect(ids(await api(`/api/traces?${window}&max_ms=${shortest}`))).toEqual(
      json.traces
        .filter((t: { duration_ms: number }) => t.duration_ms === shortest)
        .map((t: { trace_id: string }) => t.trace_id),
    );
    expect(ids(await api(`/api/traces?${window}&min_ms=${shortest + 1000}`))).toEqual([]);
  });

  it.each([
    ['limit=0', /"limit" must be an integer from 1 to 500/],
    ['limit=abc', /"limit"/],
    ['status=broken', /"status" must be one of error, ok/],
    ['has_races=maybe', /"has_races" must be true or false/],
    ['from=yesterday', /"from" is "yesterday": give an ISO 8601 time/],
    ['cursor=xyz', /"cursor" is not a cursor this API returned/],
    ['from=1969-12-31T23:59:59Z', /"from" is "1969-12-31T23:59:59Z": .* from 1970 to 9999/],
    ['limit=1&limit=2', /"limit" was given more than once/],
    [`service=${'x'.repeat(513)}`, /"service" is longer than 512 characters/],
    ['min_ms=-1', /"min_ms"/],
    ['max_ms=soon', /"max_ms"/],
    ['min_ms=5&max_ms=2', /"min_ms" is above "max_ms": swap them/],
  ])('answers 400 to %s', async (query, message) => {
    const { status, json } = await api(`/api/traces?${query}`);
    expect(status).toBe(400);
    expect(json.error).toBe('bad_request');
    expect(json.message).toMatch(message);
  });
});

describe('GET /api/traces/:traceId', () => {
  it('answers the spans as a tree with their events and clocks', async () => {
    const events = traces[1]!;
    const { status, json } = await api(`/api/traces/${events[0]!.trace_id}`);
    expect(status).toBe(200);
    expect(json.event_count).toBe(events.length);
    expect(json.spans).toHaveLength(1);
    const root = json.spans[0];
    expect(root).toMatchObject({
      kind: 'server',
      service: 'frontend',
      method: 'GET',
      route: '/checkout/:id',
      status: 200,
      duration_ms: 10,
      parent_span_id: null,
    });
    expect(root.children.map((c: { kind: string; host: string }) => [c.kind, c.host])).toEqual([
      ['client', 'inventory:8080'],
      ['client', 'pay.example'],
    ]);
    const call = root.children[0];
    expect(call).toMatchObject({
      status: 200,
      duration_ms: 6,
      url: 'http://inventory:8080/reserve',
    });
    expect(call.children).toHaveLength(1);
    const server = call.children[0];
    expect(server).toMatchObject({
      kind: 'server',
      service: 'inventory',
      route: '/reserve',
      parent_span_id: call.span_id,
    });
    expect(server.events.map((e: { kind: string }) => e.kind)).toEqual([
      'request_received',
      'state_read',
      'state_write',
      'response_sent',
    ]);
    const write = events.find((e) => e.kind === 'state_write')!;
    expect(server.events[2]).toEqual({
      id: write.id,
      kind: 'state_write',
      ts_us: write.ts_us,
      component: write.component,
      clock: write.clock,
      data: write.data,
    });
    expect(root.children[1].children).toEqual([]);
  });

  it('accepts the dashed UUID form of a trace id', async () => {
    const id = traces[0]![0]!.trace_id;
    const uuid =
      `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`.toUpperCase();
    const { status, json } = await api(`/api/traces/${uuid}`);
    expect(status).toBe(200);
    expect(json.trace_id).toBe(id);
  });

  it.each(['', '/critical-path', '/races', '/diagnostics'])(
    'answers 404 for an unknown trace (%s) and 400 for a malformed id',
    async (suffix) => {
      const unknown = await api(`/api/traces/${newTraceId()}${suffix}`);
      expect(unknown.status).toBe(404);
      expect(unknown.json).toMatchObject({ error: 'not_found' });
      expect(unknown.json.message).toMatch(/retention/);
      const bad = await api(`/api/traces/not-a-trace${suffix}`);
      expect(bad.status).toBe(400);
      expect(bad.json.message).toMatch(/not a trace id/);
    },
  );
});

describe('analysis', () => {
  it('is pending until run, then serves critical paths, races and diagnostics', async () => {
    const id = traces[1]![0]!.trace_id;
    const before = await api(`/api/traces/${id}/critical-path`);
    expect(before.json).toMatchObject({
      trace_id: id,
      analysis: 'pending',
      analyzed_at: null,
      critical_path: null,
    });
    expect((await api('/api/analysis/status')).json.pending_traces).toBe(5);

    const run = await fetch(`${collector.url}/api/analysis/run`, { method: 'POST' });
    expect(run.status).toBe(200);
    const status = (await run.json()) as Record<string, number>;
    expect(status).toMatchObject({
      pending_traces: 0,
      pending_resources: 0,
      traces_analyzed: 5,
      failures: 0,
    });

    const path = await api(`/api/traces/${id}/critical-path`);
    expect(path.json).toMatchObject({ analysis: 'done' });
    expect(path.json.critical_path.services.map((s: { service: string }) => s.service)).toEqual([
      'frontend',
      'inventory',
    ]);
    expect(Date.parse(path.json.analyzed_at)).toBeGreaterThan(0);
    const diagnostics = await api(`/api/traces/${id}/diagnostics`);
    expect(diagnostics.json.diagnostics.brokenChains).toMatchObject([
      { kind: 'callee_missing', host: 'pay.example' },
    ]);

    const races = await api(`/api/traces/${id}/races`);
    const scopes = races.json.races.map((r: { scope: string }) => r.scope).sort();
    // its own read-write race, and lost updates with the traces before and after it: the same
    // two sites (inventory and inventory), so one group of two
    expect(scopes).toEqual(['cross', 'trace']);
    const crossGroup = races.json.races.find((r: { scope: string }) => r.scope === 'cross');
    expect(crossGroup).toMatchObject({ count: 2, examples: [{}, {}] });
    expect(crossGroup.trace_ids).toHaveLength(3);
    expect(crossGroup.trace_ids).toContain(id);
    expect(races.json.races[0]).toMatchObject({ resource: 'stock:sku-9' });

    const listed = await api(`/api/traces?${window}&has_races=true`);
    expect(listed.json.traces).toHaveLength(5);
    expect(listed.json.traces.every((t: { analysis: string }) => t.analysis === 'done')).toBe(true);
  });

  it('filters /api/races by resource, service, scope and time, with pagination', async () => {
    const all = await api(`/api/races?${window}`);
    // Four cross-trace lost updates, between consecutive traces: three of inventory with
    // inventory (one group, counted) and one of inventory with billing.
    expect(all.json.races).toHaveLength(5 + 2);
    const cross = await api('/api/races?scope=cross');
    expect(
      cross.json.races.map((r: { count: number; trace_ids: string[]; services: string[] }) => [
        r.count,
        r.trace_ids.length,
        r.services,
      ]),
    ).toEqual([
      [1, 2, ['inventory', 'billing']],
      [3, 4, ['inventory']],
    ]);
    expect(cross.json.races[1].explanation).toMatch(/^3 lost updates on stock:sku-9 between/);
    expect((await api('/api/races?resource=stock:sku-9')).json.races).toHaveLength(7);
    expect((await api('/api/races?resource=other')).json.races).toHaveLength(0);
    const billing = await api('/api/races?service=billing');
    expect(billing.json.races.map((r: { scope: string }) => r.scope).sort()).toEqual([
      'cross',
      'trace',
    ]);
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { json: { races: Array<{ id: string }>; next_cursor: string | null } } =
        await api(`/api/races?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...page.json.races.map((r) => r.id));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(ids).toHaveLength(7);
    expect(new Set(ids).size).toBe(7);
    expect((await api('/api/races?scope=both')).status).toBe(400);
  });

  it('lists traces with diagnostics', async () => {
    const { json } = await api(`/api/diagnostics?${window}`);
    expect(json.traces.map((t: { trace_id: string }) => t.trace_id)).toEqual([
      traces[1]![0]!.trace_id,
    ]);
    expect(json.traces[0].diagnostic_count).toBe(1);
  });

  it('analyses quiet traces by itself after the configured delay', async () => {
    const quick = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      engine,
      analysisDelayMs: 20,
    });
    try {
      const events = makeTrace();
      await postBatch(quick.url, { events });
      let analysis = '';
      for (let i = 0; i < 200 && analysis !== 'done'; i++) {
        await new Promise((r) => setTimeout(r, 25));
        analysis = (await getJson(`${quick.url}/api/traces/${events[0]!.trace_id}`)).json.analysis;
      }
      expect(analysis).toBe('done');
      expect(
        (await getJson(`${quick.url}/api/traces/${events[0]!.trace_id}/races`)).json.races,
      ).toHaveLength(1);
    } finally {
      await quick.close();
    }
  });
});

describe('aggregates', () => {
  it('answers /api/services and /api/dependencies for a time range', async () => {
    const services = await api(`/api/services?${window}`);
    expect(services.status).toBe(200);
    expect(services.json.services).toEqual([
      expect.objectContaining({ service: 'billing', requests: 1, errors: 0 }),
      expect.objectContaining({ service: 'frontend', requests: 5, errors: 1 }),
      expect.objectContaining({ service: 'inventory', requests: 4, errors: 1 }),
    ]);
    expect(services.json.services[2].latencyMs.p50).toBeCloseTo(4.5, 0);
    // Within the retention (3650 days): the stored aggregates hold every request ingested.
    expect(services.json).toMatchObject({ from: '2025-01-01T12:00:00.000000Z', truncated: false });
    const deps = await api(`/api/dependencies?${window}`);
    expect(deps.json.nodes).toEqual([
      { name: 'billing', uninstrumented: false },
      { name: 'frontend', uninstrumented: false },
      { name: 'inventory', uninstrumented: false },
      { name: 'pay.example', uninstrumented: true },
    ]);
    expect(deps.json.edges).toEqual([
      expect.objectContaining({ from: 'frontend', to: 'billing', calls: 1, errors: 0 }),
      expect.objectContaining({ from: 'frontend', to: 'inventory', calls: 4, errors: 1 }),
      expect.objectContaining({ from: 'frontend', to: 'pay.example', calls: 1 }),
    ]);
    expect(deps.json.events_considered).toBeGreaterThan(0);
    expect(
      (await api('/api/services?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z')).status,
    ).toBe(400);
    // Default range: the last hour, where nothing was sent.
    expect((await api('/api/dependencies')).json.events_considered).toBe(0);
  });
});

describe('the SDKs of the services', () => {
  it("names the SDK, version and language of each service's batches, the newest first", async () => {
    const own = await startCollector({ port: 0, storage: 'sqlite::memory:', engine });
    try {
      const send = async (sdk: object | undefined, instance: string) => {
        const events = makeTrace().map((e) => ({ ...e, instance }));
        const byService = (name: string) => events.filter((e) => e.service === name);
        const python = { name: 'raceway-sdk', version: '0.1.0', language: 'python' };
        // The frontend's events and the inventory's come in batches of their own SDKs.
        expect((await postBatch(own.url, { sdk, events: byService('frontend') })).status).toBe(200);
        expect(
          (await postBatch(own.url, { sdk: python, events: byService('inventory') })).status,
        ).toBe(200);
      };
      await send({ name: '@raceway/core', version: '0.1.0', language: 'javascript' }, 'web-1');
      await send({ name: '@raceway/core', version: '0.1.0', language: 'javascript' }, 'web-2');
      await send({ name: '@raceway/core', version: '0.2.0' }, 'web-3'); // a rollout, no language
      await send(undefined, 'web-4'); // a batch that names no SDK changes nothing
      const { json } = await getJson(`${own.url}/api/services`);
      const sdksOf = (name: string) =>
        json.services.find((s: { service: string }) => s.service === name)?.sdks;
      expect(sdksOf('frontend')).toEqual([
        {
          name: '@raceway/core',
          version: '0.2.0',
          language: null,
          instances: 1,
          last_seen: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        },
        expect.objectContaining({ version: '0.1.0', language: 'javascript', instances: 2 }),
      ]);
      expect(sdksOf('inventory')).toEqual([
        expect.objectContaining({ name: 'raceway-sdk', language: 'python', instances: 4 }),
      ]);
    } finally {
      await own.close();
    }
  });
});

describe('health, errors and documentation', () => {
  it('answers /healthz with storage and counts', async () => {
    const { status, json } = await api('/healthz');
    expect(status).toBe(200);
    expect(json).toMatchObject({
      status: 'ok',
      storage: { kind: 'sqlite', reachable: true },
      counts: { traces: 5, events: traces.flat().length },
    });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const { status, json } = await api('/api/nothing');
    expect(status).toBe(404);
    expect(json).toEqual({
      error: 'not_found',
      message: 'no route GET /api/nothing: see /api/openapi.json',
    });
  });

  it('documents every route in /api/openapi.json, and documents no route that does not exist', async () => {
    const { json: doc } = await api('/api/openapi.json');
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const served = collector.routes.map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(served.length).toBeGreaterThan(10);
    expect([...documented].sort()).toEqual([...new Set(served)].sort());
  });
});

describe('retention', () => {
  it('deletes data older than the retention period on its periodic run', async () => {
    const c = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      engine,
      retention: '1h',
      retentionIntervalMs: 30,
    });
    try {
      const old = makeTrace({ startUs: Date.now() * 1000 - 2 * 3_600_000_000 });
      const fresh = makeTrace();
      // Ingestion refuses events already past retention (hardening.test.ts): these were stored
      // while they were young, as storage sees it.
      await c.storage.insertEvents(old);
      expect((await postBatch(c.url, { events: fresh })).status).toBe(200);
      let found = 200;
      for (let i = 0; i < 100 && found === 200; i++) {
        await new Promise((r) => setTimeout(r, 30));
        found = (await getJson(`${c.url}/api/traces/${old[0]!.trace_id}`)).status;
      }
      expect(found).toBe(404);
      expect((await getJson(`${c.url}/api/traces/${fresh[0]!.trace_id}`)).status).toBe(200);
      expect((await getJson(`${c.url}/healthz`)).json.counts.events).toBe(fresh.length);
    } finally {
      await c.close();
    }
  });

  it('refuses a retention that is not a duration', async () => {
    await expect(
      startCollector({ port: 0, storage: 'sqlite::memory:', retention: 'forever' }),
    ).rejects.toMatchObject({
      name: 'RacewayConfigError',
      code: 'RACEWAY_INVALID_DURATION',
    });
  });
});
