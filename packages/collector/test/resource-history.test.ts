import { paramDigest } from '@raceway/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { History, HistoryEntry } from '../src/api/schemas/index.js';
import type { StoredEvent } from '../src/event.js';
import { type Collector, startCollector } from '../src/server.js';
import { ContextRecorder, createTestDatabase, getJson, newTraceId, postBatch } from './fixtures.js';

// GET /api/resources/history: every access of one resource across traces, in time order and,
// within a trace, in happens-before order; state events and SQL row-and-column resources.

/** A request that reads `stock:mug` and writes it back `writeMs` after its start. */
function readModifyWrite(service: string, startUs: number, readMs: number, writeMs: number) {
  const r = new ContextRecorder(service, newTraceId(), null, startUs);
  r.record('request_received', {
    method: 'POST',
    path: '/buy',
    route: '/buy',
    incoming: { status: 'absent', reasons: [] },
  });
  r.at(startUs + readMs * 1000);
  r.record('state_read', { resource: 'stock:mug', value: 3, version: 1 });
  r.at(startUs + writeMs * 1000);
  r.record('state_write', { resource: 'stock:mug', value: 2, version: 2 });
  r.record('response_sent', { method: 'POST', route: '/buy', status: 200, duration_ms: 30 });
  return r.events;
}

/**
 * A request that reads `stock:mug`, then forks a task that writes it; the task's clock is
 * behind (its timestamp is earlier than the read's), but its clock says it came after.
 */
function skewedFork(service: string, startUs: number): StoredEvent[] {
  const traceId = newTraceId();
  const parent = new ContextRecorder(service, traceId, null, startUs);
  parent.record('request_received', {
    method: 'POST',
    path: '/restock',
    route: '/restock',
    incoming: { status: 'absent', reasons: [] },
  });
  parent.at(startUs + 40_000);
  parent.record('state_read', { resource: 'stock:mug', value: 2, version: 2 });
  const child = new ContextRecorder(
    service,
    traceId,
    null,
    startUs + 34_000,
    {},
    {
      spanId: parent.spanId,
    },
  );
  parent.record('fork', { child: child.component });
  child.merge(parent.clock);
  child.record('state_write', { resource: 'stock:mug', value: 10, version: 3 });
  return [...parent.events, ...child.events];
}

/**
 * Two forked tasks write `stock:cup` concurrently: the first forked (smaller clock sum) writes
 * last. With no happens-before between them, history shows them in time order.
 */
function concurrentWrites(startUs: number): StoredEvent[] {
  const traceId = newTraceId();
  const parent = new ContextRecorder('shop', traceId, null, startUs);
  const task = (atUs: number) => {
    const child = new ContextRecorder('shop', traceId, null, atUs, {}, { spanId: parent.spanId });
    parent.record('fork', { child: child.component });
    child.merge(parent.clock);
    return child;
  };
  const late = task(startUs + 30_000);
  const early = task(startUs + 10_000);
  early.record('state_write', { resource: 'stock:cup', value: 1 });
  late.record('state_write', { resource: 'stock:cup', value: 2 });
  return [...parent.events, ...late.events, ...early.events];
}

const stockOf = (id: number) => `products[id=${paramDigest(id)}].stock`;

/** One request: SELECT stock of product 7 (seeing `seen`), then UPDATE it to `writes`. */
function sqlRequest(service: string, startUs: number, seen: number, writes: number) {
  const r = new ContextRecorder(service, newTraceId(), null, startUs);
  const query = (statement: string, params: unknown[], returned?: Record<string, unknown>) =>
    r.record('db_query', {
      system: 'postgresql',
      statement,
      params: params.map((v) => ({ digest: paramDigest(v) })),
      connection: `pool#${service}-1`,
      database: 'shop',
      rows: returned ? 1 : null,
      duration_ms: 1,
      ...(returned
        ? {
            returned: [
              Object.fromEntries(Object.entries(returned).map(([k, v]) => [k, paramDigest(v)])),
            ],
          }
        : {}),
    });
  r.at(startUs + 2000);
  query('SELECT stock FROM products WHERE id = $1', [7], { stock: seen });
  r.at(startUs + 22_000);
  query('UPDATE products SET stock = $1 WHERE id = $2', [writes, 7]);
  return r.events;
}

const adminUrl = inject('pgUrl');
const backends: Array<[string, () => Promise<string> | string]> = [
  ['sqlite', () => 'sqlite::memory:'],
];
if (adminUrl) backends.push(['postgres', () => createTestDatabase(adminUrl)]);

describe.each(backends)('resource history through the API (%s)', (_name, storage) => {
  let collector: Collector;
  const start = Date.now() * 1000 - 60_000_000;
  const shop = readModifyWrite('shop', start, 2, 20);
  const warehouse = readModifyWrite('warehouse', start + 1000, 2, 24);
  const restock = skewedFork('shop', start);
  const cups = concurrentWrites(start);
  const order = sqlRequest('order', start + 5_000_000, 5, 4);
  const inventory = sqlRequest('inventory', start + 5_001_000, 5, 4);
  const history = async (query: string): Promise<History> => {
    const { status, json } = await getJson(`${collector.url}/api/resources/history?${query}`);
    expect(status).toBe(200);
    return json;
  };
  const ids = (events: StoredEvent[], kind: string) =>
    events.filter((e) => e.kind === kind).map((e) => e.id);

  beforeAll(async () => {
    collector = await startCollector({
      port: 0,
      storage: await storage(),
      analysisDelayMs: 60_000,
    });
    const events = [...shop, ...warehouse, ...restock, ...cups, ...order, ...inventory];
    expect((await postBatch(collector.url, { events })).status).toBe(200);
    const run = await fetch(`${collector.url}/api/analysis/run`, { method: 'POST' });
    expect(await run.json()).toMatchObject({ pending_traces: 0, failures: 0 });
  });
  afterAll(async () => {
    await collector?.close();
  });

  it('lists every access of stock:mug across traces, by time and happens-before', async () => {
    const answer = await history('resource=stock:mug');
    expect(answer).toMatchObject({ resource: 'stock:mug', truncated: false, entries_returned: 6 });
    const order = answer.entries.map((e) => [e.service, e.kind, e.ts_us - start]);
    expect(order).toEqual([
      ['shop', 'read', 2000],
      ['warehouse', 'read', 3000],
      ['shop', 'write', 20_000],
      ['warehouse', 'write', 25_000],
      // The forked write is stamped before the read, but its clock says it came after.
      ['shop', 'read', 40_000],
      ['shop', 'write', 35_000],
    ]);
    const first = answer.entries[0]!;
    expect(first).toMatchObject({
      trace_id: shop[0]!.trace_id,
      event_id: ids(shop, 'state_read')[0],
      instance: 'shop-1',
      event_kind: 'state_read',
      value: 3,
      version: 1,
      statement: null,
    });
    expect(first.clock).toEqual(shop.find((e) => e.kind === 'state_read')!.clock);
    expect(new Date(first.time).getTime()).toBe(Math.floor(first.ts_us / 1000));
    // The lost update between shop and warehouse: its accesses name the race.
    const { json } = await getJson(`${collector.url}/api/races?resource=stock:mug&scope=cross`);
    expect(json.races.length).toBeGreaterThan(0);
    const raceId = json.races[0].id as string;
    const inRace = answer.entries.filter((e) => e.races.includes(raceId));
    expect(new Set(inRace.map((e) => e.service))).toEqual(new Set(['shop', 'warehouse']));
  });

  it('lists concurrent accesses of one trace in time order', async () => {
    const answer = await history('resource=stock:cup');
    expect(answer.entries.map((e) => [e.value, e.ts_us - start])).toEqual([
      [1, 11_000],
      [2, 31_000],
    ]);
  });

  it('lists the SQL accesses of a row and column with their statements and digests', async () => {
    const resource = stockOf(7);
    const answer = await history(`resource=${encodeURIComponent(resource)}`);
    const rows = answer.entries.map((e: HistoryEntry) => [e.service, e.kind, e.statement]);
    const select = 'SELECT stock FROM products WHERE id = $1';
    const update = 'UPDATE products SET stock = $1 WHERE id = $2';
    expect(rows).toEqual([
      ['order', 'read', select],
      ['inventory', 'read', select],
      ['order', 'write', update],
      ['inventory', 'write', update],
    ]);
    expect(answer.entries[0]).toMatchObject({ event_kind: 'db_query', value: paramDigest(5) });
    expect(answer.entries[2]).toMatchObject({ value: paramDigest(4) });
  });

  it('keeps the newest accesses within limit and the time range', async () => {
    const limited = await history('resource=stock:mug&limit=2');
    expect(limited).toMatchObject({ truncated: true, entries_returned: 2 });
    const from = Math.floor(start / 1000) + 30;
    const late = await history(`resource=stock:mug&from=${from}`);
    expect(late.entries.map((e) => e.ts_us - start)).toEqual([40_000, 35_000]);
    expect((await history('resource=nothing:here')).entries).toEqual([]);
    const missing = await getJson(`${collector.url}/api/resources/history`);
    expect(missing.status).toBe(400);
  });
});
