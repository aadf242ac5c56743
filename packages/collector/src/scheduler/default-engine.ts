import { analyzeTrace, detectCrossTraceRaces, raceAsGroup } from '../analysis/index.js';
import type { AnalysisEngine } from './engine.js';

/** The collector's own analysis module (src/analysis) behind the scheduler's interface. */
export const defaultEngine: AnalysisEngine = {
  analyzeTrace: (events, options) => analyzeTrace(events, options),
  // Each cross-trace lost update names its two requests: a group of its own.
  detectCrossTraceRaces: (accesses, options) =>
    detectCrossTraceRaces(accesses, options).map(raceAsGroup),
};
