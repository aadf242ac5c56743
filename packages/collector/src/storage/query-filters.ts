import {
  type DiagnosticsQuery,
  INSTANCES_PER_GROUP,
  type RaceGroupRecord,
  type RaceQuery,
  type RaceRecord,
  type TraceQuery,
} from './types.js';

/** How a backend writes the n-th (1-based) bound parameter: `?` for SQLite, `$n` for PostgreSQL. */
export type Placeholder = (index: number) => string;

export const SQLITE_PLACEHOLDER: Placeholder = () => '?';
export const POSTGRES_PLACEHOLDER: Placeholder = (index) => `$${index}`;

/**
 * SQL that `column` contains `needle` (a placeholder of text lowered by {@link asciiLower}),
 * ignoring the case of ASCII letters only: SQLite's lower() folds ASCII alone, PostgreSQL's
 * folds all of Unicode, so PostgreSQL folds with translate() to give the same answers.
 */
export type ContainsIgnoringAsciiCase = (column: string, needle: string) => string;

export const SQLITE_CONTAINS: ContainsIgnoringAsciiCase = (column, needle) =>
  `instr(lower(${column}), ${needle}) > 0`;
export const POSTGRES_CONTAINS: ContainsIgnoringAsciiCase = (column, needle) =>
  `strpos(translate(${column}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), ${needle}) > 0`;

/** Lowers ASCII letters only, as both backends' route match does. */
export const asciiLower = (text: string) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * A WHERE clause and its parameters, built in text order so that positional placeholders
 * (SQLite's `?`) and numbered ones (PostgreSQL's `$n`) both line up with `params`.
 */
export class Where {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];

  constructor(private readonly placeholder: Placeholder) {}

  add(clause: (p: (value: unknown) => string) => string): this {
    this.clauses.push(clause((value) => this.param(value)));
    return this;
  }

  param(value: unknown): string {
    this.params.push(value);
    return this.placeholder(this.params.length);
  }

  toString(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

// Both backends share these filters; they read the columns of the `traces t`, `races` and
// `trace_analysis a` tables, which have the same names in both schemas. Cursors compare row
// values, which both SQLite and PostgreSQL answer with an index range scan.

/** Filters of `GET /api/traces` over `traces t`. */
export function traceFilters(
  query: TraceQuery,
  placeholder: Placeholder,
  contains: ContainsIgnoringAsciiCase,
): Where {
  const w = new Where(placeholder);
  if (query.fromUs !== undefined) w.add((p) => `t.first_ts_us >= ${p(query.fromUs)}`);
  if (query.toUs !== undefined) w.add((p) => `t.first_ts_us <= ${p(query.toUs)}`);
  if (query.status === 'error') w.add(() => 't.error_count > 0');
  if (query.status === 'ok') w.add(() => 't.error_count = 0');
  if (query.hasRaces === true) w.add(() => 't.race_count > 0');
  if (query.hasRaces === false) w.add(() => 't.race_count = 0');
  if (query.service !== undefined) {
    w.add(
      (p) =>
        `EXISTS (SELECT 1 FROM trace_services s WHERE s.trace_id = t.trace_id AND s.service = ${p(query.service)})`,
    );
  }
  if (query.route !== undefined) {
    const route = asciiLower(query.route);
    w.add((p) => contains('t.root_route', p(route)));
  }
  // A trace's duration is last_ts_us - first_ts_us, whole microseconds: bounds in ms become
  // whole microseconds rounded inwards, so both backends compare integers alike.
  if (query.minDurationMs !== undefined) {
    const minUs = Math.ceil(query.minDurationMs * 1000);
    w.add((p) => `t.last_ts_us - t.first_ts_us >= ${p(minUs)}`);
  }
  if (query.maxDurationMs !== undefined) {
    const maxUs = Math.floor(query.maxDurationMs * 1000);
    w.add((p) => `t.last_ts_us - t.first_ts_us <= ${p(maxUs)}`);
  }
  if (query.attribute !== undefined) {
    const { key, value } = query.attribute;
    w.add(
      (p) =>
        `t.trace_id IN (SELECT ta.trace_id FROM trace_attributes ta WHERE ta.attr_key = ${p(key)} AND ta.attr_value = ${p(value)})`,
    );
  }
  // Trace ids are lower-case hex: a prefix is the range [prefix, prefix + 'g'), read from the
  // primary key.
  if (query.traceIdPrefix !== undefined) {
    const prefix = query.traceIdPrefix;
    w.add((p) => `t.trace_id >= ${p(prefix)} AND t.trace_id < ${p(`${prefix}g`)}`);
  }
  if (query.after) {
    const { tsUs, traceId } = query.after;
    w.add((p) => `(t.first_ts_us, t.trace_id) < (${p(tsUs)}, ${p(traceId)})`);
  }
  return w;
}

/**
 * `SELECT count(*)` of the traces {@link traceFilters} selects (its cursor ignored), reading
 * at most `cap + 1` of them.
 */
export function traceCountQuery(
  query: TraceQuery,
  cap: number,
  placeholder: Placeholder,
  contains: ContainsIgnoringAsciiCase,
): { sql: string; params: unknown[] } {
  const w = traceFilters({ ...query, after: undefined }, placeholder, contains);
  const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM traces t ${w} LIMIT ${w.param(cap + 1)}) x`;
  return { sql, params: w.params };
}

/** Filters of `GET /api/races` over `races`. */
export function raceFilters(query: RaceQuery, placeholder: Placeholder): Where {
  const w = raceFiltersWithoutCursor(query, placeholder);
  if (query.after) {
    const { tsUs, id } = query.after;
    w.add((p) => `(ts_us, id) < (${p(tsUs)}, ${p(id)})`);
  }
  return w;
}

function raceFiltersWithoutCursor(query: RaceQuery, placeholder: Placeholder): Where {
  const w = new Where(placeholder);
  if (query.resource !== undefined) w.add((p) => `resource = ${p(query.resource)}`);
  if (query.service !== undefined) {
    w.add((p) => `(service_a = ${p(query.service)} OR service_b = ${p(query.service)})`);
  }
  if (query.scope !== undefined) w.add((p) => `scope = ${p(query.scope)}`);
  if (query.traceId !== undefined) {
    w.add((p) => `(trace_a = ${p(query.traceId)} OR trace_b = ${p(query.traceId)})`);
  }
  if (query.fromUs !== undefined) w.add((p) => `ts_us >= ${p(query.fromUs)}`);
  if (query.toUs !== undefined) w.add((p) => `ts_us <= ${p(query.toUs)}`);
  return w;
}

/**
 * `GET /api/races` by group: the `limit` groups with the newest matching instance (after the
 * cursor), then at most INSTANCES_PER_GROUP of each group's newest matching instances. The
 * filters apply to both steps, so a group counts only the instances that match. Rows come out
 * group by group, each with its group's `group_size`, `group_first_ts`, `group_last_ts` and
 * `group_lost` (instances whose outcome is `lost`).
 * SQLite binds `?` in text order, so its parameters repeat the filters' for the second step.
 */
export function raceGroupsQuery(
  query: RaceQuery,
  placeholder: Placeholder,
): { sql: string; params: unknown[] } {
  const w = raceFiltersWithoutCursor(query, placeholder);
  const filters = w.toString();
  const filterParams = [...w.params];
  const having = query.after
    ? `HAVING (max(ts_us), group_id) < (${w.param(query.after.tsUs)}, ${w.param(query.after.id)})`
    : '';
  const limit = w.param(query.limit);
  const numbered = placeholder(1) !== placeholder(2);
  const sql = `WITH page AS (
  SELECT group_id, count(*) AS group_size, min(ts_us) AS group_first_ts, max(ts_us) AS group_last_ts,
    sum(CASE WHEN outcome = 'lost' THEN 1 ELSE 0 END) AS group_lost
  FROM races ${filters}
  GROUP BY group_id ${having}
  ORDER BY group_last_ts DESC, group_id DESC
  LIMIT ${limit}
), ranked AS (
  SELECT races.*, page.group_size, page.group_first_ts, page.group_last_ts, page.group_lost,
    row_number() OVER (PARTITION BY races.group_id ORDER BY races.ts_us DESC, races.id DESC) AS rn
  FROM races JOIN page ON page.group_id = races.group_id
  ${filters}
)
SELECT * FROM ranked WHERE rn <= ${INSTANCES_PER_GROUP}
ORDER BY group_last_ts DESC, group_id DESC, rn`;
  // PostgreSQL's $n name their parameter: the second step reuses the first's.
  return { sql, params: numbered ? w.params : [...w.params, ...filterParams] };
}

/** The rows of {@link raceGroupsQuery} as groups, in their order. */
export function toRaceGroups(
  rows: ReadonlyArray<Record<string, unknown>>,
  toRace: (row: Record<string, unknown>) => RaceRecord,
): RaceGroupRecord[] {
  const groups: RaceGroupRecord[] = [];
  for (const row of rows) {
    const groupId = row.group_id as string;
    let group = groups[groups.length - 1];
    if (group?.groupId !== groupId) {
      group = {
        groupId,
        size: Number(row.group_size),
        lost: Number(row.group_lost),
        firstTsUs: Number(row.group_first_ts),
        lastTsUs: Number(row.group_last_ts),
        instances: [],
      };
      groups.push(group);
    }
    group.instances.push(toRace(row));
  }
  return groups;
}

/** Filters of `GET /api/diagnostics` over `trace_analysis a JOIN traces t`. */
export function diagnosticsFilters(query: DiagnosticsQuery, placeholder: Placeholder): Where {
  const w = new Where(placeholder);
  w.add(() => 'a.diagnostic_count > 0');
  if (query.fromUs !== undefined) w.add((p) => `t.first_ts_us >= ${p(query.fromUs)}`);
  if (query.toUs !== undefined) w.add((p) => `t.first_ts_us <= ${p(query.toUs)}`);
  if (query.after) {
    const { tsUs, traceId } = query.after;
    w.add((p) => `(t.first_ts_us, t.trace_id) < (${p(tsUs)}, ${p(traceId)})`);
  }
  return w;
}
