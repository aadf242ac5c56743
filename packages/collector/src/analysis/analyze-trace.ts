import { type CriticalPath, computeCriticalPath } from './critical-path.js';
import { type TraceDiagnostics, traceDiagnostics } from './diagnostics.js';
import type { Event } from './event.js';
import type { AnalysisOptions } from './options.js';
import type { Race } from './race.js';
import { buildSpanTree } from './spans.js';
import { detectTraceRaces } from './trace-races.js';

/** Everything the collector stores about one trace. */
export interface TraceAnalysis {
  traceId: string;
  races: Race[];
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
  const own = events.every((e) => e.trace_id === traceId)
    ? events
    : events.filter((e) => e.trace_id === traceId);
  const tree = buildSpanTree(own);
  return {
    traceId,
    races: detectTraceRaces(own, options),
    criticalPath: computeCriticalPath(own, tree),
    diagnostics: traceDiagnostics(own, tree, options),
  };
}
