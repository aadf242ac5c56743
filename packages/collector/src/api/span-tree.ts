import type { StoredEvent } from '../event.js';
import type { TraceSummary } from '../storage/types.js';

/** One event as a span lists it. */
export interface SpanEvent {
  id: string;
  kind: string;
  ts_us: number;
  component: string;
  clock: Record<string, number>;
  clock_dropped?: number;
  data: Record<string, unknown>;
}

/** A span of `GET /api/traces/:traceId`, with its children nested. */
export interface SpanNode {
  span_id: string;
  parent_span_id: string | null;
  /** True when the span names a parent that never reported (a broken chain). */
  parent_missing: boolean;
  service: string;
  instance: string;
  kind: 'server' | 'client' | 'internal';
  method: string | null;
  route: string | null;
  url: string | null;
  host: string | null;
  status: number | null;
  error: { type: string; message: string } | null;
  start_us: number;
  start: string;
  duration_ms: number;
  events: SpanEvent[];
  children: SpanNode[];
}

/** ISO 8601 with microseconds, e.g. `2026-11-25T10:00:00.123456Z`. */
export function isoMicros(tsUs: number): string {
  const ms = Math.floor(tsUs / 1000);
  const iso = new Date(ms).toISOString();
  const micros = String(((tsUs % 1000) + 1000) % 1000).padStart(3, '0');
  return `${iso.slice(0, 23)}${micros}Z`;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/**
 * Groups a trace's events into spans and nests them by parent span id. A server span is the
 * handling of one request (request_received .. response_sent); a client span one outgoing call
 * (request_sent .. response_received); other events belong to the span of their context.
 */
export function buildSpanTree(events: StoredEvent[]): SpanNode[] {
  const spans = new Map<string, SpanNode>();
  for (const event of events) {
    let span = spans.get(event.span_id);
    if (!span) {
      span = {
        span_id: event.span_id,
        parent_span_id: event.parent_span_id,
        parent_missing: false,
        service: event.service,
        instance: event.instance,
        kind: 'internal',
        method: null,
        route: null,
        url: null,
        host: null,
        status: null,
        error: null,
        start_us: event.ts_us,
        start: '',
        duration_ms: -1,
        events: [],
        children: [],
      };
      spans.set(event.span_id, span);
    }
    const { data } = event;
    span.start_us = Math.min(span.start_us, event.ts_us);
    switch (event.kind) {
      case 'request_received':
        span.kind = 'server';
        span.parent_span_id = event.parent_span_id;
        span.start_us = event.ts_us;
        span.method = str(data.method);
        span.route = str(data.route) ?? span.route ?? str(data.path);
        break;
      case 'response_sent':
        span.kind = 'server';
        span.method ??= str(data.method);
        span.route = str(data.route) ?? span.route;
        span.status = num(data.status);
        span.duration_ms = num(data.duration_ms) ?? span.duration_ms;
        span.error = errorOf(data.error);
        break;
      case 'request_sent':
        span.kind = 'client';
        span.parent_span_id = event.parent_span_id;
        span.start_us = event.ts_us;
        span.method = str(data.method);
        span.url = str(data.url);
        span.host = str(data.host);
        break;
      case 'response_received':
        span.kind = 'client';
        span.method ??= str(data.method);
        span.url ??= str(data.url);
        span.host ??= str(data.host);
        span.status = num(data.status);
        span.duration_ms = num(data.duration_ms) ?? span.duration_ms;
        span.error = errorOf(data.error);
        break;
    }
    const item: SpanEvent = {
      id: event.id,
      kind: event.kind,
      ts_us: event.ts_us,
      component: event.component,
      clock: event.clock,
      data: event.data,
    };
    if (event.clock_dropped !== undefined) item.clock_dropped = event.clock_dropped;
    span.events.push(item);
  }
  const roots: SpanNode[] = [];
  for (const span of spans.values()) {
    span.start = isoMicros(span.start_us);
    if (span.duration_ms < 0) {
      const last = span.events.reduce((max, e) => Math.max(max, e.ts_us), span.start_us);
      span.duration_ms = (last - span.start_us) / 1000;
    }
    const parent = span.parent_span_id ? spans.get(span.parent_span_id) : undefined;
    if (parent && parent !== span) {
      parent.children.push(span);
    } else {
      span.parent_missing = span.parent_span_id !== null;
      roots.push(span);
    }
  }
  const byStart = (a: SpanNode, b: SpanNode) => a.start_us - b.start_us || (a.span_id < b.span_id ? -1 : 1);
  for (const span of spans.values()) span.children.sort(byStart);
  return roots.sort(byStart);
}

function errorOf(value: unknown): { type: string; message: string } | null {
  if (value === null || typeof value !== 'object') return null;
  const { type, message } = value as { type?: unknown; message?: unknown };
  return { type: String(type ?? 'Error'), message: String(message ?? '') };
}

/** A trace summary as the API answers it. */
export function summaryJson(s: TraceSummary) {
  return {
    trace_id: s.traceId,
    root_service: s.rootService,
    root_method: s.rootMethod,
    root_route: s.rootRoute,
    start_us: s.firstTsUs,
    started_at: isoMicros(s.firstTsUs),
    end_us: s.lastTsUs,
    duration_ms: (s.lastTsUs - s.firstTsUs) / 1000,
    services: s.services,
    span_count: s.spanCount,
    event_count: s.eventCount,
    error_count: s.errorCount,
    race_count: s.raceCount,
    status: s.errorCount > 0 ? ('error' as const) : ('ok' as const),
    analysis: s.analyzedVersion >= s.version ? ('done' as const) : ('pending' as const),
  };
}
