import { setImmediate as nextTurn } from 'node:timers/promises';
import { resourceOf, type StoredEvent } from '../event.js';
import type { RaceRecord, Storage } from '../storage/types.js';
import type { AnalysisEngine } from './engine.js';
import { countFindings, raceRecord } from './race-record.js';

export interface SchedulerOptions {
  storage: Storage;
  engine: AnalysisEngine;
  /** A trace (or resource) is analysed once it has been quiet for this long. */
  delayMs: number;
  /** How often the scheduler looks for quiet traces. */
  intervalMs?: number;
  /** How far around new accesses the cross-trace pass looks, on each side. */
  crossTraceWindowMs?: number;
  /** Most accesses of one resource the cross-trace pass reads at once. */
  maxAccessesPerResource?: number;
  skewToleranceMs?: number;
  /** Where failures of one analysis are reported (they never stop the scheduler). */
  onError?: (error: unknown, what: string) => void;
}

/** `GET /api/analysis/status`: what the scheduler still has to do. */
export interface AnalysisStatus {
  /** Traces with events not analysed yet. */
  pending_traces: number;
  /** Resources with state accesses not yet checked for cross-trace races. */
  pending_resources: number;
  running: boolean;
  traces_analyzed: number;
  cross_trace_passes: number;
  failures: number;
  last_run_at: string | null;
  delay_ms: number;
}

interface Dirty {
  lastSeenMs: number;
  generation: number;
}

interface DirtyResource extends Dirty {
  minTsUs: number;
  maxTsUs: number;
}

/**
 * Runs analysis off the request path. Ingestion marks traces (and the resources their state
 * events touch) dirty; once a trace has been quiet for `delayMs`, it is read back, analysed,
 * and its races, critical path and diagnostics are stored. The cross-trace pass checks each
 * dirty resource against a window of its recent accesses (an indexed range read), never the
 * whole store.
 *
 * One pass runs at a time; events that arrive during a pass mark their trace dirty again (a
 * new generation), so the trace is analysed once more with everything it has.
 *
 * @example
 * const scheduler = new AnalysisScheduler({ storage, engine, delayMs: 1000 });
 * await scheduler.start();
 * scheduler.onStored(events);
 * await scheduler.runNow(); // everything stored so far is analysed
 */
export class AnalysisScheduler {
  private readonly dirtyTraces = new Map<string, Dirty>();
  private readonly dirtyResources = new Map<string, DirtyResource>();
  private generation = 0;
  private current: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private tracesAnalyzed = 0;
  private crossTracePasses = 0;
  private failures = 0;
  private lastRunAt: number | null = null;
  private readonly crossTraceWindowUs: number;

  constructor(private readonly options: SchedulerOptions) {
    this.crossTraceWindowUs = (options.crossTraceWindowMs ?? 30_000) * 1000;
  }

  /** Picks up traces left unanalysed by a previous run, then starts the periodic pass. */
  async start(): Promise<void> {
    for (const { traceId } of await this.options.storage.pendingTraces(10_000)) {
      if (!this.dirtyTraces.has(traceId)) {
        this.dirtyTraces.set(traceId, { lastSeenMs: 0, generation: ++this.generation });
      }
    }
    const interval = this.options.intervalMs ?? Math.min(Math.max(this.options.delayMs / 2, 50), 1000);
    this.timer = setInterval(() => this.tick(), interval);
    this.timer.unref();
  }

  /** Stops the periodic pass and waits for the one in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.current;
  }

  /** Marks the traces and resources of newly stored events dirty. Cheap: called on ingest. */
  onStored(events: StoredEvent[]): void {
    const now = Date.now();
    for (const event of events) {
      const traceDirty = this.dirtyTraces.get(event.trace_id);
      if (traceDirty) {
        traceDirty.lastSeenMs = now;
        traceDirty.generation = ++this.generation;
      } else {
        this.dirtyTraces.set(event.trace_id, { lastSeenMs: now, generation: ++this.generation });
      }
      const resource = resourceOf(event);
      if (resource === null) continue;
      const r = this.dirtyResources.get(resource);
      if (r) {
        r.lastSeenMs = now;
        r.generation = ++this.generation;
        r.minTsUs = Math.min(r.minTsUs, event.ts_us);
        r.maxTsUs = Math.max(r.maxTsUs, event.ts_us);
      } else {
        this.dirtyResources.set(resource, {
          lastSeenMs: now,
          generation: ++this.generation,
          minTsUs: event.ts_us,
          maxTsUs: event.ts_us,
        });
      }
    }
  }

  status(): AnalysisStatus {
    return {
      pending_traces: this.dirtyTraces.size,
      pending_resources: this.dirtyResources.size,
      running: this.current !== null,
      traces_analyzed: this.tracesAnalyzed,
      cross_trace_passes: this.crossTracePasses,
      failures: this.failures,
      last_run_at: this.lastRunAt === null ? null : new Date(this.lastRunAt).toISOString(),
      delay_ms: this.options.delayMs,
    };
  }

  /**
   * Analyses everything stored so far now, without waiting for traces to be quiet, and
   * resolves when it is done (events stored after the call may or may not be included).
   */
  async runNow(): Promise<AnalysisStatus> {
    while (this.current) await this.current;
    await this.run(true);
    return this.status();
  }

  private tick(): void {
    if (this.current || this.stopped) return;
    if (this.dirtyTraces.size === 0 && this.dirtyResources.size === 0) return;
    void this.run(false);
  }

  private run(force: boolean): Promise<void> {
    const pass = this.pass(force).finally(() => {
      if (this.current === pass) this.current = null;
    });
    this.current = pass;
    return pass;
  }

  private async pass(force: boolean): Promise<void> {
    const quietBefore = force ? Number.POSITIVE_INFINITY : Date.now() - this.options.delayMs;
    const traces = [...this.dirtyTraces].filter(([, d]) => d.lastSeenMs <= quietBefore);
    for (const [traceId, dirty] of traces) {
      if (this.stopped) return;
      await this.analyzeTrace(traceId, dirty.generation);
      // Analysis is synchronous CPU work: let ingestion and queries in between traces.
      await nextTurn();
    }
    const resources = [...this.dirtyResources].filter(([, d]) => d.lastSeenMs <= quietBefore);
    for (const [resource, dirty] of resources) {
      if (this.stopped) return;
      await this.crossTracePass(resource, dirty);
      await nextTurn();
    }
    this.lastRunAt = Date.now();
  }

  private async analyzeTrace(traceId: string, generation: number): Promise<void> {
    const { storage, engine } = this.options;
    try {
      const summary = await storage.getTrace(traceId);
      if (summary) {
        const events = await storage.getTraceEvents(traceId);
        const result = engine.analyzeTrace(events, { skewToleranceMs: this.options.skewToleranceMs });
        const races = result.races
          .map((race) => raceRecord(race, 'trace', traceId))
          .filter((r): r is RaceRecord => r !== null);
        await storage.saveTraceAnalysis(
          {
            traceId,
            version: summary.version,
            analyzedAtMs: Date.now(),
            races: result.races,
            criticalPath: result.criticalPath ?? null,
            diagnostics: result.diagnostics ?? null,
            diagnosticCount: countFindings(result.diagnostics),
          },
          races,
        );
        this.tracesAnalyzed++;
      }
    } catch (error) {
      this.failures++;
      this.options.onError?.(error, `analysis of trace ${traceId}`);
    }
    // A failed trace is not retried in a loop; its next event makes it dirty again.
    if (this.dirtyTraces.get(traceId)?.generation === generation) this.dirtyTraces.delete(traceId);
  }

  private async crossTracePass(resource: string, dirty: DirtyResource): Promise<void> {
    const { storage, engine } = this.options;
    const generation = dirty.generation;
    try {
      const accesses = await storage.getStateAccesses(
        resource,
        dirty.minTsUs - this.crossTraceWindowUs,
        dirty.maxTsUs + this.crossTraceWindowUs,
        this.options.maxAccessesPerResource ?? 20_000,
      );
      accesses.reverse();
      const races = engine
        .detectCrossTraceRaces(accesses, { skewToleranceMs: this.options.skewToleranceMs })
        .map((race) => raceRecord(race, 'cross'))
        .filter((r): r is RaceRecord => r !== null && r.traceB !== null);
      await storage.saveCrossTraceRaces(races);
      this.crossTracePasses++;
    } catch (error) {
      this.failures++;
      this.options.onError?.(error, `cross-trace race pass over resource ${resource}`);
    }
    const now = this.dirtyResources.get(resource);
    if (now?.generation === generation) this.dirtyResources.delete(resource);
  }
}
