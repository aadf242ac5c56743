import type { Span, SpanOutline } from './types.js';

// A trace's span trees come in pieces: its outline (spans without their events), then pages of
// events. These pure functions put the pieces back into one tree; trace-loader.ts fetches them.

function mergeSpan(into: Span, from: Span): void {
  into.events.push(...from.events);
  for (const key of ['method', 'route', 'url', 'host', 'status', 'error', 'incoming'] as const) {
    if (into[key] === null && from[key] !== null)
      (into as unknown as Record<string, unknown>)[key] = from[key];
  }
  // A page names a span whose own events are on another page with what it knows: no parent.
  into.parent_span_id ??= from.parent_span_id;
  into.complete ||= from.complete;
  into.failed ||= from.failed;
  into.start_us = Math.min(into.start_us, from.start_us);
  into.duration_ms = Math.max(into.duration_ms, from.duration_ms);
}

/** An outline's spans as spans whose events are still to come. */
export function outlineSpans(spans: SpanOutline[]): Span[] {
  return spans.map(({ event_count: _, children, ...span }) => ({
    ...span,
    events: [],
    children: outlineSpans(children),
  }));
}

/** One span tree out of the span trees of several pages. */
export function mergePages(pages: Span[][]): Span[] {
  if (pages.length === 1) return pages[0]!;
  // The first page to name a span gives its place in the tree and its name: the outline, built
  // from every event, comes first; a later page's span tree is built from part of the events.
  const byId = new Map<string, Span>();
  const stack = pages.flat().reverse();
  while (stack.length > 0) {
    const span = stack.pop()!;
    for (let i = span.children.length - 1; i >= 0; i -= 1) stack.push(span.children[i]!);
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
