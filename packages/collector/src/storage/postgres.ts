import pg from 'pg';
import { getOrCreate } from '../analysis/collections.js';
import { redactUrl } from '../config.js';
import type { StoredEvent } from '../event.js';
import { analysisParts, assembleAnalysis } from './analysis-parts.js';
import { migratePostgres } from './migrations.js';
import { describeError, isConnectionError } from './pg-errors.js';
import { dropPartitionsBefore, preparePartitions } from './pg-partitions.js';
import {
  diagnosticsFilters,
  POSTGRES_CONTAINS,
  POSTGRES_PLACEHOLDER,
  raceFilters,
  raceGroupsQuery,
  toRaceGroups,
  traceCountQuery,
  traceFilters,
} from './query-filters.js';
import { clampMs, parseBodies, type Row, toAggregateRow, toRace, toSummary } from './rows.js';
import {
  analysisPartRow,
  analysisRow,
  columnsOf,
  insertEventResources,
  insertTraceAttributes,
  insertTraceServices,
  raceRow,
  stateAccessesSql,
  traceAttributeRows,
  traceColumns,
  traceDeltaRow,
  upsertAnalyses,
  upsertAnalysisParts,
  upsertRaces,
  upsertTraces,
} from './sql.js';
import { toEventRow, traceDeltas } from './trace-delta.js';
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

/** Longest wait for a connection (a new one, or a free one of the pool). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A named statement: PostgreSQL parses and plans it once per connection instead of once per
 * batch (measured in bench/results/pg-insert-breakdown.md). Behind PgBouncer in transaction
 * mode this needs its `max_prepared_statements` (1.21 and later).
 */
const named =
  (name: string, text: string) =>
  (values: unknown[]): pg.QueryConfig => ({ name: `raceway_${name}`, text, values });

// One statement per batch: PostgreSQL parses the batch's JSON once and derives the indexed
// columns itself. The state events stored are filed in event_resources by the same statement,
// with the same parsed JSON (neither sent nor parsed twice). Its result tells which ids were
// new (the rest are duplicates). No conflict target: the key is (trace_id, id), and
// (trace_id, id, ts_us) once partitioned by ts_us.
const INSERT_EVENTS = named(
  'insert_events',
  `
WITH stored AS (
  INSERT INTO events (id, trace_id, span_id, parent_span_id, service, kind, ts_us, resource, body)
  SELECT e->>'id', e->>'trace_id', e->>'span_id', e->>'parent_span_id', e->>'service', e->>'kind',
    (e->>'ts_us')::bigint,
    CASE WHEN e->>'kind' IN ('state_read', 'state_write') THEN e->'data'->>'resource' END,
    e
  FROM jsonb_array_elements($1::jsonb) AS e
  ON CONFLICT DO NOTHING
  RETURNING trace_id, id, resource, ts_us, body
), filed AS (
  INSERT INTO event_resources (trace_id, event_id, resource, ts_us, body)
  SELECT trace_id, id, resource, ts_us, body FROM stored WHERE resource IS NOT NULL
)
SELECT trace_id, id FROM stored`,
);

const TRACE_COLUMNS = traceColumns('postgres');
const UPSERT_TRACES = named('upsert_traces', upsertTraces('postgres'));
const INSERT_TRACE_SERVICES = named('insert_trace_services', insertTraceServices('postgres'));
const INSERT_TRACE_ATTRIBUTES = named('insert_trace_attributes', insertTraceAttributes('postgres'));
const UPSERT_ANALYSES = upsertAnalyses('postgres');
const UPSERT_ANALYSIS_PARTS = upsertAnalysisParts('postgres');
const UPSERT_RACES = upsertRaces('postgres');
const INSERT_EVENT_RESOURCES = named('insert_event_resources', insertEventResources('postgres'));
const STATE_ACCESSES = stateAccessesSql('postgres');

/**
 * PostgreSQL storage (node-postgres): for several collector processes sharing one database.
 * {@link init} migrates the schema (migrations.ts) under an advisory lock, so that collectors
 * starting together do it once, and refuses a database migrated by a newer collector. Each
 * batch is one transaction of three statements (events, trace summaries, trace services),
 * acknowledged after COMMIT, which PostgreSQL makes durable (WAL flushed) before it answers.
 *
 * @example
 * const storage = new PostgresStorage('postgres://raceway@127.0.0.1:5432/raceway');
 * await storage.init();
 */
export class PostgresStorage implements Storage {
  readonly kind = 'postgres' as const;
  readonly location: string;
  private readonly pool: pg.Pool;

  constructor(url: string, options: { maxConnections?: number } = {}) {
    this.location = redactUrl(url);
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      // bigint (timestamps in µs, counts) fit in a double: every value stays below 2^53.
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          oid === 20
            ? (value: string) => Number(value)
            : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
      // A server that does not answer (a failover address not up yet, a dropped network)
      // fails the request as 503 after this long instead of holding it: SDKs retry.
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // TCP keepalive: connections to a server that vanished without closing them are found
      // dead by the kernel instead of being kept in the pool forever.
      keepAlive: true,
    });
    // An idle client losing its connection (server stopped or restarted) must not crash the
    // collector: the pool has already dropped it, and later queries open new connections.
    this.pool.on('error', () => {});
  }

  async init(): Promise<void> {
    await this.withClient((client) => migratePostgres(client, this.location));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (error) {
      // /healthz shows this message: never an empty one (see describeError).
      throw new Error(describeError(error), { cause: error });
    }
  }

  async stats(): Promise<StorageStats> {
    // Events from the per-trace counts kept on ingest: /healthz reads the traces table, not
    // every event row.
    const { rows } = await this.pool.query(
      `SELECT (SELECT coalesce(sum(event_count), 0)::bigint FROM traces) AS events, (SELECT count(*) FROM traces) AS traces,
         (SELECT count(*) FROM races) AS races`,
    );
    const row = rows[0] as StorageStats;
    return { events: row.events, traces: row.traces, races: row.races };
  }

  /**
   * Runs `work` on a client of its own, checked out of the pool. pg emits 'error' on a client
   * whose connection dies, and the pool listens only while the client is idle: without a
   * listener here, a server stopping during the work would crash the process. The work's
   * queries fail instead (the error reaches the caller: 503 for a request), and a client
   * whose connection failed is destroyed on release, so the pool opens a new one next time.
   */
  private async withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken ??= error;
    };
    client.on('error', onError);
    try {
      return await work(client);
    } catch (error) {
      if (isConnectionError(error)) broken ??= error as Error;
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  private async transaction<T>(
    work: (client: pg.PoolClient) => Promise<T>,
    begin = 'BEGIN',
  ): Promise<T> {
    return this.withClient(async (client) => {
      await client.query(begin);
      try {
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // Fails too when the connection is gone (withClient then drops the client); the
        // caller is told why the work failed, not why the rollback did.
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    });
  }

  async insertEvents(events: StoredEvent[]): Promise<InsertResult> {
    if (events.length === 0) return { accepted: 0, duplicates: 0, inserted: [] };
    return this.transaction(async (client) => {
      const { rows } = await client.query(INSERT_EVENTS([JSON.stringify(events)]));
      const fresh = new Set(rows.map((r) => `${r.trace_id}/${r.id}`));
      const inserted: StoredEvent[] = [];
      for (const e of events) {
        // A batch may repeat an id: only its first copy counts as stored.
        if (fresh.delete(`${e.trace_id}/${e.id}`)) inserted.push(e);
      }
      const eventRows = inserted.map((e) => toEventRow(e, false));
      // The other accesses (db_query rows and columns, transaction statements): state events,
      // which have a resource column, were filed by INSERT_EVENTS.
      const indexed = eventRows.flatMap((r, i) => {
        if (r.resource !== null || r.indexed.length === 0) return [];
        const body = JSON.stringify(inserted[i]);
        return r.indexed.map((resource) => [r.traceId, r.id, resource, r.tsUs, body]);
      });
      if (indexed.length > 0) await client.query(INSERT_EVENT_RESOURCES(columnsOf(indexed)));
      const deltas = traceDeltas(eventRows);
      if (deltas.length > 0) {
        const now = Date.now();
        await client.query(UPSERT_TRACES(columnsOf(deltas.map((d) => traceDeltaRow(d, now)))));
        const pairs = deltas.flatMap((d) => [...d.services].map((s) => [d.traceId, s]));
        if (pairs.length > 0) await client.query(INSERT_TRACE_SERVICES(columnsOf(pairs)));
        const attributes = traceAttributeRows(deltas);
        if (attributes.length > 0) {
          await client.query(INSERT_TRACE_ATTRIBUTES(columnsOf(attributes)));
        }
      }
      return { accepted: inserted.length, duplicates: events.length - inserted.length, inserted };
    });
  }

  async listTraces(query: TraceQuery): Promise<TracePage> {
    const w = traceFilters(query, POSTGRES_PLACEHOLDER, POSTGRES_CONTAINS);
    const { rows } = await this.pool.query(
      `SELECT ${TRACE_COLUMNS} FROM traces t ${w} ORDER BY t.first_ts_us DESC, t.trace_id DESC
       LIMIT ${w.param(query.limit + 1)}`,
      w.params,
    );
    const traces = rows.slice(0, query.limit).map(toSummary);
    const last = traces[traces.length - 1];
    return {
      traces,
      next:
        rows.length > query.limit && last ? { tsUs: last.firstTsUs, traceId: last.traceId } : null,
    };
  }

  async countTraces(query: TraceQuery, cap: number): Promise<number> {
    const { sql, params } = traceCountQuery(query, cap, POSTGRES_PLACEHOLDER, POSTGRES_CONTAINS);
    const { rows } = await this.pool.query(sql, params);
    return Number(rows[0].n);
  }

  async getTrace(traceId: string): Promise<TraceSummary | null> {
    const { rows } = await this.pool.query(
      `SELECT ${TRACE_COLUMNS} FROM traces t WHERE t.trace_id = $1`,
      [traceId],
    );
    return rows[0] ? toSummary(rows[0]) : null;
  }

  async getTraces(traceIds: string[]): Promise<TraceSummary[]> {
    if (traceIds.length === 0) return [];
    const { rows } = await this.pool.query(
      `SELECT ${TRACE_COLUMNS} FROM traces t WHERE t.trace_id = ANY($1::text[])`,
      [traceIds],
    );
    return rows.map(toSummary);
  }

  async getEventsOfTraces(traceIds: string[]): Promise<Map<string, StoredEvent[]>> {
    const out = new Map<string, StoredEvent[]>();
    if (traceIds.length === 0) return out;
    const { rows } = await this.pool.query(
      'SELECT body FROM events WHERE trace_id = ANY($1::text[]) ORDER BY trace_id, ts_us, id',
      [traceIds],
    );
    for (const event of parseBodies(rows)) {
      const list = out.get(event.trace_id);
      if (list) list.push(event);
      else out.set(event.trace_id, [event]);
    }
    return out;
  }

  async getStateAccessesMany(
    ranges: Array<{ resource: string; fromUs: number; toUs: number }>,
    limitPerResource: number,
  ): Promise<Map<string, StoredEvent[]>> {
    const out = new Map<string, StoredEvent[]>(ranges.map((r) => [r.resource, []]));
    if (ranges.length === 0) return out;
    const { rows } = await this.pool.query(STATE_ACCESSES, [
      ranges.map((r) => r.resource),
      ranges.map((r) => r.fromUs),
      ranges.map((r) => r.toUs),
      limitPerResource,
    ]);
    for (const row of rows as Row[]) out.get(row.resource as string)?.push(parseBodies([row])[0]!);
    return out;
  }

  async getTraceEventsAfter(
    traceId: string,
    after: { tsUs: number; id: string },
  ): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query(
      `SELECT body FROM events WHERE trace_id = $1 AND (ts_us > $2 OR (ts_us = $2 AND id > $3))
       ORDER BY ts_us, id`,
      [traceId, after.tsUs, after.id],
    );
    return parseBodies(rows);
  }

  async getTraceEventsPage(
    traceId: string,
    afterId: string | null,
    limit: number,
  ): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query(
      'SELECT body FROM events WHERE trace_id = $1 AND id > $2 ORDER BY trace_id, id LIMIT $3',
      [traceId, afterId ?? '', limit],
    );
    return parseBodies(rows);
  }

  async getTraceEvents(traceId: string): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query(
      'SELECT body FROM events WHERE trace_id = $1 ORDER BY ts_us, id',
      [traceId],
    );
    return parseBodies(rows);
  }

  async getStateAccesses(
    resource: string,
    fromUs: number,
    toUs: number,
    limit: number,
  ): Promise<StoredEvent[]> {
    const byResource = await this.getStateAccessesMany([{ resource, fromUs, toUs }], limit);
    return byResource.get(resource) ?? [];
  }

  async getLockEvents(traceIds: string[]): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query(
      `SELECT body FROM events WHERE trace_id = ANY($1::text[])
       AND kind IN ('lock_acquire', 'lock_release') ORDER BY ts_us, id`,
      [traceIds],
    );
    return parseBodies(rows);
  }

  async getRequestEvents(traceIds: string[]): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query(
      `SELECT body FROM events WHERE trace_id = ANY($1::text[])
       AND kind = 'request_received' ORDER BY ts_us, id`,
      [traceIds],
    );
    return parseBodies(rows);
  }

  async saveAggregates(
    collectorId: string,
    rows: AggregateRow[],
    replaced: AggregateRange[] = [],
  ): Promise<void> {
    if (rows.length === 0 && replaced.length === 0) return;
    await this.transaction(async (client) => {
      for (const r of replaced) {
        await client.query(
          `DELETE FROM collector_aggregates
           WHERE collector_id = $1 AND name = $2 AND start_ms >= $3 AND start_ms < $4`,
          [collectorId, r.name, r.fromMs, r.toMs],
        );
      }
      if (rows.length === 0) return;
      await client.query(
        `INSERT INTO collector_aggregates (collector_id, name, start_ms, until_ms, body)
         SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[])
         ON CONFLICT (collector_id, name, start_ms)
         DO UPDATE SET until_ms = excluded.until_ms, body = excluded.body`,
        [
          collectorId,
          rows.map((r) => r.name),
          rows.map((r) => r.startMs),
          rows.map((r) => r.untilMs),
          rows.map((r) => r.body),
        ],
      );
    });
  }

  async loadAggregates(
    name: string,
    fromMs: number,
    toMs: number,
  ): Promise<Array<AggregateRow & { collectorId: string }>> {
    const { rows } = await this.pool.query(
      `SELECT collector_id, name, start_ms, until_ms, body FROM collector_aggregates
       WHERE name = $1 AND start_ms <= $2 AND until_ms > $3`,
      [name, clampMs(toMs), clampMs(fromMs)],
    );
    return rows.map(toAggregateRow);
  }

  async claimTraces(traceIds: string[], owner: string, leaseMs: number): Promise<string[]> {
    if (traceIds.length === 0) return [];
    // The database's clock, not the collectors': leases compare alike whatever their skew.
    // Sorted ids: collectors claiming overlapping sets lock rows in one order (no deadlock).
    // A lease another collector holds and has not let expire is left alone (not returned).
    const { rows } = await this.pool.query(
      `WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms)
       INSERT INTO analysis_leases (trace_id, owner, expires_at_ms)
       SELECT t.id, $2, now.ms + $3 FROM unnest($1::text[]) AS t (id), now ORDER BY t.id
       ON CONFLICT (trace_id) DO UPDATE SET owner = excluded.owner,
         expires_at_ms = excluded.expires_at_ms
       WHERE analysis_leases.owner = excluded.owner
         OR analysis_leases.expires_at_ms < (SELECT ms FROM now)
       RETURNING trace_id`,
      [[...new Set(traceIds)].sort(), owner, leaseMs],
    );
    return rows.map((r: Row) => r.trace_id as string);
  }

  async renewTraces(traceIds: string[], owner: string, leaseMs: number): Promise<string[]> {
    if (traceIds.length === 0) return [];
    // Rows locked in trace id order, as claimTraces does (no deadlock with a collector
    // claiming the same traces); only rows still the owner's are extended.
    const { rows } = await this.pool.query(
      `WITH mine AS (
         SELECT trace_id FROM analysis_leases WHERE trace_id = ANY($1::text[]) AND owner = $2
         ORDER BY trace_id FOR UPDATE)
       UPDATE analysis_leases l
       SET expires_at_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3
       FROM mine WHERE l.trace_id = mine.trace_id
       RETURNING l.trace_id`,
      [[...new Set(traceIds)].sort(), owner, leaseMs],
    );
    return rows.map((r: Row) => r.trace_id as string);
  }

  async releaseTraces(traceIds: string[], owner: string): Promise<void> {
    if (traceIds.length === 0) return;
    await this.pool.query(
      'DELETE FROM analysis_leases WHERE trace_id = ANY($1::text[]) AND owner = $2',
      [traceIds, owner],
    );
  }

  async pendingTraces(
    limit: number,
    changedBeforeMs = Number.MAX_SAFE_INTEGER,
  ): Promise<Array<{ traceId: string; version: number }>> {
    const { rows } = await this.pool.query(
      `SELECT trace_id, version FROM traces WHERE analyzed_version < version
       AND changed_at_ms < $2 ORDER BY changed_at_ms LIMIT $1`,
      [limit, changedBeforeMs],
    );
    return rows.map((r: Row) => ({ traceId: r.trace_id as string, version: Number(r.version) }));
  }

  async saveTraceAnalyses(items: AnalysisItem[]): Promise<void> {
    if (items.length === 0) return;
    // Set-based, a few statements per call whatever its size. Trace id order: the same lock
    // order in every collector sharing the database.
    const byTrace = new Map(items.map((item) => [item.record.traceId, item]));
    const ids = [...byTrace.keys()].sort();
    await this.transaction(async (client) => {
      // Locks the summary rows, so that a concurrent retention pass cannot delete a trace
      // between this check and the writes below; traces deleted already are skipped.
      const found = await client.query(
        'SELECT trace_id FROM traces WHERE trace_id = ANY($1::text[]) ORDER BY trace_id FOR UPDATE',
        [ids],
      );
      const live = (found.rows as Row[]).map((r) => byTrace.get(r.trace_id as string)!);
      if (live.length === 0) return;
      const records = live.map((item) => item.record);
      const liveIds = records.map((r) => r.traceId);
      // Items saved by their changes: those whose base is the analysis stored (the summary
      // rows locked above, no other save of these traces can come in between).
      const stored = await client.query(
        'SELECT trace_id, version, analyzed_at_ms FROM trace_analysis WHERE trace_id = ANY($1::text[])',
        [liveIds],
      );
      const storedBase = new Map(
        (stored.rows as Row[]).map((r) => [
          r.trace_id as string,
          `${r.version}/${r.analyzed_at_ms}`,
        ]),
      );
      const [changed, whole] = partitionItems(
        live,
        (item) =>
          item.changes !== undefined &&
          storedBase.get(item.record.traceId) ===
            `${item.changes.base.version}/${item.changes.base.analyzedAtMs}`,
      );
      await client.query(UPSERT_ANALYSES, columnsOf(records.map(analysisRow)));
      const wholeIds = whole.map((item) => item.record.traceId);
      if (wholeIds.length > 0) {
        await client.query('DELETE FROM trace_analysis_parts WHERE trace_id = ANY($1::text[])', [
          wholeIds,
        ]);
        await client.query(
          "DELETE FROM races WHERE scope = 'trace' AND trace_a = ANY($1::text[])",
          [wholeIds],
        );
      }
      const goneParts = changed.flatMap(({ record, changes }) =>
        changes!.goneParts.map((name) => [record.traceId, name]),
      );
      if (goneParts.length > 0) {
        await client.query(
          `DELETE FROM trace_analysis_parts p USING unnest($1::text[], $2::text[]) AS g (trace_id, name)
           WHERE p.trace_id = g.trace_id AND p.name = g.name`,
          columnsOf(goneParts),
        );
      }
      const goneRaces = changed.flatMap(({ record, changes }) =>
        changes!.goneRaces.map((race) => [record.traceId, race.resource, race.id]),
      );
      if (goneRaces.length > 0) {
        await client.query(
          `DELETE FROM races r USING unnest($1::text[], $2::text[], $3::text[]) AS g (trace_a, resource, id)
           WHERE r.scope = 'trace' AND r.trace_a = g.trace_a AND r.resource = g.resource AND r.id = g.id`,
          columnsOf(goneRaces),
        );
      }
      const parts = [
        ...whole.flatMap(({ record }) =>
          analysisParts(record).map((part) => analysisPartRow(record.traceId, part)),
        ),
        ...changed.flatMap(({ record, changes }) =>
          changes!.parts.map((part) => analysisPartRow(record.traceId, part)),
        ),
      ];
      if (parts.length > 0) await client.query(UPSERT_ANALYSIS_PARTS, columnsOf(parts));
      await this.upsertRaces(client, [
        ...whole.flatMap((item) => item.races),
        ...changed.flatMap((item) => item.changes!.races),
      ]);
      const counts = await raceCounts(client, liveIds);
      await client.query(
        `UPDATE traces SET analyzed_version = greatest(traces.analyzed_version, v.version),
           race_count = v.race_count
         FROM unnest($1::text[], $2::int[], $3::int[]) AS v (trace_id, version, race_count)
         WHERE traces.trace_id = v.trace_id`,
        [liveIds, records.map((r) => r.version), counts],
      );
    });
  }

  private async upsertRaces(client: pg.PoolClient, races: RaceRecord[]): Promise<void> {
    if (races.length === 0) return;
    // One row per id: ON CONFLICT DO UPDATE refuses to touch a row twice in one statement.
    const unique = [...new Map(races.map((r) => [r.id, r])).values()];
    await client.query(UPSERT_RACES, columnsOf(unique.map(raceRow)));
  }

  async getTraceAnalysis(traceId: string): Promise<TraceAnalysisRecord | null> {
    return this.readTransaction(async (client) => {
      const { rows } = await client.query('SELECT * FROM trace_analysis WHERE trace_id = $1', [
        traceId,
      ]);
      return rows[0] ? (await analysesOf(client, rows))[0]! : null;
    });
  }

  /** Reads in one snapshot: a record's row, parts and races as one save left them. */
  private readTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.transaction(work, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }

  async saveCrossTraceRaces(races: RaceRecord[]): Promise<void> {
    if (races.length === 0) return;
    await this.transaction(async (client) => {
      await this.upsertRaces(client, races);
      const touched = [
        ...new Set(races.flatMap((r) => (r.traceB ? [r.traceA, r.traceB] : [r.traceA]))),
      ];
      touched.sort();
      await client.query(
        `UPDATE traces SET race_count = v.race_count
         FROM unnest($1::text[], $2::int[]) AS v (trace_id, race_count)
         WHERE traces.trace_id = v.trace_id`,
        [touched, await raceCounts(client, touched)],
      );
    });
  }

  async listRaces(query: RaceQuery): Promise<RaceRecord[]> {
    const w = raceFilters(query, POSTGRES_PLACEHOLDER);
    const { rows } = await this.pool.query(
      `SELECT * FROM races ${w} ORDER BY ts_us DESC, id DESC LIMIT ${w.param(query.limit)}`,
      w.params,
    );
    return rows.map(toRace);
  }

  async listRaceGroups(query: RaceQuery): Promise<RaceGroupRecord[]> {
    const { sql, params } = raceGroupsQuery(query, POSTGRES_PLACEHOLDER);
    const { rows } = await this.pool.query(sql, params);
    return toRaceGroups(rows, toRace);
  }

  async listDiagnostics(
    query: DiagnosticsQuery,
  ): Promise<Array<{ summary: TraceSummary; analysis: TraceAnalysisRecord }>> {
    const w = diagnosticsFilters(query, POSTGRES_PLACEHOLDER);
    return this.readTransaction(async (client) => {
      const { rows } = await client.query(
        `SELECT ${TRACE_COLUMNS}, a.version AS a_version, a.analyzed_at_ms, a.diagnostic_count
         FROM trace_analysis a JOIN traces t ON t.trace_id = a.trace_id
         ${w} ORDER BY t.first_ts_us DESC, t.trace_id DESC LIMIT ${w.param(query.limit)}`,
        w.params,
      );
      const analyses = await analysesOf(
        client,
        (rows as Row[]).map((row) => ({ ...row, version: row.a_version })),
      );
      return (rows as Row[]).map((row, i) => ({
        summary: toSummary(row),
        analysis: analyses[i]!,
      }));
    });
  }

  async preparePartitions(nowUs: number, keepFromUs: number): Promise<string[]> {
    return this.withClient((client) => preparePartitions(client, nowUs, keepFromUs));
  }

  /**
   * The traces that go on past the cutoff but lost their events before `untilUs` with a
   * dropped partition: their event count and start are recounted from what is left, and they
   * are marked changed, so that their analysis is redone on what is left. (Their span and
   * error counts and their root stay those of everything received.) Resolves with how many
   * events they lost.
   */
  private async recountCutTraces(untilUs: number, cutoffUs: number): Promise<number> {
    return this.transaction(async (client) => {
      // Locked first (ingest of these traces waits), then counted in a statement of its own,
      // which sees every event committed until the lock was granted.
      const locked = await client.query(
        `SELECT trace_id FROM traces WHERE first_ts_us < $1 AND last_ts_us >= $2
         ORDER BY trace_id FOR UPDATE`,
        [untilUs, cutoffUs],
      );
      if (locked.rows.length === 0) return 0;
      const { rows } = await client.query(
        `UPDATE traces t SET event_count = c.n, first_ts_us = coalesce(c.first, t.first_ts_us),
           version = t.version + 1, changed_at_ms = $2
         FROM (SELECT s.trace_id, s.event_count AS before,
                 (SELECT count(*) FROM events e WHERE e.trace_id = s.trace_id) AS n,
                 (SELECT min(e.ts_us) FROM events e WHERE e.trace_id = s.trace_id) AS first
               FROM traces s WHERE s.trace_id = ANY($1::text[])) c
         WHERE t.trace_id = c.trace_id AND c.n < c.before
         RETURNING c.before - c.n AS lost`,
        [(locked.rows as Row[]).map((r) => r.trace_id), Date.now()],
      );
      return (rows as Row[]).reduce((sum, r) => sum + Number(r.lost), 0);
    });
  }

  async deleteOlderThan(cutoffUs: number): Promise<RetentionResult> {
    const result: RetentionResult = { events: 0, traces: 0, races: 0 };
    // Whole days older than the cutoff first: their partitions are dropped, not deleted from.
    const { untilUs } = await this.withClient((client) => dropPartitionsBefore(client, cutoffUs));
    if (untilUs > 0) result.events += await this.recountCutTraces(untilUs, cutoffUs);
    for (;;) {
      const done = await this.transaction(async (client) => {
        // SKIP LOCKED: collectors sharing the database split the work instead of queueing.
        const { rows } = await client.query(
          `SELECT trace_id FROM traces WHERE last_ts_us < $1 ORDER BY trace_id LIMIT 500
           FOR UPDATE SKIP LOCKED`,
          [cutoffUs],
        );
        if (rows.length === 0) return true;
        const ids = rows.map((r: Row) => r.trace_id as string);
        await client.query('DELETE FROM event_resources WHERE trace_id = ANY($1)', [ids]);
        await client.query('DELETE FROM events WHERE trace_id = ANY($1)', [ids]);
        await client.query('DELETE FROM trace_services WHERE trace_id = ANY($1)', [ids]);
        await client.query('DELETE FROM trace_attributes WHERE trace_id = ANY($1)', [ids]);
        await client.query('DELETE FROM trace_analysis WHERE trace_id = ANY($1)', [ids]);
        await client.query('DELETE FROM trace_analysis_parts WHERE trace_id = ANY($1)', [ids]);
        result.races += (
          await client.query('DELETE FROM races WHERE trace_a = ANY($1) OR trace_b = ANY($1)', [
            ids,
          ])
        ).rowCount!;
        // Events counted from the summaries: those of dropped partitions were no rows deleted.
        const traces = await client.query(
          'DELETE FROM traces WHERE trace_id = ANY($1) RETURNING event_count',
          [ids],
        );
        result.traces += traces.rowCount!;
        for (const row of traces.rows as Row[]) result.events += Number(row.event_count);
        return false;
      });
      if (done) break;
    }
    // Cross-trace races only: an intra-trace race is part of its trace's analysis, and goes
    // with the trace.
    result.races += (
      await this.pool.query("DELETE FROM races WHERE scope = 'cross' AND ts_us < $1", [cutoffUs])
    ).rowCount!;
    await this.pool.query('DELETE FROM collector_aggregates WHERE until_ms < $1', [
      Math.floor(cutoffUs / 1000),
    ]);
    return result;
  }
}

/**
 * The race count of each trace (in the order of `traceIds`), counted from `races` and then
 * written by value: an UPDATE of `traces` that read `races` in a subquery would join two
 * tables distributed differently on a distributed PostgreSQL (traces by trace id, races by
 * resource), which Citus refuses (docs/deployment.md).
 */
async function raceCounts(client: pg.PoolClient, traceIds: string[]): Promise<number[]> {
  const { rows } = await client.query(
    `SELECT trace_id, count(*)::int AS n FROM (
       SELECT trace_a AS trace_id FROM races WHERE trace_a = ANY($1::text[])
       UNION ALL
       SELECT trace_b FROM races WHERE trace_b = ANY($1::text[])
     ) AS r GROUP BY trace_id`,
    [traceIds],
  );
  const counts = new Map((rows as Row[]).map((r) => [r.trace_id as string, Number(r.n)]));
  return traceIds.map((id) => counts.get(id) ?? 0);
}

/** The analyses of `trace_analysis` rows, in their order, with their parts and races. */
async function analysesOf(client: pg.PoolClient, rows: Row[]): Promise<TraceAnalysisRecord[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.trace_id as string);
  const parts = await client.query(
    'SELECT trace_id, name, position, body FROM trace_analysis_parts WHERE trace_id = ANY($1::text[])',
    [ids],
  );
  const races = await client.query(
    "SELECT trace_a, body FROM races WHERE scope = 'trace' AND trace_a = ANY($1::text[])",
    [ids],
  );
  const partsOf = groupBy(parts.rows as Row[], 'trace_id');
  const racesOf = groupBy(races.rows as Row[], 'trace_a');
  return rows.map((row) => {
    const id = row.trace_id as string;
    return assembleAnalysis(
      row,
      partsOf.get(id) ?? [],
      (racesOf.get(id) ?? []).map((r) => r.body),
    );
  });
}

function groupBy(rows: Row[], column: string): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const row of rows) getOrCreate(out, row[column] as string, () => []).push(row);
  return out;
}

/** Items split by a test: those that pass it, and the others. */
function partitionItems(
  items: AnalysisItem[],
  test: (item: AnalysisItem) => boolean,
): [AnalysisItem[], AnalysisItem[]] {
  return [items.filter(test), items.filter((item) => !test(item))];
}
