import { compareIds } from './accesses.js';
import { getOrCreate } from './collections.js';
import type { Span } from './spans.js';

/** Time one service spent in a trace. */
export interface ServiceTime {
  service: string;
  spans: number;
  /** Sum of its server spans' durations, in ms. */
  totalMs: number;
  /** The part of them not spent waiting for its own calls, in ms. */
  selfMs: number;
  /** Its longest server span, in ms. */
  maxMs: number;
}

/** Time per service in its server spans, and the part not spent waiting for its own calls. */
export function serviceTimes(spans: readonly Span[]): ServiceTime[] {
  const per = new Map<string, ServiceTime>();
  for (const span of spans) {
    if (span.kind !== 'server') continue;
    const total = span.endUs - span.startUs;
    const self = total - coveredUs(span);
    const entry = getOrCreate(per, span.service, () => ({
      service: span.service,
      spans: 0,
      totalMs: 0,
      selfMs: 0,
      maxMs: 0,
    }));
    entry.spans++;
    entry.totalMs += total / 1000;
    entry.selfMs += self / 1000;
    entry.maxMs = Math.max(entry.maxMs, total / 1000);
  }
  return sortServiceTimes([...per.values()]);
}

export function sortServiceTimes(list: ServiceTime[]): ServiceTime[] {
  for (const entry of list) {
    entry.totalMs = Math.round(entry.totalMs * 1000) / 1000;
    entry.selfMs = Math.round(entry.selfMs * 1000) / 1000;
    entry.maxMs = Math.round(entry.maxMs * 1000) / 1000;
  }
  return list.sort(
    (a, b) => b.selfMs - a.selfMs || b.totalMs - a.totalMs || compareIds(a.service, b.service),
  );
}

/** How much of a span its children cover (their union, clipped to the span). */
function coveredUs(span: Span): number {
  const intervals = span.children
    .map((c) => [Math.max(c.startUs, span.startUs), Math.min(c.endUs, span.endUs)] as const)
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const [s, e] of intervals) {
    if (e <= end) continue;
    covered += e - Math.max(s, end);
    end = e;
  }
  return covered;
}
