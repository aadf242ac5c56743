import { isErrorEvent, type StoredEvent } from '../event.js';

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
  root: RootCandidate | null;
}

/**
 * Folds newly stored events into per-trace deltas for the summary table. Both backends apply
 * the same deltas with an upsert (counters added, first/last widened, the better root kept),
 * so the summary is identical whatever order batches arrive in.
 */
export function traceDeltas(events: StoredEvent[]): TraceDelta[] {
  const byTrace = new Map<string, TraceDelta>();
  for (const event of events) {
    let delta = byTrace.get(event.trace_id);
    if (!delta) {
      delta = {
        traceId: event.trace_id,
        firstTsUs: event.ts_us,
        lastTsUs: event.ts_us,
        eventCount: 0,
        spanCount: 0,
        errorCount: 0,
        services: new Set(),
        root: null,
      };
      byTrace.set(event.trace_id, delta);
    }
    delta.eventCount++;
    if (event.ts_us < delta.firstTsUs) delta.firstTsUs = event.ts_us;
    if (event.ts_us > delta.lastTsUs) delta.lastTsUs = event.ts_us;
    delta.services.add(event.service);
    // Every span starts with exactly one event: request_received (server) or request_sent (client).
    if (event.kind === 'request_received' || event.kind === 'request_sent') delta.spanCount++;
    if (isErrorEvent(event)) delta.errorCount++;
    if (event.kind === 'request_received') {
      const candidate: RootCandidate = {
        exact: event.parent_span_id === null ? 1 : 0,
        tsUs: event.ts_us,
        service: event.service,
        method: typeof event.data.method === 'string' ? event.data.method : null,
        route: routeOf(event),
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
