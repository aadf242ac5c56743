import {
  isSqlTransactionStatement,
  sqlConnectionOf,
  sqlResourcesOf,
} from '../analysis/sql/sql-accesses.js';
import { isErrorEvent, resourceOf, type StoredEvent } from '../event.js';

/**
 * The key the SQL transaction statements (BEGIN, COMMIT, SET TRANSACTION, FOR UPDATE...) of
 * one connection (`sqlConnectionOf`) are filed under in `event_resources`.
 */
export function sqlConnectionKey(connection: string): string {
  return `sql connection ${JSON.stringify(connection.split('\u0000'))}`;
}

/**
 * What `event_resources` files an event under, each with the event (the accesses the
 * cross-trace pass reads by resource): a state event's resource, every resource a `db_query`
 * reads or writes, and its connection's key when it is a transaction statement. (PostgreSQL
 * files state events in the statement that stores events, by their `resource` column.)
 */
export function indexedResourcesOf(event: StoredEvent): string[] {
  const resource = resourceOf(event);
  if (resource !== null) return [resource];
  if (event.kind !== 'db_query') return [];
  const out = sqlResourcesOf(event);
  const connection = sqlConnectionOf(event);
  if (connection !== null && isSqlTransactionStatement(event)) {
    out.push(sqlConnectionKey(connection));
  }
  return out;
}

/** Longest attribute key and value the `trace_attributes` index keeps (longer: not searchable). */
export const MAX_ATTRIBUTE_KEY = 128;
export const MAX_ATTRIBUTE_VALUE = 256;

/**
 * The `key`/`value` pairs a trace is found by (`GET /api/traces?attr=key=value`): the
 * attributes of `custom` events (trackEvent's, OpenTelemetry span events'), scalar values as
 * text (`42`, `true`). Objects, arrays, and keys or values too long to be typed are left out.
 */
export function attributesOf(event: StoredEvent): Array<[string, string]> {
  if (event.kind !== 'custom') return [];
  const attributes = event.data.attributes;
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) return [];
  const out: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(attributes as Record<string, unknown>)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      continue;
    }
    const text = String(value);
    if (key.length <= MAX_ATTRIBUTE_KEY && text.length <= MAX_ATTRIBUTE_VALUE) {
      out.push([key, text]);
    }
  }
  return out;
}

/**
 * An event reduced to what storage writes: its columns, its JSON, and the few facts the trace
 * summary needs. Plain data, so it can be handed to a writer thread.
 */
export interface EventRow {
  id: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  service: string;
  kind: string;
  tsUs: number;
  resource: string | null;
  /** The resources it is filed under in `event_resources`: see {@link indexedResourcesOf}. */
  indexed: string[];
  /** Its searchable attributes (`trace_attributes`): see {@link attributesOf}. */
  attributes: Array<[string, string]>;
  /** The event as JSON ('' when the backend does not need it). */
  body: string;
  error: boolean;
  method: string | null;
  route: string | null;
}

export function toEventRow(event: StoredEvent, withBody = true): EventRow {
  const { method } = event.data;
  return {
    id: event.id,
    traceId: event.trace_id,
    spanId: event.span_id,
    parentSpanId: event.parent_span_id,
    service: event.service,
    kind: event.kind,
    tsUs: event.ts_us,
    resource: resourceOf(event),
    indexed: indexedResourcesOf(event),
    attributes: attributesOf(event),
    body: withBody ? JSON.stringify(event) : '',
    error: isErrorEvent(event),
    method: typeof method === 'string' ? method : null,
    route: event.kind === 'request_received' ? routeOf(event) : null,
  };
}

/** The root-span candidate a batch offers for its trace's summary. */
export interface RootCandidate {
  /** 1 when the request had no parent span (a true root), 0 for the earliest request seen. */
  exact: 0 | 1;
  tsUs: number;
  service: string;
  method: string | null;
  route: string | null;
}

/** What newly stored events add to one row of the `traces` summary table. */
export interface TraceDelta {
  traceId: string;
  firstTsUs: number;
  lastTsUs: number;
  eventCount: number;
  spanCount: number;
  errorCount: number;
  services: Set<string>;
  /** Attribute pairs seen, by `key\u0000value` (each once). */
  attributes: Map<string, [string, string]>;
  root: RootCandidate | null;
}

/**
 * Folds newly stored events into per-trace deltas for the summary table. Both backends apply
 * the same deltas with an upsert (counters added, first/last widened, the better root kept),
 * so the summary is identical whatever order batches arrive in.
 */
export function traceDeltas(rows: EventRow[]): TraceDelta[] {
  const byTrace = new Map<string, TraceDelta>();
  for (const row of rows) {
    let delta = byTrace.get(row.traceId);
    if (!delta) {
      delta = {
        traceId: row.traceId,
        firstTsUs: row.tsUs,
        lastTsUs: row.tsUs,
        eventCount: 0,
        spanCount: 0,
        errorCount: 0,
        services: new Set(),
        attributes: new Map(),
        root: null,
      };
      byTrace.set(row.traceId, delta);
    }
    delta.eventCount++;
    if (row.tsUs < delta.firstTsUs) delta.firstTsUs = row.tsUs;
    if (row.tsUs > delta.lastTsUs) delta.lastTsUs = row.tsUs;
    delta.services.add(row.service);
    for (const pair of row.attributes) delta.attributes.set(`${pair[0]}\u0000${pair[1]}`, pair);
    // Every span starts with exactly one event: request_received (server) or request_sent (client).
    if (row.kind === 'request_received' || row.kind === 'request_sent') delta.spanCount++;
    if (row.error) delta.errorCount++;
    if (row.kind === 'request_received') {
      const candidate: RootCandidate = {
        exact: row.parentSpanId === null ? 1 : 0,
        tsUs: row.tsUs,
        service: row.service,
        method: row.method,
        route: row.route,
      };
      if (betterRoot(candidate, delta.root)) delta.root = candidate;
    }
  }
  // Sorted so that concurrent writers lock summary rows in the same order (no deadlocks).
  return [...byTrace.values()].sort((a, b) => (a.traceId < b.traceId ? -1 : 1));
}

/** A true root beats a guessed one; among equals, the earlier request wins. */
export function betterRoot(candidate: RootCandidate, current: RootCandidate | null): boolean {
  if (!current) return true;
  if (candidate.exact !== current.exact) return candidate.exact > current.exact;
  return candidate.tsUs < current.tsUs;
}

function routeOf(event: StoredEvent): string | null {
  const { route, path } = event.data;
  if (typeof route === 'string' && route !== '') return route;
  return typeof path === 'string' ? path : null;
}
