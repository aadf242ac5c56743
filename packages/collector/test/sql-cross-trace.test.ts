import { paramDigest } from '@raceway/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import { type Collector, startCollector } from '../src/server.js';
import { ContextRecorder, createTestDatabase, getJson, newTraceId, postBatch } from './fixtures.js';

// Cross-trace races from SQL, end to end: db_query events in over HTTP, the scheduler's
// cross-trace pass over the windows of each row and column (kept in memory on SQLite, read back
// from the database on PostgreSQL), results out of `GET /api/races?scope=cross`.

const stockOf = (id: number) => `products[id=${paramDigest(id)}].stock`;

interface Side {
  service: string;
  /** Start of the request, µs. */
  startUs: number;
  /** When it reads and when it writes, ms after the start. */
  readMs: number;
  writeMs: number;
  /** The stock it reads, and what it writes (null: `SET stock = stock - 1`). */
  seen: number;
  writes: number | null;
  begin?: string;
}

/** One request: SELECT stock of the product, then UPDATE it. */
function request(productId: number, side: Side): StoredEvent[] {
  const r = new ContextRecorder(side.service, newTraceId(), null, side.startUs);
  const connection = `pool#${side.service}-1`;
  const query = (statement: string, params: unknown[], returned?: Record<string, unknown>) =>
    r.record('db_query', {
      system: 'postgresql',
      statement,
      params: params.map((v) => ({ digest: paramDigest(v) })),
      connection,
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
  r.record('request_received', {
    method: 'POST',
    path: '/reserve',
    route: '/reserve',
    incoming: { status: 'absent', reasons: [] },
  });
  if (side.begin) query(side.begin, []);
  r.at(side.startUs + side.readMs * 1000);
  query('SELECT stock FROM products WHERE id = $1', [productId], { stock: side.seen });
  r.at(side.startUs + side.writeMs * 1000);
  if (side.writes === null) {
    query('UPDATE products SET stock = stock - 1 WHERE id = $1', [productId]);
  } else {
    query('UPDATE products SET stock = $1 WHERE id = $2', [side.writes, productId]);
  }
  if (side.begin) query('COMMIT', []);
  r.record('response_sent', { method: 'POST', route: '/reserve', status: 200, duration_ms: 30 });
  return r.events;
}

const adminUrl = inject('pgUrl');
const backends: Array<[string, () => Promise<string> | string]> = [
  ['sqlite', () => 'sqlite::memory:'],
];
if (adminUrl) backends.push(['postgres', () => createTestDatabase(adminUrl)]);

describe.each(backends)(
  'cross-trace races from SQL through the collector (%s)',
  (_name, storage) => {
    let collector: Collector;
    const start = Date.now() * 1000 - 60_000_000;
    const overlapping = (id: number, writes: (seen: number) => number | null, t0: number) => [
      request(id, {
        service: 'order',
        startUs: t0,
        readMs: 2,
        writeMs: 22,
        seen: 5,
        writes: writes(5),
      }),
      request(id, {
        service: 'inventory',
        startUs: t0 + 1000,
        readMs: 2,
        writeMs: 22,
        seen: 5,
        writes: writes(5),
      }),
    ];
    // 42: both read 5 and write 4 while the other's window is open.
    const lost = overlapping(42, (seen) => seen - 1, start);
    // 43: the same with the database doing the arithmetic.
    const atomic = overlapping(43, () => null, start + 1_000_000);
    // 44: the second reads what the first wrote, after it wrote it.
    const sequential = [
      request(44, {
        service: 'order',
        startUs: start + 2_000_000,
        readMs: 2,
        writeMs: 22,
        seen: 5,
        writes: 4,
      }),
      request(44, {
        service: 'inventory',
        startUs: start + 2_000_000,
        readMs: 30,
        writeMs: 50,
        seen: 4,
        writes: 3,
      }),
    ];
    // 45: both inside PostgreSQL REPEATABLE READ transactions: serialised, not a race.
    const serialised = [0, 1000].map((offsetUs, i) =>
      request(45, {
        service: i === 0 ? 'order' : 'inventory',
        startUs: start + 3_000_000 + offsetUs,
        readMs: 2,
        writeMs: 22,
        seen: 5,
        writes: 4,
        begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ',
      }),
    );
    const api = async (path: string) => (await getJson(`${collector.url}${path}`)).json;
    const crossRaces = async (id: number) =>
      (await api(`/api/races?scope=cross&resource=${encodeURIComponent(stockOf(id))}`))
        .races as Array<{
        kind: string;
        outcome?: string;
        trace_ids: string[];
        sides: Array<{ service: string; route: string | null }>;
      }>;

    beforeAll(async () => {
      collector = await startCollector({
        port: 0,
        storage: await storage(),
        analysisDelayMs: 60_000,
      });
      // Each request in a batch of its own, the way two services would send them.
      for (const events of [lost, atomic, sequential, serialised].flat()) {
        expect((await postBatch(collector.url, { events })).status).toBe(200);
      }
      const run = await fetch(`${collector.url}/api/analysis/run`, { method: 'POST' });
      expect(await run.json()).toMatchObject({ pending_resources: 0, failures: 0 });
    });
    afterAll(async () => {
      await collector?.close();
    });

    it('reports the lost update of two requests reading then writing the same stock', async () => {
      const races = await crossRaces(42);
      expect(races).toHaveLength(1);
      expect(races[0]).toMatchObject({ kind: 'lost_update', outcome: 'lost' });
      expect([...races[0]!.trace_ids].sort()).toEqual(
        lost.map((events) => events[0]!.trace_id).sort(),
      );
      // Each side is named by the route of the server span it ran in, as within a trace.
      expect(races[0]!.sides.map((side) => side.route)).toEqual(['POST /reserve', 'POST /reserve']);
    });

    it('reports nothing when the database does the arithmetic (SET stock = stock - 1)', async () => {
      expect(await crossRaces(43)).toEqual([]);
    });

    it('never reports a lost update when the second request read what the first wrote', async () => {
      expect((await crossRaces(44)).filter((r) => r.outcome === 'lost')).toEqual([]);
    });

    it('follows the transactions of each connection: REPEATABLE READ serialises them', async () => {
      expect(await crossRaces(45)).toEqual([]);
    });
  },
);
