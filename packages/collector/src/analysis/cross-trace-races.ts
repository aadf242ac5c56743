import { type Access, compareIds, prepareAccesses } from './accesses.js';
import { type Event, isEarlier } from './event.js';
import { type AnalysisOptions, budgetOf, toleranceUs } from './options.js';
import {
  distinct,
  explainLostUpdate,
  type Race,
  type RaceAccess,
  type RaceEvidence,
  raceAccess,
  raceId,
  sameValue,
  sideNames,
} from './race.js';

/** A read-modify-write window: a read, then a non-atomic write of the same resource. */
interface Window {
  read: Access;
  write: Access;
  startUs: number;
  endUs: number;
  /** Locks held from the read through the write (the same acquisition at both). */
  locks: readonly string[];
}

const EVIDENCE_RANK: Record<RaceEvidence, number> = {
  same_version: 3,
  same_value: 2,
  timing: 1,
  clock: 0,
};

/**
 * Lost updates across traces (DESIGN 4). Two requests have no causal link, so every pair of
 * their accesses is "concurrent"; only read-modify-write interleavings are reported.
 *
 * - A **window** is a read of a resource followed, in the same context, by a non-atomic write
 *   of it with no write of that context in between: `[read.ts, write.ts]`. A window ending
 *   in an atomic write is not a read-modify-write (the write does not depend on the read).
 * - Two windows of different traces on the same resource interleave when they overlap: both
 *   reads come before both writes, so the later write was computed from a value that no
 *   longer held, and one update is lost.
 * - Timestamps of different instances may be skewed: an overlap counts (`certain`, evidence
 *   `timing`) only when it exceeds the skew tolerance (default 5 ms; 0 for two windows of the
 *   same instance, which share a clock). Windows within the tolerance of overlapping are
 *   reported as `uncertain` only when both reads saw the same version or value.
 * - Ranked by evidence: both reads saw the same version (strongest), the same value, then
 *   timing alone; then certain before uncertain, then by overlap.
 * - Windows that both hold a common lock from read to write are serialised: not a race.
 *   Pass the traces' `lock_acquire`/`lock_release` events along for this rule; every kind
 *   other than state and lock events is ignored, as are windows of the same trace (the
 *   intra-trace detector orders those by their clocks).
 *
 * Near-linear: per resource, windows are sorted by start and swept, keeping only windows that
 * can still overlap the next one. Output-sensitive in the worst case (k requests all
 * read-modify-writing one resource at once are k(k-1)/2 lost updates).
 *
 * @example
 * detectCrossTraceRaces([...accessesOfTraceA, ...accessesOfTraceB])[0]?.explanation;
 * // 'inventory (trace 4bf92f35) and inventory (trace 9a1c44e0) both read stock:42 = 5 ...'
 */
export function detectCrossTraceRaces(
  events: readonly Event[],
  options: AnalysisOptions = {},
): Race[] {
  const tolerance = toleranceUs(options);
  // k requests read-modify-writing one resource at once are k(k-1)/2 lost updates: found up
  // to the budget, then the sweep stops (the ranking below is over those found).
  const { maxCrossTraceRaces } = budgetOf(options);
  const ranked: Array<{ race: Race; rank: number; overlapUs: number }> = [];
  for (const windows of windowsByResource(prepareAccesses(events, options.sql))) {
    windows.sort(
      (a, b) => a.startUs - b.startUs || a.endUs - b.endUs || compareIds(a.read.id, b.read.id),
    );
    const active: Window[] = [];
    for (const w of windows) {
      // A window that ended more than the tolerance before w starts cannot reach w or any
      // later window (they start later still).
      let kept = 0;
      for (const a of active) if (a.endUs > w.startUs - tolerance) active[kept++] = a;
      active.length = kept;
      for (const a of active) {
        if (ranked.length >= maxCrossTraceRaces) break;
        const found = lostUpdate(a, w, tolerance);
        if (found) ranked.push(found);
      }
      active.push(w);
    }
  }
  ranked.sort(
    (x, y) =>
      y.rank - x.rank ||
      y.overlapUs - x.overlapUs ||
      x.race.accesses[0]!.tsUs - y.race.accesses[0]!.tsUs ||
      compareIds(x.race.id, y.race.id),
  );
  return ranked.map((r) => r.race);
}

/** Program order within one context: own epoch, then time, then event id. */
const byEpoch = (x: Access, y: Access) =>
  x.epoch - y.epoch || x.tsUs - y.tsUs || compareIds(x.id, y.id);

/** Per resource: the last read of the context being walked, and the resource's windows. */
interface ResourceWindows {
  lastRead: Access | undefined;
  windows: Window[];
}

/**
 * The read-modify-write windows of each resource (resources in the order of their first window,
 * windows in context order, each context's in program order). Across traces almost every
 * context is a request of two or three accesses, 10^5 and more of them: the accesses are grouped
 * by context in one flat array (a counting sort by context number, which keeps their order)
 * rather than an array per context, and a context's accesses are sorted only when out of order.
 */
function windowsByResource(accesses: readonly Access[]): Window[][] {
  const byContext = groupByContext(accesses);
  // One entry per resource: the lookup that finds a write's read also files its window. A last
  // read of an earlier context counts as absent (checking the context costs less than clearing
  // every entry per context).
  // By resource id (a number, not the resource name: no string hashed per access).
  const byResource: Array<ResourceWindows | undefined> = [];
  const withWindows: Window[][] = [];
  let from = 0;
  while (from < byContext.length) {
    const ctx = byContext[from]!.ctx;
    let to = from + 1;
    while (to < byContext.length && byContext[to]!.ctx === ctx) to++;
    if (to - from >= 2) {
      sortRange(byContext, from, to);
      for (let i = from; i < to; i++) {
        const access = byContext[i]!;
        let entry = byResource[access.resourceId];
        if (!access.write) {
          if (entry === undefined) {
            entry = { lastRead: access, windows: [] };
            byResource[access.resourceId] = entry;
          } else entry.lastRead = access;
          continue;
        }
        const read = entry?.lastRead;
        if (entry === undefined || read?.ctx !== ctx) continue;
        entry.lastRead = undefined;
        if (access.atomic) continue;
        if (entry.windows.length === 0) withWindows.push(entry.windows);
        entry.windows.push(newWindow(read, access));
      }
    }
    from = to;
  }
  return withWindows;
}

/** The accesses ordered by context number, keeping their order within a context. */
function groupByContext(accesses: readonly Access[]): Access[] {
  let contexts = 0;
  for (const access of accesses) if (access.ctx >= contexts) contexts = access.ctx + 1;
  const starts = new Int32Array(contexts + 1);
  for (const access of accesses) starts[access.ctx + 1]!++;
  for (let c = 1; c <= contexts; c++) starts[c]! += starts[c - 1]!;
  const grouped = new Array<Access>(accesses.length);
  for (const access of accesses) grouped[starts[access.ctx]!++] = access;
  return grouped;
}

/** Sorts `accesses[from..to)` into program order ({@link byEpoch}), if not in it already. */
function sortRange(accesses: Access[], from: number, to: number): void {
  for (let i = from + 1; i < to; i++) {
    if (byEpoch(accesses[i - 1]!, accesses[i]!) > 0) {
      const sorted = accesses.slice(from, to).sort(byEpoch);
      for (let j = 0; j < sorted.length; j++) accesses[from + j] = sorted[j]!;
      return;
    }
  }
}

function newWindow(read: Access, write: Access): Window {
  let locks: readonly string[] = [];
  if (read.lockHolds.length > 0 && write.lockHolds.length > 0) {
    const holds = new Set(read.lockHolds);
    locks = write.lockHolds
      .filter((hold) => holds.has(hold))
      .map((hold) => hold.split('\u0000')[0]!);
  }
  return {
    read,
    write,
    // The accesses' copies of the times: the events themselves are far apart in memory.
    startUs: Math.min(read.tsUs, write.tsUs),
    endUs: Math.max(read.tsUs, write.tsUs),
    locks,
  };
}

function lostUpdate(
  x: Window,
  y: Window,
  skewUs: number,
): { race: Race; rank: number; overlapUs: number } | null {
  if (x.read.event.trace_id === y.read.event.trace_id) return null;
  if (x.locks.some((lock) => y.locks.includes(lock))) return null;
  const overlapUs = Math.min(x.endUs, y.endUs) - Math.max(x.startUs, y.startUs);
  const sameClock = x.read.event.instance === y.read.event.instance;
  const tolerance = sameClock ? 0 : skewUs;
  // Too far apart whatever the reads saw (the confidence rules below): nothing to build.
  if (overlapUs <= -tolerance) return null;
  const [first, second] = isEarlier(x.read.event, y.read.event) ? [x, y] : [y, x];
  const accesses = [first.read, first.write, second.read, second.write].map(raceAccess);
  const [readA, , readB] = accesses as [RaceAccess, RaceAccess, RaceAccess, RaceAccess];
  const evidence: RaceEvidence =
    readA.version !== undefined && readA.version === readB.version
      ? 'same_version'
      : sameValue(readA, readB)
        ? 'same_value'
        : 'timing';
  // A window whose program order was inferred (an OpenTelemetry span's statements) is never
  // the ground of a `certain` race.
  const inferred = [first.read, first.write, second.read, second.write].some((a) => a.inferred);
  let confidence: Race['confidence'];
  if (overlapUs > tolerance) confidence = inferred ? 'uncertain' : 'certain';
  else if (evidence !== 'timing' && overlapUs > -tolerance) confidence = 'uncertain';
  else return null;
  const resource = first.read.resource;
  const overlapMs = Math.round(overlapUs) / 1000;
  const how =
    overlapUs > tolerance
      ? `in separate requests whose read-modify-write windows overlap by ${overlapMs} ms${inferred ? ' (uncertain: the order within one side was inferred from span structure, not from vector clocks)' : ''}`
      : `in separate requests whose read-modify-write windows are within the ${skewUs / 1000} ms clock-skew tolerance of overlapping (uncertain)`;
  const { outcome, explanation } = explainLostUpdate(
    accesses,
    sideNames(readA, readB),
    resource,
    how,
  );
  const race: Race = {
    id: raceId(
      'cross_trace',
      'lost_update',
      resource,
      accesses.map((a) => a.eventId),
    ),
    kind: 'lost_update',
    scope: 'cross_trace',
    resource,
    confidence,
    evidence,
    accesses,
    services: distinct(accesses, (a) => a.service),
    traceIds: distinct(accesses, (a) => a.traceId),
    overlapMs,
    outcome,
    explanation,
  };
  return {
    race,
    // A race the values show did no harm this time ranks below every other.
    rank:
      outcome === 'not_lost'
        ? 0
        : 1 + EVIDENCE_RANK[evidence] * 2 + (confidence === 'certain' ? 1 : 0),
    overlapUs,
  };
}
