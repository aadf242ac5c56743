import { useEffect, useState } from 'preact/hooks';
import { type ApiError, apiGet, useKeyState } from './api.js';
import type { Span, TraceDetail } from './types.js';

// A trace's events come in pages (`next_cursor`, up to 5,000 events each). The UI reads every
// page, up to MAX_EVENTS, and merges the span trees of the pages into one: a span whose events
// fall on two pages appears on both.

const PAGE = 5000;
const MAX_EVENTS = 200_000;

function mergeSpan(into: Span, from: Span): void {
  into.events.push(...from.events);
  for (const key of ['method', 'route', 'url', 'host', 'status', 'error', 'incoming'] as const) {
    if (into[key] === null && from[key] !== null)
      (into as unknown as Record<string, unknown>)[key] = from[key];
  }
  into.complete ||= from.complete;
  into.failed ||= from.failed;
  into.start_us = Math.min(into.start_us, from.start_us);
  into.duration_ms = Math.max(into.duration_ms, from.duration_ms);
}

/** One span tree out of the span trees of several pages. */
export function mergePages(pages: Span[][]): Span[] {
  if (pages.length === 1) return pages[0]!;
  const byId = new Map<string, Span>();
  const stack = pages.flat();
  while (stack.length > 0) {
    const span = stack.pop()!;
    stack.push(...span.children);
    const flat = { ...span, events: [...span.events], children: [] };
    const seen = byId.get(span.span_id);
    if (seen) mergeSpan(seen, flat);
    else byId.set(span.span_id, flat);
  }
  const roots: Span[] = [];
  for (const span of byId.values()) {
    span.events.sort((a, b) => a.ts_us - b.ts_us);
    const parent = span.parent_span_id === null ? undefined : byId.get(span.parent_span_id);
    span.parent_missing = span.parent_span_id !== null && parent === undefined;
    if (parent) parent.children.push(span);
    else roots.push(span);
  }
  for (const span of byId.values()) span.children.sort((a, b) => a.start_us - b.start_us);
  return roots.sort((a, b) => a.start_us - b.start_us);
}

export interface LoadedTrace {
  data: TraceDetail | null;
  error: ApiError | null;
  /** More events are stored than the UI read (MAX_EVENTS). */
  cut: boolean;
  /** Pages are still coming: the view shows what has arrived. */
  loadingMore: boolean;
}

export function useTrace(traceId: string): LoadedTrace {
  const { version } = useKeyState();
  const [state, setState] = useState<LoadedTrace>({
    data: null,
    error: null,
    cut: false,
    loadingMore: false,
  });
  useEffect(() => {
    const controller = new AbortController();
    setState({ data: null, error: null, cut: false, loadingMore: false });
    (async () => {
      const base = `/api/traces/${encodeURIComponent(traceId)}`;
      const pages: Span[][] = [];
      let first: TraceDetail | null = null;
      let cursor: string | null | undefined = null;
      let events = 0;
      do {
        const query: string = cursor
          ? `?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`
          : `?limit=${PAGE}`;
        const page: TraceDetail = await apiGet(`${base}${query}`, controller.signal);
        first ??= page;
        pages.push(page.spans);
        events += page.events_returned;
        cursor = page.next_cursor;
        // Draw what has arrived: a large trace is usable after its first page.
        const more = !!cursor && events < MAX_EVENTS;
        setState({
          data: { ...first, spans: mergePages(pages) },
          error: null,
          cut: !!cursor && !more,
          loadingMore: more,
        });
      } while (cursor && events < MAX_EVENTS);
    })().catch((error: ApiError) => {
      if (error.name !== 'AbortError')
        setState({ data: null, error, cut: false, loadingMore: false });
    });
    return () => controller.abort();
  }, [traceId, version]);
  return state;
}
