import type { RaceGroup, TraceAnalysis } from '../analysis/index.js';
import type { AnalysisBudget } from '../analysis/options.js';
import type { SqlAnalysisOptions } from '../analysis/sql/sql-accesses.js';
import type { StoredEvent } from '../event.js';

/** Options every analysis takes. */
export interface AnalysisOptions {
  /** How far apart two clocks' timestamps may be before they count as skewed. */
  skewToleranceMs?: number;
  /** Time and memory budgets of one analysis. */
  budget?: AnalysisBudget;
  /** How `db_query` events become accesses: digest key, default isolation per system. */
  sql?: SqlAnalysisOptions;
}

/**
 * What analysing one trace gives: the analysis module's `TraceAnalysis`, stored as is and
 * answered by the query API as its schemas (src/api/schemas) declare it.
 */
export type TraceAnalysisResult = TraceAnalysis;

/**
 * The analysis functions the collector calls (implemented in src/analysis). The scheduler and
 * the query routes depend on this interface only, so tests can substitute an engine.
 */
export interface AnalysisEngine {
  analyzeTrace(events: StoredEvent[], options?: AnalysisOptions): TraceAnalysisResult;
  /**
   * A trace's analysis kept between analyses, into which appended events are folded (its
   * results equal `analyzeTrace` over every event appended). Optional: without it, every
   * analysis of a trace reads it back and analyses it whole.
   */
  traceState?(options?: AnalysisOptions): TraceAnalysisState;
  detectCrossTraceRaces(accesses: StoredEvent[], options?: AnalysisOptions): RaceGroup[];
}

/** See {@link AnalysisEngine.traceState}. */
export interface TraceAnalysisState {
  /** Events folded in so far. */
  readonly eventCount: number;
  /** The latest of them by time, then id (null before any). */
  readonly lastEvent: StoredEvent | null;
  /** Folds in events stored after those appended before. */
  append(events: StoredEvent[]): void;
  /**
   * The analysis of every event appended so far. A race group that appends did not change may
   * be listed as the same object as in the previous result; objects once returned are never
   * modified (the scheduler tells unchanged races by reference).
   */
  result(): TraceAnalysisResult;
}
