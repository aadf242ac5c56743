import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paramDigest } from '@raceway/core';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { detectCrossTraceRaces } from '../src/analysis/cross-trace-races.js';
import { RacewayConfigError } from '../src/errors.js';
import type { StoredEvent } from '../src/event.js';
import { type AccessRange, StorageAccessWindows } from '../src/scheduler/access-windows.js';
import { openStorage } from '../src/storage/index.js';
import {
  MIGRATIONS,
  type Migration,
  migratePostgres,
  migrateSqlite,
  SCHEMA_VERSION,
} from '../src/storage/migrations.js';
import { PostgresStorage } from '../src/storage/postgres.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import type { Storage } from '../src/storage/types.js';
import { runCli } from './cli-process.js';
import {
  copySqliteV1,
  POSTGRES_V1_SCHEMA,
  postgresSchema,
  sqliteSchema,
} from './fixtures/v1/fixture.js';
import {
  ContextRecorder,
  createTestDatabase,
  hex,
  makeTrace,
  newTraceId,
  withPgClient,
} from './fixtures.js';
import { storeBeforeV10Postgres, storeBeforeV10Sqlite } from './stored-before-v10.js';

const dir = mkdtempSync(join(tmpdir(), 'raceway-migrations-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `db-${n++}.db`);

/** A step after the known ones, for tests of the runner (not a real migration). */
const NOTE_COLUMN: Migration = {
  version: SCHEMA_VERSION + 1,
  name: 'traces.note (test)',
  up: (d) => `ALTER TABLE traces ADD COLUMN note ${d === 'sqlite' ? 'TEXT' : 'text'}`,
};
/** A step that fails half-way: its first statement must be rolled back too. */
const FAILING: Migration = {
  version: SCHEMA_VERSION + 2,
  name: 'fails (test)',
  up: () => 'CREATE TABLE half_done (x integer); SELECT * FROM no_such_table',
};

const tooNew = (version: number) =>
  expect.objectContaining({
    name: 'RacewayConfigError',
    code: 'RACEWAY_DATABASE_TOO_NEW',
    message: expect.stringMatching(
      new RegExp(
        `schema version ${version}, newer than this collector knows \\(version ${SCHEMA_VERSION}\\).*Upgrade this collector`,
      ),
    ),
  });

function partition<T>(list: T[], keep: (item: T) => boolean): [T[], T[]] {
  return [list.filter(keep), list.filter((item) => !keep(item))];
}

/** A PostgreSQL schema (postgresSchema) without the objects of one table. */
function withoutTable(schema: unknown, table: string): unknown {
  const s = schema as Record<string, Array<Record<string, unknown>>>;
  return Object.fromEntries(
    Object.entries(s).map(([k, rows]) => [
      k,
      rows.filter((r) => r.table_name !== table && r.tablename !== table),
    ]),
  );
}

/**
 * A PostgreSQL schema (postgresSchema) without what later versions change in `races`: version
 * 3's group_id and outcome columns and races_group index; version 7's key on (resource, id),
 * and its races_id index.
 */
function withoutLaterRaceChanges(schema: unknown): unknown {
  const s = schema as Record<string, Array<Record<string, unknown>>>;
  return {
    ...s,
    columns: s.columns!.filter(
      (c) =>
        !(c.table_name === 'races' && ['group_id', 'outcome'].includes(c.column_name as string)),
    ),
    indexes: s.indexes!.filter(
      (i) => !['races_group', 'races_id', 'races_pkey'].includes(i.indexname as string),
    ),
    constraints: s.constraints!.filter((c) => c.conname !== 'races_pkey'),
  };
}

it('numbers the migrations 1, 2, 3... in order', () => {
  expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
});

describe('SQLite migrations', () => {
  const open = (path: string) => new Database(path);
  const versions = (db: Database.Database) =>
    db.prepare('SELECT version, name, applied_at_ms FROM raceway_migrations ORDER BY 1').all();

  it('creates, on a new database, the schema the collector before migrations created', () => {
    const path = freshPath();
    const db = open(path);
    expect(migrateSqlite(db, path, MIGRATIONS.slice(0, 1))).toEqual({ from: 0, to: 1 });
    const v1Path = copySqliteV1(freshPath());
    const v1 = open(v1Path);
    // SQLite keeps each CREATE's text: the same text, object for object.
    expect(sqliteSchema(db)).toEqual(sqliteSchema(v1));
    expect(versions(db)).toEqual([
      { version: 1, name: 'initial schema', applied_at_ms: expect.any(Number) },
    ]);
    // The later migrations bring both to the same schema.
    expect(migrateSqlite(db, path)).toEqual({ from: 1, to: SCHEMA_VERSION });
    expect(migrateSqlite(v1, v1Path)).toEqual({ from: 0, to: SCHEMA_VERSION });
    expect(sqliteSchema(db)).toEqual(sqliteSchema(v1));
    db.close();
    v1.close();
  });

  it('records version 1 on a database of the collector before migrations, changing nothing else', async () => {
    const path = copySqliteV1(freshPath());
    const before = open(path);
    const schema = sqliteSchema(before);
    const count = (db: Database.Database) =>
      db.prepare('SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM races) AS n').get();
    const rows = count(before);
    before.close();

    const storage = new SqliteStorage(path, { writer: 'inline' });
    await storage.init();
    await storage.close();
    const after = open(path);
    // Version 2 adds event_resources, version 3 races.group_id (and its index), version 4
    // collector_aggregates and analysis_leases, version 5 trace_attributes, version 7 an index
    // of races; version 8 drops events_http_ts, version 9 moves trace_analysis' JSON to
    // trace_analysis_parts, version 10 drops events_resource; nothing else.
    const later = [
      'event_resources',
      'races',
      'collector_aggregates',
      'analysis_leases',
      'trace_attributes',
      'trace_analysis',
      'trace_analysis_parts',
    ];
    const [v1Objects, added] = partition(
      sqliteSchema(after) as Array<{ tbl_name: string; name: string }>,
      (o) => !later.includes(o.tbl_name),
    );
    // Version 8 drops the index of events by kind, which version 1 created.
    expect(v1Objects).toEqual(
      (schema as Array<{ tbl_name: string; name: string }>).filter(
        (o) =>
          !['races', 'trace_analysis'].includes(o.tbl_name) &&
          o.name !== 'events_http_ts' &&
          o.name !== 'events_resource',
      ),
    );
    expect((schema as Array<{ name: string }>).map((o) => o.name)).toContain('events_http_ts');
    expect(added.map((o) => o.tbl_name)).toContain('event_resources');
    expect(added.map((o) => o.tbl_name)).toContain('analysis_leases');
    expect(added.map((o) => o.name)).toContain('races_group');
    expect(count(after)).toEqual(rows);
    // The attributes of the custom events stored before are searchable.
    expect(
      after.prepare('SELECT attr_key, attr_value, trace_id FROM trace_attributes').all(),
    ).toEqual([
      { attr_key: 'step', attr_value: '2', trace_id: '00000000000000000000000000000005' },
    ]);
    // The races stored before are groups of their own.
    expect(after.prepare('SELECT count(*) AS n FROM races WHERE group_id IS NOT id').get()).toEqual(
      { n: 0 },
    );
    expect(versions(after)).toEqual([
      { version: 1, name: 'initial schema', applied_at_ms: expect.any(Number) },
      { version: 2, name: 'event resources', applied_at_ms: expect.any(Number) },
      { version: 3, name: 'race groups', applied_at_ms: expect.any(Number) },
      { version: 4, name: 'shared collector state', applied_at_ms: expect.any(Number) },
      { version: 5, name: 'trace attributes', applied_at_ms: expect.any(Number) },
      { version: 6, name: 'time partitions', applied_at_ms: expect.any(Number) },
      { version: 7, name: 'races keyed by resource', applied_at_ms: expect.any(Number) },
      { version: 8, name: 'no index of events by kind', applied_at_ms: expect.any(Number) },
      { version: 9, name: 'analyses saved by part', applied_at_ms: expect.any(Number) },
      { version: 10, name: 'accesses filed by resource', applied_at_ms: expect.any(Number) },
    ]);
    after.close();
  });

  it('does nothing when started again on a migrated database', async () => {
    const path = freshPath();
    const first = new SqliteStorage(path, { writer: 'inline' });
    await first.init();
    const events = makeTrace();
    await first.insertEvents(events);
    await first.close();
    const db = open(path);
    const [schema, applied] = [sqliteSchema(db), versions(db)];
    expect(migrateSqlite(db, path)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    db.close();

    const second = new SqliteStorage(path, { writer: 'inline' });
    await second.init();
    expect((await second.insertEvents(events)).duplicates).toBe(events.length);
    await second.close();
    const again = open(path);
    expect(sqliteSchema(again)).toEqual(schema);
    expect(versions(again)).toEqual(applied);
    again.close();
  });

  it('applies pending migrations once, in one transaction that a failure rolls back', () => {
    const path = copySqliteV1(freshPath());
    const db = open(path);
    expect(migrateSqlite(db, path, [...MIGRATIONS, NOTE_COLUMN])).toEqual({
      from: 0,
      to: NOTE_COLUMN.version,
    });
    expect(migrateSqlite(db, path, [...MIGRATIONS, NOTE_COLUMN])).toEqual({
      from: NOTE_COLUMN.version,
      to: NOTE_COLUMN.version,
    });
    expect(db.prepare('SELECT count(note) AS n, count(*) > 0 AS any FROM traces').get()).toEqual({
      n: 0,
      any: 1,
    });

    const fresh = open(freshPath());
    const schema = sqliteSchema(fresh);
    expect(() => migrateSqlite(fresh, 'x', [...MIGRATIONS, NOTE_COLUMN, FAILING])).toThrow(
      /no such table/,
    );
    // Nothing of any step, not even the migrations table.
    expect(sqliteSchema(fresh)).toEqual(schema);
    expect(fresh.prepare('SELECT count(*) AS n FROM sqlite_master').get()).toEqual({ n: 0 });
    db.close();
    fresh.close();
  });

  it('refuses a database migrated by a newer collector, and leaves it as it was', async () => {
    const path = freshPath();
    const db = open(path);
    migrateSqlite(db, path, [...MIGRATIONS, NOTE_COLUMN]);
    const [schema, applied] = [sqliteSchema(db), versions(db)];
    db.close();

    const storage = new SqliteStorage(path, { writer: 'inline' });
    await expect(storage.init()).rejects.toThrow(RacewayConfigError);
    await expect(storage.init()).rejects.toEqual(tooNew(NOTE_COLUMN.version));
    await storage.close();
    await expect(openStorage(`sqlite:${path}`)).rejects.toEqual(tooNew(NOTE_COLUMN.version));
    const after = open(path);
    expect(sqliteSchema(after)).toEqual(schema);
    expect(versions(after)).toEqual(applied);
    after.close();
  });

  it('makes `raceway serve` exit with code 3 and say to upgrade', async () => {
    const path = freshPath();
    const db = open(path);
    migrateSqlite(db, path, [...MIGRATIONS, NOTE_COLUMN]);
    db.close();
    const result = await runCli(['serve', '--port', '0', '--storage', `sqlite:${path}`], {
      cwd: dir,
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      `raceway: the database ${path} has schema version ${NOTE_COLUMN.version}, newer than this collector knows (version ${SCHEMA_VERSION}): a newer Raceway collector migrated it. Upgrade this collector (to the version that migrated it, or later); the database was not changed\n`,
    );
    expect(result.stdout).toBe('');
  });
});

const adminUrl = inject('pgUrl');
const skipReason = inject('pgSkipReason');

describe.skipIf(!adminUrl)(
  `PostgreSQL migrations${adminUrl ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    const versions = (c: pg.ClientBase) =>
      c
        .query('SELECT version, name, applied_at_ms FROM raceway_migrations ORDER BY 1')
        .then((r) => r.rows);
    const init = async (url: string) => {
      const storage = new PostgresStorage(url, { maxConnections: 2 });
      try {
        await storage.init();
      } finally {
        await storage.close();
      }
    };

    it('creates, on a new database, the schema the collector before migrations created', async () => {
      const v1 = await createTestDatabase(adminUrl!);
      const expected = await withPgClient(v1, async (c) => {
        await c.query(POSTGRES_V1_SCHEMA);
        return postgresSchema(c);
      });
      const url = await createTestDatabase(adminUrl!);
      await withPgClient(url, async (c) => {
        expect(await migratePostgres(c, url, MIGRATIONS.slice(0, 1))).toEqual({ from: 0, to: 1 });
        expect(await postgresSchema(c)).toEqual(expected);
        expect(await versions(c)).toEqual([
          { version: 1, name: 'initial schema', applied_at_ms: expect.any(String) },
        ]);
      });
      // The later migrations bring both to the same schema.
      await init(url);
      await init(v1);
      const [fresh, migrated] = await Promise.all(
        [url, v1].map((u) => withPgClient(u, (c) => postgresSchema(c))),
      );
      expect(fresh).toEqual(migrated);
    });

    it('records version 1 on a database of the collector before migrations, changing nothing else', async () => {
      const url = await createTestDatabase(adminUrl!);
      const schema = await withPgClient(url, async (c) => {
        await c.query(POSTGRES_V1_SCHEMA);
        return postgresSchema(c);
      });
      await init(url);
      await withPgClient(url, async (c) => {
        // Version 2 adds event_resources, version 3 races.group_id (and its index), version 4
        // collector_aggregates and analysis_leases, version 5 trace_attributes, version 6
        // partitions events (and event_resources) by day, with the same columns, version 7 keys
        // races by (resource, id); nothing else.
        const added = [
          'event_resources',
          'event_resources_default',
          'collector_aggregates',
          'analysis_leases',
          'trace_attributes',
          'events',
          'events_default',
          'trace_analysis',
          'trace_analysis_parts',
        ];
        const after = (await postgresSchema(c)) as { columns: Array<{ table_name: string }> };
        expect(withoutLaterRaceChanges(added.reduce(withoutTable, after as unknown))).toEqual(
          withoutLaterRaceChanges(['events', 'trace_analysis'].reduce(withoutTable, schema)),
        );
        // Version 8 drops the index of events by kind, on every partition too.
        const indexes = (after as unknown as { indexes: Array<{ indexdef: string }> }).indexes;
        expect(indexes.filter((i) => i.indexdef.includes('(kind, ts_us)'))).toEqual([]);
        // Version 7 keys races by resource first, the column Citus would distribute them by.
        expect(
          (
            after as unknown as { constraints: Array<{ conname: string; definition: string }> }
          ).constraints.find((c) => c.conname === 'races_pkey')?.definition,
        ).toBe('PRIMARY KEY (resource, id)');
        const columnsOf = (s: unknown, table: string) =>
          (s as typeof after).columns.filter((col) => col.table_name === table);
        expect(columnsOf(after, 'events')).toEqual(columnsOf(schema, 'events'));
        // Version 9 keeps in trace_analysis what an analysis' parts and races are saved beside.
        expect(
          columnsOf(after, 'trace_analysis').map(
            (col) => (col as { column_name?: string }).column_name,
          ),
        ).toEqual(['trace_id', 'version', 'analyzed_at_ms', 'diagnostic_count']);
        expect((await versions(c)).map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      });
    });

    it('does nothing when started again on a migrated database', async () => {
      const url = await createTestDatabase(adminUrl!);
      await init(url);
      const before = await withPgClient(url, async (c) => [
        await postgresSchema(c),
        await versions(c),
      ]);
      await init(url);
      await withPgClient(url, async (c) => {
        expect(await migratePostgres(c, url)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
        expect([await postgresSchema(c), await versions(c)]).toEqual(before);
      });
    });

    it('migrates a new database once when 5 collectors start at once', async () => {
      const url = await createTestDatabase(adminUrl!);
      await Promise.all(Array.from({ length: 5 }, () => init(url)));
      await withPgClient(url, async (c) => {
        expect((await versions(c)).map((v) => v.version)).toEqual(MIGRATIONS.map((m) => m.version));
      });
    });

    it('applies a pending migration once when 5 collectors start at once', async () => {
      const url = await createTestDatabase(adminUrl!);
      await init(url);
      const clients = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const c = new pg.Client({ connectionString: url });
          await c.connect();
          return c;
        }),
      );
      try {
        // ADD COLUMN twice would fail: each migration ran exactly once.
        const results = await Promise.all(
          clients.map((c) => migratePostgres(c, url, [...MIGRATIONS, NOTE_COLUMN])),
        );
        expect(results.filter((r) => r.from !== r.to)).toEqual([
          { from: SCHEMA_VERSION, to: NOTE_COLUMN.version },
        ]);
        expect((await versions(clients[0]!)).map((v) => v.version)).toEqual([
          ...MIGRATIONS.map((m) => m.version),
          NOTE_COLUMN.version,
        ]);
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    });

    it('rolls every step of a failed migration back', async () => {
      const url = await createTestDatabase(adminUrl!);
      await withPgClient(url, async (c) => {
        await expect(
          migratePostgres(c, url, [...MIGRATIONS, NOTE_COLUMN, FAILING]),
        ).rejects.toThrow(/no_such_table/);
        const tables = await c.query(
          'SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = current_schema()',
        );
        expect(tables.rows[0].n).toBe(0);
        // The connection is usable (not left in a failed transaction), and the lock was freed.
        expect(await migratePostgres(c, url)).toEqual({ from: 0, to: SCHEMA_VERSION });
      });
    });

    it('refuses a database migrated by a newer collector, and leaves it as it was', async () => {
      const url = await createTestDatabase(adminUrl!);
      const before = await withPgClient(url, async (c) => {
        await migratePostgres(c, url, [...MIGRATIONS, NOTE_COLUMN]);
        return [await postgresSchema(c), await versions(c)];
      });
      const storage = new PostgresStorage(url);
      await expect(storage.init()).rejects.toEqual(tooNew(NOTE_COLUMN.version));
      await storage.close();
      await expect(openStorage(url)).rejects.toThrow(/Upgrade this collector/);
      await withPgClient(url, async (c) => {
        expect([await postgresSchema(c), await versions(c)]).toEqual(before);
      });
      // The message names the database without its password.
      const withPassword = new URL(url);
      withPassword.password = 'secret';
      const refused = await openStorage(withPassword.toString()).catch((e: Error) => e);
      expect((refused as Error).message).not.toContain('secret');
    });
  },
);

// --- version 10: accesses filed by resource ----------------------------------------------

const V10 = MIGRATIONS.find((m) => m.name === 'accesses filed by resource')!;
const BEFORE_V10 = MIGRATIONS.filter((m) => m.version < V10.version);

/**
 * Two requests that read-modify-write the same resources at once, in two traces: a state
 * resource (state_read/state_write) and a SQL row (SELECT then UPDATE in a transaction), so
 * that the cross-trace pass finds a lost update on each.
 */
function racingRequests(startUs: number) {
  const state = `stock:${hex(4)}`;
  const productId = hex(4);
  const sqlStock = `products[id=${paramDigest(productId)}].stock`;
  const events: StoredEvent[] = [];
  for (const [i, service] of ['inventory', 'billing'].entries()) {
    const r = new ContextRecorder(service, newTraceId(), null, startUs + i * 1000);
    const query = (statement: string, params: unknown[] = []) =>
      r.record('db_query', {
        system: 'postgresql',
        statement,
        params: params.map((v) => ({ digest: paramDigest(v) })),
        connection: `pool#${service}`,
        duration_ms: 1,
      });
    r.record('request_received', {
      method: 'POST',
      path: '/reserve',
      route: '/reserve',
      incoming: { status: 'absent', reasons: [] },
    });
    r.record('state_read', { resource: state, value: 3, version: 7 });
    query('BEGIN');
    query('SELECT stock FROM products WHERE id = $1', [productId]);
    r.advance(50);
    r.record('state_write', { resource: state, value: 2, version: 8 });
    query('UPDATE products SET stock = $1 WHERE id = $2', [2, productId]);
    query('COMMIT');
    r.record('response_sent', { method: 'POST', route: '/reserve', status: 200, duration_ms: 60 });
    events.push(...r.events);
  }
  const range = { fromUs: startUs, toUs: startUs + HOUR_US };
  return { events, ranges: [state, sqlStock].map((resource) => ({ resource, ...range })) };
}

const HOUR_US = 3_600_000_000;

/** What the cross-trace pass finds on these ranges, reading the accesses from `storage`. */
async function crossTraceRaces(storage: Storage, ranges: AccessRange[]) {
  const byResource = await new StorageAccessWindows(storage).readMany(ranges);
  return [...byResource.values()].flatMap((events) => detectCrossTraceRaces(events));
}

describe('version 10: every access filed by resource with its event', () => {
  const start = Date.UTC(2026, 0, 5) * 1000;

  it('SQLite: a database stored before it finds the same cross-trace races once upgraded', async () => {
    const { events, ranges } = racingRequests(start);
    const path = freshPath();
    const db = new Database(path);
    migrateSqlite(db, path, BEFORE_V10);
    storeBeforeV10Sqlite(db, events);
    db.close();

    const upgraded = new SqliteStorage(path, { writer: 'inline' });
    const fresh = new SqliteStorage(freshPath(), { writer: 'inline' });
    try {
      await Promise.all([upgraded.init(), fresh.init()]);
      await fresh.insertEvents(events);
      await expectSameCrossTraceRaces(upgraded, fresh, ranges);
    } finally {
      await Promise.all([upgraded.close(), fresh.close()]);
    }
    const after = new Database(path);
    expect(
      after.prepare("SELECT name FROM sqlite_master WHERE name = 'events_resource'").all(),
    ).toEqual([]);
    after.close();
  });

  describe.skipIf(!adminUrl)(`PostgreSQL${adminUrl ? '' : ` (skipped: ${skipReason})`}`, () => {
    it('a database stored before it finds the same cross-trace races once upgraded', async () => {
      const { events, ranges } = racingRequests(start);
      const url = await createTestDatabase(adminUrl!);
      await withPgClient(url, async (c) => {
        await migratePostgres(c, url, BEFORE_V10);
        await storeBeforeV10Postgres(c, events);
      });

      const upgraded = new PostgresStorage(url, { maxConnections: 2 });
      const fresh = new PostgresStorage(await createTestDatabase(adminUrl!), { maxConnections: 2 });
      try {
        await Promise.all([upgraded.init(), fresh.init()]);
        await fresh.insertEvents(events);
        await expectSameCrossTraceRaces(upgraded, fresh, ranges);
      } finally {
        await Promise.all([upgraded.close(), fresh.close()]);
      }
      const indexes = await withPgClient(url, (c) =>
        c.query("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'events%resource%'"),
      );
      expect(indexes.rows).toEqual([]);
    });
  });
});

/** Both stores read the same accesses, and the cross-trace pass finds the same lost updates. */
async function expectSameCrossTraceRaces(upgraded: Storage, fresh: Storage, ranges: AccessRange[]) {
  const keys = ranges.map((r) => r.resource);
  const accesses = (s: Storage) =>
    s
      .getStateAccessesMany(ranges, 100)
      .then((m) => keys.map((k) => (m.get(k) ?? []).map((e) => e.id)));
  const expected = await accesses(fresh);
  // Two reads and two writes of each resource.
  expect(expected.map((ids) => ids.length)).toEqual([4, 4]);
  expect(await accesses(upgraded)).toEqual(expected);
  const races = await crossTraceRaces(fresh, ranges);
  expect(races.map((r) => [r.kind, r.resource])).toEqual(
    expect.arrayContaining(keys.map((k) => ['lost_update', k])),
  );
  expect(await crossTraceRaces(upgraded, ranges)).toEqual(races);
}
