import type { AnalysisPart } from './analysis-parts.js';
import type { TraceDelta } from './trace-delta.js';
import type { RaceRecord, TraceAnalysisRecord } from './types.js';

// The SQL both backends share, written once and rendered per dialect: column types, and the
// writes whose only differences are how rows are bound (SQLite: one row of `?`, run once per
// row; PostgreSQL: one statement per batch over arrays bound as $1..$n) and a few function
// names. What really differs (how events are inserted, set-based updates and deletes) stays in
// sqlite-writer.ts and postgres.ts.

export type Dialect = 'sqlite' | 'postgres';

/** What a column holds; each dialect names the type (see {@link TYPES}). */
export type ColumnType = 'id' | 'text' | 'int' | 'bigint' | 'json';

/**
 * Column types by dialect. `id`: event and trace ids in the events table (16-byte blobs in
 * SQLite, half the size of hex text; text in PostgreSQL). Timestamps and counts are integers
 * in SQLite whatever their size; JSON is text in SQLite, jsonb in PostgreSQL.
 */
export const TYPES: Record<Dialect, Record<ColumnType, string>> = {
  sqlite: { id: 'BLOB', text: 'TEXT', int: 'INTEGER', bigint: 'INTEGER', json: 'TEXT' },
  postgres: { id: 'text', text: 'text', int: 'integer', bigint: 'bigint', json: 'jsonb' },
};

/** A table's columns as a write binds them, in order. */
type Columns = Readonly<Record<string, ColumnType>>;

/**
 * The rows an INSERT takes: `VALUES (?, ...)` (SQLite, the statement runs once per row), or
 * one row per element of arrays bound as $1..$n (PostgreSQL, once per batch). `constant` is
 * appended to every row; PostgreSQL's rows can be sorted (`orderBy`, a column of `columns`).
 */
function rows(
  d: Dialect,
  columns: Columns,
  options: { constant?: string; orderBy?: string } = {},
): string {
  const names = Object.keys(columns);
  const constant = options.constant ? `, ${options.constant}` : '';
  if (d === 'sqlite') return `VALUES (${names.map(() => '?').join(', ')}${constant})`;
  const arrays = Object.values(columns).map((type, i) => `$${i + 1}::${TYPES.postgres[type]}[]`);
  return `SELECT t.*${constant} FROM unnest(${arrays.join(', ')}) AS t (${names.join(', ')})${
    options.orderBy ? ` ORDER BY t.${options.orderBy}` : ''
  }`;
}

/** `excluded.c` for every column but the key: the new row replaces the stored one. */
const replaceAll = (columns: Columns, key: string) =>
  Object.keys(columns)
    .filter((c) => c !== key)
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');

// --- traces ------------------------------------------------------------------------------

/** What one ingested batch adds to a trace's summary (see trace-delta.ts), as bound. */
const TRACE_DELTA: Columns = {
  trace_id: 'text',
  first_ts_us: 'bigint',
  last_ts_us: 'bigint',
  root_exact: 'int',
  root_ts_us: 'bigint',
  root_service: 'text',
  root_method: 'text',
  root_route: 'text',
  span_count: 'int',
  event_count: 'int',
  error_count: 'int',
  changed_at_ms: 'bigint',
};

/** The values of {@link upsertTraces} for one trace, in column order. */
export function traceDeltaRow(delta: TraceDelta, nowMs: number): unknown[] {
  const root = delta.root;
  return [
    delta.traceId,
    delta.firstTsUs,
    delta.lastTsUs,
    root?.exact ?? 0,
    root?.tsUs ?? null,
    root?.service ?? null,
    root?.method ?? null,
    root?.route ?? null,
    delta.spanCount,
    delta.eventCount,
    delta.errorCount,
    nowMs,
  ];
}

// The better of two root candidates (see trace-delta.ts betterRoot), written once for every
// root column of the upsert.
const NEW_ROOT_WINS = `(excluded.root_ts_us IS NOT NULL AND (traces.root_ts_us IS NULL
  OR excluded.root_exact > traces.root_exact
  OR (excluded.root_exact = traces.root_exact AND excluded.root_ts_us < traces.root_ts_us)))`;

const rootColumn = (c: string) =>
  `${c} = CASE WHEN ${NEW_ROOT_WINS} THEN excluded.${c} ELSE traces.${c} END`;

/**
 * Adds batches' deltas to the trace summaries (creating them), bumping each trace's version.
 * PostgreSQL takes the rows in trace id order: collectors sharing the database lock summary
 * rows in the same order, so they do not deadlock.
 */
export function upsertTraces(d: Dialect): string {
  const [least, greatest] = d === 'sqlite' ? ['min', 'max'] : ['least', 'greatest'];
  return `
INSERT INTO traces (${Object.keys(TRACE_DELTA).join(', ')}, version)
${rows(d, TRACE_DELTA, { constant: '1', orderBy: 'trace_id' })}
ON CONFLICT (trace_id) DO UPDATE SET
  first_ts_us = ${least}(traces.first_ts_us, excluded.first_ts_us),
  last_ts_us = ${greatest}(traces.last_ts_us, excluded.last_ts_us),
  ${['root_service', 'root_method', 'root_route', 'root_exact', 'root_ts_us'].map(rootColumn).join(',\n  ')},
  span_count = traces.span_count + excluded.span_count,
  event_count = traces.event_count + excluded.event_count,
  error_count = traces.error_count + excluded.error_count,
  version = traces.version + 1,
  changed_at_ms = excluded.changed_at_ms`;
}

const TRACE_SERVICES: Columns = { trace_id: 'text', service: 'text' };

export const insertTraceServices = (d: Dialect) =>
  `INSERT INTO trace_services (trace_id, service) ${rows(d, TRACE_SERVICES)}
ON CONFLICT (trace_id, service) DO NOTHING`;

/** A trace summary row and its services as a JSON array (`traces t`). */
export const traceColumns = (d: Dialect) =>
  `t.*, (SELECT ${d === 'sqlite' ? 'json_group_array(s.service)' : "coalesce(json_agg(s.service), '[]'::json)"}
  FROM trace_services s WHERE s.trace_id = t.trace_id) AS services`;

/** A trace's race count, recounted from the races table (in an UPDATE of `traces`). */
export const RACE_COUNT = `(SELECT count(*) FROM races r WHERE r.trace_a = traces.trace_id)
  + (SELECT count(*) FROM races r WHERE r.trace_b = traces.trace_id)`;

// --- analyses and races ------------------------------------------------------------------

/** A trace analysis' row: its parts and races are rows of their own (see analysis-parts.ts). */
const TRACE_ANALYSIS: Columns = {
  trace_id: 'text',
  version: 'int',
  analyzed_at_ms: 'bigint',
  diagnostic_count: 'int',
};

/** Inserts or replaces trace analyses. */
export const upsertAnalyses = (d: Dialect) =>
  `INSERT INTO trace_analysis (${Object.keys(TRACE_ANALYSIS).join(', ')})
${rows(d, TRACE_ANALYSIS)}
ON CONFLICT (trace_id) DO UPDATE SET ${replaceAll(TRACE_ANALYSIS, 'trace_id')}`;

/** The values of {@link upsertAnalyses} for one analysis, in column order. */
export const analysisRow = (r: TraceAnalysisRecord): unknown[] => [
  r.traceId,
  r.version,
  r.analyzedAtMs,
  r.diagnosticCount,
];

const ANALYSIS_PARTS: Columns = {
  trace_id: 'text',
  name: 'text',
  position: 'int',
  body: 'json',
};

/** Inserts or replaces parts of trace analyses, by trace and name. */
export const upsertAnalysisParts = (d: Dialect) =>
  `INSERT INTO trace_analysis_parts (${Object.keys(ANALYSIS_PARTS).join(', ')})
${rows(d, ANALYSIS_PARTS)}
ON CONFLICT (trace_id, name) DO UPDATE SET position = excluded.position, body = excluded.body`;

/** The values of {@link upsertAnalysisParts} for one part of a trace's analysis. */
export const analysisPartRow = (traceId: string, part: AnalysisPart): unknown[] => [
  traceId,
  part.name,
  part.position,
  part.body,
];

/**
 * Version 9: a trace's analysis in pieces (analysis-parts.ts), so that an analysis that
 * changed a little is saved by what changed, not whole: its critical path and each list of its
 * diagnostics become rows of `trace_analysis_parts`, and its races are read from its
 * intra-trace rows of `races` (which every save wrote beside the record's copy, dropped here).
 */
export const analysisPartsSchema = (d: Dialect) => {
  const t = TYPES[d];
  const table = `
CREATE TABLE trace_analysis_parts (
  trace_id ${t.text} NOT NULL,
  name ${t.text} NOT NULL,
  position ${t.int} NOT NULL,
  body ${t.json} NOT NULL,
  PRIMARY KEY (trace_id, name)
);
INSERT INTO trace_analysis_parts (trace_id, name, position, body)
  SELECT trace_id, 'critical_path', 0, critical_path FROM trace_analysis;`;
  return d === 'postgres'
    ? `${table}
INSERT INTO trace_analysis_parts (trace_id, name, position, body)
  SELECT a.trace_id, 'diagnostics.' || j.key, j.n, j.value
  FROM trace_analysis a, jsonb_each(a.diagnostics) WITH ORDINALITY AS j (key, value, n)
  WHERE jsonb_typeof(a.diagnostics) = 'object';
INSERT INTO trace_analysis_parts (trace_id, name, position, body)
  SELECT trace_id, 'diagnostics', 1, diagnostics FROM trace_analysis
  WHERE jsonb_typeof(diagnostics) <> 'object';
ALTER TABLE trace_analysis DROP COLUMN races, DROP COLUMN critical_path, DROP COLUMN diagnostics;
`
    : `${table}
INSERT INTO trace_analysis_parts (trace_id, name, position, body)
  SELECT a.trace_id, 'diagnostics.' || j.key,
    row_number() OVER (PARTITION BY a.trace_id ORDER BY j.id), a.diagnostics -> j.fullkey
  FROM trace_analysis a, json_each(a.diagnostics) j
  WHERE json_type(a.diagnostics) = 'object';
INSERT INTO trace_analysis_parts (trace_id, name, position, body)
  SELECT trace_id, 'diagnostics', 1, diagnostics FROM trace_analysis
  WHERE json_type(diagnostics) <> 'object';
ALTER TABLE trace_analysis DROP COLUMN races;
ALTER TABLE trace_analysis DROP COLUMN critical_path;
ALTER TABLE trace_analysis DROP COLUMN diagnostics;
`;
};

const RACES: Columns = {
  id: 'text',
  scope: 'text',
  trace_a: 'text',
  trace_b: 'text',
  resource: 'text',
  service_a: 'text',
  service_b: 'text',
  ts_us: 'bigint',
  body: 'json',
  group_id: 'text',
  outcome: 'text',
};

/**
 * Inserts or replaces races by (resource, id): a race's id names its resource, so this is its
 * id, and the key holds the column a distributed PostgreSQL files races by (version 7).
 * PostgreSQL: one row per id in a statement (ON CONFLICT DO UPDATE refuses to touch a row
 * twice).
 */
export const upsertRaces = (d: Dialect) =>
  `INSERT INTO races (${Object.keys(RACES).join(', ')})
${rows(d, RACES)}
ON CONFLICT (resource, id) DO UPDATE SET ${replaceAll(RACES, 'id')}`;

/**
 * Version 7: races keyed by (resource, id). Citus distributes `races` by resource, with the
 * accesses the cross-trace pass reads, and a distributed table's unique keys must hold its
 * distribution column (docs/deployment.md). Ids stay unique: a race's id is derived from its
 * resource. PostgreSQL keeps an index on the id alone for lookups by id; SQLite, not
 * distributed, keeps its key on id and gains the unique index the upsert's conflict target
 * names.
 */
export const racesByResourceSchema = (d: Dialect) =>
  d === 'postgres'
    ? `
ALTER TABLE races DROP CONSTRAINT races_pkey;
ALTER TABLE races ADD PRIMARY KEY (resource, id);
CREATE INDEX races_id ON races (id);
`
    : `
CREATE UNIQUE INDEX races_resource_id ON races (resource, id);
`;

/** The values of {@link upsertRaces} for one race, in column order. */
export const raceRow = (r: RaceRecord): unknown[] => [
  r.id,
  r.scope,
  r.traceA,
  r.traceB,
  r.resource,
  r.serviceA,
  r.serviceB,
  r.tsUs,
  JSON.stringify(r.race),
  r.groupId ?? r.id,
  r.race.outcome ?? null,
];

/**
 * Version 8: no index of events by kind. Service metrics, dependencies and SDKs are counted at
 * ingest (shared-aggregates.ts) and no query reads events by kind and time any more, while the
 * index cost every stored event an entry (bench/results/pg-insert-breakdown.md). A trace's
 * lock and request events are read through its (trace id, id) key.
 */
export const noKindIndexSchema = (d: Dialect) =>
  d === 'postgres'
    ? 'DROP INDEX IF EXISTS events_kind_ts;'
    : 'DROP INDEX IF EXISTS events_http_ts;';

/**
 * Version 3: the group of each race, and its verdict. A cross-trace lost update is stored once
 * per pair of requests (found under both traces); the instances of one kind on one resource
 * between the same two sides share a group id, and `/api/races` answers one group with their
 * count and how many of them lost an update (`outcome`, a column so that the count is SQL's).
 * Races stored before are groups of their own.
 */
export const raceGroupsSchema = (d: Dialect) => {
  const ifNew = d === 'postgres' ? 'IF NOT EXISTS ' : '';
  const outcomeOfBody = d === 'postgres' ? "body->>'outcome'" : "json_extract(body, '$.outcome')";
  return `
ALTER TABLE races ADD COLUMN ${ifNew}group_id ${TYPES[d].text};
ALTER TABLE races ADD COLUMN ${ifNew}outcome ${TYPES[d].text};
UPDATE races SET group_id = id, outcome = ${outcomeOfBody} WHERE group_id IS NULL;
CREATE INDEX IF NOT EXISTS races_group ON races (group_id, ts_us);
`;
};
/** Rows (at least one) as one array per column: PostgreSQL's parameters of the writes above. */
export function columnsOf(rowValues: unknown[][]): unknown[][] {
  return (rowValues[0] ?? []).map((_, i) => rowValues.map((row) => row[i]));
}

// --- event resources ---------------------------------------------------------------------

/**
 * Migration 2: the resources of events that access more than one (a `db_query` reads and
 * writes rows and columns, `sqlResourcesOf`), one row each, filled at insert; also the SQL
 * transaction statements under their connection's key ({@link sqlConnectionKey}). Since
 * version 10 state events too, and each row holds its event (see
 * {@link stateAccessesByResourceSchema}).
 */
export const eventResourcesSchema = (d: Dialect) => `
CREATE TABLE IF NOT EXISTS event_resources (
  trace_id ${TYPES[d].id} NOT NULL,
  event_id ${TYPES[d].id} NOT NULL,
  resource ${TYPES[d].text} NOT NULL,
  ts_us ${TYPES[d].bigint} NOT NULL
);
CREATE INDEX IF NOT EXISTS event_resources_resource ON event_resources (resource, ts_us);
CREATE INDEX IF NOT EXISTS event_resources_trace ON event_resources (trace_id);
`;

const EVENT_RESOURCES: Columns = {
  trace_id: 'id',
  event_id: 'id',
  resource: 'text',
  ts_us: 'bigint',
  body: 'json',
};

/**
 * Version 10: every access the cross-trace pass reads is filed in `event_resources` with its
 * event, so that a resource's accesses are read from there alone, by resource and time. On a
 * distributed PostgreSQL (Citus) `events` is spread by trace id and `event_resources` by
 * resource: reading `events` by resource, or joining it for the body, reached every shard
 * (docs/deployment.md). The price is a second copy of each access (measured in
 * bench/results/state-accesses-by-resource.md). State events, read by `events.resource`
 * until now, are filed too; nothing reads events by resource any more, so that index goes.
 * SQLite rebuilds the table (it cannot add a NOT NULL column without a default);
 * PostgreSQL adds the column to the partitioned table (and so to every partition).
 */
export function stateAccessesByResourceSchema(d: Dialect): string {
  const stateEvents = `SELECT trace_id, id, resource, ts_us, body FROM events WHERE resource IS NOT NULL`;
  return d === 'postgres'
    ? `
ALTER TABLE event_resources ADD COLUMN body jsonb;
UPDATE event_resources x SET body = e.body FROM events e
  WHERE e.trace_id = x.trace_id AND e.id = x.event_id AND e.ts_us = x.ts_us;
INSERT INTO event_resources (trace_id, event_id, resource, ts_us, body) ${stateEvents};
ALTER TABLE event_resources ALTER COLUMN body SET NOT NULL;
DROP INDEX events_resource;
`
    : `
CREATE TABLE event_resources_v10 (
  trace_id BLOB NOT NULL,
  event_id BLOB NOT NULL,
  resource TEXT NOT NULL,
  ts_us INTEGER NOT NULL,
  body TEXT NOT NULL
);
INSERT INTO event_resources_v10 (trace_id, event_id, resource, ts_us, body)
  SELECT x.trace_id, x.event_id, x.resource, x.ts_us, e.body FROM event_resources x
  JOIN events e ON e.trace_id = x.trace_id AND e.id = x.event_id;
INSERT INTO event_resources_v10 (trace_id, event_id, resource, ts_us, body) ${stateEvents};
DROP TABLE event_resources;
ALTER TABLE event_resources_v10 RENAME TO event_resources;
CREATE INDEX event_resources_resource ON event_resources (resource, ts_us);
CREATE INDEX event_resources_trace ON event_resources (trace_id);
DROP INDEX events_resource;
`;
}

/** Files stored events under their resources, each row with its event (new events only). */
export const insertEventResources = (d: Dialect) =>
  `INSERT INTO event_resources (${Object.keys(EVENT_RESOURCES).join(', ')})
${rows(d, EVENT_RESOURCES)}`;

/**
 * The accesses of resources in time ranges, newest first, at most `limit` per resource: from
 * `event_resources` alone (one shard per resource once distributed by resource). SQLite: one
 * resource, named parameters (resource, fromUs, toUs, limit). PostgreSQL: every range in one
 * round trip, each an index range scan of its own (LATERAL ... LIMIT), from the arrays $1
 * (resources), $2 and $3 (from and to, µs); $4 the limit.
 */
export const stateAccessesSql = (d: Dialect) =>
  d === 'sqlite'
    ? `SELECT body, ts_us FROM event_resources
       WHERE resource = @resource AND ts_us >= @fromUs AND ts_us <= @toUs
       ORDER BY ts_us DESC LIMIT @limit`
    : `SELECT r.resource, x.body
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r (resource, from_us, to_us)
       CROSS JOIN LATERAL (
         SELECT body, ts_us FROM event_resources
         WHERE resource = r.resource AND ts_us >= r.from_us AND ts_us <= r.to_us
         ORDER BY ts_us DESC LIMIT $4
       ) AS x
       ORDER BY r.resource, x.ts_us DESC`;

// --- trace attributes --------------------------------------------------------------------

/**
 * Migration 5: the attribute pairs of each trace (`attributesOf`, trace-delta.ts), one row per
 * distinct pair, filled at insert, so that `GET /api/traces?attr=key=value` looks the traces
 * up by key and value instead of reading events. Filled from the events already stored.
 */
export const traceAttributesSchema = (d: Dialect) => {
  const backfill =
    d === 'sqlite'
      ? `INSERT INTO trace_attributes (attr_key, attr_value, trace_id)
SELECT j.key, CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(j.atom AS TEXT) END,
  lower(hex(e.trace_id))
FROM events e, json_each(e.body, '$.data.attributes') j
WHERE e.kind = 'custom' AND json_type(e.body, '$.data.attributes') = 'object'
  AND j.type IN ('text', 'integer', 'real', 'true', 'false')
  AND length(j.key) <= 128 AND length(CAST(j.atom AS TEXT)) <= 256
ON CONFLICT DO NOTHING;`
      : `INSERT INTO trace_attributes (attr_key, attr_value, trace_id)
SELECT j.key, j.value #>> '{}', e.trace_id
FROM events e, jsonb_each(e.body->'data'->'attributes') j
WHERE e.kind = 'custom' AND jsonb_typeof(e.body->'data'->'attributes') = 'object'
  AND jsonb_typeof(j.value) IN ('string', 'number', 'boolean')
  AND length(j.key) <= 128 AND length(j.value #>> '{}') <= 256
ON CONFLICT DO NOTHING;`;
  return `
CREATE TABLE IF NOT EXISTS trace_attributes (
  attr_key ${TYPES[d].text} NOT NULL,
  attr_value ${TYPES[d].text} NOT NULL,
  trace_id ${TYPES[d].text} NOT NULL,
  PRIMARY KEY (attr_key, attr_value, trace_id)
)${d === 'sqlite' ? ' WITHOUT ROWID' : ''};
CREATE INDEX IF NOT EXISTS trace_attributes_trace ON trace_attributes (trace_id);
${backfill}
`;
};

const TRACE_ATTRIBUTES: Columns = { attr_key: 'text', attr_value: 'text', trace_id: 'text' };

export const insertTraceAttributes = (d: Dialect) =>
  `INSERT INTO trace_attributes (attr_key, attr_value, trace_id) ${rows(d, TRACE_ATTRIBUTES)}
ON CONFLICT (attr_key, attr_value, trace_id) DO NOTHING`;

/** The rows of {@link insertTraceAttributes} for a batch's trace deltas. */
export const traceAttributeRows = (deltas: readonly TraceDelta[]): unknown[][] =>
  deltas.flatMap((d) => [...d.attributes.values()].map(([k, v]) => [k, v, d.traceId]));
