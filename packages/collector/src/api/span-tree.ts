import { buildSpanTree, type Span } from '../analysis/index.js';
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
  /** `GET /orders/:id` (server), `POST http://inventory:8080/reserve` (client). */
  name: string;
  method: string | null;
  route: string | null;
  url: string | null;
  host: string | null;
  status: number | null;
  error: { type: string; message: string } | null;
  failed: boolean;
  /** Both ends were recorded. */
  complete: boolean;
  /** Server spans: how the incoming trace context was taken (spec 2.4). */
  incoming: { status: string; reasons: string[] } | null;
  start_us: number;
  start: string;
  /** As the span's host measured it when recorded, else from the timestamps. */
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

function spanEvent(event: StoredEvent): SpanEvent {
  const item: SpanEvent = {
    id: event.id,
    kind: event.kind,
    ts_us: event.ts_us,
    component: event.component,
    clock: event.clock,
    data: event.data,
  };
  if (event.clock_dropped !== undefined) item.clock_dropped = event.clock_dropped;
  return item;
}

/**
 * The spans of a trace as the API answers them: the analysis module's span tree (one source
 * of truth for what a span is), with each span's own events and clocks attached.
 */
export function spanTreeJson(events: StoredEvent[]): SpanNode[] {
  const tree = buildSpanTree(events);
  const bySpan = new Map<string, StoredEvent[]>();
  for (const event of events) {
    const list = bySpan.get(event.span_id);
    if (list) list.push(event);
    else bySpan.set(event.span_id, [event]);
  }
  const toJson = (span: Span): SpanNode => {
    const own = bySpan.get(span.spanId) ?? [];
    const of = (kind: string) => own.find((e) => e.kind === kind)?.data;
    const start = of('request_received') ?? of('request_sent');
    const end = of('response_sent') ?? of('response_received');
    return {
      span_id: span.spanId,
      parent_span_id: span.parentSpanId,
      parent_missing: span.parentSpanId !== null && span.parent === null,
      service: span.service,
      instance: span.instance,
      kind: span.kind,
      name: span.name,
      method: str(start?.method) ?? str(end?.method),
      route: str(start?.route) ?? str(end?.route) ?? str(start?.path),
      url: str(start?.url) ?? str(end?.url),
      host: span.host ?? null,
      status: span.status ?? null,
      error: span.error ? { type: span.error.type, message: span.error.message } : null,
      failed: span.failed,
      complete: span.complete,
      incoming: span.incoming ?? null,
      start_us: span.startUs,
      start: isoMicros(span.startUs),
      duration_ms: num(end?.duration_ms) ?? (span.endUs - span.startUs) / 1000,
      events: own.map(spanEvent),
      children: span.children.map(toJson),
    };
  };
  return tree.roots.map(toJson);
}

/** A span of `GET /api/traces/:traceId/outline`: its events counted, not listed. */
export type SpanOutlineNode = Omit<SpanNode, 'events' | 'children'> & {
  event_count: number;
  children: SpanOutlineNode[];
};

/** The spans of a trace without their events (the same spans as {@link spanTreeJson}). */
export function spanOutlineJson(events: StoredEvent[]): SpanOutlineNode[] {
  const outline = ({ events: own, children, ...span }: SpanNode): SpanOutlineNode => ({
    ...span,
    event_count: own.length,
    children: children.map(outline),
  });
  return spanTreeJson(events).map(outline);
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
