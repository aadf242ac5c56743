import type { SqlAnalysisOptions } from './sql/sql-accesses.js';

/**
 * How far apart (ms) two hosts' clocks may be before their timestamps are trusted to order
 * events. 5 ms: well above what NTP keeps hosts of one network within, so timestamps alone never
 * overrule ordinary drift, and small against the read-modify-write windows worth reporting.
 */
export const DEFAULT_SKEW_TOLERANCE_MS = 5;

/** Options of every analysis. */
export interface AnalysisOptions {
  /** See {@link DEFAULT_SKEW_TOLERANCE_MS}. */
  skewToleranceMs?: number;
  /** Time and memory budgets; see {@link AnalysisBudget}. */
  budget?: AnalysisBudget;
  /** How `db_query` events become accesses: digest key, default isolation per system. */
  sql?: SqlAnalysisOptions;
}

/** The skew tolerance of `options`, in microseconds. */
export function toleranceUs(options: AnalysisOptions): number {
  const ms = options.skewToleranceMs;
  return (typeof ms === 'number' && ms >= 0 ? ms : DEFAULT_SKEW_TOLERANCE_MS) * 1000;
}

/**
 * What one analysis may spend (DESIGN 9). Over budget, the analysis reports what it cut as a
 * diagnostic (`analysisLimits`) and moves on.
 */
export interface AnalysisBudget {
  /** Time race detection of one trace may take, in ms (default 1000). */
  timeMs?: number;
  /**
   * Most events one analysis takes: the memory budget (default 200,000, about 200 MB of
   * events). A trace with more is analysed on its earliest events.
   */
  maxEvents?: number;
  /**
   * A resource accessed by at most this many contexts (and at most `exactMaxAccesses` times)
   * gets the exact detector, which reports every mutually latest racing pair; above, the
   * bounded detector, which finds every racing site pair but counts racing accesses
   * (default 64 contexts, 20,000 accesses).
   */
  exactMaxContexts?: number;
  exactMaxAccesses?: number;
  /** Most cross-trace lost updates one pass over a resource's window reports (default 1000). */
  maxCrossTraceRaces?: number;
}

export const DEFAULT_BUDGET: Required<AnalysisBudget> = {
  timeMs: 1000,
  maxEvents: 200_000,
  exactMaxContexts: 64,
  exactMaxAccesses: 20_000,
  maxCrossTraceRaces: 1000,
};

/** The budget of `options`, defaults filled in. */
export function budgetOf(options: AnalysisOptions): Required<AnalysisBudget> {
  return { ...DEFAULT_BUDGET, ...stripUndefined(options.budget ?? {}) };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
