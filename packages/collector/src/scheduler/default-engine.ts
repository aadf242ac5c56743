import {
  analyzeTrace,
  detectCrossTraceRaces,
  IncrementalTraceAnalysis,
  raceAsGroup,
  resourceLabeller,
  spanRoutes,
} from '../analysis/index.js';
import type { AnalysisEngine } from './engine.js';

/** The collector's own analysis module (src/analysis) behind the scheduler's interface. */
export const defaultEngine: AnalysisEngine = {
  analyzeTrace: (events, options) => analyzeTrace(events, options),
  traceState: (options) => new IncrementalTraceAnalysis(options),
  // Each cross-trace lost update names its two requests; the scheduler files those of the same
  // sides under one group (race-record.ts).
  detectCrossTraceRaces: (accesses, options) => {
    const labelOf = resourceLabeller(accesses);
    // The accesses come with the request_received events of their spans (access-windows.ts).
    const routes = spanRoutes(accesses);
    return detectCrossTraceRaces(accesses, options).map((race) =>
      raceAsGroup(race, labelOf, routes),
    );
  },
};
