import type { AnalysisEngine } from './engine.js';

// TEMPORARY until src/analysis lands.
export const defaultEngine: AnalysisEngine = {
  analyzeTrace: (events) => ({ traceId: events[0]?.trace_id ?? '', races: [], criticalPath: null, diagnostics: {} }),
  detectCrossTraceRaces: () => [],
  buildDependencyGraph: () => ({ nodes: [], edges: [] }),
  serviceMetrics: () => [],
};
