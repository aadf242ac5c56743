import { getOrCreate } from '../analysis/collections.js';
import type { DependencyGraph } from '../analysis/dependency-graph.js';
import type { ServiceMetrics } from '../analysis/service-metrics.js';
import type { Timeline } from './schemas/timeline.js';
import { isoMicros } from './span-tree.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** Bucket lengths offered, shortest first: each divides the next day boundary (UTC). */
const STEPS_MS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE_MS);

/**
 * The buckets of a timeline over [fromMs, toMs]: the shortest step giving at most `maxBuckets`
 * buckets, at least an hour when the range reaches back past `minutesSinceMs` (the stored
 * aggregates keep hours only there: a shorter bucket would count an hour in each of its
 * parts), starts aligned on multiples of the step.
 */
export function timelineBuckets(
  fromMs: number,
  toMs: number,
  maxBuckets: number,
  minutesSinceMs: number,
): { stepMs: number; starts: number[] } {
  const floorMs = fromMs < minutesSinceMs ? HOUR_MS : MINUTE_MS;
  const stepMs =
    STEPS_MS.find(
      (step) =>
        step >= floorMs && Math.floor(toMs / step) - Math.floor(fromMs / step) + 1 <= maxBuckets,
    ) ?? STEPS_MS[STEPS_MS.length - 1]!;
  const first = Math.floor(fromMs / stepMs) * stepMs;
  const starts: number[] = [];
  for (let start = first; start <= toMs; start += stepMs) starts.push(start);
  return { stepMs, starts };
}

type Series = Omit<Timeline['services'][number], 'service'>;

const emptySeries = (n: number): Series => ({
  requests: new Array(n).fill(0),
  errors: new Array(n).fill(0),
  p50_ms: new Array(n).fill(null),
  p99_ms: new Array(n).fill(null),
});

/**
 * The series of a timeline from the metrics of each bucket (`slices[i]` is bucket i's), every
 * service and edge seen in any bucket with a value (0 or null) in every bucket.
 */
export function timelineSeries(
  slices: ReadonlyArray<{ services: ServiceMetrics[]; graph: DependencyGraph }>,
): Pick<Timeline, 'services' | 'edges'> {
  const n = slices.length;
  const services = new Map<string, Series>();
  const edges = new Map<string, { from: string; to: string } & Series>();
  slices.forEach(({ services: metrics, graph }, i) => {
    for (const m of metrics) {
      const series = getOrCreate(services, m.service, () => emptySeries(n));
      series.requests[i] = m.requests;
      series.errors[i] = m.errors;
      series.p50_ms[i] = m.latencyMs.p50;
      series.p99_ms[i] = m.latencyMs.p99;
    }
    for (const e of graph.edges) {
      const key = `${e.from}\u0000${e.to}`;
      const series = getOrCreate(edges, key, () => ({ from: e.from, to: e.to, ...emptySeries(n) }));
      series.requests[i] = e.calls;
      series.errors[i] = e.errors;
      series.p50_ms[i] = e.latencyMs.p50;
      series.p99_ms[i] = e.latencyMs.p99;
    }
  });
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return {
    services: [...services]
      .sort(([a], [b]) => byName(a, b))
      .map(([service, series]) => ({ service, ...series })),
    edges: [...edges.values()].sort((a, b) => byName(a.from, b.from) || byName(a.to, b.to)),
  };
}

export const isoOfMs = (ms: number) => isoMicros(ms * 1000);
