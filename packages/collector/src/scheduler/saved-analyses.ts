import { createHash } from 'node:crypto';
import type { RaceGroup } from '../analysis/index.js';
import { type AnalysisPart, analysisParts } from '../storage/analysis-parts.js';
import type {
  AnalysisChanges,
  AnalysisItem,
  RaceRecord,
  TraceAnalysisRecord,
} from '../storage/types.js';

/** What this collector saved of a trace's analysis, to tell what the next one changes. */
export interface SavedAnalysis {
  base: AnalysisChanges['base'];
  /** By race id: the group saved (compared by reference first), its resource and a digest. */
  races: Map<string, { group: RaceGroup; resource: string; digest: string }>;
  /** Digest of each part saved (its place and JSON), by name. */
  parts: Map<string, string>;
}

// A digest rather than the JSON itself: a long trace's races and diagnostics are megabytes,
// kept for every trace whose analysis state is kept.
const digest = (json: string) => createHash('sha1').update(json).digest('base64');

/**
 * The analyses this collector saved of the traces whose analysis state it keeps, so that the
 * next analysis of such a trace is saved by what changed: race rows added, changed or gone,
 * and the parts of the record that changed (see AnalysisItem.changes). Storage applies the
 * changes only to the analysis they were computed against; a trace analysed meanwhile by
 * another collector is saved whole.
 */
export class SavedAnalyses {
  private readonly saved = new Map<string, SavedAnalysis>();

  /**
   * The item that saves `record` (its race rows `races`), with its changes since the analysis
   * saved before when one is known; and what will be known once it is saved.
   */
  item(
    record: TraceAnalysisRecord,
    races: RaceRecord[],
  ): { item: AnalysisItem; saved: SavedAnalysis } {
    const before = this.saved.get(record.traceId);
    const next: SavedAnalysis = {
      base: { version: record.version, analyzedAtMs: record.analyzedAtMs },
      races: new Map(),
      parts: new Map(),
    };
    const changedRaces: RaceRecord[] = [];
    for (const row of races) {
      const old = before?.races.get(row.id);
      // The analysis lists a group it did not change as the same object (engine.ts): its
      // JSON is neither built nor compared again.
      const sameGroup = old !== undefined && old.group === row.race;
      const rowDigest = sameGroup ? old.digest : digest(JSON.stringify(row.race));
      next.races.set(row.id, { group: row.race, resource: row.resource, digest: rowDigest });
      if (old?.digest !== rowDigest || old.resource !== row.resource) changedRaces.push(row);
    }
    const parts = analysisParts(record);
    const changedParts: AnalysisPart[] = [];
    for (const part of parts) {
      // Its place too: a part that moved among the diagnostics' keys is written again.
      const partDigest = digest(`${part.position} ${part.body}`);
      next.parts.set(part.name, partDigest);
      if (before?.parts.get(part.name) !== partDigest) changedParts.push(part);
    }
    const item: AnalysisItem = { record, races };
    if (before) {
      item.changes = {
        base: before.base,
        races: changedRaces,
        goneRaces: [...before.races]
          .filter(([id, race]) => next.races.get(id)?.resource !== race.resource)
          .map(([id, race]) => ({ resource: race.resource, id })),
        parts: changedParts,
        goneParts: [...before.parts.keys()].filter((name) => !next.parts.has(name)),
      };
    }
    return { item, saved: next };
  }

  /** Records an analysis as saved (once storage committed it). */
  remember(traceId: string, saved: SavedAnalysis): void {
    this.saved.set(traceId, saved);
  }

  /** Forgets a trace: its next analysis is saved whole. */
  forget(traceId: string): void {
    this.saved.delete(traceId);
  }

  /** Forgets the traces `keep` refuses (those whose analysis state is no longer kept). */
  retain(keep: (traceId: string) => boolean): void {
    for (const traceId of this.saved.keys()) if (!keep(traceId)) this.saved.delete(traceId);
  }

  get size(): number {
    return this.saved.size;
  }
}
