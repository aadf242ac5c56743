import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { type EventKind, resourceOf, type StoredEvent } from '../event.js';
import { parseBodies, type Row, toAnalysis, toRace, toSummary } from './rows.js';
import { traceDeltas } from './trace-delta.js';
import type {
  DiagnosticsQuery,
  InsertResult,
  RaceQuery,
  RaceRecord,
  RetentionResult,
  Storage,
  StorageStats,
  TraceAnalysisRecord,
  TracePage,
  TraceQuery,
  TraceSummary,
} from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id TEXT NOT NULL PRIMARY KEY,
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT,
  service TEXT NOT NULL,
  kind TEXT NOT NULL,
  ts_us INTEGER NOT NULL,
  resource TEXT,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_trace ON events (trace_id, ts_us);
CREATE INDEX IF NOT EXISTS events_kind_ts ON events (kind, ts_us);
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
const NEW_ROOT_WINS = `(excluded.root_ts_us IS NOT NULL AND (traces.root_ts_us IS NULL
  OR excluded.root_exact > traces.root_exact
  OR (excluded.root_exact = traces.root_exact AND excluded.root_ts_us < traces.root_ts_us)))`;

const UPSERT_TRACE = `
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

const TRACE_COLUMNS = `t.*, (SELECT json_group_array(s.service) FROM trace_services s
  WHERE s.trace_id = t.trace_id) AS services`;

const RACE_COUNT = `(SELECT count(*) FROM races r WHERE r.trace_a = traces.trace_id)
  + (SELECT count(*) FROM races r WHERE r.trace_b = traces.trace_id)`;

interface PendingInsert {
  events: StoredEvent[];
  resolve: (result: InsertResult) => void;
  reject: (error: unknown) => void;
}

/**
 * SQLite storage (better-sqlite3): one file in WAL mode, `synchronous=FULL`.
 *
 * Durability: with FULL, SQLite fsyncs the WAL on every commit, so an acknowledged batch
 * survives a process crash and also an OS crash or power loss. NORMAL would survive a process
 * crash only (the commit sits in the OS page cache until the next checkpoint), which is weaker
 * than the contract's "acknowledge only what is durable". The fsync cost is paid once per group
 * commit: every batch that arrives within one event-loop turn is written in one transaction.
 *
 * @example
 * const storage = new SqliteStorage('/var/lib/raceway/raceway.db');
 * await storage.init();
 */
export class SqliteStorage implements Storage {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  private readonly db: Database.Database;
  private queue: PendingInsert[] = [];
  private flushScheduled = false;
  private closed = false;
  private statements!: ReturnType<SqliteStorage['prepare']>;

  constructor(path: string) {
    this.location = path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
  }

  async init(): Promise<void> {
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    // Another process (a second collector, a backup) may hold the write lock for a moment.
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.statements = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      insertEvent: db.prepare(
        `INSERT INTO events (id, trace_id, span_id, parent_span_id, service, kind, ts_us, resource, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      ),
      upsertTrace: db.prepare(UPSERT_TRACE),
      insertService: db.prepare(
        'INSERT INTO trace_services (trace_id, service) VALUES (?, ?) ON CONFLICT DO NOTHING',
      ),
      getTrace: db.prepare(`SELECT ${TRACE_COLUMNS} FROM traces t WHERE t.trace_id = ?`),
      traceEvents: db.prepare('SELECT body FROM events WHERE trace_id = ? ORDER BY ts_us, id'),
      stateAccesses: db.prepare(
        `SELECT body FROM events WHERE resource = ? AND ts_us >= ? AND ts_us <= ?
         ORDER BY ts_us DESC LIMIT ?`,
      ),
      pending: db.prepare(
        `SELECT trace_id, version FROM traces WHERE analyzed_version < version
         ORDER BY changed_at_ms LIMIT ?`,
      ),
      traceExists: db.prepare('SELECT version FROM traces WHERE trace_id = ?'),
      upsertAnalysis: db.prepare(
        `INSERT INTO trace_analysis (trace_id, version, analyzed_at_ms, diagnostic_count, races,
           critical_path, diagnostics) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (trace_id) DO UPDATE SET version = excluded.version,
           analyzed_at_ms = excluded.analyzed_at_ms, diagnostic_count = excluded.diagnostic_count,
           races = excluded.races, critical_path = excluded.critical_path,
           diagnostics = excluded.diagnostics`,
      ),
      deleteTraceRaces: db.prepare("DELETE FROM races WHERE scope = 'trace' AND trace_a = ?"),
      upsertRace: db.prepare(
        `INSERT INTO races (id, scope, trace_a, trace_b, resource, service_a, service_b, ts_us, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, trace_a = excluded.trace_a,
           trace_b = excluded.trace_b, resource = excluded.resource, service_a = excluded.service_a,
           service_b = excluded.service_b, ts_us = excluded.ts_us, body = excluded.body`,
      ),
      markAnalyzed: db.prepare(
        `UPDATE traces SET analyzed_version = max(analyzed_version, ?), race_count = ${RACE_COUNT}
         WHERE trace_id = ?`,
      ),
      recountRaces: db.prepare(`UPDATE traces SET race_count = ${RACE_COUNT} WHERE trace_id = ?`),
      getAnalysis: db.prepare('SELECT * FROM trace_analysis WHERE trace_id = ?'),
      expiredTraces: db.prepare('SELECT trace_id FROM traces WHERE last_ts_us < ? LIMIT ?'),
      deleteTraceEvents: db.prepare('DELETE FROM events WHERE trace_id = ?'),
      deleteTrace: db.prepare('DELETE FROM traces WHERE trace_id = ?'),
      deleteTraceServices: db.prepare('DELETE FROM trace_services WHERE trace_id = ?'),
      deleteTraceAnalysis: db.prepare('DELETE FROM trace_analysis WHERE trace_id = ?'),
      deleteRacesOfTrace: db.prepare('DELETE FROM races WHERE trace_a = ? OR trace_b = ?'),
      deleteOldRaces: db.prepare('DELETE FROM races WHERE ts_us < ?'),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Batches already queued are committed before the file is closed.
    if (this.queue.length > 0) this.flush();
    this.closed = true;
    this.db.close();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async stats(): Promise<StorageStats> {
    const row = this.db
      .prepare(
        `SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM traces) AS traces,
           (SELECT count(*) FROM races) AS races`,
      )
      .get() as StorageStats;
    return { events: row.events, traces: row.traces, races: row.races };
  }

  insertEvents(events: StoredEvent[]): Promise<InsertResult> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Group commit: every batch queued since the last flush goes into one transaction. */
  private flush(): void {
    this.flushScheduled = false;
    const group = this.queue;
    this.queue = [];
    if (group.length === 0) return;
    const results: InsertResult[] = [];
    try {
      this.db.transaction(() => {
        const now = Date.now();
        for (const pending of group) results.push(this.insertBatch(pending.events, now));
      })();
    } catch (error) {
      for (const pending of group) pending.reject(error);
      return;
    }
    group.forEach((pending, i) => pending.resolve(results[i]!));
  }

  private insertBatch(events: StoredEvent[], now: number): InsertResult {
    const { insertEvent, upsertTrace, insertService } = this.statements;
    const inserted: StoredEvent[] = [];
    for (const e of events) {
      const info = insertEvent.run(
        e.id,
        e.trace_id,
        e.span_id,
        e.parent_span_id,
        e.service,
        e.kind,
        e.ts_us,
        resourceOf(e),
        JSON.stringify(e),
      );
      if (info.changes > 0) inserted.push(e);
    }
    for (const delta of traceDeltas(inserted)) {
      upsertTrace.run({
        traceId: delta.traceId,
        firstTsUs: delta.firstTsUs,
        lastTsUs: delta.lastTsUs,
        rootExact: delta.root?.exact ?? 0,
        rootTsUs: delta.root?.tsUs ?? null,
        rootService: delta.root?.service ?? null,
        rootMethod: delta.root?.method ?? null,
        rootRoute: delta.root?.route ?? null,
        spanCount: delta.spanCount,
        eventCount: delta.eventCount,
        errorCount: delta.errorCount,
        now,
      });
      for (const service of delta.services) insertService.run(delta.traceId, service);
    }
    return { accepted: inserted.length, duplicates: events.length - inserted.length, inserted };
  }

  async listTraces(query: TraceQuery): Promise<TracePage> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.fromUs !== undefined) {
      where.push('t.first_ts_us >= ?');
      params.push(query.fromUs);
    }
    if (query.toUs !== undefined) {
      where.push('t.first_ts_us <= ?');
      params.push(query.toUs);
    }
    if (query.status === 'error') where.push('t.error_count > 0');
    if (query.status === 'ok') where.push('t.error_count = 0');
    if (query.hasRaces === true) where.push('t.race_count > 0');
    if (query.hasRaces === false) where.push('t.race_count = 0');
    if (query.service !== undefined) {
      where.push(
        'EXISTS (SELECT 1 FROM trace_services s WHERE s.trace_id = t.trace_id AND s.service = ?)',
      );
      params.push(query.service);
    }
    if (query.after) {
      where.push('(t.first_ts_us < ? OR (t.first_ts_us = ? AND t.trace_id < ?))');
      params.push(query.after.tsUs, query.after.tsUs, query.after.traceId);
    }
    const rows = this.db
      .prepare(
        `SELECT ${TRACE_COLUMNS} FROM traces t ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY t.first_ts_us DESC, t.trace_id DESC LIMIT ?`,
      )
      .all(...params, query.limit + 1) as Row[];
    const traces = rows.slice(0, query.limit).map(toSummary);
    const last = traces[traces.length - 1];
    return {
      traces,
      next: rows.length > query.limit && last ? { tsUs: last.firstTsUs, traceId: last.traceId } : null,
    };
  }

  async getTrace(traceId: string): Promise<TraceSummary | null> {
    const row = this.statements.getTrace.get(traceId) as Row | undefined;
    return row ? toSummary(row) : null;
  }

  async getTraceEvents(traceId: string): Promise<StoredEvent[]> {
    return parseBodies(this.statements.traceEvents.all(traceId) as Row[]);
  }

  async getEventsByKind(
    kinds: EventKind[],
    fromUs: number,
    toUs: number,
    limit: number,
  ): Promise<StoredEvent[]> {
    if (kinds.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT body FROM events WHERE kind IN (${kinds.map(() => '?').join(',')})
         AND ts_us >= ? AND ts_us <= ? ORDER BY ts_us DESC LIMIT ?`,
      )
      .all(...kinds, fromUs, toUs, limit) as Row[];
    return parseBodies(rows);
  }

  async getStateAccesses(
    resource: string,
    fromUs: number,
    toUs: number,
    limit: number,
  ): Promise<StoredEvent[]> {
    return parseBodies(this.statements.stateAccesses.all(resource, fromUs, toUs, limit) as Row[]);
  }

  async pendingTraces(limit: number): Promise<Array<{ traceId: string; version: number }>> {
    const rows = this.statements.pending.all(limit) as Row[];
    return rows.map((r) => ({ traceId: r.trace_id as string, version: Number(r.version) }));
  }

  async saveTraceAnalysis(record: TraceAnalysisRecord, races: RaceRecord[]): Promise<void> {
    const s = this.statements;
    this.db.transaction(() => {
      if (!s.traceExists.get(record.traceId)) return;
      s.upsertAnalysis.run(
        record.traceId,
        record.version,
        record.analyzedAtMs,
        record.diagnosticCount,
        JSON.stringify(record.races),
        JSON.stringify(record.criticalPath ?? null),
        JSON.stringify(record.diagnostics ?? null),
      );
      s.deleteTraceRaces.run(record.traceId);
      for (const race of races) this.upsertRace(race);
      s.markAnalyzed.run(record.version, record.traceId);
    })();
  }

  private upsertRace(race: RaceRecord): void {
    this.statements.upsertRace.run(
      race.id,
      race.scope,
      race.traceA,
      race.traceB,
      race.resource,
      race.serviceA,
      race.serviceB,
      race.tsUs,
      JSON.stringify(race.race),
    );
  }

  async getTraceAnalysis(traceId: string): Promise<TraceAnalysisRecord | null> {
    const row = this.statements.getAnalysis.get(traceId) as Row | undefined;
    return row ? toAnalysis(row) : null;
  }

  async saveCrossTraceRaces(races: RaceRecord[]): Promise<void> {
    if (races.length === 0) return;
    this.db.transaction(() => {
      const touched = new Set<string>();
      for (const race of races) {
        this.upsertRace(race);
        touched.add(race.traceA);
        if (race.traceB) touched.add(race.traceB);
      }
      for (const traceId of touched) this.statements.recountRaces.run(traceId);
    })();
  }

  async listRaces(query: RaceQuery): Promise<RaceRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.resource !== undefined) {
      where.push('resource = ?');
      params.push(query.resource);
    }
    if (query.service !== undefined) {
      where.push('(service_a = ? OR service_b = ?)');
      params.push(query.service, query.service);
    }
    if (query.scope !== undefined) {
      where.push('scope = ?');
      params.push(query.scope);
    }
    if (query.traceId !== undefined) {
      where.push('(trace_a = ? OR trace_b = ?)');
      params.push(query.traceId, query.traceId);
    }
    if (query.fromUs !== undefined) {
      where.push('ts_us >= ?');
      params.push(query.fromUs);
    }
    if (query.toUs !== undefined) {
      where.push('ts_us <= ?');
      params.push(query.toUs);
    }
    if (query.after) {
      where.push('(ts_us < ? OR (ts_us = ? AND id < ?))');
      params.push(query.after.tsUs, query.after.tsUs, query.after.id);
    }
    const rows = this.db
      .prepare(
        `SELECT * FROM races ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY ts_us DESC, id DESC LIMIT ?`,
      )
      .all(...params, query.limit) as Row[];
    return rows.map(toRace);
  }

  async listDiagnostics(
    query: DiagnosticsQuery,
  ): Promise<Array<{ summary: TraceSummary; analysis: TraceAnalysisRecord }>> {
    const where = ['a.diagnostic_count > 0'];
    const params: unknown[] = [];
    if (query.fromUs !== undefined) {
      where.push('t.first_ts_us >= ?');
      params.push(query.fromUs);
    }
    if (query.toUs !== undefined) {
      where.push('t.first_ts_us <= ?');
      params.push(query.toUs);
    }
    if (query.after) {
      where.push('(t.first_ts_us < ? OR (t.first_ts_us = ? AND t.trace_id < ?))');
      params.push(query.after.tsUs, query.after.tsUs, query.after.traceId);
    }
    const rows = this.db
      .prepare(
        `SELECT ${TRACE_COLUMNS}, a.version AS a_version, a.analyzed_at_ms, a.diagnostic_count,
           a.races, a.critical_path, a.diagnostics
         FROM trace_analysis a JOIN traces t ON t.trace_id = a.trace_id
         WHERE ${where.join(' AND ')} ORDER BY t.first_ts_us DESC, t.trace_id DESC LIMIT ?`,
      )
      .all(...params, query.limit) as Row[];
    return rows.map((row) => ({
      summary: toSummary(row),
      analysis: toAnalysis({ ...row, version: row.a_version }),
    }));
  }

  async deleteOlderThan(cutoffUs: number): Promise<RetentionResult> {
    const s = this.statements;
    const result: RetentionResult = { events: 0, traces: 0, races: 0 };
    // Whole traces go once their last event is older than the cutoff, in small transactions so
    // that ingestion is never blocked for long.
    for (;;) {
      const ids = (s.expiredTraces.all(cutoffUs, 200) as Row[]).map((r) => r.trace_id as string);
      if (ids.length === 0) break;
      this.db.transaction(() => {
        for (const id of ids) {
          result.events += s.deleteTraceEvents.run(id).changes;
          result.traces += s.deleteTrace.run(id).changes;
          s.deleteTraceServices.run(id);
          s.deleteTraceAnalysis.run(id);
          result.races += s.deleteRacesOfTrace.run(id, id).changes;
        }
      })();
      await nextTurn();
    }
    result.races += s.deleteOldRaces.run(cutoffUs).changes;
    return result;
  }
}
