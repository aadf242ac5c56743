import type { DiagnosticsQuery, RaceQuery, TraceQuery } from './types.js';

/** How a backend writes the n-th (1-based) bound parameter: `?` for SQLite, `$n` for PostgreSQL. */
export type Placeholder = (index: number) => string;

export const SQLITE_PLACEHOLDER: Placeholder = () => '?';
export const POSTGRES_PLACEHOLDER: Placeholder = (index) => `$${index}`;

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
export function traceFilters(query: TraceQuery, placeholder: Placeholder): Where {
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
  if (query.after) {
    const { tsUs, traceId } = query.after;
    w.add((p) => `(t.first_ts_us, t.trace_id) < (${p(tsUs)}, ${p(traceId)})`);
  }
  return w;
}

/** Filters of `GET /api/races` over `races`. */
export function raceFilters(query: RaceQuery, placeholder: Placeholder): Where {
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
  if (query.after) {
    const { tsUs, id } = query.after;
    w.add((p) => `(ts_us, id) < (${p(tsUs)}, ${p(id)})`);
  }
  return w;
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
