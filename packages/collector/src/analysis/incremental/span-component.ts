import { compareIds } from '../accesses.js';
import type { Span } from '../spans.js';
import {
  deriveSpan,
  isCall,
  isClientEvent,
  rawExtent,
  type SpanEvents,
  sourceOf,
} from './span-events.js';
import { type SpanUnit, spanUnit } from './span-units.js';

/** What the units of a component are computed with. */
export interface UnitContext {
  bySpan: ReadonlyMap<string, SpanEvents>;
  traceId: string;
  toleranceUs: number;
}

/** What `SpanComponent.update` keeps per span between appends. */
interface SpanState {
  /** First and last timestamps of the events of the calls the span made (see `deriveSpan`). */
  calls: [number, number] | null;
  /** Children that fail or have a failing descendant. */
  failingKids: number;
  /** Whether the span counts in its parent's `failingKids`. */
  counted: boolean;
}

/** The walk order of `buildSpanTree`'s children lists. */
const childOrder = (a: Span, b: Span) => a.startUs - b.startUs || compareIds(a.spanId, b.spanId);
/** The order of `buildSpanTree`'s roots: earliest first, the longest on a tie. */
const rootOrder = (a: Span, b: Span) =>
  a.startUs - b.startUs || b.endUs - a.endUs || compareIds(a.spanId, b.spanId);

/** The fields of a span its events decide (not its links to other spans). */
const DERIVED = [
  'parentSpanId',
  'kind',
  'service',
  'instance',
  'name',
  'startUs',
  'endUs',
  'complete',
  'status',
  'error',
  'failed',
  'host',
  'remoteClock',
  'headersWithheld',
  'incoming',
  'firstEvent',
  'startEvent',
  'endEvent',
] as const satisfies ReadonlyArray<keyof Span>;

/**
 * Spans linked by parent span ids (a request and every call below it), with the diagnostics'
 * units of each of its spans. A component's spans, and what the diagnostics find in them, do
 * not depend on any other component's events.
 *
 * Built whole by `buildSpanTree` ({@link fill}); then, while it keeps the shape whose build
 * does not depend on the order spans are met in (every caller reported events, no parent
 * cycle, no call made from within a call), appended events are folded into the kept tree in
 * place ({@link update}): the spans they touch are rebuilt from their own events, linked
 * under their parents, and the units of the spans whose inputs changed are replaced. The cost
 * is that of the spans touched, their parents' children lists and the failing spans above and
 * below them, not of the component.
 */
export class SpanComponent {
  readonly spans = new Map<string, Span>();
  roots: Span[] = [];
  readonly units = new Map<string, SpanUnit>();
  /** Bumped at every change of the tree: what was computed from an older one is stale. */
  version = 0;
  /**
   * Holds spans of a built component merged into it (directly or through components merged
   * in since), which its own tree lacks: to be built again.
   */
  stale = false;
  private built = false;
  /** Whether appends can be folded in place (see the class comment). */
  private inPlace = false;
  private readonly state = new Map<string, SpanState>();
  /** Parent span ids that roots of the component name but no event of the trace has. */
  private awaited: Set<string> | null = null;

  constructor(readonly spanIds: Set<string>) {}

  get isBuilt(): boolean {
    return this.built;
  }

  /** Takes the component's spans from a whole-trace build; returns its units. */
  fill(spans: readonly Span[], roots: Span[], ctx: UnitContext): SpanUnit[] {
    this.built = true;
    this.inPlace = true;
    this.roots = roots;
    for (const span of spans) {
      this.spans.set(span.spanId, span);
      this.state.set(span.spanId, { calls: null, failingKids: 0, counted: false });
    }
    for (const span of spans) {
      const events = ctx.bySpan.get(span.spanId);
      // A caller that reported nothing but its calls takes its time from the first of them.
      if (events === undefined) this.inPlace = false;
      const parent = span.parent;
      if (parent === null) {
        if (span.parentSpanId === null) continue;
        // Its parent has events, yet is not its parent: a cycle was cut.
        if (this.spans.has(span.parentSpanId)) this.inPlace = false;
        else this.awaitParent(span.parentSpanId);
      } else if (isCall(span) && events !== undefined) {
        // A call made within a call widens it by that call's own widened time: an order.
        if (isCall(parent)) this.inPlace = false;
        this.widen(parent, rawExtent(events));
      }
    }
    const topDown = [...roots];
    for (let i = 0; i < topDown.length; i++) for (const c of topDown[i]!.children) topDown.push(c);
    for (let i = topDown.length - 1; i >= 0; i--) this.recount(topDown[i]!);
    for (const span of spans) this.units.set(span.spanId, this.unitOf(span, ctx));
    return [...this.units.values()];
  }

  /**
   * Folds in the events of `touched` spans (their `SpanEvents` updated already). Returns the
   * units replaced and their replacements; or null when
   * the component must be built again (not built yet, merged with another, or an append that
   * changes its shape: see the class comment), its units then as they were.
   */
  update(
    touched: readonly string[],
    ctx: UnitContext,
  ): { retired: SpanUnit[]; added: SpanUnit[] } | null {
    if (!this.built || this.stale || !this.inPlace) return null;
    const fresh = new Set<Span>();
    const derive = new Set<Span>();
    for (const id of touched) {
      const events = ctx.bySpan.get(id)!;
      let span = this.spans.get(id);
      if (span === undefined) {
        // A span that roots of the component name as parent: their links change.
        if (this.awaited?.has(id)) return null;
        span = deriveSpan(events, null);
        fresh.add(span);
        this.spans.set(id, span);
        this.state.set(id, { calls: null, failingKids: 0, counted: false });
      } else {
        const was = span.startEvent ?? span.endEvent ?? span.firstEvent;
        const now = sourceOf(events);
        if (now.parent_span_id !== span.parentSpanId || isClientEvent(now) !== isClientEvent(was))
          return null;
      }
      derive.add(span);
    }
    const placedAt = new Map<Span, number>();
    let rootsMoved = false;
    for (const span of fresh) {
      const parentId = span.parentSpanId;
      const parent = parentId === null ? undefined : this.spans.get(parentId);
      if (parentId !== null && parent === undefined) {
        // `buildSpanTree` makes up a caller that reported nothing from its calls.
        if (isCall(span)) return null;
        this.awaitParent(parentId);
      }
      if (parent === undefined) {
        this.roots.push(span);
        rootsMoved = true;
        continue;
      }
      if (parent === span || (isCall(span) && isCall(parent))) return null;
      span.parent = parent;
      insertChild(parent, span);
      placedAt.set(span, span.startUs);
    }
    // New spans link only to each other and to kept spans, which link to no new span.
    for (const span of fresh) {
      let at = span.parent;
      for (let steps = 0; at !== null && fresh.has(at); steps++) {
        if (at === span || steps > fresh.size) return null;
        at = at.parent;
      }
    }

    // Past the checks: the tree changes from here on.
    this.version++;
    for (const span of [...derive]) {
      const parent = span.parent;
      if (parent === null) continue;
      if (isCall(span)) {
        this.widen(parent, rawExtent(ctx.bySpan.get(span.spanId)!));
        derive.add(parent);
      } else if (fresh.has(span) && parent.kind === 'client') derive.add(parent);
    }
    const before = new Map<
      Span,
      Pick<Span, 'startUs' | 'endUs' | 'complete' | 'failed' | 'service'>
    >();
    const queue = [...derive];
    for (let i = 0; i < queue.length; i++) {
      const span = queue[i]!;
      if (!before.has(span)) before.set(span, { ...span });
      const endUs = span.endUs;
      this.derive(span, ctx);
      const parent = span.parent;
      // An unfinished call ends with the last of what it caused.
      if (span.endUs !== endUs && parent !== null && parent.kind === 'client' && !parent.complete)
        queue.push(parent);
    }
    // Moved children leave their lists before any returns: each goes back among siblings
    // that are all at their places.
    const moved: Span[] = [];
    for (const [span, was] of before) {
      if (span.parent === null) {
        if (fresh.has(span) || span.startUs !== was.startUs || span.endUs !== was.endUs)
          rootsMoved = true;
      } else if (span.startUs !== (placedAt.get(span) ?? was.startUs)) {
        const siblings = span.parent.children;
        siblings.splice(siblings.indexOf(span), 1);
        moved.push(span);
      }
    }
    for (const span of moved) insertChild(span.parent!, span);
    if (rootsMoved) this.roots.sort(rootOrder);

    // Units whose inputs changed: the spans rebuilt, their parents (children read), the
    // children of a span whose completeness changed (an unanswered call's finding reads it),
    // spans whose origin status changed, and the errors whose way up crosses a changed span.
    const replace = new Set<Span>(before.keys());
    for (const [span, was] of before) {
      const parent = span.parent;
      if (
        parent !== null &&
        (fresh.has(span) ? readsChild(parent, span) : readsChild(parent, span, was))
      )
        replace.add(parent);
      if (fresh.has(span)) continue;
      if (span.complete !== was.complete) for (const child of span.children) replace.add(child);
      if (span.failed !== was.failed || span.service !== was.service) {
        for (const below of failingBelow(span)) replace.add(below);
      }
    }
    const recount = [...before.keys()];
    while (recount.length > 0) {
      const parent = this.recount(recount.pop()!);
      if (parent !== null) {
        replace.add(parent);
        recount.push(parent);
      }
    }
    const retired: SpanUnit[] = [];
    const added: SpanUnit[] = [];
    for (const span of replace) {
      const old = this.units.get(span.spanId);
      if (old !== undefined) retired.push(old);
      const unit = this.unitOf(span, ctx);
      this.units.set(span.spanId, unit);
      added.push(unit);
    }
    return { retired, added };
  }

  private unitOf(span: Span, ctx: UnitContext): SpanUnit {
    const failingKids = this.state.get(span.spanId)!.failingKids;
    return spanUnit(span, failingKids > 0, ctx.traceId, ctx.toleranceUs);
  }

  private awaitParent(parentId: string): void {
    if (this.awaited === null) this.awaited = new Set();
    this.awaited.add(parentId);
  }

  /** Rebuilds a kept span's own fields from its events and its calls, in place. */
  private derive(span: Span, ctx: UnitContext): void {
    const built = deriveSpan(ctx.bySpan.get(span.spanId)!, this.state.get(span.spanId)!.calls);
    const target = span as unknown as Record<string, unknown>;
    for (const field of DERIVED) target[field] = built[field];
    // As `buildSpanTree` does last: an unfinished call lasts as long as what it caused.
    if (span.kind === 'client' && !span.complete) {
      for (const child of span.children) if (child.endUs > span.endUs) span.endUs = child.endUs;
    }
  }

  private widen(parent: Span, [startUs, endUs]: readonly [number, number]): void {
    const state = this.state.get(parent.spanId)!;
    if (state.calls === null) state.calls = [startUs, endUs];
    else {
      if (startUs < state.calls[0]) state.calls[0] = startUs;
      if (endUs > state.calls[1]) state.calls[1] = endUs;
    }
  }

  /**
   * Counts a span in its parent's failing children as it is now; returns the parent when
   * whether something fails below it changed (its own count is then to be redone).
   */
  private recount(span: Span): Span | null {
    const state = this.state.get(span.spanId)!;
    const counts = span.failed || state.failingKids > 0;
    if (counts === state.counted) return null;
    state.counted = counts;
    const parent = span.parent;
    if (parent === null) return null;
    const above = this.state.get(parent.spanId)!;
    const was = above.failingKids > 0;
    above.failingKids += counts ? 1 : -1;
    return was !== above.failingKids > 0 ? parent : null;
  }
}

/** Inserts a child at its place in its parent's children (by start time, then span id). */
function insertChild(parent: Span, child: Span): void {
  // Leaves of a whole-trace build may share one empty list: a leaf gets a list of its own.
  if (parent.children.length === 0) {
    parent.children = [child];
    return;
  }
  const list = parent.children;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (childOrder(list[mid]!, child) < 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, child);
}

/**
 * Whether what the diagnostics find at `parent` (itself unchanged) can change with a child
 * that changed (`was`: its times before; none for a new child). Calls read their children
 * (who answered, clock samples); server spans only the part of their time their children
 * cover (as `serviceTimes` clips them), so not a child that covers none of it, before or
 * now (the calls of a request still running, whose span ends at its start); internal spans
 * never read them (errors read whether a child fails, kept apart: see `recount`).
 */
function readsChild(parent: Span, child: Span, was?: Pick<Span, 'startUs' | 'endUs'>): boolean {
  if (parent.kind === 'client') return true;
  if (parent.kind !== 'server') return false;
  const covers = (c: Pick<Span, 'startUs' | 'endUs'>) =>
    Math.min(c.endUs, parent.endUs) > Math.max(c.startUs, parent.startUs);
  return covers(child) || (was !== undefined && covers(was));
}

/** A span and the failing spans below it reached through failing spans only: the errors whose way up crosses it. */
function failingBelow(span: Span): Span[] {
  const out = [span];
  for (let i = 0; i < out.length; i++) {
    for (const child of out[i]!.children) if (child.failed) out.push(child);
  }
  return out;
}
