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
}

/** The skew tolerance of `options`, in microseconds. */
export function toleranceUs(options: AnalysisOptions): number {
  const ms = options.skewToleranceMs;
  return (typeof ms === 'number' && ms >= 0 ? ms : DEFAULT_SKEW_TOLERANCE_MS) * 1000;
}
