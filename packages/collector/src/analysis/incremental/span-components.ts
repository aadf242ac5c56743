import type { Event } from '../event.js';
import { buildSpanTree, type Span } from '../spans.js';
import { byTimeThenId } from './resource-races.js';
import { SpanComponent, type UnitContext } from './span-component.js';
import { fileSpanEvent, keyEvents, type SpanEvents } from './span-events.js';
import type { SpanUnit } from './span-units.js';

export { SpanComponent } from './span-component.js';

/** What a refresh changed: components replaced or updated in place, and units replaced. */
export interface SpanChanges {
  /** Components replaced (built again, or merged into another). */
  retired: SpanComponent[];
  /** Their replacements. */
  added: SpanComponent[];
  /** Components whose tree was updated in place. */
  updated: SpanComponent[];
  retiredUnits: SpanUnit[];
  addedUnits: SpanUnit[];
}

/**
 * The span tree of a growing trace, kept per connected component of spans (see
 * `SpanComponent`). Appended events are folded into the components they touch: in place
 * when the component's shape allows it (the cost of the spans they touch), else by one
 * `buildSpanTree` over the span events of those components (at most five per span). The
 * diagnostics are kept per span (`SpanUnit`): a refresh says which units were replaced.
 */
export class SpanComponents {
  private readonly bySpan = new Map<string, SpanEvents>();
  /** Union-find over span ids: a span and the parent span ids its events name. */
  private readonly parentOf = new Map<string, string>();
  private readonly components = new Map<string, SpanComponent>();
  /** Span ids with events appended since the last refresh. */
  private readonly touched = new Set<string>();
  /** Components merged into another since the last refresh. */
  private retired: SpanComponent[] = [];

  constructor(
    private readonly traceId: () => string,
    private readonly toleranceUs: number,
  ) {}

  add(events: readonly Event[]): void {
    for (const event of events) {
      this.bySpan.set(event.span_id, fileSpanEvent(this.bySpan.get(event.span_id), event));
      const root = this.find(event.span_id);
      if (event.parent_span_id !== null) this.union(root, this.find(event.parent_span_id));
      this.touched.add(event.span_id);
    }
  }

  /**
   * Folds the appended events into the components they touch: in place where it can, else by
   * one `buildSpanTree` over the span events of the components to build again (components
   * share no span, so the tree of their union is their trees side by side).
   */
  refresh(): SpanChanges {
    const ctx: UnitContext = {
      bySpan: this.bySpan,
      traceId: this.traceId(),
      toleranceUs: this.toleranceUs,
    };
    const byRoot = new Map<string, string[]>();
    for (const id of this.touched) {
      const root = this.find(id);
      const ids = byRoot.get(root);
      if (ids === undefined) byRoot.set(root, [id]);
      else ids.push(id);
    }
    this.touched.clear();
    const changes: SpanChanges = {
      retired: this.retired,
      added: [],
      updated: [],
      retiredUnits: [],
      addedUnits: [],
    };
    this.retired = [];
    for (const component of changes.retired) changes.retiredUnits.push(...component.units.values());
    const rebuild: string[] = [];
    for (const [root, ids] of byRoot) {
      const component = this.components.get(root)!;
      const update = component.update(ids, ctx);
      if (update === null) {
        rebuild.push(root);
        continue;
      }
      changes.updated.push(component);

      changes.retiredUnits.push(...update.retired);
      changes.addedUnits.push(...update.added);
    }
    if (rebuild.length > 0) this.rebuild(rebuild, ctx, changes);
    return changes;
  }

  private rebuild(roots: readonly string[], ctx: UnitContext, changes: SpanChanges): void {
    const events: Event[] = [];
    for (const root of roots) {
      for (const spanId of this.components.get(root)!.spanIds) {
        const s = this.bySpan.get(spanId);
        if (s !== undefined) events.push(...keyEvents(s));
      }
    }
    const tree = buildSpanTree(events.sort(byTimeThenId));
    const spansOf = new Map<string, Span[]>();
    const rootsOf = new Map<string, Span[]>();
    for (const root of roots) {
      const old = this.components.get(root)!;
      changes.retired.push(old);
      changes.retiredUnits.push(...old.units.values());
      const component = new SpanComponent(old.spanIds);
      this.components.set(root, component);
      changes.added.push(component);
      spansOf.set(root, []);
      rootsOf.set(root, []);
    }
    for (const span of tree.spans) spansOf.get(this.find(span.spanId))!.push(span);
    for (const span of tree.roots) rootsOf.get(this.find(span.spanId))!.push(span);
    for (const root of roots) {
      const units = this.components.get(root)!.fill(spansOf.get(root)!, rootsOf.get(root)!, ctx);
      changes.addedUnits.push(...units);
    }
  }

  all(): Iterable<SpanComponent> {
    return this.components.values();
  }

  get size(): number {
    return this.components.size;
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
    if (!this.components.has(at)) this.components.set(at, new SpanComponent(new Set([at])));
    return at;
  }

  private union(a: string, b: string): string {
    if (a === b) return a;
    const ca = this.components.get(a)!;
    const cb = this.components.get(b)!;
    // The smaller set joins the larger: each span id moves O(log n) times in all.
    const [keep, gone, keptId, goneId] =
      ca.spanIds.size >= cb.spanIds.size ? [ca, cb, a, b] : [cb, ca, b, a];
    for (const spanId of gone.spanIds) keep.spanIds.add(spanId);
    // The gone component's built spans are not carried over: the joined one is built again.
    // A component not built yet may hold such spans from a merge of its own (it is stale).
    if (gone.isBuilt || gone.stale) keep.stale = true;
    this.retired.push(gone);
    this.components.delete(goneId);
    this.parentOf.set(goneId, keptId);
    return keptId;
  }
}
