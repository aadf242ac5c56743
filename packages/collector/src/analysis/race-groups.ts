import { compareIds } from './accesses.js';
import { type Event, stringField } from './event.js';
import {
  type Race,
  type RaceAccess,
  type RaceEvidence,
  type RaceKind,
  type RaceOutcome,
  raceId,
} from './race.js';

/** One side of a race: the service and the route of the server span the access ran in. */
export interface RaceSide {
  service: string;
  /** `POST /checkout` (method and route template); null outside a server span. */
  route: string | null;
}

/**
 * A race group (DESIGN 9): every instance of one race kind on one resource between the same
 * two sides, as TSan reports one race per pair of sites rather than every instance. `count`
 * instances were found; `examples` keeps the first few with full evidence.
 */
export interface RaceGroup {
  /** Stable: the same scope, kind, resource and sides give the same id. */
  id: string;
  scope: 'trace' | 'cross_trace';
  kind: RaceKind;
  resource: string;
  /**
   * The resource as people read it: a database row's key digests shown as the raw values the
   * services sent (`products[sku="mug"].stock`), else by their last four hex digits.
   */
  label: string;
  /** Ordered by service then route, so A-B and B-A are one group. */
  sides: [RaceSide, RaceSide];
  count: number;
  /**
   * false when the resource had more concurrent contexts than the exact detector takes: the
   * bounded detector then counts the accesses found racing with the other side, not pairs.
   */
  countExact: boolean;
  /** `certain` when at least one instance is. */
  confidence: 'certain' | 'uncertain';
  /** The strongest evidence among the examples. */
  evidence: RaceEvidence;
  /**
   * Lost updates: `lost` when an example shows an update was lost, else `unknown` when one
   * cannot tell, else `not_lost` (every example read the other's write: no harm this time).
   */
  outcome?: RaceOutcome;
  firstTsUs: number;
  lastTsUs: number;
  traceIds: string[];
  explanation: string;
  examples: Race[];
}

/** Examples kept per group. */
export const EXAMPLES_PER_GROUP = 3;

const KIND_NAMES: Record<RaceKind, [string, string]> = {
  lost_update: ['lost update', 'lost updates'],
  write_write: ['write-write race', 'write-write races'],
  read_write: ['read-write race', 'read-write races'],
};

const EVIDENCE_RANK: Record<RaceEvidence, number> = {
  same_version: 3,
  same_value: 2,
  timing: 1,
  clock: 0,
};

/**
 * The route of each server span of a trace (`POST /checkout`), so accesses can be filed under
 * the route they ran in.
 */
export function spanRoutes(events: readonly Event[]): Map<string, string> {
  const routes = new Map<string, string>();
  for (const e of events) {
    if (e.kind !== 'request_received') continue;
    const route = stringField(e, 'route') ?? stringField(e, 'path');
    if (route === undefined) continue;
    const method = stringField(e, 'method');
    routes.set(e.span_id, method ? `${method} ${route}` : route);
  }
  return routes;
}

function sideKey(side: RaceSide): string {
  return `${side.service}\u0000${side.route ?? ''}`;
}

function compareSides(a: RaceSide, b: RaceSide): number {
  return compareIds(sideKey(a), sideKey(b));
}

/**
 * Accumulates race instances into groups, keeping a bounded number of examples per group:
 * memory is O(groups), whatever the number of instances.
 *
 * @example
 * const groups = new RaceGroups('trace', routes);
 * for (const race of races) groups.add(race);
 * groups.list(); // one entry per (resource, kind, sides)
 */
export class RaceGroups {
  private readonly groups = new Map<string, RaceGroup>();

  /**
   * `key` goes into every group id (the trace id for intra-trace groups, so equal groups of
   * two traces keep distinct ids).
   */
  constructor(
    private readonly scope: RaceGroup['scope'],
    private readonly routes: ReadonlyMap<string, string> = new Map(),
    private readonly key = '',
    private readonly labelOf: (resource: string) => string = (resource) => resource,
  ) {}

  private side(access: RaceAccess): RaceSide {
    return { service: access.service, route: this.routes.get(access.spanId) ?? null };
  }

  /** Adds one instance. `example` builds it with full evidence, called only when kept. */
  addInstance(
    kind: RaceKind,
    resource: string,
    sideA: RaceSide,
    sideB: RaceSide,
    tsUs: [number, number],
    exact: boolean,
    example: () => Race,
  ): void {
    const sides: [RaceSide, RaceSide] =
      compareSides(sideA, sideB) <= 0 ? [sideA, sideB] : [sideB, sideA];
    const key = `${kind}\u0001${resource}\u0001${sideKey(sides[0])}\u0001${sideKey(sides[1])}`;
    let group = this.groups.get(key);
    if (group === undefined) {
      group = {
        id: raceId(this.scope, kind, resource, [this.key, sideKey(sides[0]), sideKey(sides[1])]),
        scope: this.scope,
        kind,
        resource,
        label: this.labelOf(resource),
        sides,
        count: 0,
        countExact: true,
        confidence: 'uncertain',
        evidence: 'clock',
        firstTsUs: tsUs[0],
        lastTsUs: tsUs[1],
        traceIds: [],
        explanation: '',
        examples: [],
      };
      this.groups.set(key, group);
    }
    group.count++;
    if (!exact) group.countExact = false;
    group.firstTsUs = Math.min(group.firstTsUs, tsUs[0]);
    group.lastTsUs = Math.max(group.lastTsUs, tsUs[1]);
    if (group.examples.length < EXAMPLES_PER_GROUP) {
      const race = example();
      for (const access of race.accesses) {
        access.route = this.routes.get(access.spanId) ?? null;
      }
      group.examples.push(race);
      if (race.confidence === 'certain') group.confidence = 'certain';
      if (EVIDENCE_RANK[race.evidence] > EVIDENCE_RANK[group.evidence]) {
        group.evidence = race.evidence;
      }
      if (race.outcome !== undefined) group.outcome = worstOutcome(group.outcome, race.outcome);
      for (const traceId of race.traceIds) {
        if (!group.traceIds.includes(traceId)) group.traceIds.push(traceId);
      }
    }
  }

  /** Adds a race found by an exact detector (one instance). */
  add(race: Race): void {
    const first = race.accesses[0]!;
    const other =
      race.accesses.find((a) => a.component !== first.component || a.traceId !== first.traceId) ??
      race.accesses[race.accesses.length - 1]!;
    const times = race.accesses.map((a) => a.tsUs);
    this.addInstance(
      race.kind,
      race.resource,
      this.side(first),
      this.side(other),
      [Math.min(...times), Math.max(...times)],
      true,
      () => race,
    );
  }

  /** The groups, earliest first, with their explanations. */
  list(): RaceGroup[] {
    const out = [...this.groups.values()];
    for (const group of out) group.explanation = explainGroup(group);
    return out.sort(raceGroupOrder);
  }
}

/** The order groups are listed in: earliest first, then by resource and id (a total order). */
export function raceGroupOrder(x: RaceGroup, y: RaceGroup): number {
  return x.firstTsUs - y.firstTsUs || compareIds(x.resource, y.resource) || compareIds(x.id, y.id);
}

const OUTCOME_RANK: Record<RaceOutcome, number> = { not_lost: 0, unknown: 1, lost: 2 };

/** The outcome that says more harm: a group lost an update if any example did. */
function worstOutcome(a: RaceOutcome | undefined, b: RaceOutcome): RaceOutcome {
  return a !== undefined && OUTCOME_RANK[a] >= OUTCOME_RANK[b] ? a : b;
}

function sideName(side: RaceSide): string {
  return side.route ? `${side.service} (${side.route})` : side.service;
}

function explainGroup(group: RaceGroup): string {
  const [one, many] = KIND_NAMES[group.kind];
  const [a, b] = group.sides;
  const between =
    sideKey(a) === sideKey(b)
      ? `between concurrent contexts of ${sideName(a)}`
      : `between ${sideName(a)} and ${sideName(b)}`;
  const count = group.countExact
    ? `${group.count} ${group.count === 1 ? one : many}`
    : `${many} (${group.count} racing accesses, counted by the bounded detector)`;
  const example = group.examples[0]?.explanation;
  return `${count} on ${group.label} ${between}${example ? `; e.g. ${example}` : ''}`;
}

/**
 * One race as a group of its own: how cross-trace lost updates are filed (each names its two
 * requests, so `/api/traces/:id/races` finds it under both).
 */
export function raceAsGroup(
  race: Race,
  labelOf?: (resource: string) => string,
  routes: ReadonlyMap<string, string> = new Map(),
): RaceGroup {
  const groups = new RaceGroups(race.scope, routes, race.id, labelOf);
  groups.add(race);
  const [group] = groups.list();
  return { ...group!, id: race.id };
}

/**
 * The id of the group a cross-trace race belongs to: its kind, resource and two sides (the
 * instances of one group differ only in their requests).
 */
export function crossTraceGroupId(race: RaceGroup): string {
  return raceId('cross_trace', race.kind, race.resource, [
    '',
    sideKey(race.sides[0]),
    sideKey(race.sides[1]),
  ]);
}

/**
 * One group from its stored instances (cross-trace races are stored per pair of requests):
 * `count` instances in all, the newest of them given (newest first), their examples, traces and
 * verdicts combined, the explanation written for the whole group.
 */
export function mergeRaceGroups(
  id: string,
  instances: readonly RaceGroup[],
  count: number,
  firstTsUs: number,
  lastTsUs: number,
): RaceGroup {
  const [first] = instances;
  if (first === undefined) throw new Error('a race group has at least one instance');
  if (instances.length === 1 && count <= first.count) return { ...first, id };
  const merged: RaceGroup = {
    ...first,
    id,
    count: Math.max(
      count,
      instances.reduce((sum, g) => sum + g.count, 0),
    ),
    countExact: instances.every((g) => g.countExact),
    confidence: instances.some((g) => g.confidence === 'certain') ? 'certain' : 'uncertain',
    evidence: instances.reduce(
      (best, g) => (EVIDENCE_RANK[g.evidence] > EVIDENCE_RANK[best] ? g.evidence : best),
      first.evidence,
    ),
    firstTsUs,
    lastTsUs: Math.max(lastTsUs, ...instances.map((g) => g.lastTsUs)),
    traceIds: [...new Set(instances.flatMap((g) => g.traceIds))],
    examples: instances.flatMap((g) => g.examples).slice(0, EXAMPLES_PER_GROUP),
  };
  delete merged.outcome;
  for (const g of instances) {
    if (g.outcome !== undefined) merged.outcome = worstOutcome(merged.outcome, g.outcome);
  }
  merged.explanation = explainGroup(merged);
  return merged;
}
