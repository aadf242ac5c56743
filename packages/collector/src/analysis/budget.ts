/**
 * A time budget for one analysis (DESIGN 9): the detectors ask it now and then whether to go
 * on, and say what they cut when it ran out.
 *
 * @example
 * const budget = new Budget(1000);
 * while (work.length > 0 && !budget.exhausted()) step(work.pop());
 */
export class Budget {
  private readonly deadline: number;
  private spent = false;

  constructor(
    readonly timeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.deadline = now() + timeMs;
  }

  /** Whether the time is up (and stays up once it was). */
  exhausted(): boolean {
    if (!this.spent && this.now() > this.deadline) this.spent = true;
    return this.spent;
  }
}

/** Something an analysis cut or simplified to stay within its budget (a diagnostic). */
export interface AnalysisLimit {
  /**
   * `bounded_detector`: a resource with many concurrent contexts got the bounded race detector
   * (groups complete, counts are racing accesses); `time_budget`: race detection stopped at the
   * time budget, the resources listed were not (fully) checked; `events_cut`: the trace had more
   * events than one analysis takes, the latest were left out; `analysis_failed`: the analysis
   * threw (recorded, so the trace is not tried again at every start).
   */
  kind: 'bounded_detector' | 'time_budget' | 'events_cut' | 'analysis_failed';
  resources?: string[];
  contexts?: number;
  accesses?: number;
  events?: number;
  explanation: string;
}
