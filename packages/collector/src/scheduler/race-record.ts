import { crossTraceGroupId, type RaceGroup, type TraceDiagnostics } from '../analysis/index.js';
import type { RaceRecord } from '../storage/types.js';

/** A race's storage row, and the timestamp of the latest event involved. */
export type DetectedRace = RaceRecord & { lastTsUs: number };

/**
 * The storage row of a race group: the columns `/api/races` filters on and the group as JSON.
 * The group's id is stable (scope, kind, resource and sides), so analysing a trace again
 * replaces its races instead of adding copies.
 */
export function raceRecord(
  race: RaceGroup,
  scope: 'trace' | 'cross',
  traceId?: string,
): DetectedRace {
  const traces = [...race.traceIds].sort();
  return {
    id: race.id,
    scope,
    traceA: scope === 'trace' ? (traceId ?? traces[0]!) : traces[0]!,
    traceB: scope === 'cross' ? (traces[1] ?? null) : null,
    resource: race.resource,
    serviceA: race.sides[0].service,
    serviceB: race.sides[1].service,
    tsUs: race.firstTsUs,
    lastTsUs: race.lastTsUs,
    race,
    // Each pair of requests is a race of its own; those of the same sites make one group.
    groupId: scope === 'cross' ? crossTraceGroupId(race) : race.id,
  };
}

/** How many findings a diagnostics object holds: the total length of its lists. */
export function countFindings(diagnostics: TraceDiagnostics | null): number {
  if (diagnostics === null) return 0;
  let count = 0;
  for (const value of Object.values(diagnostics)) {
    if (Array.isArray(value)) count += value.length;
  }
  return count;
}

/** The diagnostics recorded for a trace whose analysis threw: that failure, nothing else. */
export function failedAnalysis(error: unknown): TraceDiagnostics {
  return {
    brokenChains: [],
    analysisLimits: [
      {
        kind: 'analysis_failed',
        explanation: `the analysis of this trace failed: ${(error as Error)?.message ?? String(error)}`,
      },
    ],
    clockSkew: [],
    errors: [],
    summary: {
      traces: 1,
      events: 0,
      spans: 0,
      services: [],
      truncatedClockEvents: 0,
      slowestServices: [],
    },
  };
}
