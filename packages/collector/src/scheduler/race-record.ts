import { createHash } from 'node:crypto';
import type { RaceRecord } from '../storage/types.js';

interface EventRef {
  id: string;
  traceId: string;
  service: string;
  tsUs: number;
}

/**
 * Finds the events a race names, wherever the race object keeps them (`a`/`b`, `events`,
 * `accesses`, nested `event`): any object with an event id, a trace id, a service and a
 * timestamp. Keeps the storage columns independent of the exact shape of the analysis types.
 */
function eventRefs(
  value: unknown,
  depth = 0,
  out = new Map<string, EventRef>(),
): Map<string, EventRef> {
  if (depth > 4 || value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    for (const item of value) eventRefs(item, depth + 1, out);
    return out;
  }
  const o = value as Record<string, unknown>;
  const id = o.eventId ?? o.event_id ?? o.id;
  const traceId = o.traceId ?? o.trace_id;
  const tsUs = o.tsUs ?? o.ts_us;
  if (
    typeof id === 'string' &&
    typeof traceId === 'string' &&
    typeof o.service === 'string' &&
    typeof tsUs === 'number'
  ) {
    out.set(id, { id, traceId, service: o.service, tsUs });
  }
  for (const [key, child] of Object.entries(o)) {
    if (key !== 'clock' && key !== 'value' && key !== 'data') eventRefs(child, depth + 1, out);
  }
  return out;
}

interface GroupFields {
  id: string;
  resource: string;
  sides: [{ service: string }, { service: string }];
  firstTsUs: number;
  lastTsUs: number;
  traceIds: string[];
}

/** The fields of a race group (the analysis module's `RaceGroup`), or null for another shape. */
function groupFields(o: Record<string, unknown>): GroupFields | null {
  const sides = o.sides as Array<{ service?: unknown }> | undefined;
  const traceIds = o.traceIds as unknown[] | undefined;
  if (
    typeof o.id === 'string' &&
    typeof o.resource === 'string' &&
    Array.isArray(sides) &&
    sides.length === 2 &&
    sides.every((side) => typeof side?.service === 'string') &&
    typeof o.firstTsUs === 'number' &&
    typeof o.lastTsUs === 'number' &&
    Array.isArray(traceIds) &&
    traceIds.length > 0 &&
    traceIds.every((t) => typeof t === 'string')
  ) {
    return o as unknown as GroupFields;
  }
  return null;
}

/** A race's storage row, and the timestamp of the latest event involved. */
export type DetectedRace = RaceRecord & { lastTsUs: number };

/**
 * The storage row of a race: the columns `/api/races` filters on and the race as JSON. The
 * id is derived from the resource and the events involved, so analysing a trace again
 * replaces its races instead of adding copies. Returns null for a race that names fewer than
 * two events (nothing to file it under).
 */
export function raceRecord(
  race: unknown,
  scope: 'trace' | 'cross',
  traceId?: string,
): DetectedRace | null {
  const o = (race ?? {}) as Record<string, unknown>;
  const group = groupFields(o);
  if (group) {
    const traces = [...group.traceIds].sort();
    return {
      id: group.id,
      scope,
      traceA: scope === 'trace' ? (traceId ?? traces[0]!) : traces[0]!,
      traceB: scope === 'cross' ? (traces[1] ?? null) : null,
      resource: group.resource,
      serviceA: group.sides[0].service,
      serviceB: group.sides[1].service,
      tsUs: group.firstTsUs,
      lastTsUs: group.lastTsUs,
      race,
    };
  }
  const refs = [...eventRefs(race).values()].sort(
    (x, y) => x.tsUs - y.tsUs || (x.id < y.id ? -1 : 1),
  );
  const first = refs[0];
  if (!first) return null;
  const resource = typeof o.resource === 'string' ? o.resource : '';
  const traces = [...new Set(refs.map((r) => r.traceId))].sort();
  const other = refs.find((r) => r.service !== first.service) ?? refs[1] ?? first;
  const id =
    typeof o.id === 'string' && o.id !== ''
      ? o.id
      : createHash('sha256')
          .update(
            `${scope}\n${resource}\n${refs
              .map((r) => r.id)
              .sort()
              .join(',')}`,
          )
          .digest('hex')
          .slice(0, 32);
  const traceA = scope === 'trace' ? (traceId ?? first.traceId) : traces[0]!;
  const traceB = scope === 'cross' ? (traces[1] ?? null) : null;
  return {
    id,
    scope,
    traceA,
    traceB,
    resource,
    serviceA: first.service,
    serviceB: other.service,
    tsUs: first.tsUs,
    lastTsUs: refs[refs.length - 1]!.tsUs,
    race,
  };
}

/** How many findings a diagnostics object holds: the total length of its array fields. */
export function countFindings(diagnostics: unknown): number {
  if (Array.isArray(diagnostics)) return diagnostics.length;
  if (diagnostics === null || typeof diagnostics !== 'object') return 0;
  let count = 0;
  for (const value of Object.values(diagnostics)) {
    if (Array.isArray(value)) count += value.length;
  }
  return count;
}
