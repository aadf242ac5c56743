import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Collector, startCollector } from '@raceway/collector';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type {} from '../../../packages/collector/test/pg-global-setup.js';
import {
  type ThrowawayDatabase,
  throwawayDatabase,
} from '../../../packages/pg/test/throwaway-database.js';
import {
  freePort,
  type Launch,
  startProcess,
  stopProcess,
  waitForPort,
} from '../../../tooling/test-processes.js';
import { SCHEMA } from '../src/stock.mjs';

// The docs' read-modify-write, for real, in any language: a gateway calls the order and
// inventory services at once for one checkout; both decrement one product's stock through their
// language's instrumented driver, with no tracking call. The services are real processes on
// 127.0.0.1, the collector is real (SQLite storage), and the races are read from its API.
//
// A service of any language takes PORT, DATABASE (`sqlite:<file>` or a postgres:// URL),
// RACEWAY_URL and RACE_PAUSE_MS, and answers
//   order:     POST /orders/{id}?mode=M        -> {"service":"order","mode":M,"retries":N}
//   inventory: POST /stock/{id}/reserve?mode=M -> {"service":"inventory","mode":M,"retries":N}
// with the modes of src/stock.mjs; on SIGTERM it sends what it has queued and exits 0.

export type { Launch };

/** One language's (or one pair of languages') order and inventory services. */
export interface SqlRacesSuite {
  /** What the describe block is called, e.g. `Python (sqlite3, psycopg)`. */
  title: string;
  order: Launch;
  inventory: Launch;
  /** The databases to run on; both by default. */
  databases?: Array<'sqlite' | 'postgresql'>;
}

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** A Node.js service of this example (the gateway, and the TypeScript order and inventory). */
export const nodeService = (file: string): Launch => ({
  command: process.execPath,
  args: [here(`../services/${file}`)],
});

/** What `GET /api/traces/:id/races` answers (the fields read here). */
interface RaceGroup {
  scope: string;
  kind: string;
  resource: string;
  services: string[];
  outcome?: 'lost' | 'not_lost' | 'unknown';
  examples: Array<{ kind: string; outcome?: string; evidence: string; resource: string }>;
}

/** The gateway's answer: each service's status and how many times it retried. */
interface Checkout {
  order: { status: number; body: { retries: number } };
  inventory: { status: number; body: { retries: number } };
}

interface Scenario {
  name: string;
  mode: string;
  sequential?: boolean;
  /** stock and reserved after the checkout, from 10 and 0 */
  expected: { stock: number; reserved: number };
}

const START_STOCK = 10;
const SCENARIOS: Scenario[] = [
  // Both read 10, both write 9: one decrement lost.
  { name: 'naive', mode: 'naive', expected: { stock: 9, reserved: 0 } },
  { name: 'atomic', mode: 'atomic', expected: { stock: 8, reserved: 0 } },
  { name: 'for-update', mode: 'for-update', expected: { stock: 8, reserved: 0 } },
  { name: 'version', mode: 'version', expected: { stock: 8, reserved: 0 } },
  { name: 'serializable', mode: 'serializable', expected: { stock: 8, reserved: 0 } },
  { name: 'column-disjoint', mode: 'column-disjoint', expected: { stock: 9, reserved: 1 } },
  {
    name: 'sequential naive',
    mode: 'naive',
    sequential: true,
    expected: { stock: 8, reserved: 0 },
  },
];

/** The database the test itself reads and seeds (not instrumented: the test process is no service). */
interface TestDb {
  exec(sql: string, params?: unknown[]): Promise<void>;
  row(id: number): Promise<{ stock: number; reserved: number }>;
  close(): Promise<void>;
}

async function sqliteDb(file: string): Promise<TestDb> {
  const db = new Database(file);
  return {
    async exec(sql, params = []) {
      db.prepare(sql.replace(/\$\d+/g, '?')).run(...params);
    },
    async row(id) {
      return db.prepare('SELECT stock, reserved FROM products WHERE id = ?').get(id) as {
        stock: number;
        reserved: number;
      };
    },
    async close() {
      db.close();
    },
  };
}

async function postgresDb(url: string): Promise<TestDb> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    async exec(sql, params = []) {
      await client.query(sql, params);
    },
    async row(id) {
      return (await client.query('SELECT stock, reserved FROM products WHERE id = $1', [id]))
        .rows[0];
    },
    close: () => client.end(),
  };
}

const pgUrl = inject('pgUrl');
const pgSkipReason = inject('pgSkipReason');

const DATABASES = [
  { system: 'SQLite', kind: 'sqlite' as const, skip: '' },
  {
    system: 'PostgreSQL',
    kind: 'postgresql' as const,
    skip: pgUrl ? '' : `PostgreSQL tests skipped: ${pgSkipReason}`,
  },
];

/**
 * Defines the suite of one pair of services: per database, one checkout per mode of
 * src/stock.mjs, two concurrent checkouts of one product, and what the collector says of each.
 */
export function describeSqlRaces(suite: SqlRacesSuite): void {
  const wanted = suite.databases ?? ['sqlite', 'postgresql'];
  for (const { system, kind, skip } of DATABASES.filter((d) => wanted.includes(d.kind))) {
    describe.skipIf(skip !== '')(`${suite.title} on ${system}${skip ? `: ${skip}` : ''}`, () => {
      let dir: string;
      let collector: Collector;
      let db: TestDb;
      let pgDatabase: ThrowawayDatabase | undefined;
      const services: ChildProcess[] = [];
      const traces = new Map<string, { traceId: string; body: Checkout }>();
      const races = new Map<string, RaceGroup[]>();
      /** Two checkouts at once on one product (two traces), and the cross-trace races of both. */
      const CONCURRENT_ID = SCENARIOS.length + 1;
      let concurrentTraces: string[] = [];
      let crossRaces: Array<RaceGroup & { trace_ids: string[] }> = [];

      beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'raceway-sql-races-'));
        collector = await startCollector({
          port: 0,
          storage: `sqlite:${join(dir, 'collector.db')}`,
        });
        let database: string;
        if (kind === 'sqlite') {
          const file = join(dir, 'shop.db');
          database = `sqlite:${file}`;
          db = await sqliteDb(file);
        } else {
          // A database of this suite's own: the suites of other languages run at the same time.
          pgDatabase = await throwawayDatabase(pgUrl as string, 'raceway_sql_races');
          database = pgDatabase.url;
          db = await postgresDb(database);
        }
        await db.exec(SCHEMA);

        const [gatewayPort, orderPort, inventoryPort] = await Promise.all([
          freePort(),
          freePort(),
          freePort(),
        ]);
        const common = { RACEWAY_URL: collector.url, DATABASE: database, RACE_PAUSE_MS: '150' };
        services.push(
          startProcess(suite.order, { ...common, PORT: String(orderPort) }),
          startProcess(suite.inventory, { ...common, PORT: String(inventoryPort) }),
          startProcess(nodeService('gateway.mjs'), {
            ...common,
            PORT: String(gatewayPort),
            ORDER_URL: `http://127.0.0.1:${orderPort}`,
            INVENTORY_URL: `http://127.0.0.1:${inventoryPort}`,
          }),
        );
        const [order, inventory, gateway] = services;
        await Promise.all([
          waitForPort(orderPort, order),
          waitForPort(inventoryPort, inventory),
          waitForPort(gatewayPort, gateway),
        ]);

        // One checkout per scenario, each on a product of its own, one after the other.
        for (const [index, scenario] of SCENARIOS.entries()) {
          const id = index + 1;
          await db.exec('INSERT INTO products (id, stock) VALUES ($1, $2)', [id, START_STOCK]);
          const query = `mode=${scenario.mode}${scenario.sequential ? '&sequential=1' : ''}`;
          const response = await fetch(`http://127.0.0.1:${gatewayPort}/checkout/${id}?${query}`, {
            method: 'POST',
          });
          const body = (await response.json()) as Checkout;
          expect(response.status, JSON.stringify(body)).toBe(200);
          const traceId = response.headers.get('x-raceway-trace-id');
          expect(traceId).toMatch(/^[0-9a-f]{32}$/);
          traces.set(scenario.name, { traceId: traceId as string, body });
        }

        // Two separate checkouts of one product at the same time: besides each checkout's own
        // race, the requests of one read-modify-write the row while those of the other do.
        await db.exec('INSERT INTO products (id, stock) VALUES ($1, $2)', [
          CONCURRENT_ID,
          START_STOCK,
        ]);
        const concurrent = await Promise.all(
          [0, 1].map(() =>
            fetch(`http://127.0.0.1:${gatewayPort}/checkout/${CONCURRENT_ID}?mode=naive`, {
              method: 'POST',
            }),
          ),
        );
        for (const response of concurrent) {
          expect(response.status, await response.text()).toBe(200);
          concurrentTraces.push(response.headers.get('x-raceway-trace-id') as string);
        }

        // SIGTERM: each service sends what it has queued, then the collector analyses it all.
        for (const child of services.splice(0)) expect(await stopProcess(child)).toBe(0);
        const run = await fetch(`${collector.url}/api/analysis/run`, { method: 'POST' });
        expect(run.status).toBe(200);
        for (const [name, { traceId }] of traces) {
          const answer = (await (
            await fetch(`${collector.url}/api/traces/${traceId}/races`)
          ).json()) as { analysis: string; races: RaceGroup[] };
          expect(answer.analysis).toBe('done');
          races.set(name, answer.races);
        }
        const cross = (await (
          await fetch(`${collector.url}/api/races?scope=cross&limit=1000`)
        ).json()) as { races: Array<RaceGroup & { trace_ids: string[] }> };
        crossRaces = cross.races;
      });

      afterAll(async () => {
        concurrentTraces = [];
        for (const child of services) await stopProcess(child);
        await db?.close();
        await pgDatabase?.drop();
        await collector?.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      const retries = (name: string) => {
        const body = traces.get(name)?.body;
        return (body?.order.body.retries ?? 0) + (body?.inventory.body.retries ?? 0);
      };
      const rowOf = (name: string) => db.row(SCENARIOS.findIndex((s) => s.name === name) + 1);
      const lostUpdatesOnProducts = (name: string) =>
        (races.get(name) ?? []).filter(
          (race) => race.kind === 'lost_update' && race.resource.startsWith('products['),
        );

      it('naive: an intra-trace lost update on the row, outcome lost, and the database lost a decrement', async () => {
        const found = lostUpdatesOnProducts('naive');
        expect(found, JSON.stringify(races.get('naive'), null, 2)).toHaveLength(1);
        const [race] = found;
        expect(race?.resource).toMatch(/^products\[id=[^\]]+\]\.stock$/);
        expect(race?.scope).toBe('trace');
        expect(race?.outcome).toBe('lost');
        expect([...(race?.services ?? [])].sort()).toEqual(['inventory', 'order']);
        expect(race?.examples[0]?.outcome).toBe('lost');
        // Two checkouts' worth of decrements, one applied.
        expect(await rowOf('naive')).toEqual({ stock: 9, reserved: 0 });
      });

      for (const name of ['atomic', 'for-update', 'version', 'serializable', 'column-disjoint']) {
        it(`${name}: no race on the row at all, and the database counts both`, async () => {
          const onProducts = (races.get(name) ?? []).filter((race) =>
            race.resource.startsWith('products['),
          );
          expect(onProducts, JSON.stringify(races.get(name), null, 2)).toEqual([]);
          const scenario = SCENARIOS.find((s) => s.name === name) as Scenario;
          expect(await rowOf(name)).toEqual(scenario.expected);
        });
      }

      it('version and serializable: the two checkouts did collide (one side retried)', () => {
        // The compare-and-set of the side that wrote second matched no row: it read again.
        expect(retries('version')).toBe(1);
        // PostgreSQL refused one of the two serializable transactions (40001); SQLite's
        // BEGIN IMMEDIATE made the second wait for the first instead.
        expect(retries('serializable')).toBe(kind === 'postgresql' ? 1 : 0);
      });

      it('sequential: order finishes before inventory starts, never outcome lost', async () => {
        const found = races.get('sequential naive') ?? [];
        expect(
          found.filter((race) => race.outcome === 'lost'),
          JSON.stringify(found, null, 2),
        ).toEqual([]);
        expect(lostUpdatesOnProducts('sequential naive')).toEqual([]);
        expect(await rowOf('sequential naive')).toEqual({ stock: 8, reserved: 0 });
      });

      it('two checkouts at once: a cross-trace lost update on the row, outcome lost, observed', async () => {
        const both = [...concurrentTraces].sort();
        const lostUpdates = crossRaces.filter(
          (race) =>
            race.kind === 'lost_update' &&
            race.resource.startsWith('products[') &&
            race.trace_ids.length === 2 &&
            race.trace_ids.every((t) => both.includes(t)) &&
            race.trace_ids[0] !== race.trace_ids[1],
        );
        expect(lostUpdates.length, JSON.stringify(crossRaces, null, 2)).toBeGreaterThan(0);
        expect(lostUpdates.some((race) => race.outcome === 'lost')).toBe(true);
        expect(lostUpdates.every((race) => race.scope === 'cross')).toBe(true);
        // Four decrements, fewer applied.
        expect((await db.row(CONCURRENT_ID)).stock).toBeGreaterThan(START_STOCK - 4);
        // None of the one-checkout scenarios above races with another: each had its own row.
        expect(crossRaces.filter((race) => !race.trace_ids.every((t) => both.includes(t)))).toEqual(
          [],
        );
      });
    });
  }
}
