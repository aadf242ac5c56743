import { clockWeight } from './clocks.js';
import type { Span, SpanEvent } from './types.js';

// The space-time view's model (after ShiViz's SpaceTimeLayout): one column per execution
// context, grouped by service; each event on a row below everything that happens before it;
// arrows for calls, responses, fork and join.

export interface PlacedEvent {
  event: SpanEvent;
  span: Span;
  service: string;
  column: number;
  row: number;
}

export type ArrowKind = 'call' | 'response' | 'fork' | 'join';

export interface Arrow {
  from: number;
  to: number;
  kind: ArrowKind;
}

export interface ColumnGroup {
  service: string;
  /** Components (execution contexts) of the service, left to right; one name when folded. */
  components: string[];
  firstColumn: number;
  /** The service's contexts, however many columns they take. */
  contexts: number;
  /** Its contexts share one column. */
  folded: boolean;
}

export interface SpaceTime {
  events: PlacedEvent[];
  arrows: Arrow[];
  groups: ColumnGroup[];
  columns: number;
  rows: number;
  /** Index into `events` by event id. */
  byId: Map<string, number>;
}

function allSpans(spans: Span[]): Span[] {
  const out: Span[] = [];
  const stack = [...spans].reverse();
  while (stack.length > 0) {
    const span = stack.pop()!;
    out.push(span);
    for (let i = span.children.length - 1; i >= 0; i -= 1) stack.push(span.children[i]!);
  }
  return out;
}

const eventOfKind = (span: Span, kind: string) => span.events.find((e) => e.kind === kind);

/**
 * The layout of `spans`. Services in `folded` draw all their contexts in one column (a service
 * that ran a thousand requests in a thousand contexts is one column wide, not a thousand).
 */
export function buildSpaceTime(spans: Span[], folded: ReadonlySet<string> = new Set()): SpaceTime {
  const flat = allSpans(spans);
  const items: Array<{ event: SpanEvent; span: Span; weight: number }> = [];
  for (const span of flat) {
    for (const event of span.events) items.push({ event, span, weight: clockWeight(event.clock) });
  }
  // A linear extension of happens-before: e -> f implies weight(e) < weight(f).
  items.sort(
    (a, b) =>
      a.weight - b.weight ||
      a.event.ts_us - b.event.ts_us ||
      (a.event.id < b.event.id ? -1 : a.event.id > b.event.id ? 1 : 0),
  );
  const byId = new Map<string, number>();
  items.forEach((item, index) => {
    byId.set(item.event.id, index);
  });

  // Columns: services in order of first appearance, their contexts likewise.
  const groupsByService = new Map<string, string[]>();
  const seenComponents = new Set<string>();
  for (const { event, span } of items) {
    if (seenComponents.has(event.component)) continue;
    seenComponents.add(event.component);
    const list = groupsByService.get(span.service);
    if (list) list.push(event.component);
    else groupsByService.set(span.service, [event.component]);
  }
  const groups: ColumnGroup[] = [];
  const columnOf = new Map<string, number>();
  let columns = 0;
  for (const [service, components] of groupsByService) {
    const fold = folded.has(service) && components.length > 1;
    groups.push({
      service,
      components: fold ? [`${components.length} contexts`] : components,
      firstColumn: columns,
      contexts: components.length,
      folded: fold,
    });
    if (fold) {
      for (const component of components) columnOf.set(component, columns);
      columns += 1;
    } else {
      for (const component of components) columnOf.set(component, columns++);
    }
  }

  // Causal links between contexts.
  const arrows: Arrow[] = [];
  const link = (from: SpanEvent | undefined, to: SpanEvent | undefined, kind: ArrowKind) => {
    if (!from || !to) return;
    const a = byId.get(from.id);
    const b = byId.get(to.id);
    if (a !== undefined && b !== undefined) arrows.push({ from: a, to: b, kind });
  };
  const firstOf = new Map<string, SpanEvent>();
  const ofComponent = new Map<string, number[]>();
  items.forEach(({ event }, index) => {
    if (!firstOf.has(event.component)) firstOf.set(event.component, event);
    const list = ofComponent.get(event.component);
    if (list) list.push(index);
    else ofComponent.set(event.component, [index]);
  });
  for (const span of flat) {
    if (span.kind !== 'client') continue;
    for (const child of span.children) {
      if (child.kind !== 'server') continue;
      link(eventOfKind(span, 'request_sent'), eventOfKind(child, 'request_received'), 'call');
      link(eventOfKind(child, 'response_sent'), eventOfKind(span, 'response_received'), 'response');
    }
  }
  items.forEach(({ event }, index) => {
    const child = typeof event.data.child === 'string' ? event.data.child : null;
    if (child === null) return;
    if (event.kind === 'fork') link(event, firstOf.get(child), 'fork');
    if (event.kind === 'join') {
      // The child's last event before the join.
      const list = ofComponent.get(child) ?? [];
      let last: number | undefined;
      for (const i of list) if (i < index) last = i;
      if (last !== undefined) arrows.push({ from: last, to: index, kind: 'join' });
    }
  });

  // Rows: one below the context's previous event and below the sources of incoming arrows.
  const incoming = new Map<number, number[]>();
  for (const arrow of arrows) {
    const list = incoming.get(arrow.to);
    if (list) list.push(arrow.from);
    else incoming.set(arrow.to, [arrow.from]);
  }
  // Keyed by column: the contexts of a folded service take turns in theirs.
  const rowOf: number[] = new Array(items.length);
  const lastRow = new Map<number, number>();
  let rows = 0;
  items.forEach(({ event }, index) => {
    const column = columnOf.get(event.component) ?? 0;
    let row = (lastRow.get(column) ?? -1) + 1;
    for (const source of incoming.get(index) ?? []) {
      // A source sorted later means clocks that contradict the link (a rejected context).
      if (source < index) row = Math.max(row, rowOf[source]! + 1);
    }
    rowOf[index] = row;
    lastRow.set(column, row);
    rows = Math.max(rows, row + 1);
  });

  const events = items.map(({ event, span }, index) => ({
    event,
    span,
    service: span.service,
    column: columnOf.get(event.component) ?? 0,
    row: rowOf[index]!,
  }));
  return { events, arrows, groups, columns, rows, byId };
}

/** Services with more contexts than this start folded: one column each. */
export const FOLD_CONTEXTS_ABOVE = 6;

/** The services a trace's space-time view starts with folded: those of many contexts. */
export function servicesToFold(spans: Span[]): Set<string> {
  const contexts = new Map<string, Set<string>>();
  const stack = [...spans];
  while (stack.length > 0) {
    const span = stack.pop()!;
    stack.push(...span.children);
    const set = contexts.get(span.service) ?? new Set<string>();
    contexts.set(span.service, set);
    for (const event of span.events) set.add(event.component);
  }
  return new Set([...contexts].filter(([, set]) => set.size > FOLD_CONTEXTS_ABOVE).map(([s]) => s));
}
