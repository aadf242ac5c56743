import type Database from 'better-sqlite3';
import type pg from 'pg';
import { RacewayConfigError } from '../errors.js';
import { timePartitionsSchema } from './pg-partitions.js';
import { sharedStateSchema } from './shared-state-schema.js';
import {
  analysisPartsSchema,
  type Dialect,
  eventResourcesSchema,
  noKindIndexSchema,
  raceGroupsSchema,
  racesByResourceSchema,
  stateAccessesByResourceSchema,
  TYPES,
  traceAttributesSchema,
} from './sql.js';

/**
 * One step of the schema. `up` renders its SQL for a dialect (several statements allowed);
 * it runs in the transaction that records it, with every other pending step.
 */
export interface Migration {
  /** 1, 2, 3...: the schema version a database is at once this step is applied. */
  version: number;
  name: string;
  up: (d: Dialect) => string;
}

// The kinds of the partial index on (kind, ts_us) that version 1 creates on SQLite (version 8
// drops it): part of version 1's text, which must stay as that collector wrote it.
export const HTTP_KINDS_SQL =
  "kind IN ('request_received', 'response_sent', 'request_sent', 'response_received')";

/**
 * Version 1: the schema of the collector before versioned migrations, statement for statement
 * (IF NOT EXISTS, as it was), so that on a database that collector created it changes nothing
 * and only records version 1. SQLite keeps the text of every CREATE: for SQLite this renders
 * exactly that collector's text, so new and old databases are alike (test/migrations.test.ts
 * compares both with a database that collector wrote). Never edit it: add a migration.
 */
function initialSchema(d: Dialect): string {
  const t = TYPES[d];
  return `
CREATE TABLE IF NOT EXISTS events (
  id ${t.id} NOT NULL,
  trace_id ${t.id} NOT NULL,
  span_id ${t.text} NOT NULL,
  parent_span_id ${t.text},
  service ${t.text} NOT NULL,
  kind ${t.text} NOT NULL,
  ts_us ${t.bigint} NOT NULL,
  resource ${t.text},
  body ${t.json} NOT NULL,
  ${d === 'sqlite' ? 'UNIQUE' : 'PRIMARY KEY'} (trace_id, id)
);
${
  // SQLite reads request/response events by kind through a partial index (most events stay
  // out of it); PostgreSQL indexes every kind.
  d === 'sqlite'
    ? `CREATE INDEX IF NOT EXISTS events_http_ts ON events (kind, ts_us) WHERE ${HTTP_KINDS_SQL};`
    : 'CREATE INDEX IF NOT EXISTS events_kind_ts ON events (kind, ts_us);'
}
CREATE INDEX IF NOT EXISTS events_resource ON events (resource, ts_us) WHERE resource IS NOT NULL;

CREATE TABLE IF NOT EXISTS traces (
  trace_id ${t.text} NOT NULL PRIMARY KEY,
  first_ts_us ${t.bigint} NOT NULL,
  last_ts_us ${t.bigint} NOT NULL,
  root_exact ${t.int} NOT NULL DEFAULT 0,
  root_ts_us ${t.bigint},
  root_service ${t.text},
  root_method ${t.text},
  root_route ${t.text},
  span_count ${t.int} NOT NULL DEFAULT 0,
  event_count ${t.int} NOT NULL DEFAULT 0,
  error_count ${t.int} NOT NULL DEFAULT 0,
  race_count ${t.int} NOT NULL DEFAULT 0,
  version ${t.int} NOT NULL DEFAULT 1,
  analyzed_version ${t.int} NOT NULL DEFAULT 0,
  changed_at_ms ${t.bigint} NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_first ON traces (first_ts_us, trace_id);
CREATE INDEX IF NOT EXISTS traces_last ON traces (last_ts_us);
CREATE INDEX IF NOT EXISTS traces_pending ON traces (changed_at_ms) WHERE analyzed_version < version;

CREATE TABLE IF NOT EXISTS trace_services (
  trace_id ${t.text} NOT NULL,
  service ${t.text} NOT NULL,
  PRIMARY KEY (trace_id, service)
)${d === 'sqlite' ? ' WITHOUT ROWID' : ''};

CREATE TABLE IF NOT EXISTS trace_analysis (
  trace_id ${t.text} NOT NULL PRIMARY KEY,
  version ${t.int} NOT NULL,
  analyzed_at_ms ${t.bigint} NOT NULL,
  diagnostic_count ${t.int} NOT NULL,
  races ${t.json} NOT NULL,
  critical_path ${t.json} NOT NULL,
  diagnostics ${t.json} NOT NULL
);

CREATE TABLE IF NOT EXISTS races (
  id ${t.text} NOT NULL PRIMARY KEY,
  scope ${t.text} NOT NULL,
  trace_a ${t.text} NOT NULL,
  trace_b ${t.text},
  resource ${t.text} NOT NULL,
  service_a ${t.text} NOT NULL,
  service_b ${t.text} NOT NULL,
  ts_us ${t.bigint} NOT NULL,
  body ${t.json} NOT NULL
);
CREATE INDEX IF NOT EXISTS races_ts ON races (ts_us, id);
CREATE INDEX IF NOT EXISTS races_resource ON races (resource, ts_us);
CREATE INDEX IF NOT EXISTS races_trace_a ON races (trace_a);
CREATE INDEX IF NOT EXISTS races_trace_b ON races (trace_b) WHERE trace_b IS NOT NULL;
`;
}

/**
 * Every migration, in order: versions 1, 2, 3... with no gap. To change the schema, append
 * one (see README, Storage); a released migration is never edited.
 */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', up: initialSchema },
  { version: 2, name: 'event resources', up: eventResourcesSchema },
  { version: 3, name: 'race groups', up: raceGroupsSchema },
  { version: 4, name: 'shared collector state', up: sharedStateSchema },
  { version: 5, name: 'trace attributes', up: traceAttributesSchema },
  { version: 6, name: 'time partitions', up: timePartitionsSchema },
  { version: 7, name: 'races keyed by resource', up: racesByResourceSchema },
  { version: 8, name: 'no index of events by kind', up: noKindIndexSchema },
  { version: 9, name: 'analyses saved by part', up: analysisPartsSchema },
  { version: 10, name: 'accesses filed by resource', up: stateAccessesByResourceSchema },
];

/** The schema version this collector writes (its last migration). */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * One row per applied migration. A table rather than SQLite's `user_version`: the same
 * mechanism (and query) in both backends, and it says what was applied when. The `raceway_`
 * prefix keeps it apart from other tools' `schema_migrations` in a shared database.
 */
const migrationsTable = (d: Dialect) => `CREATE TABLE IF NOT EXISTS raceway_migrations (
  version ${TYPES[d].int} NOT NULL PRIMARY KEY,
  name ${TYPES[d].text} NOT NULL,
  applied_at_ms ${TYPES[d].bigint} NOT NULL
)`;

const CURRENT_VERSION = 'SELECT coalesce(max(version), 0) AS version FROM raceway_migrations';

/** What a start did to the schema: nothing when `from` equals `to`. */
export interface MigrationResult {
  from: number;
  to: number;
}

/**
 * The migrations a database at version `current` still needs, in order. Refuses a database
 * that a newer collector migrated (its version is above the last migration known here):
 * this collector would misread or damage what it does not know.
 */
export function pendingMigrations(
  current: number,
  location: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Migration[] {
  const known = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  if (current > known) {
    throw new RacewayConfigError(
      'RACEWAY_DATABASE_TOO_NEW',
      `the database ${location} has schema version ${current}, newer than this collector knows (version ${known}): a newer Raceway collector migrated it. Upgrade this collector (to the version that migrated it, or later); the database was not changed`,
    );
  }
  return migrations.filter((m) => m.version > current);
}

/**
 * Brings a SQLite database to the last migration, in one transaction: BEGIN IMMEDIATE takes
 * the write lock first, so two processes opening one file cannot both migrate it (the second
 * waits busy_timeout, then finds it migrated). A failure rolls every step back.
 */
export function migrateSqlite(
  db: Database.Database,
  location: string,
  migrations: readonly Migration[] = MIGRATIONS,
): MigrationResult {
  return db
    .transaction(() => {
      db.exec(migrationsTable('sqlite'));
      const from = (db.prepare(CURRENT_VERSION).get() as { version: number }).version;
      const record = db.prepare(
        'INSERT INTO raceway_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)',
      );
      let to = from;
      for (const m of pendingMigrations(from, location, migrations)) {
        db.exec(m.up('sqlite'));
        record.run(m.version, m.name, Date.now());
        to = m.version;
      }
      return { from, to };
    })
    .immediate();
}

// Arbitrary constant shared by every collector process, this one and the ones before
// versioned migrations (which hold it while creating their schema): the advisory lock that
// serialises schema changes when several collectors start at once against one database.
const SCHEMA_LOCK = 72_617_447;

/**
 * Brings a PostgreSQL database to the last migration, in one transaction holding the schema
 * advisory lock (released at COMMIT or ROLLBACK, and if the connection drops): collectors
 * starting together migrate one after the other, and all but the first find nothing to do.
 * PostgreSQL's DDL is transactional: a failure rolls every step back.
 */
export async function migratePostgres(
  client: pg.ClientBase,
  location: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrationResult> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await client.query(migrationsTable('postgres'));
    const from = Number((await client.query(CURRENT_VERSION)).rows[0].version);
    let to = from;
    for (const m of pendingMigrations(from, location, migrations)) {
      await client.query(m.up('postgres'));
      await client.query(
        'INSERT INTO raceway_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)',
        [m.version, m.name, Date.now()],
      );
      to = m.version;
    }
    await client.query('COMMIT');
    return { from, to };
  } catch (error) {
    // Fails too when the connection is gone; the caller is told why the migration failed.
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
