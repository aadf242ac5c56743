import type { CriticalPath, RaceGroup, TraceDiagnostics } from '../analysis/index.js';
import type { EventKind, StoredEvent } from '../event.js';

/** What one ingested batch did to the store. */
export interface InsertResult {
  /** Events stored by this call. */
  accepted: number;
  /** Events whose id was already stored (a retried batch); not stored again. */
  duplicates: number;
  /** The events stored by this call, for the analysis scheduler (duplicates excluded). */
  inserted: StoredEvent[];
}

/** One row of the `traces` summary table, maintained on ingest. */
export interface TraceSummary {
  traceId: string;
  firstTsUs: number;
  lastTsUs: number;
  rootService: string | null;
  rootMethod: string | null;
  rootRoute: string | null;
  services: string[];
  spanCount: number;
  eventCount: number;
  errorCount: number;
  raceCount: number;
  /** Bumped by every ingest that added events to the trace. */
  version: number;
  /** The version the stored analysis was computed from (0: never analysed). */
  analyzedVersion: number;
}

/** A position in a listing ordered by (first timestamp, trace id), newest first. */
export interface TraceCursor {
  tsUs: number;
  traceId: string;
}

export interface TraceQuery {
  service?: string;
  /** Traces that started at or after this time (µs since the epoch). */
  fromUs?: number;
  /** Traces that started at or before this time (µs since the epoch). */
  toUs?: number;
  status?: 'error' | 'ok';
  hasRaces?: boolean;
  limit: number;
  after?: TraceCursor;
}

export interface TracePage {
  traces: TraceSummary[];
  /** Where the next page starts, or null when this page is the last. */
  next: TraceCursor | null;
}

/** The stored result of analysing one trace (JSON produced by the analysis module). */
export interface TraceAnalysisRecord {
  traceId: string;
  /** The trace's version the analysis saw; see {@link TraceSummary.version}. */
  version: number;
  analyzedAtMs: number;
  races: RaceGroup[];
  /** Null when the trace has no span. */
  criticalPath: CriticalPath | null;
  diagnostics: TraceDiagnostics | null;
  /** How many findings `diagnostics` holds, so listings can skip clean traces. */
  diagnosticCount: number;
}

/** A trace's analysis with its intra-trace races, as the scheduler saves them. */
export interface AnalysisItem {
  record: TraceAnalysisRecord;
  races: RaceRecord[];
}

/** One race, with the columns `/api/races` filters on and the race itself as JSON. */
export interface RaceRecord {
  /** Stable id derived from the events involved, so re-analysis replaces instead of adding. */
  id: string;
  scope: 'trace' | 'cross';
  /** The trace of an intra-trace race; the first trace of a cross-trace race. */
  traceA: string;
  /** The second trace of a cross-trace race; null for an intra-trace race. */
  traceB: string | null;
  resource: string;
  serviceA: string;
  serviceB: string;
  /** Timestamp of the earliest event involved. */
  tsUs: number;
  race: RaceGroup;
}

export interface RaceQuery {
  resource?: string;
  service?: string;
  scope?: 'trace' | 'cross';
  traceId?: string;
  fromUs?: number;
  toUs?: number;
  limit: number;
  /** Races strictly before this position (ordered by ts desc, id desc). */
  after?: { tsUs: number; id: string };
}

export interface DiagnosticsQuery {
  fromUs?: number;
  toUs?: number;
  limit: number;
  after?: TraceCursor;
}

export interface RetentionResult {
  events: number;
  traces: number;
  races: number;
}

export interface StorageStats {
  events: number;
  traces: number;
  races: number;
}

/**
 * The collector's storage. Two implementations (SQLite, PostgreSQL) pass the same suite
 * (test/storage.suite.ts). Every write is durable when its promise resolves.
 */
export interface Storage {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data is, for people (file path, or URL without password). */
  readonly location: string;

  /** Creates the schema if needed; safe to call from several processes at once. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  /**
   * What the component that writes is doing, when the backend has one of its own (SQLite's
   * writer thread): `restarting` after it died, until its replacement is up.
   */
  writerHealth?(): {
    state: 'ok' | 'restarting' | 'closed';
    restarts: number;
    lastFailure: string | null;
  };
  stats(): Promise<StorageStats>;

  /**
   * Stores events idempotently and updates the trace summaries, in one transaction. An event
   * is known by its trace id and event id (event ids are 128-bit random: unique in practice,
   * and a retried batch repeats both). Resolves only when the transaction is committed.
   */
  insertEvents(events: StoredEvent[]): Promise<InsertResult>;

  listTraces(query: TraceQuery): Promise<TracePage>;
  getTrace(traceId: string): Promise<TraceSummary | null>;
  /** The summaries of the given traces that exist (any order). */
  getTraces(traceIds: string[]): Promise<TraceSummary[]>;
  /** Every event of each given trace, ordered by timestamp then id; absent traces are left out. */
  getEventsOfTraces(traceIds: string[]): Promise<Map<string, StoredEvent[]>>;
  /** Every event of a trace, ordered by timestamp then id. */
  getTraceEvents(traceId: string): Promise<StoredEvent[]>;
  /**
   * One page of a trace's events, in event id order (the storage key: no sort, whatever the
   * trace's size): at most `limit` events with an id above `afterId`.
   */
  getTraceEventsPage(
    traceId: string,
    afterId: string | null,
    limit: number,
  ): Promise<StoredEvent[]>;
  /** Events of the given kinds in [fromUs, toUs], at most `limit`, newest first. */
  getEventsByKind(
    kinds: EventKind[],
    fromUs: number,
    toUs: number,
    limit: number,
  ): Promise<StoredEvent[]>;
  /** state_read/state_write events on one resource in [fromUs, toUs], at most `limit`, newest first. */
  getStateAccesses(
    resource: string,
    fromUs: number,
    toUs: number,
    limit: number,
  ): Promise<StoredEvent[]>;

  /**
   * {@link getStateAccesses} for several resources at once (one round trip): accesses by
   * resource, each list newest first and at most `limitPerResource` long.
   */
  getStateAccessesMany(
    ranges: Array<{ resource: string; fromUs: number; toUs: number }>,
    limitPerResource: number,
  ): Promise<Map<string, StoredEvent[]>>;
  /** lock_acquire/lock_release events of the given traces. */
  getLockEvents(traceIds: string[]): Promise<StoredEvent[]>;

  /** Traces whose events changed since their last analysis, oldest change first. */
  pendingTraces(limit: number): Promise<Array<{ traceId: string; version: number }>>;
  /**
   * Replaces the analyses of traces and their intra-trace races, and records the versions
   * analysed, in one transaction. Skips traces deleted meanwhile.
   */
  saveTraceAnalyses(items: AnalysisItem[]): Promise<void>;
  getTraceAnalysis(traceId: string): Promise<TraceAnalysisRecord | null>;
  /** Inserts or replaces cross-trace races by id. */
  saveCrossTraceRaces(races: RaceRecord[]): Promise<void>;
  listRaces(query: RaceQuery): Promise<RaceRecord[]>;
  /** Analyses with at least one diagnostic, newest trace first. */
  listDiagnostics(
    query: DiagnosticsQuery,
  ): Promise<Array<{ summary: TraceSummary; analysis: TraceAnalysisRecord }>>;

  /** Deletes events older than the cutoff, traces that ended before it, and their analyses. */
  deleteOlderThan(cutoffUs: number): Promise<RetentionResult>;
}
