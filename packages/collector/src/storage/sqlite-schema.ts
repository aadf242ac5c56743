import type Database from 'better-sqlite3';

// What the reading side (sqlite.ts) and the writer (sqlite-writer.ts, which may run in its own
// thread) of the SQLite storage share. The tables are created by migrations.ts; the SQL both
// backends share is in sql.ts.

// Event and trace ids are stored as 16-byte blobs in the events table: half the size of hex
// text. Events are keyed by (trace id, event id): one index serves both idempotency and
// reading a trace, and since a trace's events arrive together, an ingested batch touches few
// of its pages. A second index on the random event id alone would be written at a random
// page for every event (measured: 40 % more CPU per stored event).
export const blob = (hexId: string) => Buffer.from(hexId, 'hex');

/**
 * Settings of the connection that writes. WAL lets readers work while it writes; FULL fsyncs
 * the WAL at every commit, so an acknowledged batch survives a process crash and also an OS
 * crash or power loss (NORMAL would only survive the process: the commit would wait in the OS
 * cache for the next checkpoint).
 */
export function applyWriterPragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // Another process (a second collector, a backup) may hold the write lock for a moment.
  db.pragma('busy_timeout = 5000');
  // Index pages written at random positions stay in memory between commits...
  db.pragma('cache_size = -65536');
  // ...and are copied back to the database once per ~40 MB of WAL instead of once per 4 MB,
  // so a page changed by many commits is written (and fsynced) once per checkpoint.
  db.pragma('wal_autocheckpoint = 10000');
  db.pragma('journal_size_limit = 67108864');
}
