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
  /** Server spans: how the incoming trace context was taken (spec 2.4). */
  incoming?: { status: string; reasons: string[] } | undefined;
  /** The event that started the span (or the first one seen). */
  firstEvent: Event;
  parent: Span | null;
  /** In no particular order (the analyses sort what they need). */
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

/** What the events of one span id say, gathered in one pass. */
interface Gathered {
  start?: Event;
  end?: Event;
  first: Event;
  minUs: number;
  maxUs: number;
  error?: EventError | undefined;
  /** Known only from the client calls made under it (its `first` event is such a call). */
  viaCall?: true;
  parent?: Gathered | undefined;
  span?: Span;
}

const isClientEvent = (event: Event | undefined) =>
  event !== undefined && (event.kind === 'request_sent' || event.kind === 'response_received');

/**
 * Rebuilds the spans of one trace (spec 4, "Spans"): a server span per `request_received` /
 * `response_sent` span id, a client span per `request_sent` / `response_received` span id
 * (child of the calling context's span), and the server span a client call caused is the one
 * whose parent span id is the client span id. Never throws on partial or odd input: a span
 * missing an end ends at the last event seen for it (its own or its calls'), and parent
 * cycles are cut. Linear: one map lookup per event and one per span.
 *
 * @example
 * const { root } = buildSpanTree(events);
 * root?.children.map((child) => child.name); // ['POST http://inventory:8080/reserve']
 */
export function buildSpanTree(events: readonly Event[]): SpanTree {
  const gathered = new Map<string, Gathered>();
  for (const event of events) {
    const g = gathered.get(event.span_id);
    if (g === undefined) {
      const fresh: Gathered = { first: event, minUs: event.ts_us, maxUs: event.ts_us };
      gathered.set(event.span_id, fresh);
      gather(fresh, event);
      continue;
    }
    if (event.ts_us < g.minUs) g.minUs = event.ts_us;
    else if (event.ts_us > g.maxUs) g.maxUs = event.ts_us;
    gather(g, event);
  }
  // Parents, once per span. A calling span that reported nothing but its calls (a job that
  // only calls services) exists through them; every caller lasts at least as long as its calls.
  for (const g of gathered.values()) {
    const source = g.start ?? g.end ?? g.first;
    const parentId = g.viaCall ? null : source.parent_span_id;
    if (parentId === null) continue;
    let parent = gathered.get(parentId);
    if (parent === undefined && isClientEvent(source)) {
      parent = { first: source, minUs: g.minUs, maxUs: g.maxUs, viaCall: true };
      gathered.set(parentId, parent);
    }
    if (parent === undefined || parent === g) continue;
    g.parent = parent;
    if (isClientEvent(source)) {
      if (g.minUs < parent.minUs) parent.minUs = g.minUs;
      if (g.maxUs > parent.maxUs) parent.maxUs = g.maxUs;
    }
  }
  const spans: Span[] = [];
  for (const [spanId, g] of gathered) {
    const span = makeSpan(spanId, g);
    g.span = span;
    spans.push(span);
  }
  const roots: Span[] = [];
  for (const g of gathered.values()) {
    const span = g.span!;
    const parent = g.parent?.span;
    if (parent === undefined) roots.push(span);
    else {
      span.parent = parent;
      parent.children.push(span);
    }
  }
  cutCycles(spans, roots);
  roots.sort(
    (a, b) => a.startUs - b.startUs || b.endUs - a.endUs || compareIds(a.spanId, b.spanId),
  );
  for (const span of spans) {
    // An unfinished client call lasts at least as long as what it caused.
    if (!span.complete && span.kind === 'client') {
      for (const child of span.children) if (child.endUs > span.endUs) span.endUs = child.endUs;
    }
  }
  return { spans, roots, root: roots[0] ?? null };
}

function gather(g: Gathered, event: Event): void {
  if (g.viaCall) {
    // The span's own events say more about it than the calls made under it.
    g.first = event;
    g.viaCall = undefined;
  }
  switch (event.kind) {
    case 'request_received':
    case 'request_sent':
      g.start ??= event;
      break;
    case 'response_sent':
    case 'response_received':
      g.end ??= event;
      break;
    case 'error':
      g.error ??= errorOf(event);
      break;
    default:
      break;
  }
}

/** A span from what its events say; every field is present, so all spans share one shape. */
function makeSpan(spanId: string, g: Gathered): Span {
  const { start, end } = g;
  const anchor = start ?? end;
  const kind: SpanKind =
    anchor === undefined
      ? 'internal'
      : anchor.kind === 'request_received' || anchor.kind === 'response_sent'
        ? 'server'
        : 'client';
  const source = anchor ?? g.first;
  let startUs = start?.ts_us ?? g.minUs;
  if (start === undefined && end !== undefined) {
    const duration = numberField(end, 'duration_ms');
    if (duration !== undefined)
      startUs = Math.min(startUs, end.ts_us - Math.round(duration * 1000));
  }
  let incoming: Span['incoming'];
  if (kind === 'server' && start !== undefined) {
    const data = start.data.incoming as { status?: unknown; reasons?: unknown } | undefined;
    if (data && typeof data.status === 'string') {
      const reasons = Array.isArray(data.reasons) ? (data.reasons as unknown[]) : [];
      incoming = {
        status: data.status,
        // Validated events carry strings only; the filter is for anything else.
        reasons: reasons.every((r) => typeof r === 'string')
          ? (reasons as string[])
          : reasons.filter((r): r is string => typeof r === 'string'),
      };
    }
  }
  return {
    spanId,
    // A span seen only through calls made under it: its own parent is unknown.
    parentSpanId: g.viaCall ? null : source.parent_span_id,
    kind,
    service: source.service,
    instance: source.instance,
    name: spanName(kind, start, end, source),
    startUs,
    endUs: Math.max(end?.ts_us ?? g.maxUs, startUs),
    complete: kind === 'internal' || (start !== undefined && end !== undefined),
    status: end === undefined ? undefined : statusOf(end),
    error: (end === undefined ? undefined : errorOf(end)) ?? g.error,
    failed: end !== undefined && isFailure(end),
    host: kind === 'client' ? stringField(source, 'host') : undefined,
    remoteClock: kind === 'client' ? end?.data.remote_clock === true : undefined,
    incoming,
    firstEvent: source,
    parent: null,
    children: [],
  };
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
