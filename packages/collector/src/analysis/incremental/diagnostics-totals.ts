import { compareIds } from '../accesses.js';
import type { BrokenChain } from '../broken-chains.js';
import { type ClockSkew, mergeSkewPairs, reportSkew, type SkewPair } from '../clock-skew.js';
import type { ErrorPropagation } from '../error-propagation.js';
import { type ServiceTime, sortServiceTimes } from '../service-times.js';
import type { Span } from '../spans.js';
import type { SpanComponent, SpanComponents } from './span-components.js';

/** A finding filed under the component it came from, at its span's place in the walk. */
interface Filed<T> {
  startUs: number;
  spanId: string;
  owner: SpanComponent;
  item: T;
}

/** Integer microseconds: sums of them are exact, whatever the order they are added in. */
interface ServiceTotal {
  spans: number;
  totalUs: number;
  selfUs: number;
  /** Longest span per component: how many components have each. */
  maxes: Map<number, number>;
  maxUs: number;
}

const bySpanPlace = (a: Filed<unknown>, b: Filed<unknown>) =>
  a.startUs - b.startUs || compareIds(a.spanId, b.spanId);

/**
 * The trace-wide diagnostics of a `SpanComponents`, kept up to date as components are rebuilt:
 * the findings of replaced components are taken out and those of their replacements merged
 * in (by span place, as one walk over all spans lists them), service times and span counts
 * are sums updated by difference, clock skew is re-merged only for the instance pairs the
 * changed components sampled. An append costs what its components hold plus a pass over the
 * findings, not over every component.
 */
export class DiagnosticsTotals {
  private chains: Filed<BrokenChain>[] = [];
  private errors: Filed<ErrorPropagation>[] = [];
  private root: { span: Span; component: SpanComponent } | null = null;
  private spanCount = 0;
  private readonly times = new Map<string, ServiceTotal>();
  private readonly skewBy = new Map<string, Set<SpanComponent>>();
  private readonly skew = new Map<string, SkewPair>();

  constructor(
    private readonly components: SpanComponents,
    private readonly toleranceUs: number,
  ) {}

  /** Takes out `retired` components, adds `added` ones, for the trace's current root. */
  update(
    retired: readonly SpanComponent[],
    added: readonly SpanComponent[],
    root: { span: Span; component: SpanComponent } | null,
  ): void {
    const gone = new Set(retired);
    this.chains = merge(
      this.chains.filter((f) => !gone.has(f.owner)),
      added.flatMap((c) => filed(c, c.brokenChains, (chain) => chain.spanId)),
    );
    // Whether an error reached the root depends on which span that is: a moved root changes
    // the errors of the component it left and of the one it went to.
    const recheck = new Set(added);
    if (root?.span !== this.root?.span) {
      if (this.root && !gone.has(this.root.component)) recheck.add(this.root.component);
      if (root) recheck.add(root.component);
    }
    this.root = root;
    this.errors = merge(
      this.errors.filter((f) => !gone.has(f.owner) && !recheck.has(f.owner)),
      [...recheck].flatMap((c) =>
        filed(c, this.components.errorsOf(c, root?.span ?? null), (e) => e.origin.spanId),
      ),
    );
    const changedPairs = new Set<string>();
    for (const c of retired) this.count(c, -1, changedPairs);
    for (const c of added) this.count(c, 1, changedPairs);
    for (const key of changedPairs) {
      const owners = this.skewBy.get(key);
      if (owners === undefined || owners.size === 0) {
        this.skewBy.delete(key);
        this.skew.delete(key);
        continue;
      }
      const [merged] = mergeSkewPairs([...owners].map((c) => c.skew.filter((p) => p.key === key)));
      this.skew.set(key, merged!);
    }
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
    return reportSkew(mergeSkewPairs([...this.skew.values()].map((p) => [p])), this.toleranceUs);
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

  /** Adds (sign 1) or takes out (sign -1) a component's span count, times and skew samples. */
  private count(c: SpanComponent, sign: 1 | -1, changedPairs: Set<string>): void {
    this.spanCount += sign * c.spans.length;
    for (const t of c.times) {
      let total = this.times.get(t.service);
      if (total === undefined) {
        total = { spans: 0, totalUs: 0, selfUs: 0, maxes: new Map(), maxUs: 0 };
        this.times.set(t.service, total);
      }
      // A component's times are rounded to the µs, so these are its exact integer sums.
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
    for (const pair of c.skew) {
      let owners = this.skewBy.get(pair.key);
      if (owners === undefined) {
        owners = new Set();
        this.skewBy.set(pair.key, owners);
      }
      if (sign === 1) owners.add(c);
      else owners.delete(c);
      changedPairs.add(pair.key);
    }
  }
}

function filed<T>(owner: SpanComponent, items: readonly T[], spanOf: (item: T) => string) {
  return items.map(
    (item): Filed<T> => ({
      startUs: owner.startOf.get(spanOf(item))!,
      spanId: spanOf(item),
      owner,
      item,
    }),
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
