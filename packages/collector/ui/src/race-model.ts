import { href } from './router.js';
import type { Race, RaceAccess, RaceExample } from './types.js';

// A race group as the views show it (DESIGN 9: resource, kind and the two sides, with a count
// and a few examples).

export interface RaceView {
  id: string;
  scope: 'trace' | 'cross';
  kind: string;
  resource: string;
  /** The resource as people read it (a database row's key with the values its services sent). */
  label: string;
  services: string[];
  sides: Array<{ service: string; route: string | null }>;
  count: number;
  confidence: string | null;
  evidence: string | null;
  /** Lost updates: what the values say happened (lost, not_lost, unknown); null otherwise. */
  outcome: Race['outcome'] | null;
  explanation: string;
  traceIds: string[];
  firstTsUs: number;
  lastTsUs: number;
  examples: RaceExample[];
}

export function toRaceView(race: Race): RaceView {
  return {
    id: race.id,
    scope: race.scope,
    kind: race.kind,
    resource: race.resource,
    label: race.label,
    services: race.services,
    sides: race.sides,
    count: race.count,
    confidence: race.confidence,
    evidence: race.evidence,
    outcome: race.outcome ?? null,
    explanation: race.explanation || race.examples[0]?.explanation || '',
    traceIds: race.trace_ids,
    firstTsUs: race.ts_us,
    lastTsUs: race.last_ts_us,
    examples: race.examples,
  };
}

/** How a lost update's outcome reads in a badge. */
export const OUTCOME_LABELS: Record<string, string> = {
  lost: 'update lost',
  not_lost: 'no harm this time',
  unknown: 'outcome unknown',
};

export const KIND_LABELS: Record<string, string> = {
  lost_update: 'lost update',
  write_write: 'write-write',
  read_write: 'read-write',
};

export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind.replace(/_/g, ' ');
}

export interface ResourceRaces {
  resource: string;
  label: string;
  races: RaceView[];
  instances: number;
  services: string[];
  kinds: string[];
  traces: number;
}

/** Races grouped by resource, the resource with the most instances first. */
export function groupByResource(races: RaceView[]): ResourceRaces[] {
  const byResource = new Map<string, RaceView[]>();
  for (const race of races) {
    const list = byResource.get(race.resource);
    if (list) list.push(race);
    else byResource.set(race.resource, [race]);
  }
  return [...byResource]
    .map(([resource, list]) => ({
      resource,
      label: list[0]?.label ?? resource,
      races: list,
      instances: list.reduce((sum, r) => sum + r.count, 0),
      services: [...new Set(list.flatMap((r) => r.services))].sort(),
      kinds: [...new Set(list.map((r) => r.kind))],
      traces: new Set(list.flatMap((r) => r.traceIds)).size,
    }))
    .sort((a, b) => b.instances - a.instances || (a.resource < b.resource ? -1 : 1));
}

/** The trace view of `traceId` with the accesses of `instance` that ran in it selected. */
export function raceLink(instance: RaceExample, traceId: string): string {
  const ids = instance.accesses.filter((a) => a.traceId === traceId).map((a) => a.eventId);
  return href(`/traces/${traceId}`, { events: ids.join(','), race: instance.id });
}

/** Every access of every race example, by event id: what the trace view marks. */
export function racingAccesses(races: RaceView[]): Map<string, RaceAccess> {
  const out = new Map<string, RaceAccess>();
  for (const race of races) {
    for (const example of race.examples) {
      for (const access of example.accesses) out.set(access.eventId, access);
    }
  }
  return out;
}
