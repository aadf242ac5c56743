import { describe, expect, inject, it } from 'vitest';
import { PostgresStorage } from '../src/storage/postgres.js';
import { createTestDatabase, makeTrace } from './fixtures.js';
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

    it('hides the password in its location', () => {
      const storage = new PostgresStorage('postgres://u:secret@127.0.0.1:1/db');
      expect(storage.location).not.toContain('secret');
      void storage.close();
    });
  },
);
