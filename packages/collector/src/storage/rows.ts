import type { StoredEvent } from '../event.js';
import type { AggregateRow, RaceRecord, TraceSummary } from './types.js';

/** A result row of either backend. */
export type Row = Record<string, unknown>;

// SQLite hands JSON columns back as text, PostgreSQL (json/jsonb) as parsed values.
function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function parseBodies(rows: Row[]): StoredEvent[] {
  return rows.map((r) => json<StoredEvent>(r.body));
}

export function toSummary(row: Row): TraceSummary {
  return {
    traceId: row.trace_id as string,
    firstTsUs: Number(row.first_ts_us),
    lastTsUs: Number(row.last_ts_us),
    rootService: (row.root_service as string | null) ?? null,
    rootMethod: (row.root_method as string | null) ?? null,
    rootRoute: (row.root_route as string | null) ?? null,
    services: [...(json<string[] | null>(row.services) ?? [])].sort(),
    spanCount: Number(row.span_count),
    eventCount: Number(row.event_count),
    errorCount: Number(row.error_count),
    raceCount: Number(row.race_count),
    version: Number(row.version),
    analyzedVersion: Number(row.analyzed_version),
  };
}

export function toRace(row: Row): RaceRecord {
  return {
    id: row.id as string,
    scope: row.scope as 'trace' | 'cross',
    traceA: row.trace_a as string,
    traceB: (row.trace_b as string | null) ?? null,
    resource: row.resource as string,
    serviceA: row.service_a as string,
    serviceB: row.service_b as string,
    tsUs: Number(row.ts_us),
    race: json(row.body),
    groupId: (row.group_id as string | null) ?? (row.id as string),
  };
}

/** A `collector_aggregates` row as {@link AggregateRow}. */
export function toAggregateRow(row: Row): AggregateRow & { collectorId: string } {
  return {
    collectorId: row.collector_id as string,
    name: row.name as string,
    startMs: Number(row.start_ms),
    untilMs: Number(row.until_ms),
    body: row.body as string,
  };
}

/** A time in ms as a bound for an integer column (infinite ranges become the largest ones). */
export function clampMs(ms: number): number {
  return Math.max(Math.min(Math.floor(ms), Number.MAX_SAFE_INTEGER), Number.MIN_SAFE_INTEGER);
}
