import type { Event } from '../event.js';
import { buildSpanTree, type Span } from '../spans.js';
import { byTimeThenId } from './resource-races.js';

/**
 * The events of one span id that `buildSpanTree` reads: the first (it names an internal span
 * and orders span creation), one at the latest time, the first start, end and error events.
 * Any other event of the span changes nothing in the tree.
 */
export interface SpanEvents {
  first: Event;
  last: Event;
  start?: Event;
  end?: Event;
  error?: Event;
}

/** Files an event of the span (each event once, any order). */
export function fileSpanEvent(known: SpanEvents | undefined, event: Event): SpanEvents {
  const role = roleOf(event);
  if (known === undefined) return { first: event, last: event, ...role };
  if (byTimeThenId(event, known.first) < 0) known.first = event;
  if (event.ts_us > known.last.ts_us) known.last = event;
  if (role.start && (!known.start || byTimeThenId(event, known.start) < 0)) known.start = event;
  if (role.end && (!known.end || byTimeThenId(event, known.end) < 0)) known.end = event;
  if (role.error && (!known.error || byTimeThenId(event, known.error) < 0)) known.error = event;
  return known;
}

/** The span's events `buildSpanTree` reads, each once, in the trace's order. */
export function keyEvents(s: SpanEvents): Event[] {
  const out = [s.first];
  for (const event of [s.last, s.start, s.end, s.error]) {
    if (event !== undefined && !out.includes(event)) out.push(event);
  }
  return out.sort(byTimeThenId);
}

/** The event a span takes its parent from, as `buildSpanTree` picks it. */
export function sourceOf(s: SpanEvents): Event {
  return s.start ?? s.end ?? s.first;
}

export const isClientEvent = (event: Event) =>
  event.kind === 'request_sent' || event.kind === 'response_received';

/** Whether a built span is an outgoing call, which widens its caller to cover it. */
export function isCall(span: Span): boolean {
  return isClientEvent(span.startEvent ?? span.endEvent ?? span.firstEvent);
}

/** The first and last timestamps of a span's events (before its start and end are applied). */
export function rawExtent(s: SpanEvents): readonly [number, number] {
  return [s.first.ts_us, s.last.ts_us];
}

/** A span id no event can have: the stand-in for a span's outgoing calls in {@link deriveSpan}. */
const CALLS = '\u0000calls';

/**
 * One span as `buildSpanTree` builds it within its whole trace, from its own events and the
 * time its outgoing calls cover (`calls`: the first and last timestamps of the events of the
 * calls it made, which widen a caller that reported no start or no end). Built by
 * `buildSpanTree` itself, over the span's events and one stand-in call covering `calls`, so
 * the rules stay those of the whole-trace build. The span is returned unlinked (no parent,
 * no children). Not applied: the end of an unfinished call stretched over its children's
 * (see `SpanComponent`), which needs the children.
 */
export function deriveSpan(s: SpanEvents, calls: readonly [number, number] | null): Span {
  const events = keyEvents(s);
  if (calls !== null) {
    const standIn = { ...s.first, id: CALLS, span_id: CALLS, parent_span_id: s.first.span_id };
    events.push(
      { ...standIn, kind: 'request_sent', ts_us: calls[0], data: {} },
      { ...standIn, kind: 'response_received', ts_us: calls[1], data: {} },
    );
  }
  const span = buildSpanTree(events).spans[0]!;
  span.parent = null;
  span.children = [];
  return span;
}

function roleOf(event: Event): { start?: Event; end?: Event; error?: Event } {
  switch (event.kind) {
    case 'request_received':
    case 'request_sent':
      return { start: event };
    case 'response_sent':
    case 'response_received':
      return { end: event };
    case 'error':
      return { error: event };
    default:
      return {};
  }
}
