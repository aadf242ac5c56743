import type Database from 'better-sqlite3';

// The SQLite schema and the SQL shared by the reading side (sqlite.ts) and the writer
// (sqlite-writer.ts, which may run in its own thread).

// Only these kinds are read by kind (service metrics, dependencies): the partial index keeps
// the other events (most of them) out of it.
export const HTTP_KINDS = [
  'request_received',
  'response_sent',
  'request_sent',
  'response_received',
];
export const HTTP_KINDS_SQL = `kind IN (${HTTP_KINDS.map((k) => `'${k}'`).join(', ')})`;

// Event and trace ids are stored as 16-byte blobs in the events table: half the size of hex
// text. Events are keyed by (trace id, event id): one index serves both idempotency and
// reading a trace, and since a trace's events arrive together, an ingested batch touches few
// of its pages. A second index on the random event id alone would be written at a random
// page for every event (measured: 40 % more CPU per stored event).
export const blob = (hexId: string) => Buffer.from(hexId, 'hex');

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id BLOB NOT NULL,
  trace_id BLOB NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT,
  service TEXT NOT NULL,
  kind TEXT NOT NULL,
  ts_us INTEGER NOT NULL,
  resource TEXT,
  body TEXT NOT NULL,
  UNIQUE (trace_id, id)
);
CREATE INDEX IF NOT EXISTS events_http_ts ON events (kind, ts_us) WHERE ${HTTP_KINDS_SQL};
CREATE INDEX IF NOT EXISTS events_resource ON events (resource, ts_us) WHERE resource IS NOT NULL;

CREATE TABLE IF NOT EXISTS traces (
  trace_id TEXT NOT NULL PRIMARY KEY,
  first_ts_us INTEGER NOT NULL,
  last_ts_us INTEGER NOT NULL,
  root_exact INTEGER NOT NULL DEFAULT 0,
  root_ts_us INTEGER,
  root_service TEXT,
  root_method TEXT,
  root_route TEXT,
  span_count INTEGER NOT NULL DEFAULT 0,
  event_count INTEGER NOT NULL DEFAULT 0,
  error_count INTEGER NOT NULL DEFAULT 0,
  race_count INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 1,
  analyzed_version INTEGER NOT NULL DEFAULT 0,
  changed_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_first ON traces (first_ts_us, trace_id);
CREATE INDEX IF NOT EXISTS traces_last ON traces (last_ts_us);
CREATE INDEX IF NOT EXISTS traces_pending ON traces (changed_at_ms) WHERE analyzed_version < version;

CREATE TABLE IF NOT EXISTS trace_services (
  trace_id TEXT NOT NULL,
  service TEXT NOT NULL,
  PRIMARY KEY (trace_id, service)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS trace_analysis (
  trace_id TEXT NOT NULL PRIMARY KEY,
  version INTEGER NOT NULL,
  analyzed_at_ms INTEGER NOT NULL,
  diagnostic_count INTEGER NOT NULL,
  races TEXT NOT NULL,
  critical_path TEXT NOT NULL,
  diagnostics TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS races (
  id TEXT NOT NULL PRIMARY KEY,
  scope TEXT NOT NULL,
  trace_a TEXT NOT NULL,
  trace_b TEXT,
  resource TEXT NOT NULL,
  service_a TEXT NOT NULL,
  service_b TEXT NOT NULL,
  ts_us INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS races_ts ON races (ts_us, id);
CREATE INDEX IF NOT EXISTS races_resource ON races (resource, ts_us);
CREATE INDEX IF NOT EXISTS races_trace_a ON races (trace_a);
CREATE INDEX IF NOT EXISTS races_trace_b ON races (trace_b) WHERE trace_b IS NOT NULL;
`;

// The better of two root candidates (see trace-delta.ts betterRoot), written once for every
// root column of the upsert.
export const NEW_ROOT_WINS = `(excluded.root_ts_us IS NOT NULL AND (traces.root_ts_us IS NULL
  OR excluded.root_exact > traces.root_exact
  OR (excluded.root_exact = traces.root_exact AND excluded.root_ts_us < traces.root_ts_us)))`;

export const UPSERT_TRACE = `
INSERT INTO traces (trace_id, first_ts_us, last_ts_us, root_exact, root_ts_us, root_service,
  root_method, root_route, span_count, event_count, error_count, version, changed_at_ms)
VALUES (@traceId, @firstTsUs, @lastTsUs, @rootExact, @rootTsUs, @rootService, @rootMethod,
  @rootRoute, @spanCount, @eventCount, @errorCount, 1, @now)
ON CONFLICT (trace_id) DO UPDATE SET
  first_ts_us = min(traces.first_ts_us, excluded.first_ts_us),
  last_ts_us = max(traces.last_ts_us, excluded.last_ts_us),
  root_service = CASE WHEN ${NEW_ROOT_WINS} THEN excluded.root_service ELSE traces.root_service END,
  root_method = CASE WHEN ${NEW_ROOT_WINS} THEN excluded.root_method ELSE traces.root_method END,
  root_route = CASE WHEN ${NEW_ROOT_WINS} THEN excluded.root_route ELSE traces.root_route END,
  root_exact = CASE WHEN ${NEW_ROOT_WINS} THEN excluded.root_exact ELSE traces.root_exact END,
  root_ts_us = CASE WHEN ${NEW_ROOT_WINS} THEN excluded.root_ts_us ELSE traces.root_ts_us END,
  span_count = traces.span_count + excluded.span_count,
  event_count = traces.event_count + excluded.event_count,
  error_count = traces.error_count + excluded.error_count,
  version = traces.version + 1,
  changed_at_ms = excluded.changed_at_ms`;

export const TRACE_COLUMNS = `t.*, (SELECT json_group_array(s.service) FROM trace_services s
  WHERE s.trace_id = t.trace_id) AS services`;

export const RACE_COUNT = `(SELECT count(*) FROM races r WHERE r.trace_a = traces.trace_id)
  + (SELECT count(*) FROM races r WHERE r.trace_b = traces.trace_id)`;

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
