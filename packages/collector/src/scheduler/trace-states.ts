import type { TraceAnalysisState } from './engine.js';

/**
 * The analysis states of recently analysed traces, so that the next events of a trace are
 * folded into its analysis instead of the trace being read back and analysed whole. Bounded
 * by the events the states hold (least recently analysed evicted first); an evicted state is
 * rebuilt from storage at the trace's next analysis, as is one that missed events (stored by
 * another collector, or deleted by retention: see `AnalysisScheduler`).
 */
export class TraceStates {
  /** In Map order: least recently used first. */
  private readonly states = new Map<string, TraceAnalysisState>();
  private held = 0;

  constructor(private readonly maxEvents: number) {}

  /** The state of a trace, now the most recently used; undefined when none is kept. */
  take(traceId: string): TraceAnalysisState | undefined {
    const state = this.states.get(traceId);
    if (state === undefined) return undefined;
    this.states.delete(traceId);
    this.held -= state.eventCount;
    return state;
  }

  /** Keeps a state (after its analysis), evicting the least recently used beyond the budget. */
  put(traceId: string, state: TraceAnalysisState): void {
    this.take(traceId);
    if (state.eventCount > this.maxEvents) return;
    this.states.set(traceId, state);
    this.held += state.eventCount;
    for (const [id, old] of this.states) {
      if (this.held <= this.maxEvents) break;
      this.states.delete(id);
      this.held -= old.eventCount;
    }
  }

  /** Whether a state of the trace is kept. */
  has(traceId: string): boolean {
    return this.states.has(traceId);
  }

  get size(): number {
    return this.states.size;
  }

  /** Events the kept states hold. */
  get events(): number {
    return this.held;
  }
}
