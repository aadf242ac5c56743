/**
 * Raceway's analysis: pure functions over events (no I/O). See README.md in this folder for
 * the semantics decided here (race definitions, skew tolerance, critical path rules).
 */
export { analyzeTrace, type TraceAnalysis } from './analyze-trace.js';
export { type AnalysisLimit, Budget } from './budget.js';
export {
  type CriticalPath,
  type CriticalPathSection,
  type CriticalPathSegment,
  computeCriticalPath,
  type ServiceContribution,
} from './critical-path.js';
export { detectCrossTraceRaces } from './cross-trace-races.js';
export {
  buildDependencyGraph,
  type DependencyEdge,
  type DependencyGraph,
  type DependencyNode,
  type LatencySummary,
} from './dependency-graph.js';
export {
  type BrokenChain,
  type BrokenChainKind,
  type ClockSkew,
  type DiagnosticsSummary,
  type ErrorPropagation,
  mergeDiagnostics,
  type ServiceTime,
  type SqlStatementsSummary,
  type TraceDiagnostics,
  traceDiagnostics,
} from './diagnostics.js';
export type { Event, EventError, EventKind } from './event.js';
export { IncrementalTraceAnalysis } from './incremental/incremental-analysis.js';
export { LatencySketch, LatencySketchError, type LatencySketchJSON } from './latency-sketch.js';
export {
  type AnalysisBudget,
  type AnalysisOptions,
  DEFAULT_BUDGET,
  DEFAULT_SKEW_TOLERANCE_MS,
} from './options.js';
export type { Race, RaceAccess, RaceEvidence, RaceKind } from './race.js';
export {
  crossTraceGroupId,
  mergeRaceGroups,
  type RaceGroup,
  RaceGroups,
  type RaceSide,
  raceAsGroup,
  raceGroupOrder,
  spanRoutes,
} from './race-groups.js';
export { type ServiceMetrics, serviceMetrics } from './service-metrics.js';
export { buildSpanTree, type Span, type SpanKind, type SpanTree } from './spans.js';
export {
  DEFAULT_ISOLATION,
  rawValuesByDigest,
  resourceLabel,
  resourceLabeller,
  type SqlAnalysisOptions,
  sqlResourcesOf,
} from './sql/sql-accesses.js';
export {
  type Isolation,
  type SqlSystem,
  type StatementAnalysis,
  statementAccesses,
} from './sql/statement-accesses.js';
export {
  detectRacesBruteForce,
  detectTraceRaceGroups,
  detectTraceRaces,
  type TraceRaceGroups,
} from './trace-races.js';
