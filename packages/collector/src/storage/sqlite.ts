import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import type { StoredEvent } from '../event.js';
import { assembleAnalysis } from './analysis-parts.js';
import { migrateSqlite } from './migrations.js';
import {
  diagnosticsFilters,
  raceFilters,
  raceGroupsQuery,
  SQLITE_CONTAINS,
  SQLITE_PLACEHOLDER,
  toRaceGroups,
  traceCountQuery,
  traceFilters,
} from './query-filters.js';
import { clampMs, parseBodies, type Row, toAggregateRow, toRace, toSummary } from './rows.js';
import { stateAccessesSql, traceColumns } from './sql.js';
import { openSqliteDatabase } from './sqlite-driver.js';
import { applyWriterPragmas, blob } from './sqlite-schema.js';
import { SqliteWriter } from './sqlite-writer.js';
import {
  InlineWriter,
  ThreadWriter,
  type WriterHealth,
  type WriterPort,
  writerScript,
} from './sqlite-writer-port.js';
import { toEventRow } from './trace-delta.js';
import type {
  AggregateRange,
  AggregateRow,
  AnalysisItem,
  DiagnosticsQuery,
  InsertResult,
  RaceGroupRecord,
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

const TRACE_COLUMNS = traceColumns('sqlite');

export interface SqliteStorageOptions {
  /**
   * Where writes run: `thread` (a worker thread owns the writing connection, so SQLite's work
   * runs beside the HTTP event loop) or `inline` (on the caller's thread). Default: `thread`
   * when the built writer script is present and the database is a file, else `inline`.
   */
  writer?: 'thread' | 'inline';
}

/**
 * SQLite storage (better-sqlite3): one file in WAL mode with `synchronous=FULL` (see
 * applyWriterPragmas for why), read on the caller's thread and written by one writer, in a
 * worker thread by default. Batches arriving together are committed together (group commit),
 * and every write resolves only once committed. {@link init} migrates the schema (see
 * migrations.ts) and refuses a database migrated by a newer collector.
 *
 * @example
 * const storage = new SqliteStorage('/var/lib/raceway/raceway.db');
 * await storage.init();
 */
export class SqliteStorage implements Storage {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  private readonly db: Database.Database;
  private writer!: WriterPort;
  private closed = false;
  private statements!: ReturnType<SqliteStorage['prepare']>;

  constructor(
    path: string,
    private readonly options: SqliteStorageOptions = {},
  ) {
    this.location = path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = openSqliteDatabase(path);
  }

  /** Where writes run (see {@link SqliteStorageOptions.writer}). */
  get writerMode(): 'thread' | 'inline' {
    return this.writer instanceof ThreadWriter ? 'thread' : 'inline';
  }

  async init(): Promise<void> {
    applyWriterPragmas(this.db);
    // Before the writer thread opens the file: it prepares statements on the migrated schema.
    migrateSqlite(this.db, this.location);
    this.statements = this.prepare();
    const script = writerScript();
    const wantThread = (this.options.writer ?? (script ? 'thread' : 'inline')) === 'thread';
    if (wantThread && this.location !== ':memory:') {
      if (!script) throw new Error('the SQLite writer thread script is missing: build the package');
      const thread = new ThreadWriter(script, this.location);
      await thread.start();
      this.writer = thread;
      // This connection only reads now: the writer's large page cache is not needed here.
      this.db.pragma('cache_size = -16384');
    } else {
      this.writer = new InlineWriter(new SqliteWriter(this.db), this.db);
    }
  }

  private prepare() {
    const db = this.db;
    return {
      getTrace: db.prepare(`SELECT ${TRACE_COLUMNS} FROM traces t WHERE t.trace_id = ?`),
      traceEvents: db.prepare('SELECT body FROM events WHERE trace_id = ? ORDER BY ts_us, id'),
      traceEventsAfter: db.prepare(
        `SELECT body FROM events WHERE trace_id = ? AND (ts_us > ? OR (ts_us = ? AND id > ?))
         ORDER BY ts_us, id`,
      ),
      traceEventsPage: db.prepare(
        'SELECT body FROM events WHERE trace_id = ? AND id > ? ORDER BY trace_id, id LIMIT ?',
      ),
      lockEvents: db.prepare(
        `SELECT body FROM events WHERE trace_id = ? AND kind IN ('lock_acquire', 'lock_release')
         ORDER BY ts_us, id`,
      ),
      requestEvents: db.prepare(
        `SELECT body FROM events WHERE trace_id = ? AND kind = 'request_received' ORDER BY ts_us, id`,
      ),
      stateAccesses: db.prepare(stateAccessesSql('sqlite')),
      pending: db.prepare(
        `SELECT trace_id, version FROM traces WHERE analyzed_version < version
         AND changed_at_ms < ? ORDER BY changed_at_ms LIMIT ?`,
      ),
      getAnalysis: db.prepare('SELECT * FROM trace_analysis WHERE trace_id = ?'),
      analysisParts: db.prepare(
        'SELECT name, position, body FROM trace_analysis_parts WHERE trace_id = ?',
      ),
      traceRaceBodies: db.prepare("SELECT body FROM races WHERE scope = 'trace' AND trace_a = ?"),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Batches already queued are committed before the file is closed.
    await this.writer?.close();
    if (this.db.open) this.db.close();
  }

  /** What the writer is doing: `restarting` after its thread died, until the new one is up. */
  writerHealth(): WriterHealth {
    if (this.writer instanceof ThreadWriter) return this.writer.health();
    return { state: this.closed ? 'closed' : 'ok', restarts: 0, lastFailure: null };
  }

  async ping(): Promise<void> {
    if (this.writer?.failure) throw this.writer.failure;
    this.db.prepare('SELECT 1').get();
  }

  async stats(): Promise<StorageStats> {
    // Events from the per-trace counts kept on ingest: /healthz reads the traces table, not
    // every event row.
    const row = this.db
      .prepare(
        `SELECT (SELECT coalesce(sum(event_count), 0) FROM traces) AS events, (SELECT count(*) FROM traces) AS traces,
           (SELECT count(*) FROM races) AS races`,
      )
      .get() as StorageStats;
    return { events: row.events, traces: row.traces, races: row.races };
  }

  async insertEvents(events: StoredEvent[]): Promise<InsertResult> {
    if (this.closed) throw new Error('storage is closed');
    const { inserted } = await this.writer.insert(events.map((e) => toEventRow(e)));
    const stored = inserted.map((i) => events[i]!);
    return { accepted: stored.length, duplicates: events.length - stored.length, inserted: stored };
  }

  async saveTraceAnalyses(items: AnalysisItem[]): Promise<void> {
    if (items.length > 0) await this.writer.saveTraceAnalyses(items);
  }

  async saveCrossTraceRaces(races: RaceRecord[]): Promise<void> {
    if (races.length > 0) await this.writer.saveCrossTraceRaces(races);
  }

  async deleteOlderThan(cutoffUs: number): Promise<RetentionResult> {
    const result: RetentionResult = { events: 0, traces: 0, races: 0 };
    for (;;) {
      const step = await this.writer.retentionStep(cutoffUs);
      result.events += step.events;
      result.traces += step.traces;
      result.races += step.races;
      if (step.done) return result;
      // Lets ingestion in between steps when the writer shares this thread.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async listTraces(query: TraceQuery): Promise<TracePage> {
    const w = traceFilters(query, SQLITE_PLACEHOLDER, SQLITE_CONTAINS);
    const rows = this.db
      .prepare(
        `SELECT ${TRACE_COLUMNS} FROM traces t ${w}
         ORDER BY t.first_ts_us DESC, t.trace_id DESC LIMIT ${w.param(query.limit + 1)}`,
      )
      .all(...w.params) as Row[];
    const traces = rows.slice(0, query.limit).map(toSummary);
    const last = traces[traces.length - 1];
    return {
      traces,
      next:
        rows.length > query.limit && last ? { tsUs: last.firstTsUs, traceId: last.traceId } : null,
    };
  }

  async countTraces(query: TraceQuery, cap: number): Promise<number> {
    const { sql, params } = traceCountQuery(query, cap, SQLITE_PLACEHOLDER, SQLITE_CONTAINS);
    return (this.db.prepare(sql).get(...params) as { n: number }).n;
  }

  async getTrace(traceId: string): Promise<TraceSummary | null> {
    const row = this.statements.getTrace.get(traceId) as Row | undefined;
    return row ? toSummary(row) : null;
  }

  async getTraces(traceIds: string[]): Promise<TraceSummary[]> {
    const rows = traceIds.map((id) => this.statements.getTrace.get(id) as Row | undefined);
    return rows.filter((r): r is Row => r !== undefined).map(toSummary);
  }

  async getEventsOfTraces(traceIds: string[]): Promise<Map<string, StoredEvent[]>> {
    const out = new Map<string, StoredEvent[]>();
    for (const id of traceIds) {
      const events = parseBodies(this.statements.traceEvents.all(blob(id)) as Row[]);
      if (events.length > 0) out.set(id, events);
    }
    return out;
  }

  async getStateAccessesMany(
    ranges: Array<{ resource: string; fromUs: number; toUs: number }>,
    limitPerResource: number,
  ): Promise<Map<string, StoredEvent[]>> {
    const out = new Map<string, StoredEvent[]>();
    for (const r of ranges) {
      out.set(
        r.resource,
        await this.getStateAccesses(r.resource, r.fromUs, r.toUs, limitPerResource),
      );
    }
    return out;
  }

  async getTraceEvents(traceId: string): Promise<StoredEvent[]> {
    return parseBodies(this.statements.traceEvents.all(blob(traceId)) as Row[]);
  }

  async getTraceEventsAfter(
    traceId: string,
    after: { tsUs: number; id: string },
  ): Promise<StoredEvent[]> {
    const rows = this.statements.traceEventsAfter.all(
      blob(traceId),
      after.tsUs,
      after.tsUs,
      blob(after.id),
    ) as Row[];
    return parseBodies(rows);
  }

  async getTraceEventsPage(
    traceId: string,
    afterId: string | null,
    limit: number,
  ): Promise<StoredEvent[]> {
    // An empty blob sorts before every id.
    const after = afterId === null ? Buffer.alloc(0) : blob(afterId);
    return parseBodies(this.statements.traceEventsPage.all(blob(traceId), after, limit) as Row[]);
  }

  async getStateAccesses(
    resource: string,
    fromUs: number,
    toUs: number,
    limit: number,
  ): Promise<StoredEvent[]> {
    return parseBodies(
      this.statements.stateAccesses.all({ resource, fromUs, toUs, limit }) as Row[],
    );
  }

  async getLockEvents(traceIds: string[]): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    for (const traceId of traceIds) {
      out.push(...parseBodies(this.statements.lockEvents.all(blob(traceId)) as Row[]));
    }
    return out;
  }

  async getRequestEvents(traceIds: string[]): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    for (const traceId of traceIds) {
      out.push(...parseBodies(this.statements.requestEvents.all(blob(traceId)) as Row[]));
    }
    return out;
  }

  async saveAggregates(
    collectorId: string,
    rows: AggregateRow[],
    replaced: AggregateRange[] = [],
  ): Promise<void> {
    if (rows.length > 0 || replaced.length > 0) {
      await this.writer.saveAggregates(collectorId, rows, replaced);
    }
  }

  async loadAggregates(
    name: string,
    fromMs: number,
    toMs: number,
  ): Promise<Array<AggregateRow & { collectorId: string }>> {
    const rows = this.db
      .prepare(
        `SELECT collector_id, name, start_ms, until_ms, body FROM collector_aggregates
         WHERE name = ? AND start_ms <= ? AND until_ms > ?`,
      )
      .all(name, clampMs(toMs), clampMs(fromMs)) as Row[];
    return rows.map(toAggregateRow);
  }

  // A SQLite file has one collector: every trace is its to analyse.
  async claimTraces(traceIds: string[]): Promise<string[]> {
    return traceIds;
  }

  async renewTraces(traceIds: string[]): Promise<string[]> {
    return traceIds;
  }

  async releaseTraces(): Promise<void> {}

  async pendingTraces(
    limit: number,
    changedBeforeMs = Number.MAX_SAFE_INTEGER,
  ): Promise<Array<{ traceId: string; version: number }>> {
    const rows = this.statements.pending.all(changedBeforeMs, limit) as Row[];
    return rows.map((r) => ({ traceId: r.trace_id as string, version: Number(r.version) }));
  }

  async getTraceAnalysis(traceId: string): Promise<TraceAnalysisRecord | null> {
    // One read transaction: the record's row, parts and races as one save left them.
    return this.db.transaction(() => {
      const row = this.statements.getAnalysis.get(traceId) as Row | undefined;
      return row ? this.analysisOf(row) : null;
    })();
  }

  /** A trace's analysis from its `trace_analysis` row, with its parts and races. */
  private analysisOf(row: Row): TraceAnalysisRecord {
    const traceId = row.trace_id as string;
    const parts = this.statements.analysisParts.all(traceId) as Row[];
    const races = this.statements.traceRaceBodies.all(traceId) as Row[];
    return assembleAnalysis(
      row,
      parts,
      races.map((r) => r.body),
    );
  }

  async listRaces(query: RaceQuery): Promise<RaceRecord[]> {
    const w = raceFilters(query, SQLITE_PLACEHOLDER);
    const rows = this.db
      .prepare(
        `SELECT * FROM races ${w} ORDER BY ts_us DESC, id DESC LIMIT ${w.param(query.limit)}`,
      )
      .all(...w.params) as Row[];
    return rows.map(toRace);
  }

  async listRaceGroups(query: RaceQuery): Promise<RaceGroupRecord[]> {
    const { sql, params } = raceGroupsQuery(query, SQLITE_PLACEHOLDER);
    return toRaceGroups(this.db.prepare(sql).all(...params) as Row[], toRace);
  }

  async listDiagnostics(
    query: DiagnosticsQuery,
  ): Promise<Array<{ summary: TraceSummary; analysis: TraceAnalysisRecord }>> {
    const w = diagnosticsFilters(query, SQLITE_PLACEHOLDER);
    const statement = this.db.prepare(
      `SELECT ${TRACE_COLUMNS}, a.version AS a_version, a.analyzed_at_ms, a.diagnostic_count
       FROM trace_analysis a JOIN traces t ON t.trace_id = a.trace_id
       ${w} ORDER BY t.first_ts_us DESC, t.trace_id DESC LIMIT ${w.param(query.limit)}`,
    );
    return this.db.transaction(() =>
      (statement.all(...w.params) as Row[]).map((row) => ({
        summary: toSummary(row),
        analysis: this.analysisOf({ ...row, version: row.a_version }),
      })),
    )();
  }
}
