import type Database from 'better-sqlite3';
import { analysisParts } from './analysis-parts.js';
import {
  analysisPartRow,
  analysisRow,
  insertEventResources,
  insertTraceAttributes,
  insertTraceServices,
  RACE_COUNT,
  raceRow,
  traceDeltaRow,
  upsertAnalyses,
  upsertAnalysisParts,
  upsertRaces,
  upsertTraces,
} from './sql.js';
import { blob } from './sqlite-schema.js';
import { type EventRow, traceDeltas } from './trace-delta.js';
import type {
  AggregateRange,
  AggregateRow,
  AnalysisItem,
  RaceRecord,
  RetentionResult,
} from './types.js';

/**
 * An analysis as the writer receives it. `changesOnly`: the item carries its changes and the
 * record's header, not its whole (see {@link changesOnly}).
 */
export type WriterAnalysisItem = AnalysisItem & { changesOnly?: boolean };

/**
 * The item stripped to what saving its changes needs: the record's header and the changes. The
 * whole record and race list of a long trace are megabytes, and the writer thread receives a
 * structured clone of what it is sent; it needs them only when the stored analysis is no longer
 * the changes' base, which is rare, and then asks for them (see `saveTraceAnalyses`).
 */
export function changesOnly(item: AnalysisItem): WriterAnalysisItem {
  if (item.changes === undefined) return item;
  return {
    record: { ...item.record, races: [], criticalPath: null, diagnostics: null },
    races: [],
    changes: item.changes,
    changesOnly: true,
  };
}

/** Which rows of a batch were new (by index); the others were already stored. */
export interface BatchResult {
  inserted: number[];
}

/** What one retention step deleted; `done` when nothing older than the cutoff is left. */
export interface RetentionStep extends RetentionResult {
  done: boolean;
}

/**
 * Every write of the SQLite storage, on one connection: synchronous, so it runs either on the
 * collector's thread or in a writer thread (sqlite-writer-worker.ts) that keeps the event loop
 * free for HTTP while SQLite works.
 */
export class SqliteWriter {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      insertEvent: db.prepare(
        `INSERT INTO events (id, trace_id, span_id, parent_span_id, service, kind, ts_us, resource, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trace_id, id) DO NOTHING`,
      ),
      insertEventResource: db.prepare(insertEventResources('sqlite')),
      upsertTrace: db.prepare(upsertTraces('sqlite')),
      insertService: db.prepare(insertTraceServices('sqlite')),
      insertAttribute: db.prepare(insertTraceAttributes('sqlite')),
      traceExists: db.prepare('SELECT 1 FROM traces WHERE trace_id = ?'),
      upsertAnalysis: db.prepare(upsertAnalyses('sqlite')),
      storedAnalysis: db.prepare(
        'SELECT version, analyzed_at_ms FROM trace_analysis WHERE trace_id = ?',
      ),
      upsertPart: db.prepare(upsertAnalysisParts('sqlite')),
      deleteParts: db.prepare('DELETE FROM trace_analysis_parts WHERE trace_id = ?'),
      deletePart: db.prepare('DELETE FROM trace_analysis_parts WHERE trace_id = ? AND name = ?'),
      deleteTraceRaces: db.prepare("DELETE FROM races WHERE scope = 'trace' AND trace_a = ?"),
      deleteTraceRace: db.prepare(
        "DELETE FROM races WHERE scope = 'trace' AND trace_a = ? AND resource = ? AND id = ?",
      ),
      upsertRace: db.prepare(upsertRaces('sqlite')),
      markAnalyzed: db.prepare(
        `UPDATE traces SET analyzed_version = max(analyzed_version, ?), race_count = ${RACE_COUNT}
         WHERE trace_id = ?`,
      ),
      recountRaces: db.prepare(`UPDATE traces SET race_count = ${RACE_COUNT} WHERE trace_id = ?`),
      expiredTraces: db.prepare('SELECT trace_id FROM traces WHERE last_ts_us < ? LIMIT ?'),
      deleteTraceEvents: db.prepare('DELETE FROM events WHERE trace_id = ?'),
      deleteTraceEventResources: db.prepare('DELETE FROM event_resources WHERE trace_id = ?'),
      deleteTrace: db.prepare('DELETE FROM traces WHERE trace_id = ?'),
      deleteTraceServices: db.prepare('DELETE FROM trace_services WHERE trace_id = ?'),
      deleteTraceAttributes: db.prepare('DELETE FROM trace_attributes WHERE trace_id = ?'),
      deleteTraceAnalysis: db.prepare('DELETE FROM trace_analysis WHERE trace_id = ?'),
      deleteTraceAnalysisParts: db.prepare('DELETE FROM trace_analysis_parts WHERE trace_id = ?'),
      deleteRacesOfTrace: db.prepare('DELETE FROM races WHERE trace_a = ? OR trace_b = ?'),
      // Cross-trace races only: an intra-trace race is part of its trace's analysis, and goes
      // with the trace.
      deleteOldRaces: db.prepare("DELETE FROM races WHERE scope = 'cross' AND ts_us < ?"),
      upsertAggregate: db.prepare(
        `INSERT INTO collector_aggregates (collector_id, name, start_ms, until_ms, body)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (collector_id, name, start_ms)
         DO UPDATE SET until_ms = excluded.until_ms, body = excluded.body`,
      ),
      deleteAggregates: db.prepare(
        `DELETE FROM collector_aggregates
         WHERE collector_id = ? AND name = ? AND start_ms >= ? AND start_ms < ?`,
      ),
      deleteOldAggregates: db.prepare('DELETE FROM collector_aggregates WHERE until_ms < ?'),
    };
  }

  /** Group commit: several batches, one transaction (one fsync). */
  insertBatches(batches: EventRow[][], now = Date.now()): BatchResult[] {
    return this.db.transaction(() => batches.map((rows) => this.insertBatch(rows, now)))();
  }

  private insertBatch(rows: EventRow[], now: number): BatchResult {
    const { insertEvent, upsertTrace, insertService } = this.s;
    const inserted: number[] = [];
    const fresh: EventRow[] = [];
    rows.forEach((r, i) => {
      const info = insertEvent.run(
        blob(r.id),
        blob(r.traceId),
        r.spanId,
        r.parentSpanId,
        r.service,
        r.kind,
        r.tsUs,
        r.resource,
        r.body,
      );
      if (info.changes > 0) {
        inserted.push(i);
        fresh.push(r);
        for (const resource of r.indexed) {
          this.s.insertEventResource.run(blob(r.traceId), blob(r.id), resource, r.tsUs, r.body);
        }
      }
    });
    for (const delta of traceDeltas(fresh)) {
      upsertTrace.run(traceDeltaRow(delta, now));
      for (const service of delta.services) insertService.run(delta.traceId, service);
      for (const [key, value] of delta.attributes.values()) {
        this.s.insertAttribute.run(key, value, delta.traceId);
      }
    }
    return { inserted };
  }

  /**
   * Saves the analyses in one transaction. An item sent as its changes only
   * ({@link changesOnly}) whose base is no longer the stored analysis cannot be saved whole:
   * nothing of it is written, and its trace id is returned for the caller to send it whole.
   */
  saveTraceAnalyses(items: WriterAnalysisItem[]): string[] {
    const unsaved: string[] = [];
    this.db.transaction(() => {
      for (const item of items)
        if (!this.saveTraceAnalysis(item)) unsaved.push(item.record.traceId);
    })();
    return unsaved;
  }

  /** False when the item is changes only and they do not apply to the stored analysis. */
  private saveTraceAnalysis({ record, races, changes, changesOnly }: WriterAnalysisItem): boolean {
    const s = this.s;
    const traceId = record.traceId;
    if (!s.traceExists.get(traceId)) return true;
    const stored = s.storedAnalysis.get(traceId) as
      | { version: number; analyzed_at_ms: number }
      | undefined;
    const applies =
      changes !== undefined &&
      stored?.version === changes.base.version &&
      stored.analyzed_at_ms === changes.base.analyzedAtMs;
    if (changesOnly && !applies) return false;
    s.upsertAnalysis.run(analysisRow(record));
    if (applies) {
      for (const name of changes.goneParts) s.deletePart.run(traceId, name);
      for (const part of changes.parts) s.upsertPart.run(analysisPartRow(traceId, part));
      for (const gone of changes.goneRaces) s.deleteTraceRace.run(traceId, gone.resource, gone.id);
      for (const race of changes.races) s.upsertRace.run(raceRow(race));
    } else {
      s.deleteParts.run(traceId);
      for (const part of analysisParts(record)) s.upsertPart.run(analysisPartRow(traceId, part));
      s.deleteTraceRaces.run(traceId);
      for (const race of races) s.upsertRace.run(raceRow(race));
    }
    s.markAnalyzed.run(record.version, traceId);
    return true;
  }

  saveCrossTraceRaces(races: RaceRecord[]): void {
    if (races.length === 0) return;
    this.db.transaction(() => {
      const touched = new Set<string>();
      for (const race of races) {
        this.s.upsertRace.run(raceRow(race));
        touched.add(race.traceA);
        if (race.traceB) touched.add(race.traceB);
      }
      for (const traceId of touched) this.s.recountRaces.run(traceId);
    })();
  }

  /** A collector's aggregate rows, in one transaction (see Storage.saveAggregates). */
  saveAggregates(collectorId: string, rows: AggregateRow[], replaced: AggregateRange[]): void {
    const s = this.s;
    this.db.transaction(() => {
      for (const r of replaced) s.deleteAggregates.run(collectorId, r.name, r.fromMs, r.toMs);
      for (const r of rows)
        s.upsertAggregate.run(collectorId, r.name, r.startMs, r.untilMs, r.body);
    })();
  }

  /**
   * Deletes up to 200 traces whose last event is older than the cutoff (their events,
   * services, analyses and races), in one short transaction; the caller repeats until `done`,
   * so ingestion is never blocked for long.
   */
  retentionStep(cutoffUs: number): RetentionStep {
    const s = this.s;
    const step: RetentionStep = { events: 0, traces: 0, races: 0, done: false };
    this.db.transaction(() => {
      const ids = (s.expiredTraces.all(cutoffUs, 200) as Array<{ trace_id: string }>).map(
        (r) => r.trace_id,
      );
      for (const id of ids) {
        s.deleteTraceEventResources.run(blob(id));
        step.events += s.deleteTraceEvents.run(blob(id)).changes;
        step.traces += s.deleteTrace.run(id).changes;
        s.deleteTraceServices.run(id);
        s.deleteTraceAttributes.run(id);
        s.deleteTraceAnalysis.run(id);
        s.deleteTraceAnalysisParts.run(id);
        step.races += s.deleteRacesOfTrace.run(id, id).changes;
      }
      if (ids.length === 0) {
        step.races += s.deleteOldRaces.run(cutoffUs).changes;
        s.deleteOldAggregates.run(Math.floor(cutoffUs / 1000));
        step.done = true;
      }
    })();
    return step;
  }
}
