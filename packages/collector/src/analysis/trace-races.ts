import { type Access, compareIds, prepareAccesses } from './accesses.js';
import { type AnalysisLimit, Budget } from './budget.js';
import { getOrCreate } from './collections.js';
import { type Event, isEarlier } from './event.js';
import { type AnalysisOptions, budgetOf, toleranceUs } from './options.js';
import {
  distinct,
  explainLostUpdate,
  flat,
  type Race,
  type RaceAccess,
  type RaceKind,
  raceAccess,
  raceId,
  seen,
  sideNames,
} from './race.js';
import { ConflictClasses } from './race-classes.js';
import { type RaceGroup, RaceGroups, type RaceSide, spanRoutes } from './race-groups.js';
import { findRacePairs, groupByResource, type RacePair } from './race-pairs.js';
import { findRacePairsBruteForce } from './race-pairs-brute-force.js';
import { sweepSites } from './race-sites.js';
import { resourceLabeller } from './sql/sql-accesses.js';

/**
 * The races within one trace (DESIGN 4): the mutually latest racing pairs of `findRacePairs`,
 * classified. A write-write pair whose two writes are both non-atomic and each directly
 * preceded, in its own context, by a read of the resource (read-modify-write: no write of that
 * context in between) is a **lost update**; the read-write pairs between those four accesses are
 * folded into it. Every other pair is `write_write` or `read_write`.
 *
 * A pair involving a truncated clock (`clock_dropped`) is `uncertain`: the missing entries may
 * hide an order. Such a pair whose timestamps lie more than the skew tolerance apart is dropped
 * altogether, since neither clock nor time suggests the accesses overlapped.
 *
 * @example
 * detectTraceRaces(events).map((race) => race.explanation);
 * // ['order and inventory both read stock:42 = 5 and wrote it back concurrently; one update is lost']
 */
export function detectTraceRaces(events: readonly Event[], options: AnalysisOptions = {}): Race[] {
  const accesses = prepareAccesses(events, options.sql);
  return racesFromPairs(findRacePairs(accesses), accesses, options);
}

/**
 * {@link detectTraceRaces} with the quadratic brute-force pair finder: the reference the fast
 * detector is tested and benchmarked against. Same output, same order.
 *
 * @example
 * expect(detectTraceRaces(events)).toEqual(detectRacesBruteForce(events));
 */
export function detectRacesBruteForce(
  events: readonly Event[],
  options: AnalysisOptions = {},
): Race[] {
  const accesses = prepareAccesses(events, options.sql);
  return racesFromPairs(findRacePairsBruteForce(accesses), accesses, options);
}

/**
 * Unordered pairs of events (by id) that a lost update folded in. Kept as a map of sets, not
 * as joined id strings: every pair of a large trace is looked up, and building a string per
 * lookup cost more than the lookup.
 */
class EventPairs {
  private readonly pairs = new Map<string, Set<string>>();

  add(a: Access, b: Access): void {
    const [low, high] = a.id < b.id ? [a.id, b.id] : [b.id, a.id];
    getOrCreate(this.pairs, low, () => new Set()).add(high);
  }

  has(a: Access, b: Access): boolean {
    if (this.pairs.size === 0) return false;
    return a.id < b.id
      ? this.pairs.get(a.id)?.has(b.id) === true
      : this.pairs.get(b.id)?.has(a.id) === true;
  }
}

/**
 * For each of `writes`, the previous access of the same context to the same resource (program
 * order). Only the chains of those writes' (resource, context) pairs are built and sorted.
 */
function previousOwnAccess(
  writes: ReadonlySet<Access>,
  accesses: readonly Access[],
): Map<Access, Access> {
  const previous = new Map<Access, Access>();
  if (writes.size === 0) return previous;
  // By resource id, then context: numbers, where the resource name would be a string hashed
  // once per access. Resource first: the many accesses to resources without such a write are
  // passed over with one array read each.
  const chains: Array<Array<Access[] | undefined> | undefined> = [];
  for (const write of writes) {
    chains[write.resourceId] ??= [];
    chains[write.resourceId]![write.ctx] = [];
  }
  for (const access of accesses) {
    const byContext = chains[access.resourceId];
    if (byContext !== undefined) byContext[access.ctx]?.push(access);
  }
  for (const byContext of chains) {
    if (byContext === undefined) continue;
    for (const chain of byContext) {
      if (chain === undefined || chain.length < 2) continue;
      chain.sort((x, y) => x.epoch - y.epoch || x.tsUs - y.tsUs || compareIds(x.id, y.id));
      for (let i = 1; i < chain.length; i++) {
        const access = chain[i]!;
        if (access.write && writes.has(access)) previous.set(access, chain[i - 1]!);
      }
    }
  }
  return previous;
}

/** The read a non-atomic write is based on (read-modify-write), if any. */
function basisRead(write: Access, previous: Map<Access, Access>): Access | undefined {
  const prev = previous.get(write);
  return prev !== undefined && !prev.write ? prev : undefined;
}

export function racesFromPairs(
  pairs: readonly RacePair[],
  accesses: readonly Access[],
  options: AnalysisOptions,
): Race[] {
  const tolerance = toleranceUs(options);
  const kept: RacePair[] = [];
  /** The kept pairs of two non-atomic writes: lost updates, if each is based on a read. */
  const plainPairs: RacePair[] = [];
  const plainWrites = new Set<Access>();
  for (const pair of pairs) {
    const [a, b] = pair;
    if ((a.uncertain || b.uncertain) && !(Math.abs(a.event.ts_us - b.event.ts_us) <= tolerance))
      continue;
    kept.push(pair);
    if (a.write && b.write && !a.atomic && !b.atomic) {
      plainPairs.push(pair);
      plainWrites.add(a);
      plainWrites.add(b);
    }
  }
  const previous = previousOwnAccess(plainWrites, accesses);
  const consumed = new EventPairs();
  const races: Race[] = [];
  for (const [a, b] of plainPairs) {
    const ra = basisRead(a, previous);
    const rb = basisRead(b, previous);
    if (ra === undefined || rb === undefined) continue;
    consumed.add(a, b);
    consumed.add(ra, b);
    consumed.add(rb, a);
    races.push(lostUpdate([ra, a], [rb, b]));
  }
  for (const [a, b] of kept) {
    if (consumed.has(a, b)) continue;
    races.push(pairRace(a, b));
  }
  return inRaceOrder(races);
}

/**
 * Races by the time of their first access, then resource, then id. The times are copied into
 * an array first: a comparison that read them through race, access list and access would miss
 * the cache three times per side on a large trace, whose races spread over hundreds of MB.
 */
function inRaceOrder(races: readonly Race[]): Race[] {
  const times = new Float64Array(races.length);
  const order: number[] = [];
  for (let i = 0; i < races.length; i++) {
    times[i] = races[i]!.accesses[0]!.tsUs;
    order.push(i);
  }
  order.sort(
    (i, j) =>
      times[i]! - times[j]! ||
      compareIds(races[i]!.resource, races[j]!.resource) ||
      compareIds(races[i]!.id, races[j]!.id) ||
      i - j,
  );
  return order.map((i) => races[i]!);
}

/** Why a race of these accesses is uncertain, as the explanation's last words, or ''. */
function uncertainSuffix(accesses: readonly Access[]): string {
  if (accesses.some((a) => a.uncertain)) {
    return ' (uncertain: a truncated clock may hide an order between them)';
  }
  return accesses.some((a) => a.inferred)
    ? ' (uncertain: the order was inferred from span structure, not from vector clocks)'
    : '';
}

/**
 * The lost update of two read-modify-writes (a read and the write based on it, each), the one
 * that read first as side A.
 */
export function lostUpdate(x: [Access, Access], y: [Access, Access]): Race {
  const four = isEarlier(x[0].event, y[0].event) ? [...x, ...y] : [...y, ...x];
  const accesses = four.map(raceAccess);
  const [readA, , readB] = accesses as [RaceAccess, RaceAccess, RaceAccess, RaceAccess];
  const resource = four[0]!.resource;
  const suffix = uncertainSuffix(four);
  const names = sideNames(readA, readB);
  const { outcome, explanation } = explainLostUpdate(
    accesses,
    names,
    resource,
    'with nothing ordering them (concurrent clocks)',
    suffix,
  );
  return {
    id: raceId(
      'trace',
      'lost_update',
      resource,
      accesses.map((a) => a.eventId),
    ),
    kind: 'lost_update',
    scope: 'trace',
    resource,
    // Truncated and inferred clocks both leave a race uncertain, never certain.
    confidence: suffix === '' ? 'certain' : 'uncertain',
    evidence: 'clock',
    accesses,
    services: distinct(accesses, (a) => a.service),
    traceIds: distinct(accesses, (a) => a.traceId),
    outcome,
    explanation,
  };
}

export function pairRace(x: Access, y: Access): Race {
  const xFirst = isEarlier(x.event, y.event);
  const first = xFirst ? x : y;
  const second = xFirst ? y : x;
  const accesses = [raceAccess(first), raceAccess(second)];
  const [a, b] = accesses as [RaceAccess, RaceAccess];
  const resource = first.resource;
  const suffix = uncertainSuffix([first, second]);
  const [nameA, nameB] = sideNames(a, b);
  const bothWrite = first.write && second.write;
  let explanation: string;
  if (bothWrite) {
    explanation = flat`${nameA} wrote ${resource}${seen(a)} and ${nameB} wrote it${seen(b)} concurrently; which write survives depends on timing${suffix}`;
  } else {
    const [reader, writer, readerName, writerName] = first.write
      ? [b, a, nameB, nameA]
      : [a, b, nameA, nameB];
    explanation = flat`${readerName} read ${resource}${seen(reader)} while ${writerName} wrote it${seen(writer)} concurrently; the read may see either value${suffix}`;
  }
  const kind = bothWrite ? 'write_write' : 'read_write';
  return {
    id: raceId('trace', kind, resource, [a.eventId, b.eventId]),
    kind,
    scope: 'trace',
    resource,
    confidence: suffix === '' ? 'certain' : 'uncertain',
    evidence: 'clock',
    accesses,
    services: distinct(accesses, (r) => r.service),
    traceIds: distinct(accesses, (r) => r.traceId),
    explanation,
  };
}

/** What {@link detectTraceRaceGroups} found, and what it cut to stay within budget. */
export interface TraceRaceGroups {
  groups: RaceGroup[];
  limits: AnalysisLimit[];
}

/**
 * The races within one trace, as groups (DESIGN 9): per resource, race kind and pair of sides
 * (service and route), a count, first/last time and up to three examples with full evidence.
 *
 * A resource accessed by few contexts (`budget.exactMaxContexts`) gets the exact detector
 * ({@link detectTraceRaces}: every mutually latest racing pair, lost updates folded), its
 * pairs counted into groups. A resource with more gets the bounded site sweep
 * ({@link sweepSites}), which never enumerates pairs: same groups, counts of racing accesses,
 * and an `analysisLimits` entry saying so. Race detection stops at `budget.timeMs`; the
 * resources left are named in a `time_budget` limit.
 *
 * @example
 * const { groups } = detectTraceRaceGroups(events);
 * groups[0]; // { kind: 'lost_update', resource: 'stock:42', count: 1, examples: [...] }
 */
export function detectTraceRaceGroups(
  events: readonly Event[],
  options: AnalysisOptions = {},
): TraceRaceGroups {
  const budgetOptions = budgetOf(options);
  const budget = new Budget(budgetOptions.timeMs);
  const tolerance = toleranceUs(options);
  const routes = spanRoutes(events);
  const groups = new RaceGroups(
    'trace',
    routes,
    events[0]?.trace_id ?? '',
    resourceLabeller(events),
  );
  const limits: AnalysisLimit[] = [];
  const classes = new ConflictClasses();
  const sideOf = (a: Access): RaceSide => ({
    service: a.event.service,
    route: routes.get(a.event.span_id) ?? null,
  });
  const accept = (g: Access, f: Access) =>
    !(g.uncertain || f.uncertain) || Math.abs(g.event.ts_us - f.event.ts_us) <= tolerance;
  const skipped: string[] = [];
  for (const group of groupByResource(prepareAccesses(events, options.sql))) {
    const resource = group[0]!.resource;
    if (budget.exhausted()) {
      skipped.push(resource);
      continue;
    }
    const contexts = new Set(group.map((a) => a.ctx)).size;
    if (
      contexts <= budgetOptions.exactMaxContexts &&
      group.length <= budgetOptions.exactMaxAccesses
    ) {
      for (const race of racesFromPairs(findRacePairs(group), group, options)) groups.add(race);
      continue;
    }
    limits.push({
      kind: 'bounded_detector',
      resources: [resource],
      contexts,
      accesses: group.length,
      explanation: `${resource} was accessed ${group.length} times by ${contexts} contexts (the exact detector takes ${budgetOptions.exactMaxContexts}): its races are grouped by the bounded detector, which counts racing accesses instead of every racing pair`,
    });
    const complete = sweepSites(
      group,
      classes,
      sideOf,
      accept,
      budget,
      ({ g, f, basis }, fSide, gSide) => {
        const kind: RaceKind =
          g.write && f.write ? (basis ? 'lost_update' : 'write_write') : 'read_write';
        const tsUs: [number, number] = [
          Math.min(g.event.ts_us, basis?.[0].event.ts_us ?? g.event.ts_us),
          Math.max(g.event.ts_us, f.event.ts_us),
        ];
        groups.addInstance(kind, resource, gSide, fSide, tsUs, false, () => {
          if (!basis) return pairRace(g, f);
          const [rg, rf] = basis;
          return lostUpdate([rg, g], [rf, f]);
        });
      },
    );
    if (!complete) skipped.push(resource);
  }
  if (skipped.length > 0) {
    limits.push({
      kind: 'time_budget',
      resources: skipped.slice(0, 20),
      explanation: `race detection stopped at its ${budgetOptions.timeMs} ms budget: ${skipped.length} resource${skipped.length === 1 ? ' was' : 's were'} not (fully) checked${skipped.length > 20 ? ' (the first 20 are listed)' : ''}`,
    });
  }
  return { groups: groups.list(), limits };
}
