// A lost update on one PostgreSQL row between a service instrumented with OpenTelemetry only
// (NodeSDK, instrumentation-http and instrumentation-pg, spans over OTLP) and one instrumented
// with Raceway (@raceway/express, @raceway/pg, events over /v1/events), both real processes on
// a throwaway PostgreSQL, reporting to a real collector: the collector finds the race from
// OpenTelemetry's database spans and Raceway's queries, uncertain since the OpenTelemetry side's
// order is inferred from its spans' structure and times, not observed through a clock.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Collector, startCollector } from '@raceway/collector';
import { paramDigest } from '@raceway/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBin, PgCluster } from '../../../collector/test/pg-cluster.js';
import { type ForeignService, startForeignService } from '../shared/foreign-service.js';

const bin = findPgBin();
const skipReason =
  'no PostgreSQL found (no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH)';
if (!bin && process.env.RACEWAY_REQUIRE_PG === '1') {
  throw new Error(`RACEWAY_REQUIRE_PG=1 but ${skipReason}`);
}

const script = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));
const stockOf = (id: number) => `products[id=${paramDigest(id)}].stock`;

/**
 * Holds every POST until `expected` have arrived, then answers them all: the services call it
 * between their read and their write, so that both read before either writes.
 */
async function gate(expected: number) {
  const waiting: ServerResponse[] = [];
  const server = createServer((_request, response) => {
    waiting.push(response);
    if (waiting.length === expected) for (const held of waiting.splice(0)) held.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function reserve(service: ForeignService, id: number, gateUrl?: string) {
  const query = gateUrl === undefined ? '' : `?gate=${encodeURIComponent(gateUrl)}`;
  const response = await fetch(`${service.url}/reserve/${id}${query}`, { method: 'POST' });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as { stock: number };
}

describe.skipIf(!bin)(
  `OpenTelemetry's pg spans and Raceway's pg queries on one row${bin ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let cluster: PgCluster;
    let collector: Collector;
    let db: pg.Client;
    const services: ForeignService[] = [];
    let inventory: ForeignService;
    let order: ForeignService;

    beforeAll(async () => {
      cluster = await PgCluster.create(bin!);
      db = new pg.Client({ connectionString: cluster.url });
      await db.connect();
      await db.query('CREATE TABLE products (id integer PRIMARY KEY, stock integer NOT NULL)');
      await db.query('INSERT INTO products VALUES (42, 10), (43, 10)');
      collector = await startCollector({
        port: 0,
        storage: 'sqlite::memory:',
        analysisDelayMs: 60_000,
      });
      const start = async (name: string, file: string) => {
        const service = await startForeignService(
          {
            language: 'Node',
            executable: process.execPath,
            args: [script(file)],
            setup: 'pnpm install',
            env: { DATABASE_URL: cluster.url },
          },
          name,
          collector.url,
        );
        services.push(service);
        return service;
      };
      [inventory, order] = await Promise.all([
        start('inventory', 'otel-pg-service.cjs'),
        start('order', 'raceway-pg-service.cjs'),
      ]);

      // 42: both read 10, then both write 9: one reservation is lost.
      const both = await gate(2);
      try {
        const answers = await Promise.all([
          reserve(inventory, 42, both.url),
          reserve(order, 42, both.url),
        ]);
        expect(answers).toEqual([{ stock: 9 }, { stock: 9 }]);
      } finally {
        await both.close();
      }
      // 43: the Raceway service reads after the OpenTelemetry one wrote: 10, 9, 8, no race.
      expect(await reserve(inventory, 43)).toEqual({ stock: 9 });
      expect(await reserve(order, 43)).toEqual({ stock: 8 });

      await Promise.all(services.map((s) => s.flush()));
      const run = await fetch(`${collector.url}/api/analysis/run`, { method: 'POST' });
      expect(await run.json()).toMatchObject({ pending_resources: 0, failures: 0 });
    });

    afterAll(async () => {
      await Promise.all(services.map((s) => s.close()));
      await collector?.close();
      await db?.end();
      cluster?.stop('immediate');
      cluster?.remove();
    });

    async function crossRaces(resource: string) {
      const response = await fetch(
        `${collector.url}/api/races?scope=cross&resource=${encodeURIComponent(resource)}`,
      );
      expect(response.status).toBe(200);
      return ((await response.json()) as { races: Array<Record<string, unknown>> }).races;
    }

    it('reports the lost update, uncertain', async () => {
      const races = await crossRaces(stockOf(42));
      expect(races).toHaveLength(1);
      const [race] = races;
      expect(race).toMatchObject({ kind: 'lost_update', confidence: 'uncertain' });
      expect([...(race!.services as string[])].sort()).toEqual(['inventory', 'order']);
      expect(new Set(race!.trace_ids as string[]).size).toBe(2);
      expect(race!.explanation).toMatch(/inferred from span structure/);
    });

    it('reports nothing when the Raceway service read after the OpenTelemetry one wrote', async () => {
      expect(await crossRaces(stockOf(43))).toEqual([]);
    });
  },
);
