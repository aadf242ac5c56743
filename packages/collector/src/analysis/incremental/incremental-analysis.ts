import { compareIds } from '../accesses.js';
import { analyzeTrace, type TraceAnalysis } from '../analyze-trace.js';
import { type CriticalPath, computeCriticalPath } from '../critical-path.js';
import type { TraceDiagnostics } from '../diagnostics.js';
import type { Event } from '../event.js';
import { isStructuralEvent } from '../inferred-order.js';
import { type AnalysisOptions, budgetOf, toleranceUs } from '../options.js';
import type { Span } from '../spans.js';
import { DiagnosticsTotals } from './diagnostics-totals.js';
import { byTimeThenId, ResourceRaces } from './resource-races.js';
import { type SpanChanges, type SpanComponent, SpanComponents } from './span-components.js';

/**
 * The analysis of a trace that keeps growing (a long-lived trace receiving a trickle of
 * events), kept up to date as events are appended instead of recomputed from all of them.
 * `result()` is always what `analyzeTrace` gives for every event appended so far (sorted by
 * time then id, as the collector reads a trace back); a property test holds the two equal.
 *
 * What an append of k events to a trace of n costs:
 * - races: the detector re-runs on the resources the k events affect (see `ResourceRaces`),
 *   each over that resource's accesses only;
 * - spans: the components of spans the k events touch are updated in place (see
 *   `SpanComponent`: the touched spans rebuilt from their own events and linked), or, when
 *   their shape needs it, rebuilt by `buildSpanTree` from their span events;
 * - diagnostics: kept per span (`SpanUnit`); the units of the spans an append changed, and of
 *   the spans that read them, are replaced in the trace's totals (`DiagnosticsTotals`);
 * - critical path: walked again over the kept tree when the root's component changed;
 * - the race groups and findings are listed whole (the result is the whole analysis).
 * Traces with `db_query` events, with clocks to infer
 * (OpenTelemetry spans), over the event budget, or whose race-detector limits cannot be
 * ordered per resource are analysed in full at each `result()`, exactly as before.
 *
 * @example
 * const state = new IncrementalTraceAnalysis(options);
 * state.append(await storage.getTraceEvents(traceId));
 * state.result(); // equals analyzeTrace(events, options)
 * state.append(newEvents);
 * state.result(); // costs what the new events touch
 */
export class IncrementalTraceAnalysis {
  private readonly events: Event[] = [];
  /**
   * How many of `events` the analysis covers: all of them, or over the event budget the
   * earliest `maxEvents` (as `analyzeTrace` cuts), the others all later than `latest`.
   */
  private analysed = 0;
  private latest: Event | null = null;
  private newest: Event | null = null;
  private traceId: string | null = null;
  /** Why this trace is analysed in full (sticky); null while incremental applies. */
  private fullReason: string | null = null;
  private readonly races: ResourceRaces;
  private readonly spans: SpanComponents;
  private readonly totals: DiagnosticsTotals;
  private readonly services = new Set<string>();
  private truncatedClockEvents = 0;
  /** The trace's root span, as of the last refresh of the components. */
  private root: { span: Span; component: SpanComponent } | null = null;
  /** The critical path, and the tree it was computed from (root, its component's version). */
  private path: {
    root: Span;
    component: SpanComponent;
    version: number;
    path: CriticalPath | null;
  } | null = null;
  private readonly maxEvents: number;

  constructor(private readonly options: AnalysisOptions = {}) {
    this.races = new ResourceRaces(options);
    this.spans = new SpanComponents(() => this.traceId ?? '', toleranceUs(options));
    this.totals = new DiagnosticsTotals(() => this.traceId ?? '', toleranceUs(options));
    this.maxEvents = budgetOf(options).maxEvents;
  }

  /** Events appended so far (of the trace of the first one). */
  get eventCount(): number {
    return this.events.length;
  }

  /** The latest event appended (by time, then id), null before any. */
  get lastEvent(): Event | null {
    return this.newest;
  }

  /** Whether appends are folded in (false: every result is a full analysis, and why). */
  get mode(): { incremental: true } | { incremental: false; reason: string } {
    return this.fullReason === null
      ? { incremental: true }
      : { incremental: false, reason: this.fullReason };
  }

  /** Folds in events stored after those appended before (each event once, any order). */
  append(events: readonly Event[]): void {
    this.traceId ??= events[0]?.trace_id ?? null;
    const own = events.filter((e) => e.trace_id === this.traceId);
    for (const event of own) {
      this.events.push(event);
      if (this.newest === null || byTimeThenId(event, this.newest) > 0) this.newest = event;
    }
    if (this.fullReason !== null) return;
    // Over the event budget, the analysis covers the earliest events: later ones leave it as
    // it is (a trickle into a trace past the budget costs nothing), an earlier one changes
    // which events it covers.
    let outside = this.events.length - own.length - this.analysed;
    const folded: Event[] = [];
    for (const event of own.length > 1 ? [...own].sort(byTimeThenId) : own) {
      if (outside === 0 && this.analysed + folded.length < this.maxEvents) {
        folded.push(event);
        if (this.latest === null || byTimeThenId(event, this.latest) > 0) this.latest = event;
      } else if (this.latest !== null && byTimeThenId(event, this.latest) > 0) {
        outside++;
      } else {
        this.fullReason = 'over the event budget, with events before the cut';
        return;
      }
    }
    for (const event of folded) {
      if (isStructuralEvent(event)) this.fullReason = 'clocks inferred from span structure';
      else if (event.kind === 'db_query') this.fullReason = 'SQL transactions span resources';
      this.services.add(event.service);
      if (event.clock_dropped !== undefined) this.truncatedClockEvents++;
    }
    this.analysed += folded.length;
    if (this.fullReason !== null) return;
    this.races.add(folded);
    this.spans.add(folded);
  }

  /** The analysis of every event appended so far: what `analyzeTrace` gives for them. */
  result(): TraceAnalysis {
    if (this.fullReason !== null) return this.full();
    this.races.refresh();
    const limits = this.races.limits();
    if (limits === null) return this.full();
    const changes = this.spans.refresh();
    const root = this.traceRoot(changes);
    this.totals.update(changes, root);
    return {
      traceId: this.traceId ?? '',
      races: this.races.groups(),
      criticalPath: this.criticalPath(root),
      diagnostics: this.diagnostics(limits),
    };
  }

  /** What `analyzeTrace` says when the trace has more events than one analysis takes. */
  private cutLimit(): TraceDiagnostics['analysisLimits'] {
    const all = this.events.length;
    if (all === this.analysed) return [];
    return [
      {
        kind: 'events_cut',
        events: all,
        explanation: `the trace has ${all} events; one analysis takes ${this.maxEvents}: the latest ${all - this.analysed} were left out`,
      },
    ];
  }

  private full(): TraceAnalysis {
    return analyzeTrace([...this.events].sort(byTimeThenId), this.options);
  }

  /**
   * The earliest root span of all components (the longest on a tie), as `buildSpanTree` picks.
   * Components not changed since the last call are as they were: the previous root stands
   * against the changed ones, unless its own component changed (then all are compared).
   */
  private traceRoot({
    retired,
    added,
    updated,
  }: SpanChanges): { span: Span; component: SpanComponent } | null {
    const rescan =
      this.root !== null &&
      (retired.includes(this.root.component) || updated.includes(this.root.component));
    let best = rescan ? null : this.root;
    for (const component of rescan ? this.spans.all() : [...added, ...updated]) {
      const span = component.roots[0];
      if (span === undefined) continue;
      if (
        best === null ||
        (span.startUs - best.span.startUs ||
          best.span.endUs - span.endUs ||
          compareIds(span.spanId, best.span.spanId)) < 0
      )
        best = { span, component };
    }
    this.root = best;
    return best;
  }

  /**
   * Recomputed when the root changed or its component changed at all (an append that touches
   * only other components keeps it). The walk over the kept tree costs what the path and the
   * children of its spans cost, not a rebuild of the tree; which changes a walk can skip is
   * subtler than it looks (a span off the path can become the longest child), so none is
   * skipped inside the root's component.
   */
  private criticalPath(root: { span: Span; component: SpanComponent } | null): CriticalPath | null {
    if (root === null) return null;
    const { span, component } = root;
    const kept = this.path;
    if (
      kept === null ||
      kept.root !== span ||
      kept.component !== component ||
      kept.version !== component.version
    ) {
      const path = computeCriticalPath([], { spans: [], roots: component.roots, root: span });
      this.path = { root: span, component, version: component.version, path };
      return path;
    }
    return kept.path;
  }

  private diagnostics(limits: TraceDiagnostics['analysisLimits']): TraceDiagnostics {
    const totals = this.totals;
    return {
      brokenChains: totals.brokenChains(),
      analysisLimits: [...this.cutLimit(), ...limits],
      clockSkew: totals.clockSkew(),
      errors: totals.errorList(),
      summary: {
        traces: 1,
        events: this.analysed,
        spans: totals.spans,
        services: [...this.services].sort(),
        truncatedClockEvents: this.truncatedClockEvents,
        slowestServices: totals.slowestServices(),
      },
    };
  }
}
