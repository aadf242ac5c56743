import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { RaceGroup } from '../analysis/index.js';
import type { AnalysisBudget } from '../analysis/options.js';
import type { SqlAnalysisOptions } from '../analysis/sql/sql-accesses.js';
import type { StoredEvent } from '../event.js';
import type { AnalysisItem, RaceRecord, Storage } from '../storage/types.js';
import {
  type AccessRange,
  type AccessWindows,
  accessResourcesOf,
  MemoryAccessWindows,
  StorageAccessWindows,
} from './access-windows.js';
import type { AnalysisEngine, TraceAnalysisResult, TraceAnalysisState } from './engine.js';
import { LeaseHeartbeat } from './lease-heartbeat.js';
import { countFindings, failedAnalysis, raceRecord } from './race-record.js';
import { SavedAnalyses, type SavedAnalysis } from './saved-analyses.js';
import { TraceStates } from './trace-states.js';

/**
 * Told of races once they are saved (the OTLP export sends them). Called synchronously on the
 * analysis path: it must be cheap and must not throw (a throw is reported, never rethrown).
 */
export interface RaceListener {
  /**
   * A trace's analysis, saved, covers every event stored for it so far (none arrived while it
   * ran): `races` are all the trace's races. Told at the end of the pass, after the cross-trace
   * check of the pass (so the cross-trace races of its accesses, when due, are told before).
   */
  traceAnalyzed(traceId: string, races: readonly RaceGroup[]): void;
  /** Cross-trace races a pass found and saved (each with its two traces). */
  crossTraceRacesFound(races: readonly RaceGroup[]): void;
}

export interface SchedulerOptions {
  storage: Storage;
  /**
   * Who holds this scheduler's analysis leases in a shared database (unique per process;
   * default a random id).
   */
  collectorId?: string;
  /**
   * How long a lease on a trace lasts (default 5 s). It is renewed while the analysis runs
   * (see LeaseHeartbeat), so an analysis may take longer; a collector that dies holds its
   * traces at most that long, then another takes them over.
   */
  leaseMs?: number;
  /**
   * How often storage is asked for traces left unanalysed by others (a collector that died,
   * one that stopped): default 3 s. Only traces unchanged for 3 x delayMs (at least 3 s) are
   * taken, so that a live collector's busy traces are left to it. With the defaults and an
   * analysis delay up to 1 s, a dead collector's traces are taken over within 10 s: found
   * within 3 s + 3 s, their leases run out within 5 s.
   */
  pendingScanMs?: number;
  engine: AnalysisEngine;
  /** A trace (or resource) is analysed once it has been quiet for this long. */
  delayMs: number;
  /** How often the scheduler looks for quiet traces. */
  intervalMs?: number;
  /**
   * How far around new accesses the cross-trace pass looks, on each side: the longest
   * read-modify-write window it can see (default 5 s).
   */
  crossTraceWindowMs?: number;
  /** A resource that never goes quiet is still checked this often (default 2 s). */
  crossTraceIntervalMs?: number;
  /**
   * Where recent accesses come from: `memory` (kept from ingestion; for a store one collector
   * owns) or `storage` (read back; for a database several collectors share). Default: memory
   * for SQLite, storage for PostgreSQL.
   */
  windows?: 'memory' | 'storage';
  /** Most events kept in memory for traces waiting to be analysed (default 50,000). */
  maxCachedEvents?: number;
  /**
   * `incremental` (default, when the engine keeps trace states): a trace's analysis is kept
   * after it is analysed, and the events stored since are folded into it, so a long-lived
   * trace receiving a few events costs what those events touch; `full`: every analysis reads
   * the trace back and analyses it whole.
   */
  analysisMode?: 'incremental' | 'full';
  /**
   * Most events the kept analyses of `incremental` mode hold, all traces together (default
   * 250,000); the least recently analysed are dropped beyond, and rebuilt from storage when
   * their trace changes again.
   */
  maxStateEvents?: number;
  /**
   * Traces with fewer events are analysed whole, no state kept (default 1000): analysing a
   * small trace is cheaper than keeping its state.
   */
  minStateEvents?: number;
  skewToleranceMs?: number;
  /** How `db_query` events become accesses: digest key, default isolation per system. */
  sql?: SqlAnalysisOptions;
  /** Time and memory budgets of the analysis of one trace. */
  budget?: AnalysisBudget;
  /** Where failures of one analysis are reported (they never stop the scheduler). */
  onError?: (error: unknown, what: string) => void;
  /** Told of the races saved. */
  raceListener?: RaceListener;
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

/** Traces (or resources) analysed together: read in one go, saved in one transaction. */
const CHUNK = 100;
/** Unanalysed traces of a previous run taken from storage at a time. */
const PENDING_BATCH = 10_000;
/**
 * Longest the analyses of a chunk hold the event loop at a stretch: once a slice is used up,
 * ingestion and queries get a turn before the next trace is analysed (so a request waits for
 * at most a slice plus one trace's analysis, not for a whole chunk).
 */
export const ANALYSIS_SLICE_MS = 10;
const DEFAULT_LEASE_MS = 5000;
const DEFAULT_PENDING_SCAN_MS = 3000;

interface Dirty {
  lastSeenMs: number;
  generation: number;
}

interface DirtyTrace extends Dirty {
  /**
   * The trace's events this collector stored since it became dirty, so that analysis need not
   * read them back; null once the cache budget ran out. Used only when it holds every event
   * the trace has (its count equals the summary's), otherwise the events are read back.
   */
  events: StoredEvent[] | null;
}

interface DirtyResource extends Dirty {
  minTsUs: number;
  maxTsUs: number;
  lastPassMs: number;
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
  private readonly dirtyTraces = new Map<string, DirtyTrace>();
  private readonly windows: AccessWindows;
  private cachedEvents = 0;
  private readonly dirtyResources = new Map<string, DirtyResource>();
  private generation = 0;
  private current: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private tracesAnalyzed = 0;
  private crossTracePasses = 0;
  private failures = 0;
  private lastRunAt: number | null = null;
  private morePending = false;
  private readonly crossTraceWindowUs: number;
  private readonly collectorId: string;
  private lastPendingScanMs = Date.now();
  /** Traces whose lease another collector held at the last try. */
  private readonly leasedElsewhere = new Set<string>();
  /** Kept analyses of recently analysed traces (`incremental` mode), else null. */
  private readonly states: TraceStates | null;
  /** What was saved of the traces whose state is kept: their next save is by what changed. */
  private readonly saved = new SavedAnalyses();

  constructor(private readonly options: SchedulerOptions) {
    this.crossTraceWindowUs = (options.crossTraceWindowMs ?? 5000) * 1000;
    this.collectorId = options.collectorId ?? randomUUID();
    this.states =
      options.analysisMode !== 'full' && options.engine.traceState
        ? new TraceStates(options.maxStateEvents ?? 250_000)
        : null;
    const mode = options.windows ?? (options.storage.kind === 'sqlite' ? 'memory' : 'storage');
    this.windows =
      mode === 'memory'
        ? // Enough history for the lookback of a pass that comes up to ~3 s after the accesses.
          new MemoryAccessWindows(
            this.crossTraceWindowUs + 3_000_000,
            undefined,
            undefined,
            undefined,
            options.sql,
          )
        : new StorageAccessWindows(options.storage);
  }

  /** Picks up traces left unanalysed by a previous run, then starts the periodic pass. */
  async start(): Promise<void> {
    await this.loadPending();
    const interval =
      this.options.intervalMs ?? Math.min(Math.max(this.options.delayMs / 2, 50), 1000);
    this.timer = setInterval(() => this.tick(), interval);
    this.timer.unref();
  }

  /**
   * Marks dirty the traces storage says are not analysed (left by a stopped collector), a
   * bounded number at a time; the rest are loaded once these are done.
   */
  private async loadPending(changedBeforeMs?: number): Promise<void> {
    const pending = await this.options.storage.pendingTraces(PENDING_BATCH, changedBeforeMs);
    this.morePending = pending.length === PENDING_BATCH;
    for (const { traceId } of pending) {
      if (!this.dirtyTraces.has(traceId)) {
        this.dirtyTraces.set(traceId, {
          lastSeenMs: 0,
          generation: ++this.generation,
          events: null,
        });
      }
    }
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
    const maxCached = this.options.maxCachedEvents ?? 50_000;
    this.windows.add(events);
    for (const event of events) {
      let traceDirty = this.dirtyTraces.get(event.trace_id);
      if (traceDirty) {
        traceDirty.lastSeenMs = now;
        traceDirty.generation = ++this.generation;
      } else {
        traceDirty = { lastSeenMs: now, generation: ++this.generation, events: [] };
        this.dirtyTraces.set(event.trace_id, traceDirty);
      }
      if (traceDirty.events && this.cachedEvents < maxCached) {
        traceDirty.events.push(event);
        this.cachedEvents++;
      } else if (traceDirty.events) {
        this.cachedEvents -= traceDirty.events.length;
        traceDirty.events = null;
      }
      for (const resource of accessResourcesOf(event, this.options.sql)) {
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
            lastPassMs: now,
          });
        }
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
    // Storage knows every trace whose stored version is ahead of its analysis: those this
    // collector saw, those a previous run left, and (PostgreSQL) those other collectors stored.
    await this.loadPending();
    await this.run(true);
    // More than one pass takes, or events that arrived meanwhile (bounded: ingestion never
    // stops, so neither would an unbounded loop).
    for (let i = 0; i < 100 && !this.stopped; i++) {
      if (this.dirtyTraces.size > 0 && this.leasedElsewhere.size === this.dirtyTraces.size) {
        // Only traces another collector is analysing are left: give it time to finish.
        await sleep(100);
      }
      if (this.dirtyTraces.size === 0 && !this.morePending) {
        await this.loadPending();
        if (this.dirtyTraces.size === 0) break;
      }
      await this.run(true);
    }
    return this.status();
  }

  private tick(): void {
    if (this.current || this.stopped) return;
    const scanDue =
      Date.now() - this.lastPendingScanMs >=
      (this.options.pendingScanMs ?? DEFAULT_PENDING_SCAN_MS);
    if (scanDue) {
      // Work another collector left: traces stored, not analysed, and quiet for long enough
      // that their collector would have analysed them had it been alive.
      this.lastPendingScanMs = Date.now();
      const staleMs = Math.max(3 * this.options.delayMs, 3000);
      this.current = this.loadPending(Date.now() - staleMs)
        .catch((error) => this.options.onError?.(error, 'loading unanalysed traces'))
        .finally(() => {
          this.current = null;
        });
      return;
    }
    if (this.dirtyTraces.size === 0 && this.dirtyResources.size === 0 && !this.morePending) return;
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
    /** Traces analysed whole, with their races: told once the cross-trace pass below is done. */
    const analyzed: Array<[string, RaceGroup[]]> = [];
    // Chunks: one read of the summaries (and of the events not kept in memory) and one write
    // of the results per chunk; ingestion and queries get the event loop between chunks.
    for (let i = 0; i < traces.length && !this.stopped; i += CHUNK) {
      await this.analyzeChunk(traces.slice(i, i + CHUNK), analyzed);
      await nextTurn();
    }
    // A resource is checked once quiet, and at least every crossTraceIntervalMs while busy.
    const dueBefore = force
      ? Number.POSITIVE_INFINITY
      : Date.now() - (this.options.crossTraceIntervalMs ?? 2000);
    const resources = [...this.dirtyResources].filter(
      ([, d]) => d.lastSeenMs <= quietBefore || d.lastPassMs <= dueBefore,
    );
    for (let i = 0; i < resources.length && !this.stopped; i += CHUNK) {
      await this.crossTraceChunk(resources.slice(i, i + CHUNK));
      await nextTurn();
    }
    // After the cross-trace races of the same accesses (a quiet trace's resources are checked
    // in this pass): a listener that waits for a trace's analysis then has both.
    for (const [traceId, races] of analyzed) {
      this.tell((listener) => listener.traceAnalyzed(traceId, races));
    }
    if (this.morePending && this.dirtyTraces.size === 0 && !this.stopped) {
      // Reported, not thrown: nobody awaits a periodic pass, and an unhandled rejection would
      // end the process while the database is away. The next pass tries again.
      await this.loadPending().catch((error) =>
        this.options.onError?.(error, 'loading unanalysed traces'),
      );
    }
    this.lastRunAt = Date.now();
  }

  /**
   * Analyses a chunk of traces; those analysed whole (no event arrived meanwhile) and saved go
   * in `analyzed`, with their races.
   */
  private async analyzeChunk(
    chunk: Array<[string, DirtyTrace]>,
    analyzed: Array<[string, RaceGroup[]]>,
  ): Promise<void> {
    const { storage } = this.options;
    const items: AnalysisItem[] = [];
    // The dirty entries are updated in place by onStored: their generations are read now, so
    // that events stored while this chunk is analysed keep their trace dirty.
    const generations = chunk.map(([traceId, dirty]) => [traceId, dirty.generation] as const);
    const failed = new Set<string>();
    /** Per trace, how many of its in-memory events this analysis took. */
    const folded = new Map<string, number>();
    let claimed: string[] = [];
    let heartbeat: LeaseHeartbeat | null = null;
    const refused = new Set<string>();
    /** The races of each trace whose analysis was saved. */
    const saved = new Map<string, RaceGroup[]>();
    /** What each item saves, for the next save of its trace to be by what changed. */
    const snapshots = new Map<string, SavedAnalysis>();
    try {
      // A trace is analysed by one collector at a time: the one that holds its lease, renewed
      // until the results are saved.
      const leaseMs = this.options.leaseMs ?? DEFAULT_LEASE_MS;
      const claimedAtMs = Date.now();
      claimed = await storage.claimTraces(
        chunk.map(([traceId]) => traceId),
        this.collectorId,
        leaseMs,
      );
      heartbeat = new LeaseHeartbeat(
        storage,
        this.collectorId,
        leaseMs,
        claimed,
        claimedAtMs,
        (error) => this.options.onError?.(error, 'renewing analysis leases'),
      );
      const granted = new Set(claimed);
      for (const [traceId] of chunk) if (!granted.has(traceId)) refused.add(traceId);
      // Read after the lease is held: a trace another collector analysed (and released)
      // meanwhile shows its analysed version, and is not analysed again.
      const summaries = (await storage.getTraces(claimed)).filter(
        (summary) => summary.analyzedVersion < summary.version,
      );
      const byId = new Map(summaries.map((s) => [s.traceId, s]));
      // A kept analysis takes the events stored since, when this collector saw them all (the
      // counts add up: none came through another collector, none was deleted). Else events
      // kept in memory are used when they are all the trace has; others are read back.
      const states = new Map<string, { state: TraceAnalysisState; since: StoredEvent[] }>();
      const cached = new Map<string, StoredEvent[]>();
      const missing: string[] = [];
      /** Traces with a kept state that missed events: those after its latest are read. */
      const behind: Array<[string, TraceAnalysisState, number]> = [];
      for (const [traceId, dirty] of chunk) {
        const summary = byId.get(traceId);
        if (!summary) continue;
        const state = this.states?.take(traceId);
        if (
          state &&
          dirty.events &&
          state.eventCount + dirty.events.length === summary.eventCount
        ) {
          states.set(traceId, { state, since: dirty.events.slice() });
          folded.set(traceId, dirty.events.length);
        } else if (state?.lastEvent) {
          // This collector's events up to now are stored: the read below returns them.
          behind.push([traceId, state, dirty.events?.length ?? 0]);
        } else if (dirty.events && dirty.events.length === summary.eventCount) {
          cached.set(traceId, dirty.events.slice().sort(byTimeThenId));
          folded.set(traceId, dirty.events.length);
        } else {
          missing.push(traceId);
        }
      }
      for (const [traceId, state, local] of behind) {
        // Events another collector stored come after the state's latest in a trickle: read
        // those only. Otherwise (an earlier event, or one deleted) the trace is read whole.
        const last = state.lastEvent!;
        const since = await storage.getTraceEventsAfter(traceId, { tsUs: last.ts_us, id: last.id });
        if (state.eventCount + since.length === byId.get(traceId)!.eventCount) {
          states.set(traceId, { state, since });
          folded.set(traceId, local);
        } else {
          missing.push(traceId);
        }
      }
      const read =
        missing.length > 0
          ? await storage.getEventsOfTraces(missing)
          : new Map<string, StoredEvent[]>();
      const options = {
        skewToleranceMs: this.options.skewToleranceMs,
        budget: this.options.budget,
        ...(this.options.sql ? { sql: this.options.sql } : {}),
      };
      let sliceStartMs = performance.now();
      for (const summary of summaries) {
        const kept = states.get(summary.traceId);
        const events = cached.get(summary.traceId) ?? read.get(summary.traceId);
        if (!kept && !events) continue;
        if (performance.now() - sliceStartMs >= ANALYSIS_SLICE_MS) {
          await nextTurn();
          sliceStartMs = performance.now();
        }
        // Analysis holds the event loop: the leases are renewed between traces. A trace whose
        // lease was lost is another collector's now.
        await heartbeat.renewIfDue();
        if (!heartbeat.holds(summary.traceId)) {
          refused.add(summary.traceId);
          continue;
        }
        try {
          const result = this.analyze(summary.traceId, kept, events ?? [], options);
          const record = {
            traceId: summary.traceId,
            version: summary.version,
            analyzedAtMs: Date.now(),
            races: result.races,
            criticalPath: result.criticalPath ?? null,
            diagnostics: result.diagnostics ?? null,
            diagnosticCount: countFindings(result.diagnostics),
          };
          const races = result.races.map((race): RaceRecord => {
            const { lastTsUs: _, ...row } = raceRecord(race, 'trace', summary.traceId);
            return row;
          });
          // An analysis that folded events into a kept state is saved by what it changed; one
          // of the whole trace is saved whole.
          if (!kept) this.saved.forget(summary.traceId);
          if (this.states?.has(summary.traceId)) {
            const { item, saved: snapshot } = this.saved.item(record, races);
            items.push(item);
            snapshots.set(summary.traceId, snapshot);
          } else {
            items.push({ record, races });
          }
        } catch (error) {
          this.saved.forget(summary.traceId);
          this.failures++;
          failed.add(summary.traceId);
          this.options.onError?.(error, `analysis of trace ${summary.traceId}`);
          // Recorded as analysed (with the failure as its diagnostic), so that a trace the
          // analysis cannot handle is not tried again at every start.
          items.push({
            record: {
              traceId: summary.traceId,
              version: summary.version,
              analyzedAtMs: Date.now(),
              races: [],
              criticalPath: null,
              diagnostics: failedAnalysis(error),
              diagnosticCount: 1,
            },
            races: [],
          });
        }
      }
      // Saved only while the leases are surely held: a trace whose lease was lost (this
      // process stalled past it) is another collector's now, and is not saved twice.
      await heartbeat.renewIfDue();
      const held = items.filter((item) => heartbeat!.holds(item.record.traceId));
      for (const { record } of items) {
        if (heartbeat.holds(record.traceId)) continue;
        refused.add(record.traceId);
        this.states?.take(record.traceId);
      }
      for (const [traceId] of chunk) this.saved.forget(traceId);
      await storage.saveTraceAnalyses(held);
      for (const item of held) {
        saved.set(item.record.traceId, item.record.races);
        const snapshot = snapshots.get(item.record.traceId);
        if (snapshot) this.saved.remember(item.record.traceId, snapshot);
      }
      this.tracesAnalyzed += held.filter((item) => !failed.has(item.record.traceId)).length;
    } catch (error) {
      // What was saved of these traces is not known for sure: their next saves are whole.
      for (const [traceId] of chunk) this.saved.forget(traceId);
      this.failures += chunk.length;
      this.options.onError?.(error, `analysis of ${chunk.length} traces`);
    }
    // What was saved of traces whose state is no longer kept is of no use.
    if (this.states !== null) this.saved.retain((traceId) => this.states!.has(traceId));
    // Stopped before the release: a renewal in flight cannot extend a lease given back.
    await heartbeat?.stop();
    await storage
      .releaseTraces(claimed, this.collectorId)
      .catch((error) => this.options.onError?.(error, 'releasing analysis leases'));
    for (const [traceId] of chunk) {
      if (refused.has(traceId)) this.leasedElsewhere.add(traceId);
      else this.leasedElsewhere.delete(traceId);
    }
    // A failed trace is not retried in a loop; its next event makes it dirty again.
    for (const [traceId, generation] of generations) {
      const dirty = this.dirtyTraces.get(traceId);
      if (refused.has(traceId) && dirty) {
        // Tried again once quiet: by then the other collector has analysed it (and it is
        // dropped then), or died (and its lease expires).
        dirty.lastSeenMs = Date.now();
        continue;
      }
      if (dirty?.generation === generation) {
        this.dirtyTraces.delete(traceId);
        this.cachedEvents -= dirty.events?.length ?? 0;
        const races = saved.get(traceId);
        if (races) analyzed.push([traceId, races]);
      } else if (this.states !== null && dirty?.events && folded.has(traceId)) {
        // Events stored meanwhile keep the trace dirty; those analysed are in its kept state.
        const taken = folded.get(traceId)!;
        dirty.events.splice(0, taken);
        this.cachedEvents -= taken;
      }
    }
  }

  /**
   * One trace's analysis: its kept state with the events stored since folded in, or (no state
   * kept, or `full` mode) all its events. The state is kept for the next analysis; one that
   * threw is dropped.
   */
  private analyze(
    traceId: string,
    kept: { state: TraceAnalysisState; since: StoredEvent[] } | undefined,
    events: StoredEvent[],
    options: Parameters<AnalysisEngine['analyzeTrace']>[1],
  ): TraceAnalysisResult {
    const { engine } = this.options;
    if (
      this.states === null ||
      !engine.traceState ||
      (!kept && events.length < (this.options.minStateEvents ?? 1000))
    )
      return engine.analyzeTrace(events, options);
    let state: TraceAnalysisState;
    if (kept) {
      state = kept.state;
      state.append(kept.since);
    } else {
      state = engine.traceState(options);
      state.append(events);
    }
    const result = state.result();
    this.states.put(traceId, state);
    return result;
  }

  private async crossTraceChunk(chunk: Array<[string, DirtyResource]>): Promise<void> {
    const ranges: AccessRange[] = [];
    const fresh = new Map<string, { fromUs: number; toUs: number }>();
    const generations = chunk.map(([resource, dirty]) => [resource, dirty.generation] as const);
    for (const [resource, dirty] of chunk) {
      ranges.push({
        resource,
        fromUs: dirty.minTsUs - this.crossTraceWindowUs,
        toUs: dirty.maxTsUs + this.crossTraceWindowUs,
      });
      fresh.set(resource, { fromUs: dirty.minTsUs, toUs: dirty.maxTsUs });
      // Accesses stored while this pass runs start a new range (and keep the resource dirty).
      dirty.minTsUs = Number.POSITIVE_INFINITY;
      dirty.maxTsUs = Number.NEGATIVE_INFINITY;
      dirty.lastPassMs = Date.now();
    }
    try {
      const windows = await this.windows.readMany(ranges);
      const races: RaceRecord[] = [];
      for (const [resource, accesses] of windows) {
        const { fromUs, toUs } = fresh.get(resource)!;
        try {
          for (const race of this.options.engine.detectCrossTraceRaces(accesses, {
            skewToleranceMs: this.options.skewToleranceMs,
            budget: this.options.budget,
            ...(this.options.sql ? { sql: this.options.sql } : {}),
          })) {
            // The statements passed along may touch other resources: their races are found
            // (once) by the pass over those.
            if (race.resource !== resource) continue;
            const r = raceRecord(race, 'cross');
            // Races among older accesses only were saved by an earlier pass.
            if (r.traceB !== null && r.tsUs <= toUs && r.lastTsUs >= fromUs) {
              const { lastTsUs: _, ...record } = r;
              races.push(record);
            }
          }
        } catch (error) {
          this.failures++;
          this.options.onError?.(error, `cross-trace race pass over resource ${resource}`);
        }
      }
      await this.options.storage.saveCrossTraceRaces(races);
      if (races.length > 0) {
        this.tell((listener) => listener.crossTraceRacesFound(races.map((r) => r.race)));
      }
      this.crossTracePasses += chunk.length;
    } catch (error) {
      this.failures += chunk.length;
      this.options.onError?.(error, `cross-trace race pass over ${chunk.length} resources`);
    }
    for (const [resource, generation] of generations) {
      if (this.dirtyResources.get(resource)?.generation === generation)
        this.dirtyResources.delete(resource);
    }
  }

  private tell(call: (listener: RaceListener) => void): void {
    const listener = this.options.raceListener;
    if (!listener) return;
    try {
      call(listener);
    } catch (error) {
      this.options.onError?.(error, 'telling of races');
    }
  }
}

function byTimeThenId(a: StoredEvent, b: StoredEvent): number {
  return a.ts_us - b.ts_us || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
