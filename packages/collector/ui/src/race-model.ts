import { href } from './router.js';
import type { RaceAccess, RaceGroupBody, RaceInstance, RaceItem } from './types.js';

// One shape for a race, whether the collector answers single racing pairs or groups of them
// (DESIGN 9: resource, kind and the two sides, with a count and a few examples).

export interface RaceView {
  id: string;
  scope: 'trace' | 'cross';
  kind: string;
  resource: string;
  services: string[];
  sides: Array<{ service: string; route: string | null }>;
  count: number;
  confidence: string | null;
  evidence: string | null;
  explanation: string;
  traceIds: string[];
  firstTsUs: number;
  lastTsUs: number;
  examples: RaceInstance[];
}

function isGroup(race: RaceInstance | RaceGroupBody): race is RaceGroupBody {
  return Array.isArray((race as RaceGroupBody).examples);
}

export function toRaceView(item: RaceItem): RaceView {
  const nested = item.race;
  const group = nested && isGroup(nested) ? nested : null;
  const examples = item.examples ?? group?.examples ?? (nested ? [nested as RaceInstance] : []);
  const first = examples[0];
  return {
    id: item.id,
    scope: item.scope === 'cross' || nested?.scope === 'cross_trace' ? 'cross' : 'trace',
    kind: item.kind ?? nested?.kind ?? first?.kind ?? 'race',
    resource: item.resource ?? nested?.resource,
    services: item.services ?? (nested as RaceInstance | undefined)?.services ?? [],
    sides: item.sides ?? group?.sides ?? [],
    count: item.count ?? group?.count ?? 1,
    confidence: item.confidence ?? nested?.confidence ?? null,
    evidence: item.evidence ?? nested?.evidence ?? null,
    explanation: item.explanation || nested?.explanation || first?.explanation || '',
    traceIds: item.trace_ids ?? nested?.traceIds ?? [],
    firstTsUs: item.ts_us,
    lastTsUs: item.last_ts_us ?? group?.lastTsUs ?? item.ts_us,
    examples,
  };
}

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
      races: list,
      instances: list.reduce((sum, r) => sum + r.count, 0),
      services: [...new Set(list.flatMap((r) => r.services))].sort(),
      kinds: [...new Set(list.map((r) => r.kind))],
      traces: new Set(list.flatMap((r) => r.traceIds)).size,
    }))
    .sort((a, b) => b.instances - a.instances || (a.resource < b.resource ? -1 : 1));
}

/** The trace view of `traceId` with the accesses of `instance` that ran in it selected. */
export function raceLink(instance: RaceInstance, traceId: string): string {
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
