import { type CriticalPath, computeCriticalPath } from './critical-path.js';
import { type TraceDiagnostics, traceDiagnostics } from './diagnostics.js';
import type { Event } from './event.js';
import { inferStructuralOrder } from './inferred-order.js';
import type { AnalysisOptions } from './options.js';
import { budgetOf } from './options.js';
import type { RaceGroup } from './race-groups.js';
import { buildSpanTree } from './spans.js';
import { sqlAccesses } from './sql/sql-accesses.js';
import { detectTraceRaceGroups } from './trace-races.js';

/** Everything the collector stores about one trace. */
export interface TraceAnalysis {
  traceId: string;
  /** Race groups (DESIGN 9): one per resource, kind and pair of sides. */
  races: RaceGroup[];
  /** Null when the trace has no span yet (only state events, say). */
  criticalPath: CriticalPath | null;
  diagnostics: TraceDiagnostics;
}

/**
 * Analyses one trace: its races (vector clocks), its critical path and its diagnostics. The
 * trace is the one of the first event; events of other traces are left out. Pure and
 * deterministic: the same events in any order give the same result.
 *
 * @example
 * const analysis = analyzeTrace(await storage.traceEvents(traceId));
 * analysis.races.map((r) => r.explanation);
 * analysis.criticalPath?.biggestContributor; // 'inventory'
 * analysis.diagnostics.brokenChains.length; // 0 for a healthy trace
 */
export function analyzeTrace(
  events: readonly Event[],
  options: AnalysisOptions = {},
): TraceAnalysis {
  const traceId = events[0]?.trace_id ?? '';
  const all = events.every((e) => e.trace_id === traceId)
    ? events
    : events.filter((e) => e.trace_id === traceId);
  // The memory budget: a trace with more events is analysed on its earliest ones.
  const { maxEvents } = budgetOf(options);
  // Events that came without clocks (OTLP spans) get clocks inferred from the structure.
  const own = inferStructuralOrder(all.length > maxEvents ? earliest(all, maxEvents) : all);
  const tree = buildSpanTree(own);
  const races = detectTraceRaceGroups(own, options);
  const diagnostics = traceDiagnostics(own, tree, options);
  if (own.length < all.length) {
    diagnostics.analysisLimits.push({
      kind: 'events_cut',
      events: all.length,
      explanation: `the trace has ${all.length} events; one analysis takes ${maxEvents}: the latest ${all.length - own.length} were left out`,
    });
  }
  diagnostics.analysisLimits.push(...races.limits);
  if (own.some((e) => e.kind === 'db_query')) {
    const sql = sqlAccesses(own, options.sql);
    diagnostics.summary.sqlStatements = {
      total: sql.statements,
      unkeyed: sql.unkeyedCount,
      unkeyedByReason: sql.unkeyed as Record<string, number>,
    };
  }
  return {
    traceId,
    races: races.groups,
    criticalPath: computeCriticalPath(own, tree),
    diagnostics,
  };
}

function earliest(events: readonly Event[], count: number): Event[] {
  return [...events]
    .sort((a, b) => a.ts_us - b.ts_us || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, count);
}
