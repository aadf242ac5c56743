import type { Span } from './types.js';

// The waterfall's rows of a big trace: subtrees folded away, the spans a search in the trace
// finds, and the time window both timelines are zoomed to.

export interface TreeRow {
  span: Span;
  depth: number;
  /** Spans below this one (all levels), shown or folded. */
  descendants: number;
}

/** A time window into the trace, in ms from its start; null is the whole trace. */
export interface TimeWindow {
  fromMs: number;
  toMs: number;
}

const byStart = (a: Span, b: Span) => a.start_us - b.start_us;

/** How many spans lie below each span, by span id. */
export function countDescendants(roots: Span[]): Map<string, number> {
  const counts = new Map<string, number>();
  // Post-order without recursion: a deep trace must not overflow the stack.
  const stack: Array<{ span: Span; done: boolean }> = roots.map((span) => ({ span, done: false }));
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.done) {
      let sum = 0;
      for (const child of item.span.children) sum += 1 + (counts.get(child.span_id) ?? 0);
      counts.set(item.span.span_id, sum);
    } else {
      stack.push({ span: item.span, done: true });
      for (const child of item.span.children) stack.push({ span: child, done: false });
    }
  }
  return counts;
}

/** Spans depth-first in start order, without the children of `collapsed` spans. */
export function visibleRows(
  roots: Span[],
  collapsed: ReadonlySet<string>,
  descendants: Map<string, number>,
): TreeRow[] {
  const out: TreeRow[] = [];
  const stack = [...roots]
    .sort(byStart)
    .reverse()
    .map((span) => ({ span, depth: 0 }));
  while (stack.length > 0) {
    const { span, depth } = stack.pop()!;
    out.push({ span, depth, descendants: descendants.get(span.span_id) ?? 0 });
    if (collapsed.has(span.span_id)) continue;
    const children = [...span.children].sort(byStart);
    for (let i = children.length - 1; i >= 0; i -= 1) {
      stack.push({ span: children[i]!, depth: depth + 1 });
    }
  }
  return out;
}

/** Every span by id, with its parent's id (for unfolding the way to a span). */
export function indexSpans(roots: Span[]): Map<string, Span> {
  const byId = new Map<string, Span>();
  const stack = [...roots];
  while (stack.length > 0) {
    const span = stack.pop()!;
    byId.set(span.span_id, span);
    stack.push(...span.children);
  }
  return byId;
}

/** The ids of the spans above `spanId`, nearest first. */
export function ancestorIds(spanId: string, byId: Map<string, Span>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let parent = byId.get(spanId)?.parent_span_id ?? null;
  while (parent !== null && byId.has(parent) && !seen.has(parent)) {
    seen.add(parent);
    out.push(parent);
    parent = byId.get(parent)!.parent_span_id;
  }
  return out;
}

/** A span's attributes, as the span panel lists them and the search in the trace reads them. */
export function spanAttributes(span: Span): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['service', span.service],
    ['instance', span.instance],
    ['kind', span.kind],
  ];
  const add = (key: string, value: unknown) => {
    if (value === null || value === undefined) return;
    out.push([key, typeof value === 'string' ? value : JSON.stringify(value)]);
  };
  add('method', span.method);
  add('route', span.route);
  add('url', span.url);
  add('host', span.host);
  add('status', span.status);
  if (span.error) add('error', `${span.error.type}: ${span.error.message}`);
  if (span.incoming) add('incoming', span.incoming.status);
  return out;
}

/** The text a search in the trace looks through: names, attributes and the events' data. */
function searchText(span: Span): string {
  const parts = [span.name, ...spanAttributes(span).map(([k, v]) => `${k}=${v}`)];
  for (const event of span.events) {
    parts.push(event.kind);
    for (const [key, value] of Object.entries(event.data)) {
      if (key === 'incoming') continue;
      parts.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  return parts.join('\n').toLowerCase();
}

/**
 * Ids of the spans matching `query` (case-insensitive; every word must occur), in waterfall
 * order. `key=value` matches an attribute or an event field.
 */
export function searchSpans(roots: Span[], query: string): string[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  const all = visibleRows(roots, new Set(), new Map());
  return all
    .filter(({ span }) => {
      const text = searchText(span);
      return words.every((word) => text.includes(word));
    })
    .map(({ span }) => span.span_id);
}

/** Clamps a window to the trace and to a sensible minimum width; null for the whole trace. */
export function clampWindow(window: TimeWindow | null, totalMs: number): TimeWindow | null {
  if (window === null) return null;
  const from = Math.max(0, Math.min(window.fromMs, window.toMs));
  const to = Math.min(totalMs, Math.max(window.fromMs, window.toMs));
  const minimum = totalMs / 1000;
  if (to - from < minimum) return { fromMs: from, toMs: Math.min(totalMs, from + minimum) };
  if (from <= 0 && to >= totalMs) return null;
  return { fromMs: from, toMs: to };
}
