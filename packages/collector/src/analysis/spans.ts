import { compareIds } from './accesses.js';
import {
  type Event,
  type EventError,
  errorOf,
  isFailure,
  numberField,
  statusOf,
  stringField,
} from './event.js';

/**
 * `server`: the handling of one request (`request_received` .. `response_sent`);
 * `client`: one outgoing call (`request_sent` .. `response_received`);
 * `internal`: a span id whose events include neither (a job or script that calls services).
 */
export type SpanKind = 'server' | 'client' | 'internal';

/** A span rebuilt from the events of one trace. */
export interface Span {
  spanId: string;
  parentSpanId: string | null;
  kind: SpanKind;
  service: string;
  instance: string;
  /** `GET /orders/:id` for server spans (route, else path), `GET http://host/path` for client spans. */
  name: string;
  /** As the span's host recorded them. */
  startUs: number;
  endUs: number;
  /** Both ends were recorded (an incomplete span ends at its last known event). */
  complete: boolean;
  status?: number | undefined;
  error?: EventError | undefined;
  /** A status of 500 or more, or an error (for client spans, a network error too). */
  failed: boolean;
  /** Client spans: the callee's host. */
  host?: string | undefined;
  /** Client spans: the response carried a Raceway clock, so the callee is instrumented. */
  remoteClock?: boolean | undefined;
  /** Client spans: the SDK sent no trace headers (the host is outside its `propagateTo`). */
  headersWithheld?: boolean | undefined;
  /** Server spans: how the incoming trace context was taken (spec 2.4). */
  incoming?: { status: string; reasons: string[] } | undefined;
  /** The event that started the span (or the first one seen). */
  firstEvent: Event;
  /** `request_received` or `request_sent`, when recorded. */
  startEvent: Event | undefined;
  /** `response_sent` or `response_received`, when recorded. */
  endEvent: Event | undefined;
  parent: Span | null;
  /** By start time (then span id). Read-only: leaves share one frozen empty array. */
  children: Span[];
}

/** The span tree of one trace. */
export interface SpanTree {
  /** Every span, in no particular order. */
  spans: Span[];
  /** Spans without a parent in the trace, earliest first. */
  roots: Span[];
  /** The trace's root span: the earliest root (the longest on a tie). */
  root: Span | null;
}

/** The children of a leaf: shared, frozen, replaced by a real array on the first child. */
const NO_CHILDREN: Span[] = Object.freeze([]) as unknown as Span[];

/**
 * A span as first seen, every field present (one object shape for all spans keeps the walks
 * over 10^5 spans fast). Until `finish`, `startUs`/`endUs` are the first and last timestamps
 * seen for the span id.
 */
function newSpan(spanId: string, event: Event): Span {
  return {
    spanId,
    parentSpanId: event.parent_span_id,
    kind: 'internal',
    service: event.service,
    instance: event.instance,
    name: '',
    startUs: event.ts_us,
    endUs: event.ts_us,
    complete: false,
    status: undefined,
    error: undefined,
    failed: false,
    host: undefined,
    remoteClock: undefined,
    headersWithheld: undefined,
    incoming: undefined,
    firstEvent: event,
    startEvent: undefined,
    endEvent: undefined,
    parent: null,
    children: NO_CHILDREN,
  };
}

/**
 * Rebuilds the spans of one trace (spec 4, "Spans"): a server span per `request_received` /
 * `response_sent` span id, a client span per `request_sent` / `response_received` span id
 * (child of the calling context's span), and the server span a client call caused is the one
 * whose parent span id is the client span id. Never throws on partial or odd input: a span
 * missing an end ends at the last event seen for it (its own or its calls'), and parent
 * cycles are cut. Linear: at most one map lookup per event and one per span.
 *
 * The events of a large trace do not fit the CPU caches: each pass that goes back to them
 * costs a cache miss per event, so what the later passes need of an event (its parent span id,
 * whether it is a client event) is read in the first pass, while the event is at hand.
 *
 * @example
 * const { root } = buildSpanTree(events);
 * root?.children.map((child) => child.name); // ['POST http://inventory:8080/reserve']
 */
export function buildSpanTree(events: readonly Event[]): SpanTree {
  const byId = new Map<string, Span>();
  const spans: Span[] = [];
  // The span of the previous event: events of one span often come in a row (a call answered
  // at once), and comparing two ids costs less than a lookup in a map of 10^5 spans.
  let previous: Span | undefined;
  // Per span (same index), its parent when found without a lookup: a span that starts with
  // its start event takes its parent from it (`takeParentFrom`), and that parent is often the
  // span of the event just before (a call, then the request it caused).
  const knownParents: Array<Span | undefined> = [];
  for (const event of events) {
    let span =
      previous !== undefined && previous.spanId === event.span_id
        ? previous
        : byId.get(event.span_id);
    if (span === undefined) {
      span = newSpan(event.span_id, event);
      byId.set(event.span_id, span);
      spans.push(span);
      knownParents.push(
        previous !== undefined &&
          (event.kind === 'request_received' || event.kind === 'request_sent') &&
          previous.spanId === event.parent_span_id
          ? previous
          : undefined,
      );
    } else if (event.ts_us < span.startUs) span.startUs = event.ts_us;
    else if (event.ts_us > span.endUs) span.endUs = event.ts_us;
    switch (event.kind) {
      case 'request_received':
      case 'request_sent':
        if (span.startEvent === undefined) {
          span.startEvent = event;
          takeParentFrom(span, event);
        }
        break;
      case 'response_sent':
      case 'response_received':
        if (span.endEvent === undefined) {
          span.endEvent = event;
          if (span.startEvent === undefined) takeParentFrom(span, event);
        }
        break;
      case 'error':
        span.error ??= errorOf(event);
        break;
      default:
        break;
    }
    previous = span;
  }
  // Parents, once per span. A calling span that reported nothing but its calls (a job that
  // only calls services) exists through them; every caller lasts at least as long as its calls.
  const seen = spans.length;
  for (let i = 0; i < seen; i++) {
    const span = spans[i]!;
    const parentId = span.parentSpanId;
    if (parentId === null) continue;
    // Only a start or end event makes a span a client one (set by `takeParentFrom`).
    const client = span.kind === 'client';
    let parent = knownParents[i] ?? byId.get(parentId);
    if (parent === undefined && client) {
      parent = newSpan(parentId, (span.startEvent ?? span.endEvent)!);
      parent.parentSpanId = null;
      parent.startUs = span.startUs;
      parent.endUs = span.endUs;
      parent.name = parent.service;
      parent.complete = true;
      byId.set(parentId, parent);
      spans.push(parent);
    }
    if (parent === undefined || parent === span) continue;
    span.parent = parent;
    if (parent.children === NO_CHILDREN) parent.children = [span];
    else parent.children.push(span);
    if (client) {
      if (span.startUs < parent.startUs) parent.startUs = span.startUs;
      if (span.endUs > parent.endUs) parent.endUs = span.endUs;
    }
  }
  // Unfinished client calls, in span order: each lasts at least as long as what it caused.
  const unfinishedCalls: Span[] = [];
  for (let i = 0; i < seen; i++) {
    const span = spans[i]!;
    if (span.startEvent !== undefined || span.endEvent !== undefined) {
      finish(span);
      if (!span.complete && span.kind === 'client') unfinishedCalls.push(span);
    } else {
      span.name = span.service;
      span.complete = true;
    }
  }
  const roots: Span[] = [];
  for (const span of spans) if (span.parent === null) roots.push(span);
  if (sortChildrenOfReachable(roots) !== spans.length) {
    // Parent cycles (malformed ids): cut, then sort the children of the spans they held.
    cutCycles(spans, roots);
    for (const span of spans) sortChildren(span);
  }
  roots.sort(
    (a, b) => a.startUs - b.startUs || b.endUs - a.endUs || compareIds(a.spanId, b.spanId),
  );
  for (const span of unfinishedCalls) {
    for (const child of span.children) if (child.endUs > span.endUs) span.endUs = child.endUs;
  }
  return { spans, roots, root: roots[0] ?? null };
}

/**
 * What the span takes from its start event (else its end event, else its first event): its
 * parent span id, and whether it is a server or a client span.
 */
function takeParentFrom(span: Span, event: Event): void {
  span.parentSpanId = event.parent_span_id;
  span.kind =
    event.kind === 'request_received' || event.kind === 'response_sent' ? 'server' : 'client';
}

/** Sorts a span's children by start time (then span id). */
function sortChildren(span: Span): void {
  if (span.children.length > 1) {
    span.children.sort((a, b) => a.startUs - b.startUs || compareIds(a.spanId, b.spanId));
  }
}

/**
 * Sorts the children of every span reachable from `roots`, in one walk down the tree, and
 * returns how many spans it reached (fewer than all only when parent ids make a cycle).
 */
function sortChildrenOfReachable(roots: readonly Span[]): number {
  const queue = [...roots];
  for (let i = 0; i < queue.length; i++) {
    const span = queue[i]!;
    sortChildren(span);
    for (const child of span.children) queue.push(child);
  }
  return queue.length;
}

/** Fills in a server or client span from its start and end events. */
function finish(span: Span): void {
  const { startEvent: start, endEvent: end } = span;
  // The kind was set with the parent, from the same event (`takeParentFrom`).
  const anchor = (start ?? end)!;
  span.firstEvent = anchor;
  span.service = anchor.service;
  span.instance = anchor.instance;
  span.name = spanName(span.kind, start, end, anchor);
  let startUs = start?.ts_us ?? span.startUs;
  if (start === undefined && end !== undefined) {
    const duration = numberField(end, 'duration_ms');
    if (duration !== undefined)
      startUs = Math.min(startUs, end.ts_us - Math.round(duration * 1000));
  }
  span.startUs = startUs;
  span.endUs = Math.max(end?.ts_us ?? span.endUs, startUs);
  span.complete = start !== undefined && end !== undefined;
  if (end !== undefined) {
    span.status = statusOf(end);
    span.error = errorOf(end) ?? span.error;
    span.failed = isFailure(end);
  }
  if (span.kind === 'client') {
    span.host = stringField(anchor, 'host');
    span.remoteClock = end?.data.remote_clock === true;
    span.headersWithheld = start?.data.headers_withheld === true;
  } else if (start !== undefined) {
    const data = start.data.incoming as { status?: unknown; reasons?: unknown } | undefined;
    if (data && typeof data.status === 'string') {
      const reasons = Array.isArray(data.reasons) ? (data.reasons as unknown[]) : [];
      span.incoming = {
        status: data.status,
        // Validated events carry strings only; the filter is for anything else.
        reasons: reasons.every((r) => typeof r === 'string')
          ? (reasons as string[])
          : reasons.filter((r): r is string => typeof r === 'string'),
      };
    }
  }
}

function spanName(
  kind: SpanKind,
  start: Event | undefined,
  end: Event | undefined,
  source: Event,
): string {
  const from = start ?? end;
  if (kind === 'internal' || from === undefined) return source.service;
  const method = stringField(from, 'method') ?? '';
  if (kind === 'client')
    return `${method} ${stringField(from, 'url') ?? stringField(from, 'host') ?? ''}`.trim();
  const route = (start && stringField(start, 'route')) ?? (end && stringField(end, 'route'));
  return `${method} ${route ?? (start && stringField(start, 'path')) ?? ''}`.trim();
}

/**
 * Spans that no root reaches sit on a parent cycle (only malformed ids make one): each cycle is
 * cut, its first span becoming a root.
 */
function cutCycles(spans: readonly Span[], roots: Span[]): void {
  const queue = [...roots];
  for (let i = 0; i < queue.length; i++) for (const child of queue[i]!.children) queue.push(child);
  if (queue.length === spans.length) return;
  const reached = new Set<Span>(queue);
  for (const span of spans) {
    if (reached.has(span)) continue;
    // Walk up until a span repeats: it is on the cycle; cut its parent link.
    const seen = new Set<Span>();
    let at = span;
    while (!seen.has(at) && at.parent !== null && !reached.has(at.parent)) {
      seen.add(at);
      at = at.parent;
    }
    if (at.parent !== null && !reached.has(at.parent)) {
      const parent = at.parent;
      parent.children.splice(parent.children.indexOf(at), 1);
      at.parent = null;
      roots.push(at);
      const below = [at];
      for (let i = 0; i < below.length; i++) {
        reached.add(below[i]!);
        for (const child of below[i]!.children) below.push(child);
      }
    }
  }
}

/** Span duration in ms. */
export function durationMs(span: Pick<Span, 'startUs' | 'endUs'>): number {
  return (span.endUs - span.startUs) / 1000;
}
