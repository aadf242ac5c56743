import {
  analyzeTrace,
  buildDependencyGraph,
  detectCrossTraceRaces,
  serviceMetrics,
} from '../analysis/index.js';
import type { AnalysisEngine } from './engine.js';

/** The collector's own analysis module (src/analysis) behind the scheduler's interface. */
export const defaultEngine: AnalysisEngine = {
  analyzeTrace: (events, options) => analyzeTrace(events, options),
  detectCrossTraceRaces: (accesses, options) => detectCrossTraceRaces(accesses, options),
  buildDependencyGraph: (events) => buildDependencyGraph(events),
  serviceMetrics: (events, options) => serviceMetrics(events, options),
};
