import { compareIds } from './accesses.js';
import { type BrokenChain, brokenChains } from './broken-chains.js';
import type { AnalysisLimit } from './budget.js';
import { type ClockSkew, clockSkew, skewEntry } from './clock-skew.js';
import { type ErrorPropagation, errorPropagation } from './error-propagation.js';
import type { Event } from './event.js';
import { type AnalysisOptions, toleranceUs } from './options.js';
import { type ServiceTime, serviceTimes, sortServiceTimes } from './service-times.js';
import type { SpanTree } from './spans.js';

export type { BrokenChain, BrokenChainKind } from './broken-chains.js';
export type { ClockSkew } from './clock-skew.js';
export type { ErrorPropagation } from './error-propagation.js';
export type { ServiceTime } from './service-times.js';

/** Counts and rankings that are not findings. */
export interface DiagnosticsSummary {
  traces: number;
  events: number;
  spans: number;
  services: string[];
  /** Events whose clock was truncated (`clock_dropped`). */
  truncatedClockEvents: number;
  /** By self time, slowest first. */
  slowestServices: ServiceTime[];
  /**
   * Present when the trace ran SQL (`db_query` events, DESIGN 11): statements seen, and those
   * that read or wrote rows the analysis could not key (ranges, joins, subqueries, unparseable
   * text), left out of race detection, by reason.
   */
  sqlStatements?: SqlStatementsSummary;
}

export interface SqlStatementsSummary {
  total: number;
  unkeyed: number;
  unkeyedByReason: Record<string, number>;
}

/**
 * What is wrong with a trace, beyond races. Every top-level array is a list of findings; a
 * healthy trace has them all empty. Mergeable across traces with {@link mergeDiagnostics}.
 */
export interface TraceDiagnostics {
  brokenChains: BrokenChain[];
  /** What the analysis cut or simplified to stay within its budget (DESIGN 9). */
  analysisLimits: AnalysisLimit[];
  clockSkew: ClockSkew[];
  errors: ErrorPropagation[];
  summary: DiagnosticsSummary;
}

/**
 * The diagnostics of one trace (DESIGN 4): broken chains (`brokenChains`), clock skew between
 * instances (`clockSkew`, NTP's estimate), where errors started and how far they travelled
 * (`errorPropagation`), and the slowest services (`serviceTimes`).
 *
 * @example
 * const diagnostics = traceDiagnostics(events, buildSpanTree(events));
 * diagnostics.brokenChains[0]?.explanation;
 * // 'order called payments:8080 (POST http://payments:8080/charge) but no service reported handling it ...'
 */
export function traceDiagnostics(
  events: readonly Event[],
  tree: SpanTree,
  options: AnalysisOptions = {},
): TraceDiagnostics {
  const tolerance = toleranceUs(options);
  const traceId = events[0]?.trace_id ?? '';
  const spans = [...tree.spans].sort(
    (a, b) => a.startUs - b.startUs || compareIds(a.spanId, b.spanId),
  );
  return {
    brokenChains: brokenChains(spans, traceId),
    analysisLimits: [],
    clockSkew: clockSkew(spans, tolerance),
    errors: errorPropagation(tree, spans, traceId),
    summary: {
      traces: 1,
      events: events.length,
      spans: spans.length,
      services: [...new Set(events.map((e) => e.service))].sort(),
      truncatedClockEvents: events.filter((e) => e.clock_dropped !== undefined).length,
      slowestServices: serviceTimes(spans),
    },
  };
}

/**
 * Merges the diagnostics of many traces into one overall view: equal findings are counted
 * once (with `count` summed, the first occurrence kept as the example), skew per instance pair
 * keeps the estimate with the smallest round trip, and service times are summed.
 *
 * @example
 * const overall = mergeDiagnostics(analyses.map((a) => a.diagnostics));
 * overall.brokenChains; // [{ kind: 'callee_missing', host: 'payments:8080', count: 12, ... }]
 */
export function mergeDiagnostics(list: readonly TraceDiagnostics[]): TraceDiagnostics {
  const broken = new Map<string, BrokenChain>();
  const errors = new Map<string, ErrorPropagation>();
  const skew = new Map<string, ClockSkew>();
  const times = new Map<string, ServiceTime>();
  const services = new Set<string>();
  const summary: DiagnosticsSummary = {
    traces: 0,
    events: 0,
    spans: 0,
    services: [],
    truncatedClockEvents: 0,
    slowestServices: [],
  };
  for (const d of list) {
    for (const b of d.brokenChains) {
      const key = [b.kind, b.service, b.host ?? '', (b.reasons ?? []).join(',')].join('\u0000');
      const known = broken.get(key);
      if (known) known.count += b.count;
      else broken.set(key, { ...b, ...(b.reasons ? { reasons: [...b.reasons] } : {}) });
    }
    for (const e of d.errors) {
      const key = [
        ...e.path,
        e.handledBy ?? '',
        e.origin.status ?? '',
        e.origin.error?.type ?? '',
      ].join('\u0000');
      const known = errors.get(key);
      if (known) known.count += e.count;
      else errors.set(key, { ...e, path: [...e.path], origin: { ...e.origin } });
    }
    for (const s of d.clockSkew) {
      const key = `${s.callerInstance}\u0000${s.calleeInstance}`;
      const known = skew.get(key);
      if (!known) {
        skew.set(key, { ...s });
        continue;
      }
      const best = s.roundTripMs < known.roundTripMs ? s : known;
      skew.set(
        key,
        skewEntry({
          callerService: known.callerService,
          callerInstance: known.callerInstance,
          calleeService: known.calleeService,
          calleeInstance: known.calleeInstance,
          offsetMs: best.offsetMs,
          roundTripMs: best.roundTripMs,
          samples: known.samples + s.samples,
          violations: known.violations + s.violations,
          maxViolationMs: Math.max(known.maxViolationMs, s.maxViolationMs),
        }),
      );
    }
    summary.traces += d.summary.traces;
    summary.events += d.summary.events;
    summary.spans += d.summary.spans;
    summary.truncatedClockEvents += d.summary.truncatedClockEvents;
    if (d.summary.sqlStatements) {
      summary.sqlStatements ??= { total: 0, unkeyed: 0, unkeyedByReason: {} };
      const sql = summary.sqlStatements;
      sql.total += d.summary.sqlStatements.total;
      sql.unkeyed += d.summary.sqlStatements.unkeyed;
      for (const [reason, n] of Object.entries(d.summary.sqlStatements.unkeyedByReason)) {
        sql.unkeyedByReason[reason] = (sql.unkeyedByReason[reason] ?? 0) + n;
      }
    }
    for (const s of d.summary.services) services.add(s);
    for (const t of d.summary.slowestServices) {
      const known = times.get(t.service);
      if (!known) times.set(t.service, { ...t });
      else {
        known.spans += t.spans;
        known.totalMs += t.totalMs;
        known.selfMs += t.selfMs;
        known.maxMs = Math.max(known.maxMs, t.maxMs);
      }
    }
  }
  summary.services = [...services].sort();
  summary.slowestServices = sortServiceTimes([...times.values()]);
  return {
    brokenChains: [...broken.values()].sort((a, b) => b.count - a.count),
    analysisLimits: list.flatMap((d) => d.analysisLimits ?? []),
    clockSkew: [...skew.values()].sort((a, b) => Math.abs(b.offsetMs) - Math.abs(a.offsetMs)),
    errors: [...errors.values()].sort((a, b) => b.count - a.count),
    summary,
  };
}
