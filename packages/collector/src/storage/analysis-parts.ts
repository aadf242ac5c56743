import { type RaceGroup, raceGroupOrder } from '../analysis/index.js';
import type { Row } from './rows.js';
import type { TraceAnalysisRecord } from './types.js';

// A trace's analysis is stored in pieces, so that an analysis that changed a little is saved
// by what changed (schema version 9): the record's row in `trace_analysis` holds its version
// and counts; its critical path and each list of its diagnostics are rows of
// `trace_analysis_parts`; its races are its intra-trace rows of `races`. A long trace's
// diagnostics errors or races grow with it; an append changes few of them.

/** One part of a trace's analysis, as stored: JSON text, and its place among the parts. */
export interface AnalysisPart {
  /** `critical_path`, `diagnostics.<key>` (one per key of the diagnostics), or `diagnostics` (null diagnostics). */
  name: string;
  /** Parts are read back in this order (the diagnostics' keys keep theirs). */
  position: number;
  body: string;
}

const CRITICAL_PATH = 'critical_path';
const DIAGNOSTICS = 'diagnostics';
const DIAGNOSTICS_KEY = 'diagnostics.';

/** The parts of a record but its races (stored as race rows). */
export function analysisParts(record: TraceAnalysisRecord): AnalysisPart[] {
  const parts: AnalysisPart[] = [
    { name: CRITICAL_PATH, position: 0, body: JSON.stringify(record.criticalPath ?? null) },
  ];
  if (record.diagnostics === null || record.diagnostics === undefined) {
    parts.push({ name: DIAGNOSTICS, position: 1, body: 'null' });
  } else {
    Object.entries(record.diagnostics).forEach(([key, value], i) => {
      parts.push({ name: DIAGNOSTICS_KEY + key, position: 1 + i, body: JSON.stringify(value) });
    });
  }
  return parts;
}

// SQLite hands JSON columns back as text, PostgreSQL (jsonb) as parsed values.
const json = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : value);

/**
 * A record from its `trace_analysis` row, its parts (rows with name, position, body) and the
 * bodies of its intra-trace race rows, which are listed in the analysis' order.
 */
export function assembleAnalysis(
  row: Row,
  parts: Row[],
  raceBodies: unknown[],
): TraceAnalysisRecord {
  let criticalPath: unknown = null;
  let diagnostics: Record<string, unknown> | null = null;
  for (const part of [...parts].sort((a, b) => Number(a.position) - Number(b.position))) {
    const name = part.name as string;
    if (name === CRITICAL_PATH) criticalPath = json(part.body);
    else if (name.startsWith(DIAGNOSTICS_KEY)) {
      diagnostics ??= {};
      diagnostics[name.slice(DIAGNOSTICS_KEY.length)] = json(part.body);
    }
  }
  return {
    traceId: row.trace_id as string,
    version: Number(row.version),
    analyzedAtMs: Number(row.analyzed_at_ms),
    diagnosticCount: Number(row.diagnostic_count),
    races: raceBodies.map((body) => json(body) as RaceGroup).sort(raceGroupOrder),
    criticalPath: criticalPath as TraceAnalysisRecord['criticalPath'],
    diagnostics: diagnostics as TraceAnalysisRecord['diagnostics'],
  };
}
