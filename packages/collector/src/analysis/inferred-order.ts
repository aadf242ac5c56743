import { ownEpoch } from './clock.js';
import { getOrCreate } from './collections.js';
import type { Event } from './event.js';

/**
 * Happens-before for events that came without vector clocks (OpenTelemetry spans, ingested
 * through OTLP), inferred from the structure of the trace:
 *
 * - a child span starts after its parent started and, when it is a local child (same service,
 *   not a server span), ends before its parent ends;
 * - a server span that answers a client span runs inside it (after `request_sent`, before
 *   `response_received`), whichever side Raceway instrumented;
 * - local children of one span that do not overlap in time run one after the other in their
 *   parent's context; children that overlap each run in a context of their own, forked from
 *   the parent's and joined back when they end.
 *
 * The events keep their ids; each OpenTelemetry event gets the component of its context and a
 * clock computed over these edges and the Raceway clocks, and a Raceway event whose clock
 * gains entries through them (a caller after an OpenTelemetry callee answered) gets the merged
 * clock. Every event whose clock was inferred carries `clock_inferred: true`: the race
 * detectors report races involving one as `uncertain`, never `certain` (the order they rest
 * on was read from timestamps and span links, not observed).
 *
 * A trace without such events is returned as it is. Linear in the events, times the size of
 * the clocks.
 */
export function inferStructuralOrder(events: readonly Event[]): readonly Event[] {
  if (!events.some(isStructuralEvent)) return events;
  return new Inference(events).run();
}

/** Events of spans that carry no clock of their own have a component with this prefix. */
export const STRUCTURAL_COMPONENT_PREFIX = 'otel:';

/** The component of an OpenTelemetry span's own context: `otel:<span id>`. */
export function otelComponent(spanId: string): string {
  return `${STRUCTURAL_COMPONENT_PREFIX}${spanId}`;
}

/** Whether the event came without a clock (its clock is a placeholder until inferred). */
export function isStructuralEvent(event: Event): boolean {
  return event.component.startsWith(STRUCTURAL_COMPONENT_PREFIX);
}

type Role = 'server' | 'client' | 'local';

interface SpanInfo {
  id: string;
  parentId: string | null;
  structural: boolean;
  role: Role;
  service: string;
  startUs: number;
  endUs: number;
  start: Event | undefined;
  end: Event | undefined;
  events: Event[];
  /** Structural spans: the component of the context the span runs in. */
  context?: string;
  /** Structural spans: the context was forked from the parent's. */
  forked?: boolean;
  depth?: number;
}

const START_KINDS = new Set(['request_received', 'request_sent']);
const END_KINDS = new Set(['response_sent', 'response_received']);

function isSpanStart(event: Event): boolean {
  return (
    START_KINDS.has(event.kind) ||
    (event.kind === 'custom' &&
      event.data.name === 'otel.span' &&
      (event.data.attributes as { phase?: unknown } | undefined)?.phase === 'start')
  );
}

function isSpanEnd(event: Event): boolean {
  return (
    END_KINDS.has(event.kind) ||
    (event.kind === 'custom' &&
      event.data.name === 'otel.span' &&
      (event.data.attributes as { phase?: unknown } | undefined)?.phase === 'end')
  );
}

class Inference {
  private readonly spans = new Map<string, SpanInfo>();
  private readonly preds = new Map<Event, Event[]>();
  private readonly componentOf = new Map<Event, string>();
  /** Program order of each component (after context assignment). */
  private readonly programs = new Map<string, Event[]>();
  /** Per parent span, its local children that overlap a sibling. */
  private readonly overlapping = new Map<SpanInfo, Set<SpanInfo>>();
  /** Structural spans by parent span id. */
  private readonly children = new Map<string, SpanInfo[]>();

  constructor(private readonly events: readonly Event[]) {}

  run(): Event[] {
    this.collectSpans();
    for (const span of this.spans.values()) {
      if (span.structural && span.parentId !== null) {
        getOrCreate(this.children, span.parentId, () => []).push(span);
      }
    }
    for (const span of this.spans.values()) if (span.structural) this.contextOf(span);
    this.buildPrograms();
    this.linkRacewayMessages();
    this.linkStructure();
    return this.computeClocks();
  }

  private collectSpans(): void {
    for (const event of this.events) {
      const structural = isStructuralEvent(event);
      // A database span's db_query runs in its caller's context but is a span of its own.
      const key = `${structural ? 's' : 'r'}:${event.span_id}`;
      const span = getOrCreate(this.spans as Map<string, SpanInfo>, key, () => ({
        id: event.span_id,
        parentId: event.parent_span_id,
        structural,
        role: 'local' as Role,
        service: event.service,
        startUs: event.ts_us,
        endUs: event.ts_us,
        start: undefined,
        end: undefined,
        events: [],
      }));
      span.events.push(event);
      if (isSpanStart(event)) span.start ??= event;
      if (isSpanEnd(event)) span.end ??= event;
      if (event.kind === 'request_received' || event.kind === 'response_sent') span.role = 'server';
      if (event.kind === 'request_sent' || event.kind === 'response_received') span.role = 'client';
      const duration = event.kind === 'db_query' ? Number(event.data.duration_ms) : 0;
      const from = event.ts_us - (Number.isFinite(duration) ? Math.round(duration * 1000) : 0);
      if (from < span.startUs) span.startUs = from;
      if (event.ts_us > span.endUs) span.endUs = event.ts_us;
    }
  }

  /** The span a parent id names: a structural one first (both ends may name the same id). */
  private spanById(id: string | null): SpanInfo | undefined {
    if (id === null) return undefined;
    return this.spans.get(`s:${id}`) ?? this.spans.get(`r:${id}`);
  }

  private isLocalChild(span: SpanInfo, parent: SpanInfo | undefined): parent is SpanInfo {
    return parent?.structural === true && parent.service === span.service && span.role !== 'server';
  }

  private depthOf(span: SpanInfo): number {
    if (span.depth !== undefined) return span.depth;
    span.depth = 0; // cut cycles
    const parent = this.spanById(span.parentId);
    span.depth = parent && parent !== span ? this.depthOf(parent) + 1 : 0;
    return span.depth;
  }

  /** The component of the context a structural span runs in (memoised, cycles cut). */
  private contextOf(span: SpanInfo): string {
    if (span.context !== undefined) return span.context;
    span.context = otelComponent(span.id);
    const parent = this.spanById(span.parentId);
    if (this.isLocalChild(span, parent) && parent !== span) {
      if (this.overlappingChildren(parent).has(span)) span.forked = true;
      else span.context = this.contextOf(parent);
    }
    return span.context;
  }

  /**
   * The local children of `parent` that overlap a sibling in time: one sort and one sweep per
   * parent (memoised), so a span with thousands of statements costs n log n, not n^2.
   */
  private overlappingChildren(parent: SpanInfo): Set<SpanInfo> {
    const known = this.overlapping.get(parent);
    if (known !== undefined) return known;
    const local = (this.children.get(parent.id) ?? [])
      .filter((child) => this.isLocalChild(child, parent))
      .sort((a, b) => a.startUs - b.startUs || a.endUs - b.endUs);
    const found = new Set<SpanInfo>();
    let maxEnd = Number.NEGATIVE_INFINITY;
    let maxEndSpan: SpanInfo | undefined;
    for (const child of local) {
      // Sorted by start: the child overlaps an earlier sibling iff it starts before the latest
      // end seen so far.
      if (child.startUs < maxEnd && maxEndSpan !== undefined) {
        found.add(child);
        found.add(maxEndSpan);
      }
      if (child.endUs > maxEnd) {
        maxEnd = child.endUs;
        maxEndSpan = child;
      }
    }
    this.overlapping.set(parent, found);
    return found;
  }

  private buildPrograms(): void {
    for (const span of this.spans.values()) {
      for (const event of span.events) {
        const component = span.structural ? span.context! : event.component;
        this.componentOf.set(event, component);
        getOrCreate(this.programs, component, () => []).push(event);
      }
    }
    for (const [component, program] of this.programs) {
      if (component.startsWith(STRUCTURAL_COMPONENT_PREFIX)) {
        const key = (e: Event) => {
          const span = this.spanById(e.span_id);
          const depth = span ? this.depthOf(span) : 0;
          return isSpanStart(e) ? depth - 1000 : isSpanEnd(e) ? 1000 - depth : 0;
        };
        program.sort((a, b) => a.ts_us - b.ts_us || key(a) - key(b) || (a.id < b.id ? -1 : 1));
      } else {
        program.sort((a, b) => ownEpoch(a) - ownEpoch(b) || a.ts_us - b.ts_us);
      }
      for (let i = 1; i < program.length; i++) this.edge(program[i - 1]!, program[i]!);
    }
  }

  private edge(from: Event | undefined, to: Event | undefined): void {
    if (from === undefined || to === undefined || from === to) return;
    getOrCreate(this.preds, to, () => []).push(from);
  }

  /** Raceway's own messages, so that what is inferred upstream reaches what follows. */
  private linkRacewayMessages(): void {
    for (const span of this.spans.values()) {
      if (span.structural) continue;
      const parent = this.spanById(span.parentId);
      if (span.role === 'server' && parent && !parent.structural && parent.role === 'client') {
        this.edge(parent.start, span.start);
        if (parent.end?.data.remote_clock === true) this.edge(span.end, parent.end);
      }
      for (const event of span.events) {
        const child = typeof event.data.child === 'string' ? event.data.child : undefined;
        const program = child === undefined ? undefined : this.programs.get(child);
        if (program === undefined) continue;
        if (event.kind === 'fork') this.edge(event, program[0]);
        if (event.kind === 'join') this.edge(program[program.length - 1], event);
      }
    }
  }

  private linkStructure(): void {
    for (const span of this.spans.values()) {
      const parent = this.spanById(span.parentId);
      if (parent === undefined || parent === span) continue;
      const first = span.start ?? span.events[0];
      const last = span.end ?? span.events[span.events.length - 1];
      if (span.structural && span.forked) {
        // A local child that overlapped a sibling: forked from the parent's context at its
        // start, joined back at its end.
        const program = this.programs.get(parent.context ?? '') ?? [];
        this.edge(latestAtOrBefore(program, span.startUs, span), first);
        this.edge(last, earliestAtOrAfter(program, span.endUs, span));
      } else if (span.structural && this.isLocalChild(span, parent)) {
        // Same context: program order already places it.
      } else if (span.structural || parent.structural) {
        // A remote hop where at least one side has no clock: the callee runs inside the call.
        if (parent.role === 'client') {
          this.edge(parent.start, first);
          this.edge(last, parent.end);
        } else {
          const program = parent.structural
            ? (this.programs.get(parent.context ?? '') ?? [])
            : parent.events;
          this.edge(latestAtOrBefore(program, span.startUs, span) ?? parent.start, first);
        }
      }
    }
  }

  private computeClocks(): Event[] {
    const successors = new Map<Event, Event[]>();
    const waiting = new Map<Event, number>();
    for (const [to, froms] of this.preds) {
      waiting.set(to, froms.length);
      for (const from of froms) getOrCreate(successors, from, () => []).push(to);
    }
    const clocks = new Map<Event, Record<string, number>>();
    const inferred = new Set<Event>();
    const compute = (event: Event) => {
      const structural = isStructuralEvent(event);
      const clock: Record<string, number> = structural ? {} : { ...event.clock };
      let gained = structural;
      for (const pred of this.preds.get(event) ?? []) {
        const before = clocks.get(pred);
        if (before === undefined) continue;
        for (const key in before) {
          if ((clock[key] ?? 0) < before[key]!) {
            clock[key] = before[key]!;
            if (!structural && (event.clock[key] ?? 0) < before[key]!) gained = true;
          }
        }
      }
      if (structural) {
        const own = this.componentOf.get(event)!;
        clock[own] = (clock[own] ?? 0) + 1;
      }
      clocks.set(event, clock);
      if (gained) inferred.add(event);
    };
    const ready = this.events.filter((e) => !waiting.has(e));
    const done = new Set<Event>();
    const drain = () => {
      while (ready.length > 0) {
        const event = ready.pop()!;
        if (done.has(event)) continue;
        done.add(event);
        compute(event);
        for (const next of successors.get(event) ?? []) {
          const left = waiting.get(next)! - 1;
          waiting.set(next, left);
          if (left === 0) ready.push(next);
        }
      }
    };
    drain();
    // Timestamps that contradict the structure (clock skew) can close a cycle: the events on
    // it are computed in time order from what is known.
    if (done.size < this.events.length) {
      const rest = this.events.filter((e) => !done.has(e)).sort((a, b) => a.ts_us - b.ts_us);
      for (const event of rest) {
        if (done.has(event)) continue;
        ready.push(event);
        drain();
      }
    }
    return this.events.map((event) => {
      if (!inferred.has(event)) return event;
      const out: Event = {
        ...event,
        component: this.componentOf.get(event) ?? event.component,
        clock: clocks.get(event)!,
        clock_inferred: true,
      };
      if (event.kind === 'db_query' && isStructuralEvent(event)) {
        // As a Raceway driver records it: in the span of the request it ran for.
        const owner = this.serverSpanOf(this.spanById(event.span_id));
        if (owner !== undefined) {
          out.span_id = owner.id;
          out.parent_span_id = owner.parentId;
        }
      }
      return out;
    });
  }

  /** The nearest server span of the same service up the structural parents. */
  private serverSpanOf(span: SpanInfo | undefined): SpanInfo | undefined {
    const seen = new Set<SpanInfo>();
    let current = span;
    while (current !== undefined && !seen.has(current)) {
      seen.add(current);
      if (current.role === 'server') return current;
      const parent = this.spanById(current.parentId);
      if (!parent?.structural || parent.service !== current.service) return undefined;
      current = parent;
    }
    return undefined;
  }
}

/** The latest event of `events` at or before `us` that is not one of `span`'s own. */
function latestAtOrBefore(events: readonly Event[], us: number, span: SpanInfo): Event | undefined {
  let found: Event | undefined;
  for (const event of events) {
    if (event.ts_us <= us && event.span_id !== span.id && !(found && found.ts_us > event.ts_us)) {
      found = event;
    }
  }
  return found;
}

/** The earliest event of `events` at or after `us` that is not one of `span`'s own. */
function earliestAtOrAfter(
  events: readonly Event[],
  us: number,
  span: SpanInfo,
): Event | undefined {
  let found: Event | undefined;
  for (const event of events) {
    if (event.ts_us >= us && event.span_id !== span.id && !(found && found.ts_us <= event.ts_us)) {
      found = event;
    }
  }
  return found;
}
