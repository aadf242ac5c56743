import { compareIds } from '../accesses.js';
import type { AnalysisLimit } from '../budget.js';
import { getOrCreate } from '../collections.js';
import { type Event, lockOf, resourceOf } from '../event.js';
import type { AnalysisOptions } from '../options.js';
import { type RaceGroup, raceGroupOrder } from '../race-groups.js';
import { detectTraceRaceGroups } from '../trace-races.js';

/** Order of events as the collector hands a trace to the analysis: time, then id. */
export function byTimeThenId(a: Event, b: Event): number {
  return a.ts_us - b.ts_us || compareIds(a.id, b.id);
}

/**
 * The intra-trace races of a trace that grows, kept per resource. Race groups are per
 * resource (kind, resource, sides), and what decides the races of one resource is: its
 * accesses, the lock events of the contexts that made them (locks held at each access) and
 * the `request_received` events of the spans they ran in (the sides' routes). So appended
 * events re-run the detector only on the resources they touch: those they access, those whose
 * contexts they lock in, those whose spans they name a route for. Each such re-run is
 * `detectTraceRaceGroups` over that resource's events only: the vector-clock comparisons are
 * among the accesses that can race with the new ones, never the whole trace.
 *
 * Not for traces with `db_query` events (a transaction's locks span resources) or clocks to
 * infer (structural order is a whole-trace computation): the caller analyses those in full.
 */
export class ResourceRaces {
  private readonly accesses = new Map<string, Event[]>();
  private readonly locksByContext = new Map<string, Event[]>();
  private readonly resourcesByContext = new Map<string, Set<string>>();
  private readonly resourcesBySpan = new Map<string, Set<string>>();
  private readonly requestsBySpan = new Map<string, Event[]>();
  /** The detectors' cuts, of the resources whose last re-run had any. */
  private readonly limited = new Map<string, AnalysisLimit[]>();
  private readonly dirty = new Set<string>();
  /** Every resource's groups in list order, kept across refreshes. */
  private sorted: RaceGroup[] = [];

  constructor(private readonly options: AnalysisOptions) {}

  /** Files appended events; the resources they affect are re-analysed by {@link refresh}. */
  add(events: readonly Event[]): void {
    const lockedContexts = new Set<string>();
    const routedSpans = new Set<string>();
    for (const event of events) {
      const resource = resourceOf(event);
      if (resource !== null) {
        getOrCreate(this.accesses, resource, () => []).push(event);
        getOrCreate(this.resourcesByContext, event.component, () => new Set()).add(resource);
        getOrCreate(this.resourcesBySpan, event.span_id, () => new Set()).add(resource);
        this.dirty.add(resource);
      } else if (lockOf(event) !== null) {
        getOrCreate(this.locksByContext, event.component, () => []).push(event);
        lockedContexts.add(event.component);
      } else if (event.kind === 'request_received') {
        getOrCreate(this.requestsBySpan, event.span_id, () => []).push(event);
        routedSpans.add(event.span_id);
      }
    }
    for (const ctx of lockedContexts)
      for (const r of this.resourcesByContext.get(ctx) ?? []) this.dirty.add(r);
    for (const span of routedSpans)
      for (const r of this.resourcesBySpan.get(span) ?? []) this.dirty.add(r);
  }

  /**
   * Re-runs the detector on the resources appended events affected, and merges their new
   * groups into the sorted list (one pass over it, no sort of the whole).
   */
  refresh(): void {
    if (this.dirty.size === 0) return;
    const fresh: RaceGroup[] = [];
    for (const resource of this.dirty) {
      const own = this.accesses.get(resource)!;
      const related = [...own];
      const contexts = new Set<string>();
      const spans = new Set<string>();
      for (const access of own) {
        contexts.add(access.component);
        spans.add(access.span_id);
      }
      for (const ctx of contexts) related.push(...(this.locksByContext.get(ctx) ?? []));
      for (const span of spans) related.push(...(this.requestsBySpan.get(span) ?? []));
      // In the trace's own order: a span's route is its last `request_received`'s.
      related.sort(byTimeThenId);
      const result = detectTraceRaceGroups(related, this.options);
      if (result.limits.length > 0) this.limited.set(resource, result.limits);
      else this.limited.delete(resource);
      for (const group of result.groups) fresh.push(group);
    }
    const kept = this.sorted.filter((group) => !this.dirty.has(group.resource));
    this.dirty.clear();
    fresh.sort(raceGroupOrder);
    const merged: RaceGroup[] = [];
    let i = 0;
    let j = 0;
    while (i < kept.length || j < fresh.length) {
      if (j === fresh.length || (i < kept.length && raceGroupOrder(kept[i]!, fresh[j]!) <= 0))
        merged.push(kept[i++]!);
      else merged.push(fresh[j++]!);
    }
    this.sorted = merged;
  }

  /** Every race group, in the order `detectTraceRaceGroups` lists a whole trace's. */
  groups(): RaceGroup[] {
    return [...this.sorted];
  }

  /**
   * What the detectors cut, as a whole-trace analysis lists it; null when that list's order
   * cannot be told from per-resource results (several resources on the bounded detector are
   * listed in the order of their first access, or the time budget ran out).
   */
  limits(): AnalysisLimit[] | null {
    const out: AnalysisLimit[] = [];
    for (const limits of this.limited.values()) {
      for (const limit of limits) {
        if (limit.kind !== 'bounded_detector') return null;
        out.push(limit);
      }
    }
    return out.length > 1 ? null : out;
  }
}
