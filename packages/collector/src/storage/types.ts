import type { CriticalPath, RaceGroup, TraceDiagnostics } from '../analysis/index.js';
import type { StoredEvent } from '../event.js';
import type { AnalysisPart } from './analysis-parts.js';

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
  /** Traces whose root route contains this text, ignoring the case of ASCII letters. */
  route?: string;
  /** Traces that lasted at least / at most this long (first to last event), in ms. */
  minDurationMs?: number;
  maxDurationMs?: number;
  /** Traces with an event carrying this attribute (see `attributesOf` in trace-delta.ts). */
  attribute?: { key: string; value: string };
  /** Traces whose id starts with these lower-case hex digits. */
  traceIdPrefix?: string;
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
  /** The rows of `record.races`: the record's races are read back from them. */
  races: RaceRecord[];
  /**
   * What changed since an analysis of the trace saved before, when the saver knows it: storage
   * then writes only these changes, provided the stored analysis is still that one (else, or
   * without changes, it saves the item whole).
   */
  changes?: AnalysisChanges;
}

/** An analysis as a change of the one saved before (see {@link AnalysisItem.changes}). */
export interface AnalysisChanges {
  /** The analysis these changes apply to, as stored: its version and when it was made. */
  base: { version: number; analyzedAtMs: number };
  /** Races added or changed since `base` (by id). */
  races: RaceRecord[];
  /** Races of `base` the analysis no longer has. */
  goneRaces: Array<{ resource: string; id: string }>;
  /** Parts of the record (analysis-parts.ts) added or changed since `base`. */
  parts: AnalysisPart[];
  /** Names of parts of `base` the record no longer has. */
  goneParts: string[];
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
  /**
   * The group the race belongs to: instances of one kind on one resource between the same two
   * sides (cross-trace races, stored per pair of requests) share it. Default: the race's id.
   */
  groupId?: string;
}

/** A group of races as `/api/races` lists it: its newest instances and how many it has. */
export interface RaceGroupRecord {
  groupId: string;
  /** Instances in the group that match the query. */
  size: number;
  /** Of those, the instances whose values show an update was lost (outcome `lost`). */
  lost: number;
  firstTsUs: number;
  lastTsUs: number;
  /** The newest instances (at most {@link INSTANCES_PER_GROUP}), newest first. */
  instances: RaceRecord[];
}

/** Instances of a race group read back with it. */
export const INSTANCES_PER_GROUP = 3;

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

/**
 * One row of a collector's aggregates (traffic buckets, SDKs seen), kept in storage so that
 * every collector sharing it answers from all of them. Rows are per collector: none is
 * written by two collectors.
 */
export interface AggregateRow {
  /** The aggregate: `traffic-minute`, `traffic-hour`, `sdks`. */
  name: string;
  /** Start of the bucket it covers (0 for an aggregate that is not time-bucketed). */
  startMs: number;
  /** End of what it covers; the retention job deletes the row once this is past. */
  untilMs: number;
  /** The aggregate as JSON text. */
  body: string;
}

/** Rows of one collector replaced by a save: its rows of `name` starting in [fromMs, toMs). */
export interface AggregateRange {
  name: string;
  fromMs: number;
  toMs: number;
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
  /**
   * How many traces match `query` (its limit and cursor ignored), counting at most `cap + 1`:
   * a count above `cap` means "more than cap", so a count never reads the whole table.
   */
  countTraces(query: TraceQuery, cap: number): Promise<number>;
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
  /**
   * A trace's events after a position (timestamp, then id), ordered by timestamp then id: the
   * events a kept analysis of the trace has not seen, when they all came later.
   */
  getTraceEventsAfter(traceId: string, after: { tsUs: number; id: string }): Promise<StoredEvent[]>;
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
  /**
   * The `request_received` events of the given traces: the routes of the server spans that
   * cross-trace races ran in.
   */
  getRequestEvents(traceIds: string[]): Promise<StoredEvent[]>;

  /**
   * Traces whose events changed since their last analysis, oldest change first; only those
   * last changed before `changedBeforeMs` when given.
   */
  pendingTraces(
    limit: number,
    changedBeforeMs?: number,
  ): Promise<Array<{ traceId: string; version: number }>>;
  /**
   * Replaces the analyses of traces and their intra-trace races, and records the versions
   * analysed, in one transaction. Skips traces deleted meanwhile. An item with `changes` whose
   * base is the stored analysis is saved by those changes only.
   */
  saveTraceAnalyses(items: AnalysisItem[]): Promise<void>;
  getTraceAnalysis(traceId: string): Promise<TraceAnalysisRecord | null>;
  /** Inserts or replaces cross-trace races by id. */
  saveCrossTraceRaces(races: RaceRecord[]): Promise<void>;
  listRaces(query: RaceQuery): Promise<RaceRecord[]>;
  /**
   * Race groups matching `query`, the group with the newest instance first, `limit` groups;
   * `after` is then the position (newest instance's ts, group id) of the previous page's last.
   */
  listRaceGroups(query: RaceQuery): Promise<RaceGroupRecord[]>;
  /** Analyses with at least one diagnostic, newest trace first. */
  listDiagnostics(
    query: DiagnosticsQuery,
  ): Promise<Array<{ summary: TraceSummary; analysis: TraceAnalysisRecord }>>;

  /** Deletes events older than the cutoff, traces that ended before it, and their analyses. */
  deleteOlderThan(cutoffUs: number): Promise<RetentionResult>;

  /**
   * Backends that keep events in daily partitions (PostgreSQL): creates the partitions events
   * will need (the days around `nowUs`, and the days from `keepFromUs` on that have rows with
   * no partition of their own yet). Resolves with the names of the partitions created. Called
   * by the collector at start and before each retention run.
   */
  preparePartitions?(nowUs: number, keepFromUs: number): Promise<string[]>;

  /**
   * Writes a collector's aggregate rows (insert or replace), after deleting its rows in
   * `replaced` (buckets merged into larger ones), in one transaction.
   */
  saveAggregates(
    collectorId: string,
    rows: AggregateRow[],
    replaced?: AggregateRange[],
  ): Promise<void>;
  /** Every collector's rows of an aggregate that overlap [fromMs, toMs]. */
  loadAggregates(
    name: string,
    fromMs: number,
    toMs: number,
  ): Promise<Array<AggregateRow & { collectorId: string }>>;

  /**
   * Takes the analysis leases of traces for `owner` until now + `leaseMs`: those free, expired,
   * or already its own. Resolves with the trace ids it got; the others are being analysed by
   * another collector. (SQLite: one collector owns the file, every trace is granted.)
   */
  claimTraces(traceIds: string[], owner: string, leaseMs: number): Promise<string[]>;
  /**
   * Extends the leases `owner` still holds to now + `leaseMs` (renewed while it analyses).
   * Resolves with the trace ids still its own: a lease another collector took over, or that is
   * gone, is not taken again, so that a trace is never analysed by two collectors at once.
   */
  renewTraces(traceIds: string[], owner: string, leaseMs: number): Promise<string[]>;
  /** Gives back leases `owner` holds (after saving the analyses). */
  releaseTraces(traceIds: string[], owner: string): Promise<void>;
}
