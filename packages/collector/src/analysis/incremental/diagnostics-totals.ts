import { compareIds } from '../accesses.js';
import type { BrokenChain } from '../broken-chains.js';
import { type ClockSkew, mergeSkewPairs, reportSkew } from '../clock-skew.js';
import type { ErrorPropagation } from '../error-propagation.js';
import { type ServiceTime, sortServiceTimes } from '../service-times.js';
import type { Span } from '../spans.js';
import { SkewTotals } from './skew-totals.js';
import type { SpanChanges, SpanComponent } from './span-components.js';
import { type SpanUnit, unitErrors } from './span-units.js';

/** A finding filed under the unit it came from, at its span's place in the walk. */
interface Filed<T> {
  startUs: number;
  spanId: string;
  owner: SpanUnit;
  item: T;
}

/** Integer microseconds: sums of them are exact, whatever the order they are added in. */
interface ServiceTotal {
  spans: number;
  totalUs: number;
  selfUs: number;
  /** Longest span per unit: how many units have each. */
  maxes: Map<number, number>;
  maxUs: number;
}

const bySpanPlace = (a: Filed<unknown>, b: Filed<unknown>) =>
  a.startUs - b.startUs || compareIds(a.spanId, b.spanId);

/**
 * The trace-wide diagnostics of a `SpanComponents`, kept up to date as its units (what the
 * diagnostics find at one span) are replaced: the findings of replaced units are taken out
 * and those of their replacements merged in (by span place, as one walk over all spans lists
 * them), service times and span counts are sums updated by difference, clock skew is kept
 * merged per instance pair (see `SkewTotals`). An append costs what its units hold plus a
 * pass over the findings, not over every span.
 */
export class DiagnosticsTotals {
  private chains: Filed<BrokenChain>[] = [];
  private errors: Filed<ErrorPropagation>[] = [];
  private root: { span: Span; component: SpanComponent } | null = null;
  private spanCount = 0;
  private readonly times = new Map<string, ServiceTotal>();
  private readonly skew = new SkewTotals();

  constructor(
    private readonly traceId: () => string,
    private readonly toleranceUs: number,
  ) {}

  /** Takes out the units a refresh replaced, adds their replacements, for the trace's root. */
  update(changes: SpanChanges, root: { span: Span; component: SpanComponent } | null): void {
    const { retiredUnits: retired, addedUnits: added } = changes;
    const gone = new Set(retired);
    this.chains = merge(
      this.chains.filter((f) => !gone.has(f.owner)),
      added.flatMap((u) => filed(u, u.brokenChains)),
    );
    // Whether an error reached the root depends on which span that is: a moved root changes
    // the errors of the component it left and of the one it went to.
    const recheck = new Set(added.filter((u) => u.origin));
    if (root?.span !== this.root?.span) {
      for (const component of [this.root?.component, root?.component]) {
        if (component === undefined) continue;
        for (const unit of component.units.values())
          if (unit.origin && !gone.has(unit)) recheck.add(unit);
      }
    }
    this.root = root;
    const traceId = this.traceId();
    this.errors = merge(
      this.errors.filter((f) => !gone.has(f.owner) && !recheck.has(f.owner)),
      [...recheck].flatMap((u) => filed(u, unitErrors(u, root?.span ?? null, traceId))),
    );
    for (const u of retired) this.count(u, -1);
    for (const u of added) this.count(u, 1);
    this.skew.update(retired, added);
  }

  get spans(): number {
    return this.spanCount;
  }

  brokenChains(): BrokenChain[] {
    return this.chains.map((f) => f.item);
  }

  errorList(): ErrorPropagation[] {
    return this.errors.map((f) => f.item);
  }

  clockSkew(): ClockSkew[] {
    return reportSkew(mergeSkewPairs(this.skew.pairs().map((p) => [p])), this.toleranceUs);
  }

  slowestServices(): ServiceTime[] {
    return sortServiceTimes(
      [...this.times].map(([service, t]) => ({
        service,
        spans: t.spans,
        totalMs: t.totalUs / 1000,
        selfMs: t.selfUs / 1000,
        maxMs: t.maxUs / 1000,
      })),
    );
  }

  /** Adds (sign 1) or takes out (sign -1) a unit's span and times. */
  private count(unit: SpanUnit, sign: 1 | -1): void {
    this.spanCount += sign;
    for (const t of unit.times) {
      let total = this.times.get(t.service);
      if (total === undefined) {
        total = { spans: 0, totalUs: 0, selfUs: 0, maxes: new Map(), maxUs: 0 };
        this.times.set(t.service, total);
      }
      // A unit's times are rounded to the µs, so these are its exact integer sums.
      total.spans += sign * t.spans;
      total.totalUs += sign * Math.round(t.totalMs * 1000);
      total.selfUs += sign * Math.round(t.selfMs * 1000);
      const maxUs = Math.round(t.maxMs * 1000);
      const n = (total.maxes.get(maxUs) ?? 0) + sign;
      if (n === 0) total.maxes.delete(maxUs);
      else total.maxes.set(maxUs, n);
      if (sign === 1 && maxUs > total.maxUs) total.maxUs = maxUs;
      if (sign === -1 && n === 0 && maxUs === total.maxUs) {
        total.maxUs = 0;
        for (const m of total.maxes.keys()) if (m > total.maxUs) total.maxUs = m;
      }
      if (total.spans === 0) this.times.delete(t.service);
    }
  }
}

/** Every finding of a unit is about its span. */
function filed<T>(owner: SpanUnit, items: readonly T[]) {
  return items.map(
    (item): Filed<T> => ({ startUs: owner.startUs, spanId: owner.spanId, owner, item }),
  );
}

/** Two lists merged in span place order; a stable sort keeps one span's findings in order. */
function merge<T>(kept: Filed<T>[], fresh: Filed<T>[]): Filed<T>[] {
  if (fresh.length === 0) return kept;
  fresh.sort(bySpanPlace);
  const out: Filed<T>[] = [];
  let i = 0;
  let j = 0;
  while (i < kept.length || j < fresh.length) {
    if (j === fresh.length || (i < kept.length && bySpanPlace(kept[i]!, fresh[j]!) <= 0))
      out.push(kept[i++]!);
    else out.push(fresh[j++]!);
  }
  return out;
}
