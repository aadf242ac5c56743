import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { PostgresStorage } from '../src/storage/postgres.js';
import { stateAccessesSql } from '../src/storage/sql.js';
import { createTestDatabase, hex, makeTrace } from './fixtures.js';
import { storageSuite } from './storage.suite.js';

const adminUrl = inject('pgUrl');
const skipReason = inject('pgSkipReason');

// Skipped only when no PostgreSQL could be found or started (the reason is in the title);
// RACEWAY_REQUIRE_PG=1 turns that into a failure in test/pg-global-setup.ts.
describe.skipIf(!adminUrl)(
  `PostgreSQL storage${adminUrl ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    storageSuite(async () => {
      const storage = new PostgresStorage(await createTestDatabase(adminUrl!));
      await storage.init();
      // The days around now in partitions of their own, as the collector makes them: the
      // suite's recent events go there, its old ones (years back) to the default partition.
      await storage.preparePartitions(Date.now() * 1000, Date.now() * 1000);
      return storage;
    });

    it('creates the schema safely when several collectors start at once', async () => {
      const url = await createTestDatabase(adminUrl!);
      const storages = Array.from(
        { length: 5 },
        () => new PostgresStorage(url, { maxConnections: 2 }),
      );
      try {
        await Promise.all(storages.map((s) => s.init()));
        const events = makeTrace();
        const results = await Promise.all(storages.map((s) => s.insertEvents(events)));
        expect(results.reduce((n, r) => n + r.accepted, 0)).toBe(events.length);
        expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(events.length * 4);
        expect((await storages[0]!.getTrace(events[0]!.trace_id))?.eventCount).toBe(events.length);
      } finally {
        await Promise.all(storages.map((s) => s.close()));
      }
    });

    it("reads a resource's accesses from event_resources alone, never from events", async () => {
      const url = await createTestDatabase(adminUrl!);
      const storage = new PostgresStorage(url);
      const client = new pg.Client({ connectionString: url });
      try {
        await storage.init();
        const resource = `stock:${hex(4)}`;
        await storage.insertEvents([...makeTrace({ resource }), ...makeTrace({ resource })]);
        const range = [[resource], [0], [Number.MAX_SAFE_INTEGER], 100];
        expect(
          await storage.getStateAccesses(resource, 0, Number.MAX_SAFE_INTEGER, 100),
        ).toHaveLength(4);
        await client.connect();
        const { rows } = await client.query(
          `EXPLAIN (FORMAT JSON) ${stateAccessesSql('postgres')}`,
          range,
        );
        // On a distributed PostgreSQL, events is spread by trace id: one read of it by resource
        // (or a join for the body) would reach every shard.
        const relations = relationsOf(rows[0]['QUERY PLAN']);
        expect(relations.length).toBeGreaterThan(0);
        expect(relations.filter((r) => !r.startsWith('event_resources'))).toEqual([]);
      } finally {
        await client.end();
        await storage.close();
      }
    });

    it('hides the password in its location', () => {
      const storage = new PostgresStorage('postgres://u:secret@127.0.0.1:1/db');
      expect(storage.location).not.toContain('secret');
      void storage.close();
    });
  },
);

/** The tables (and partitions) a plan of EXPLAIN (FORMAT JSON) reads. */
function relationsOf(plan: unknown): string[] {
  if (Array.isArray(plan)) return plan.flatMap(relationsOf);
  if (plan === null || typeof plan !== 'object') return [];
  const node = plan as Record<string, unknown>;
  return [
    ...(typeof node['Relation Name'] === 'string' ? [node['Relation Name']] : []),
    ...Object.values(node).flatMap(relationsOf),
  ];
}
