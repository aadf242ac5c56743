import { compareIds } from '../accesses.js';
import { type BrokenChain, brokenChains } from '../broken-chains.js';
import { type SkewPair, skewPairs } from '../clock-skew.js';
import { type ErrorPropagation, errorPropagation } from '../error-propagation.js';
import type { Event } from '../event.js';
import { type ServiceTime, serviceTimes } from '../service-times.js';
import { buildSpanTree, type Span, type SpanTree } from '../spans.js';
import { byTimeThenId } from './resource-races.js';

/**
 * The events of one span id that `buildSpanTree` reads: the first (it names an internal span
 * and orders span creation), one at the latest time, the first start, end and error events.
 * Any other event of the span changes nothing in the tree.
 */
interface SpanEvents {
  first: Event;
  last: Event;
  start?: Event;
  end?: Event;
  error?: Event;
}

/**
 * Spans linked by parent span ids (a request and every call below it): the unit span-derived
 * results are recomputed in. A component's spans, and what the diagnostics find in them, do
 * not depend on any other component's events.
 */
export interface SpanComponent {
  spanIds: Set<string>;
  spans: Span[];
  /** By start time, then span id (the order the diagnostics walk). */
  sorted: Span[];
  roots: Span[];
  brokenChains: BrokenChain[];
  /**
   * Computed for `errorsRoot` (whether an error reaches the trace's root depends on which span
   * that is); undefined until computed.
   */
  errors: ErrorPropagation[];
  errorsRoot: Span | null | undefined;
  skew: SkewPair[];
  times: ServiceTime[];
  startOf: Map<string, number>;
}

/**
 * The span tree of a growing trace, kept per connected component of spans. Appended events
 * rebuild only the components they touch (`buildSpanTree` over those components' span events,
 * at most five per span); the diagnostics of those components are recomputed and merged with
 * the others' kept results. The cost of an append is that of the components it touches plus
 * one pass over the components' small summaries, not of the trace's events.
 */
export class SpanComponents {
  private readonly bySpan = new Map<string, SpanEvents>();
  /** Union-find over span ids: a span and the parent span ids its events name. */
  private readonly parentOf = new Map<string, string>();
  private readonly components = new Map<string, SpanComponent>();
  private readonly dirty = new Set<string>();
  /** Component objects replaced (rebuilt, or merged into another) since the last refresh. */
  private retired: SpanComponent[] = [];

  constructor(
    private readonly traceId: () => string,
    private readonly toleranceUs: number,
  ) {}

  add(events: readonly Event[]): void {
    for (const event of events) {
      const known = this.bySpan.get(event.span_id);
      if (known === undefined) {
        this.bySpan.set(event.span_id, { first: event, last: event, ...roleOf(event) });
      } else {
        if (byTimeThenId(event, known.first) < 0) known.first = event;
        if (event.ts_us > known.last.ts_us) known.last = event;
        const role = roleOf(event);
        if (role.start && (!known.start || byTimeThenId(event, known.start) < 0))
          known.start = event;
        if (role.end && (!known.end || byTimeThenId(event, known.end) < 0)) known.end = event;
        if (role.error && (!known.error || byTimeThenId(event, known.error) < 0))
          known.error = event;
      }
      let root = this.find(event.span_id);
      if (event.parent_span_id !== null) root = this.union(root, this.find(event.parent_span_id));
      this.dirty.add(root);
    }
  }

  /**
   * Rebuilds the components appended events touched: one `buildSpanTree` over their span
   * events (components share no span, so the tree of their union is their trees side by
   * side), its spans then filed under their components.
   */
  refresh(): { retired: SpanComponent[]; added: SpanComponent[] } {
    const roots = new Set([...this.dirty].map((id) => this.find(id)));
    this.dirty.clear();
    const retired = this.retired;
    this.retired = [];
    if (roots.size === 0) return { retired, added: [] };
    const events: Event[] = [];
    for (const root of roots) {
      for (const spanId of this.components.get(root)!.spanIds) {
        const s = this.bySpan.get(spanId);
        if (s === undefined) continue;
        events.push(s.first);
        if (s.last !== s.first) events.push(s.last);
        if (s.start && s.start !== s.first && s.start !== s.last) events.push(s.start);
        if (s.end && s.end !== s.first && s.end !== s.last && s.end !== s.start) events.push(s.end);
        if (
          s.error &&
          s.error !== s.first &&
          s.error !== s.last &&
          s.error !== s.start &&
          s.error !== s.end
        )
          events.push(s.error);
      }
    }
    const tree = buildSpanTree(events.sort(byTimeThenId));
    // Rebuilt components are new objects: the old ones are what the totals take out.
    const added: SpanComponent[] = [];
    for (const root of roots) {
      const old = this.components.get(root)!;
      retired.push(old);
      const component = emptyComponent(root);
      component.spanIds = old.spanIds;
      this.components.set(root, component);
      added.push(component);
    }
    for (const span of tree.spans) this.componentOf(span).spans.push(span);
    for (const span of tree.roots) this.componentOf(span).roots.push(span);
    const sorted = [...tree.spans].sort(
      (a, b) => a.startUs - b.startUs || compareIds(a.spanId, b.spanId),
    );
    for (const span of sorted) this.componentOf(span).sorted.push(span);
    const traceId = this.traceId();
    for (const root of roots) {
      const component = this.components.get(root)!;
      const spans = component.sorted;
      component.brokenChains = brokenChains(spans, traceId);
      component.errorsRoot = undefined;
      component.errors = [];
      component.skew = skewPairs(spans, this.toleranceUs);
      component.times = serviceTimes(spans);
      component.startOf = new Map(spans.map((s) => [s.spanId, s.startUs]));
    }
    return { retired, added };
  }

  private componentOf(span: Span): SpanComponent {
    return this.components.get(this.find(span.spanId))!;
  }

  all(): Iterable<SpanComponent> {
    return this.components.values();
  }

  get size(): number {
    return this.components.size;
  }

  /** The diagnostics' errors of a component, for the trace's current root. */
  errorsOf(component: SpanComponent, traceRoot: Span | null): ErrorPropagation[] {
    // Only the component holding the trace's root has errors that can reach it.
    const root = traceRoot !== null && component.spanIds.has(traceRoot.spanId) ? traceRoot : null;
    if (component.errorsRoot !== root) {
      const tree: SpanTree = { spans: component.spans, roots: component.roots, root };
      component.errors = errorPropagation(tree, component.sorted, this.traceId());
      component.errorsRoot = root;
    }
    return component.errors;
  }

  private find(spanId: string): string {
    let at = spanId;
    for (;;) {
      const up = this.parentOf.get(at);
      if (up === undefined) break;
      at = up;
    }
    // Path compression: later finds of these ids take one step.
    let walk = spanId;
    while (walk !== at) {
      const up = this.parentOf.get(walk)!;
      this.parentOf.set(walk, at);
      walk = up;
    }
    if (!this.components.has(at)) this.components.set(at, emptyComponent(at));
    return at;
  }

  private union(a: string, b: string): string {
    if (a === b) return a;
    const ca = this.components.get(a)!;
    const cb = this.components.get(b)!;
    // The smaller set joins the larger: each span id moves O(log n) times in all.
    const [keep, gone, goneId] = ca.spanIds.size >= cb.spanIds.size ? [a, b, b] : [b, a, a];
    const kept = this.components.get(keep)!;
    for (const spanId of this.components.get(gone)!.spanIds) kept.spanIds.add(spanId);
    this.retired.push(this.components.get(gone)!);
    this.components.delete(goneId);
    this.parentOf.set(goneId, keep);
    this.dirty.delete(goneId);
    return keep;
  }
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

function emptyComponent(spanId: string): SpanComponent {
  return {
    spanIds: new Set([spanId]),
    spans: [],
    sorted: [],
    roots: [],
    brokenChains: [],
    errors: [],
    errorsRoot: undefined,
    skew: [],
    times: [],
    startOf: new Map(),
  };
}
