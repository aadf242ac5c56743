import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../src/catalogue.mjs';
import {
  collectorApi,
  flattenSpans,
  type RaceGroup,
  type SpanNode,
} from '../src/collector-api.mjs';
import { type CollectorProcess, startCollectorProcess } from '../src/collector-process.mjs';
import { type RunningShop, startShop } from '../src/launch.mjs';
import { readStock, stockLabel, stockResource } from '../src/stock.mjs';
import { testCheckouts, type Visit } from '../src/traffic.mjs';

// The whole product, as a user runs it: `raceway serve` and the six services of the shop as
// separate processes on free ports, real HTTP between them, events over the real transport,
// and every assertion made on the collector's query API.

let dir: string;
let collector: CollectorProcess | undefined;
let shop: RunningShop | undefined;
let api: ReturnType<typeof collectorApi>;
let concurrent: Visit;
let sequential: Visit;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raceway-shop-'));
  collector = await startCollectorProcess({
    port: 0,
    storage: `sqlite:${join(dir, 'collector.db')}`,
  });
  api = collectorApi(collector.url);
  shop = await startShop({ collectorUrl: collector.url, dataDir: dir, basePort: 0 });
  ({ concurrent, sequential } = await testCheckouts(shop.urls.frontend!));
  // Stopping the services (SIGTERM) makes each one flush its events before it exits.
  await shop.stop();
  await api.analyze();
});

afterAll(async () => {
  await shop?.stop();
  await collector?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the example shop, traced end to end', () => {
  it('answers both checkouts, the sequential one with both decrements in the database', () => {
    expect(concurrent.status).toBe(201);
    expect(sequential.status).toBe(201);
    expect(concurrent.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(sequential.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(concurrent.traceId).not.toBe(sequential.traceId);

    // Whether this run's concurrent checkout actually lost its decrement of mug depends on
    // timing; the race is reported from the clocks either way (below).
    expect(readStock(shop!.stockDb, 'tee')).toBe(9998);
  });

  it('follows a checkout through every service under one trace id', async () => {
    const trace = await api.trace(concurrent.traceId!);
    expect(trace.trace_id).toBe(concurrent.traceId);
    expect([...trace.services].sort()).toEqual(SERVICES.map((s) => s.name).sort());

    const spans = flattenSpans(trace.spans as SpanNode[]);
    const servers = spans.filter((s) => s.kind === 'server');
    expect(servers.map((s) => s.service).sort()).toEqual(
      ['api', 'auth', 'frontend', 'inventory', 'order', 'payment'].sort(),
    );
    // One root (the frontend), every other span hangs off a span of the same trace.
    expect(trace.spans).toHaveLength(1);
    expect(trace.spans[0].service).toBe('frontend');
    expect(spans.filter((s) => s.parent_missing)).toEqual([]);
  });

  it('builds exactly the dependency graph of the shop, with counts and latencies', async () => {
    const { edges } = await api.dependencies();
    const byName = new Map(
      (edges as Array<{ from: string; to: string }>).map((e) => [`${e.from}->${e.to}`, e]),
    );
    expect([...byName.keys()].sort()).toEqual(
      ['api->auth', 'api->inventory', 'api->order', 'frontend->api', 'order->payment'].sort(),
    );
    for (const edge of edges) {
      // Three checkouts; none of them failed.
      expect(edge.calls, `${edge.from}->${edge.to}`).toBe(3);
      expect(edge.errors).toBe(0);
      expect(edge.latencyMs.p50).toBeGreaterThan(0);
      expect(edge.latencyMs.p99).toBeGreaterThanOrEqual(edge.latencyMs.p50);
    }
  });

  it('puts frontend, api, auth, order and payment on the critical path, in that order', async () => {
    const { critical_path: path } = await api.criticalPath(concurrent.traceId!);
    expect(path).not.toBeNull();
    const reached: string[] = [];
    for (const section of path.sections) {
      if (!reached.includes(section.service)) reached.push(section.service);
    }
    const described = JSON.stringify({ sections: path.sections, services: path.services });
    // inventory runs alongside order and finishes first: it is not on the path.
    expect(reached, described).toEqual(['frontend', 'api', 'auth', 'order', 'payment']);
    // payment works for at least 120 ms (150 ms +- 20 %; 115 allows for timer granularity), all
    // of it on the path, several times what any other service does: it leads the path even when
    // a busy machine stalls another process for a while.
    const payment = path.services.find((s: { service: string }) => s.service === 'payment');
    expect(payment?.ms, described).toBeGreaterThanOrEqual(115);
    expect(path.biggestContributor, described).toBe('payment');
    expect(path.totalMs).toBeGreaterThan(payment.ms);
  });

  it('reports the lost update on the stock of mug between order and inventory, from SQL alone', async () => {
    const { races } = (await api.traceRaces(concurrent.traceId!)) as { races: RaceGroup[] };
    const inside = races.filter((r) => r.scope === 'trace');
    expect(inside.length).toBeGreaterThan(0);
    const lost = inside.find((r) => r.kind === 'lost_update');
    expect(lost).toBeDefined();
    // Found in the statements better-sqlite3 ran: the services call no tracking function.
    expect(lost!.resource).toBe(stockResource('mug'));
    expect(lost!.label).toBe(stockLabel('mug'));
    expect(lost!.trace_ids).toEqual([concurrent.traceId]);
    expect([...lost!.services].sort()).toEqual(['inventory', 'order']);
    expect(lost!.explanation).toMatch(/lost/);
    expect(lost!.examples[0]!.explanation).toMatch(/lost/);
  });

  it('finds no race in the sequential checkout', async () => {
    const { races } = await api.traceRaces(sequential.traceId!);
    expect(races).toEqual([]);
    const trace = await api.trace(sequential.traceId!);
    expect(trace.race_count).toBe(0);
    // Same services as the concurrent checkout: the difference is the order, not the calls.
    expect([...trace.services].sort()).toEqual(SERVICES.map((s) => s.name).sort());
  });
});
