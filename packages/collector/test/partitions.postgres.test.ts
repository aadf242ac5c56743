import { describe, expect, inject, it } from 'vitest';
import { startCollector } from '../src/server.js';
import { MIGRATIONS, migratePostgres } from '../src/storage/migrations.js';
import { DAY_US, dayOf, partitionName } from '../src/storage/pg-partitions.js';
import { PostgresStorage } from '../src/storage/postgres.js';
import { createTestDatabase, makeTrace, postBatch, withPgClient } from './fixtures.js';
import { storeBeforeV10Postgres } from './stored-before-v10.js';

const adminUrl = inject('pgUrl');
const skipReason = inject('pgSkipReason');

/** The partitions of a table, by name. */
const partitionsOf = (url: string, table: string) =>
  withPgClient(url, async (c) =>
    (
      await c.query(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = $1::regclass ORDER BY 1`,
        [table],
      )
    ).rows.map((r) => r.relname as string),
  );

/** How many rows of a table each of its partitions holds. */
const rowsByPartition = (url: string, table: string) =>
  withPgClient(url, async (c) =>
    Object.fromEntries(
      (
        await c.query(
          `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM ${table} GROUP BY 1`,
        )
      ).rows.map((r) => [r.part, r.n]),
    ),
  );

describe.skipIf(!adminUrl)(
  `PostgreSQL daily partitions${adminUrl ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    const nowUs = Date.now() * 1000;
    const today = dayOf(nowUs);

    it('migrates the events of a database made by the previous migration into daily partitions', async () => {
      const url = await createTestDatabase(adminUrl!);
      // The schema before partitions (version 5), with events stored as they were then.
      const previous = MIGRATIONS.filter((m) => m.version < 6);
      const old = makeTrace({ startUs: today - 3 * DAY_US + 3_600_000_000 });
      const recent = makeTrace();
      await withPgClient(url, async (c) => {
        await migratePostgres(c, url, previous);
        await storeBeforeV10Postgres(c, [...old, ...recent]);
      });
      const read = async (s: PostgresStorage) => ({
        old: await s.getTraceEvents(old[0]!.trace_id),
        recent: await s.getTraceEvents(recent[0]!.trace_id),
        accesses: await s.getStateAccesses('stock:sku-1', 0, Number.MAX_SAFE_INTEGER, 100),
      });
      const expected = {
        old,
        recent,
        accesses: [...old, ...recent]
          .filter((e) => e.kind === 'state_read' || e.kind === 'state_write')
          .sort((a, b) => b.ts_us - a.ts_us),
      };

      const storage = new PostgresStorage(url, { maxConnections: 2 });
      try {
        await storage.init();
        const kinds = await withPgClient(url, async (c) =>
          (
            await c.query(
              `SELECT relname, relkind FROM pg_class
               WHERE relname IN ('events', 'event_resources') ORDER BY 1`,
            )
          ).rows.map((r) => [r.relname, r.relkind]),
        );
        // 'p': a partitioned table.
        expect(kinds).toEqual([
          ['event_resources', 'p'],
          ['events', 'p'],
        ]);
        // Every row kept (in the default partition until the collector makes the days).
        expect(await rowsByPartition(url, 'events')).toEqual({
          events_default: old.length + recent.length,
        });
        expect(await read(storage)).toEqual(expected);

        const created = await storage.preparePartitions(nowUs, nowUs - 7 * DAY_US);
        expect(created).toContain(partitionName('events', today - 3 * DAY_US));
        expect(created).toContain(partitionName('events', today + 2 * DAY_US));
        expect(await rowsByPartition(url, 'events')).toEqual({
          [partitionName('events', today - 3 * DAY_US)]: old.length,
          [partitionName('events', today)]: recent.length,
        });
        expect(await read(storage)).toEqual(expected);
        // A retried batch is still a duplicate, in its partition.
        expect(await storage.insertEvents(old)).toMatchObject({ duplicates: old.length });
        // Made once: a second run (another collector's) creates nothing.
        expect(await storage.preparePartitions(nowUs, nowUs - 7 * DAY_US)).toEqual([]);
      } finally {
        await storage.close();
      }
    });

    it('drops the partitions of days past retention and recounts the traces they cut', async () => {
      const url = await createTestDatabase(adminUrl!);
      const storage = new PostgresStorage(url, { maxConnections: 2 });
      try {
        await storage.init();
        const fiveDaysAgo = today - 5 * DAY_US + 3_600_000_000;
        const old = makeTrace({ startUs: fiveDaysAgo });
        // A trace that began five days ago and goes on today.
        const longFirst = makeTrace({ startUs: fiveDaysAgo });
        const longLater = makeTrace({ traceId: longFirst[0]!.trace_id });
        const recent = makeTrace();
        await storage.insertEvents([...old, ...longFirst, ...longLater, ...recent]);
        await storage.preparePartitions(nowUs, nowUs - 7 * DAY_US);
        const oldDay = partitionName('events', dayOf(fiveDaysAgo));
        expect(await rowsByPartition(url, 'events')).toMatchObject({
          [oldDay]: old.length + longFirst.length,
        });
        const longId = longFirst[0]!.trace_id;
        const versionBefore = (await storage.getTrace(longId))!.version;
        const statsBefore = await storage.stats();

        // Retention of four days: the day five days ago goes, whole.
        const deleted = await storage.deleteOlderThan(nowUs - 4 * DAY_US);
        expect(await partitionsOf(url, 'events')).not.toContain(oldDay);
        expect(await partitionsOf(url, 'event_resources')).not.toContain(
          partitionName('event_resources', dayOf(fiveDaysAgo)),
        );
        expect(await storage.getTrace(old[0]!.trace_id)).toBeNull();
        expect(await storage.getTraceEvents(old[0]!.trace_id)).toEqual([]);
        // The long trace keeps today's events; its summary says so, and it is analysed again.
        const long = await storage.getTrace(longId);
        expect(long).toMatchObject({
          eventCount: longLater.length,
          firstTsUs: longLater[0]!.ts_us,
          version: versionBefore + 1,
        });
        expect((await storage.getTraceEvents(longId)).map((e) => e.id)).toEqual(
          longLater.map((e) => e.id),
        );
        expect((await storage.pendingTraces(100)).map((p) => p.traceId)).toContain(longId);
        expect(await storage.getTraceEvents(recent[0]!.trace_id)).toHaveLength(recent.length);
        // What retention reports is what left the counts.
        expect(deleted).toMatchObject({ traces: 1, events: old.length + longFirst.length });
        expect(statsBefore.events - (await storage.stats()).events).toBe(deleted.events);
        // Today's partitions stay.
        expect(await partitionsOf(url, 'events')).toContain(partitionName('events', today));
      } finally {
        await storage.close();
      }
    });

    it('has the collector create the coming days at start and store events in their day', async () => {
      const url = await createTestDatabase(adminUrl!);
      const collector = await startCollector({ port: 0, storage: url, retention: '7d' });
      try {
        for (const table of ['events', 'event_resources'] as const) {
          expect(await partitionsOf(url, table)).toEqual(
            [
              `${table}_default`,
              ...[-1, 0, 1, 2].map((d) => partitionName(table, today + d * DAY_US)),
            ].sort(),
          );
        }
        const events = makeTrace();
        expect((await postBatch(collector.url, { events })).status).toBe(200);
        expect(await rowsByPartition(url, 'events')).toEqual({
          [partitionName('events', dayOf(events[0]!.ts_us))]: events.length,
        });
      } finally {
        await collector.close();
      }
    });
  },
);
