import { setImmediate as nextTurn } from 'node:timers/promises';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { type Access, prepareAccesses } from '../analysis/accesses.js';
import { happensBefore } from '../analysis/clock.js';
import { mergeRaceGroups, type RaceGroup } from '../analysis/race-groups.js';
import { resourceFromLabel, type SqlAnalysisOptions } from '../analysis/sql/sql-accesses.js';
import { ConcurrencyGate } from '../concurrency-gate.js';
import { HttpError } from '../errors.js';
import type { StoredEvent } from '../event.js';
import type { AnalysisScheduler } from '../scheduler/analysis-scheduler.js';
import type { SharedAggregates } from '../shared-aggregates.js';
import type { RaceGroupRecord, RaceRecord, Storage, TraceSummary } from '../storage/types.js';
import {
  attributeParam,
  badCursor,
  cursorParam,
  durationRange,
  encodeCursor,
  rangeParams,
  textParam,
  timeParam,
  traceIdParam,
  traceIdPrefixParam,
} from './params.js';
import type { HistoryEntry, Race, TraceDetail } from './schemas/index.js';
import {
  analysisRunRoute,
  analysisStatusRoute,
  criticalPathRoute,
  dependenciesRoute,
  healthzRoute,
  listDiagnosticsRoute,
  listRacesRoute,
  listTracesRoute,
  openApiRoute,
  resourceHistoryRoute,
  servicesRoute,
  servicesTimelineRoute,
  traceDiagnosticsRoute,
  traceOutlineRoute,
  traceRacesRoute,
  traceRoute,
} from './schemas/routes.js';
import { isoMicros, spanOutlineJson, spanTreeJson, summaryJson } from './span-tree.js';
import { isoOfMs, timelineBuckets, timelineSeries } from './timeline.js';

export interface QueryRouteOptions {
  storage: Storage;
  scheduler: AnalysisScheduler;
  /** Service metrics, dependencies and SDKs of every collector sharing the storage. */
  aggregates: SharedAggregates;
  /** Largest answer of a listing in bytes (default 8 MiB): longer pages are cut. */
  maxResponseBytes?: number;
  /** How `db_query` statements are read (digest key, isolation), as the analysis does. */
  sql?: SqlAnalysisOptions;
  /** Counters shown by /healthz. */
  health: () => { uptime_s: number; retention_ms: number; sdk_reported_dropped_events: number };
}

const HOUR_MS = 3_600_000;
/** `GET /api/traces?count=true` counts this many matches at most (then says "more"). */
const MAX_MATCH_COUNT = 10_000;
const DAY_MS = 24 * HOUR_MS;

/** Traces with more accesses than this keep the clock-sum order (see {@link historyOrder}). */
const EARLIEST_FIRST_MAX = 500;

/**
 * The accesses of a resource in history order. Within one trace, happens-before: sorting by
 * clock sum is a topological order of it (a → b means b's clock is ≥ a's in every entry and >
 * in one, so its sum is larger), with time then event id breaking ties (and a stable sort
 * keeping a statement's read before its write). Sum order may put a later concurrent access
 * first, though (a write after few hops before an earlier one after many), so a trace of at most
 * EARLIEST_FIRST_MAX accesses is then re-ordered by Kahn's algorithm over the happens-before
 * pairs (quadratic), taking the earliest access whose predecessors are all listed: time order
 * wherever the clocks allow it. Across traces no clock relates accesses, so the per-trace
 * sequences are merged by time: at each step the trace whose next access is earliest goes
 * first, which keeps every trace's order.
 */
export function historyOrder(accesses: Access[]): Access[] {
  const byTrace = new Map<string, Access[]>();
  for (const a of accesses) {
    const list = byTrace.get(a.event.trace_id);
    if (list) list.push(a);
    else byTrace.set(a.event.trace_id, [a]);
  }
  const queues = [...byTrace.values()].map((list) => {
    list.sort((a, b) => a.sum - b.sum || byTimeThenId(a.event, b.event));
    return list.length <= EARLIEST_FIRST_MAX ? earliestFirst(list) : list;
  });
  const heads = queues.map(() => 0);
  const out: Access[] = [];
  for (;;) {
    let best = -1;
    for (let q = 0; q < queues.length; q++) {
      const next = queues[q]![heads[q]!];
      if (next === undefined) continue;
      const current = best < 0 ? undefined : queues[best]![heads[best]!]!;
      if (
        current === undefined ||
        next.event.ts_us < current.event.ts_us ||
        (next.event.ts_us === current.event.ts_us && next.event.trace_id < current.event.trace_id)
      ) {
        best = q;
      }
    }
    if (best < 0) return out;
    out.push(queues[best]![heads[best]!++]!);
  }
}

/** Largest answer of a listing, in bytes of JSON (approximate): beyond, the page is cut. */
const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** An outline reads a trace's events this many at a time, up to the UI's cap of a trace. */
const OUTLINE_PAGE = 5000;
const OUTLINE_MAX_EVENTS = 200_000;

/**
 * The longest prefix of `items` whose JSON stays within `maxBytes` (at least one item);
 * `size` estimates an item's JSON length.
 */
function withinBytes<T>(
  items: T[],
  maxBytes: number,
  size: (item: T) => number = (item) => JSON.stringify(item).length + 1,
): T[] {
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    bytes += size(items[i]!);
    if (bytes > maxBytes && i > 0) return items.slice(0, i);
  }
  return items;
}

function byTimeThenId(a: { ts_us: number; id: string }, b: { ts_us: number; id: string }) {
  return a.ts_us - b.ts_us || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * How many instances of a group lost an update by their values: each stored instance of a
 * cross-trace group has its verdict (counted by storage); an intra-trace group has verdicts for
 * its examples only.
 */
function lostCount(group: RaceGroupRecord, merged: RaceGroup): number {
  if (group.instances.length > 1 || group.size > 1) return group.lost;
  return merged.examples.filter((e) => e.outcome === 'lost').length;
}

/**
 * A race group as the API answers it (schema `Race`): the stored instances of one group (a
 * cross-trace race is stored per pair of requests) as one race with their count.
 */
function raceJson(group: RaceGroupRecord): Race {
  const [first] = group.instances as [RaceRecord, ...RaceRecord[]];
  const g = mergeRaceGroups(
    group.groupId,
    group.instances.map((r) => r.race),
    group.size,
    group.firstTsUs,
    group.lastTsUs,
  );
  const traceIds = group.instances.flatMap((r) => (r.traceB ? [r.traceA, r.traceB] : [r.traceA]));
  return {
    id: group.groupId,
    scope: first.scope,
    kind: g.kind,
    resource: first.resource,
    // Races stored before labels existed are named by their resource.
    label: g.label ?? first.resource,
    sides: g.sides,
    services: [...new Set(group.instances.flatMap((r) => [r.serviceA, r.serviceB]))],
    trace_ids: [...new Set(traceIds)],
    count: g.count,
    count_exact: g.countExact,
    confidence: g.confidence,
    evidence: g.evidence,
    ...(g.outcome === undefined ? {} : { outcome: g.outcome, lost_count: lostCount(group, g) }),
    ts_us: group.firstTsUs,
    time: isoMicros(group.firstTsUs),
    last_ts_us: g.lastTsUs,
    last_time: isoMicros(g.lastTsUs),
    explanation: g.explanation,
    examples: g.examples,
  };
}

/**
 * The query API under /api, and /healthz. Every route declares what it takes and answers
 * (schemas/routes.ts): Fastify validates and serialises with it, /api/openapi.json says it.
 */
/**
 * `list` (in clock-sum order, a topological order of happens-before) re-ordered so that each
 * next access is the earliest of those whose happens-before predecessors are all listed. Only
 * pairs in list order are edges (the accesses of one statement, read then write, included), so
 * malformed clocks cannot make a cycle.
 */
function earliestFirst(list: Access[]): Access[] {
  const n = list.length;
  const waiting = new Array<number>(n).fill(0);
  const next: number[][] = list.map(() => []);
  for (let j = 0; j < n; j++) {
    const f = list[j]!.event;
    for (let i = 0; i < j; i++) {
      const e = list[i]!.event;
      if (e === f || happensBefore(e, f)) {
        waiting[j]!++;
        next[i]!.push(j);
      }
    }
  }
  const ready: number[] = [];
  for (let j = 0; j < n; j++) if (waiting[j] === 0) ready.push(j);
  const out: Access[] = [];
  while (ready.length > 0) {
    let best = 0;
    for (let k = 1; k < ready.length; k++) {
      const a = list[ready[k]!]!.event;
      const b = list[ready[best]!]!.event;
      const order = byTimeThenId(a, b) || ready[k]! - ready[best]!;
      if (order < 0) best = k;
    }
    const [chosen] = ready.splice(best, 1);
    out.push(list[chosen!]!);
    for (const j of next[chosen!]!) if (--waiting[j]! === 0) ready.push(j);
  }
  return out;
}

export async function queryRoutes(
  instance: FastifyInstance,
  options: QueryRouteOptions,
): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { storage, scheduler, aggregates } = options;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

  async function traceOr404(rawId: string): Promise<TraceSummary> {
    const traceId = traceIdParam(rawId);
    const summary = await storage.getTrace(traceId);
    if (!summary) {
      throw new HttpError(
        404,
        'not_found',
        `no trace ${traceId} is stored: it was never received, or it is older than the retention period`,
      );
    }
    return summary;
  }

  app.get(
    '/healthz',
    { schema: healthzRoute, config: { access: 'public' } },
    async (_request, reply) => {
      const writer = storage.writerHealth?.() ?? null;
      if (writer?.state === 'restarting') {
        return reply.code(503).send({
          error: 'storage_restarting',
          message: `the ${storage.kind} writer stopped (${writer.lastFailure}) and is being started again: ingestion answers 503 meanwhile and SDKs retry`,
          status: 'restarting',
          storage: { kind: storage.kind, location: storage.location, reachable: false, writer },
          analysis: scheduler.status(),
        });
      }
      try {
        await storage.ping();
        const counts = await storage.stats();
        return reply.send({
          status: 'ok',
          storage: { kind: storage.kind, location: storage.location, reachable: true, writer },
          counts,
          analysis: scheduler.status(),
          memory_mib: {
            rss: Math.round(process.memoryUsage().rss / 1048576),
            heap_used: Math.round(process.memoryUsage().heapUsed / 1048576),
          },
          ...options.health(),
        });
      } catch (error) {
        const lastError = (error as Error).message;
        return reply.code(503).send({
          error: 'storage_unreachable',
          message: `the ${storage.kind} storage at ${storage.location} cannot be reached: ${lastError}`,
          status: 'unavailable',
          storage: {
            kind: storage.kind,
            location: storage.location,
            reachable: false,
            last_error: lastError,
          },
        });
      }
    },
  );

  // Generated from the routes' schemas by @fastify/swagger (see openapi.ts), once.
  app.get('/api/openapi.json', { schema: openApiRoute }, async () => {
    return instance.swagger() as unknown as Record<string, unknown>;
  });

  app.get('/api/traces', { schema: listTracesRoute }, async (request) => {
    const q = request.query;
    const cursor = cursorParam(q.cursor);
    const query = {
      service: textParam(q.service),
      fromUs: timeParam('from', q.from),
      toUs: timeParam('to', q.to),
      status: q.status,
      hasRaces: q.has_races,
      route: textParam(q.route),
      ...durationRange(q.min_ms, q.max_ms),
      attribute: attributeParam(q.attr),
      traceIdPrefix: traceIdPrefixParam(q.trace_id_prefix),
      limit: q.limit!,
      after: cursor ? { tsUs: cursor.tsUs, traceId: cursor.id } : undefined,
    };
    const [page, count] = await Promise.all([
      storage.listTraces(query),
      q.count ? storage.countTraces(query, MAX_MATCH_COUNT) : undefined,
    ]);
    return {
      traces: page.traces.map(summaryJson),
      next_cursor: page.next ? encodeCursor(page.next.tsUs, page.next.traceId) : null,
      ...(count === undefined
        ? {}
        : {
            match_count: Math.min(count, MAX_MATCH_COUNT),
            match_count_capped: count > MAX_MATCH_COUNT,
          }),
    };
  });

  // One page of a large trace is tens of milliseconds of synchronous work (read, parse, span
  // tree, JSON): pages are built one at a time, with the event loop free between the steps,
  // so that ingestion is answered in between.
  const pageGate = new ConcurrencyGate(1, 256, 'trace pages are being read');
  app.get('/api/traces/:traceId', { schema: traceRoute }, async (request, reply) => {
    const summary = await traceOr404(request.params.traceId);
    const limit = request.query.limit!;
    const after = cursorParam(request.query.cursor)?.id ?? null;
    if (after !== null && !/^[0-9a-f]{32}$/.test(after)) throw badCursor();
    const body = await pageGate.run(async () => {
      // Pages follow the storage key (event id), so a page never sorts the whole trace; each
      // page is shown in time order. Cut early when the events get large (response size cap).
      const read = await storage.getTraceEventsPage(summary.traceId, after, limit);
      await nextTurn();
      const page = withinBytes(read, maxResponseBytes, (e) => JSON.stringify(e.data).length + 400);
      const last = page[page.length - 1];
      const more = page.length < read.length || read.length === limit;
      page.sort(byTimeThenId);
      const detail: TraceDetail = {
        ...summaryJson(summary),
        spans: spanTreeJson(page),
        events_returned: page.length,
        next_cursor: more && last ? encodeCursor(0, last.id) : null,
      };
      await nextTurn();
      // Serialised here, inside the gate (the JSON of a large page is much of its work), and
      // sent as is.
      return JSON.stringify(detail);
    });
    return reply.type('application/json; charset=utf-8').send(body as unknown as TraceDetail);
  });

  // A big trace's waterfall before its events: every page of events read (one at a time, with
  // the trace pages), the span tree answered without them. The clocks are most of a trace's
  // JSON; the outline of 2,000 spans is a fraction of their 6,000 events.
  app.get('/api/traces/:traceId/outline', { schema: traceOutlineRoute }, async (request) => {
    const summary = await traceOr404(request.params.traceId);
    return pageGate.run(async () => {
      const events: StoredEvent[] = [];
      let after: string | null = null;
      let cut = false;
      for (;;) {
        const page = await storage.getTraceEventsPage(summary.traceId, after, OUTLINE_PAGE);
        events.push(...page);
        if (page.length < OUTLINE_PAGE) break;
        if (events.length >= OUTLINE_MAX_EVENTS) {
          cut = true;
          break;
        }
        after = page[page.length - 1]!.id;
        await nextTurn();
      }
      events.sort(byTimeThenId);
      return {
        ...summaryJson(summary),
        spans: spanOutlineJson(events),
        events_read: events.length,
        cut,
      };
    });
  });

  async function analysisOf(rawId: string) {
    const summary = await traceOr404(rawId);
    const record = await storage.getTraceAnalysis(summary.traceId);
    return {
      summary,
      record,
      head: {
        trace_id: summary.traceId,
        analysis: summaryJson(summary).analysis,
        analyzed_at: record ? new Date(record.analyzedAtMs).toISOString() : null,
      },
    };
  }

  app.get('/api/traces/:traceId/critical-path', { schema: criticalPathRoute }, async (request) => {
    const { head, record } = await analysisOf(request.params.traceId);
    return { ...head, critical_path: record?.criticalPath ?? null };
  });

  app.get(
    '/api/traces/:traceId/diagnostics',
    { schema: traceDiagnosticsRoute },
    async (request) => {
      const { head, record } = await analysisOf(request.params.traceId);
      return { ...head, diagnostics: record?.diagnostics ?? null };
    },
  );

  app.get('/api/traces/:traceId/races', { schema: traceRacesRoute }, async (request) => {
    const { head } = await analysisOf(request.params.traceId);
    const races = await storage.listRaceGroups({ traceId: head.trace_id, limit: 1000 });
    const kept = withinBytes(races.map(raceJson), maxResponseBytes);
    return { ...head, races: kept, truncated: kept.length < races.length || races.length === 1000 };
  });

  app.get('/api/races', { schema: listRacesRoute }, async (request) => {
    const q = request.query;
    const limit = q.limit!;
    const typed = textParam(q.resource);
    const races = await storage.listRaceGroups({
      resource: typed === undefined ? undefined : resourceFromLabel(typed, options.sql?.digestKey),
      service: textParam(q.service),
      scope: q.scope,
      traceId: q.trace_id !== undefined ? traceIdParam(q.trace_id) : undefined,
      fromUs: timeParam('from', q.from),
      toUs: timeParam('to', q.to),
      limit,
      after: cursorParam(q.cursor),
    });
    const kept = withinBytes(races, maxResponseBytes);
    const last = kept[kept.length - 1];
    return {
      races: kept.map(raceJson),
      next_cursor:
        (kept.length < races.length || races.length === limit) && last
          ? encodeCursor(last.lastTsUs, last.groupId)
          : null,
    };
  });

  app.get('/api/resources/history', { schema: resourceHistoryRoute }, async (request) => {
    const q = request.query;
    // Typed as the UI shows it (`products[sku="mug"].stock`) or as stored (with digests).
    const resource = resourceFromLabel(q.resource, options.sql?.digestKey);
    const limit = q.limit!;
    const { fromUs, toUs } = rangeParams(q, DAY_MS);
    // Newest first from storage, one more than asked to tell whether some were left out.
    const [events, races] = await Promise.all([
      storage.getStateAccesses(resource, fromUs, toUs, limit + 1),
      storage.listRaces({ resource, fromUs, toUs, limit: 1000 }),
    ]);
    const truncated = events.length > limit;
    const kept = truncated ? events.slice(0, limit) : events;
    const racesOf = new Map<string, string[]>();
    for (const race of races) {
      // Named as /api/races names them: by their group.
      const id = race.groupId ?? race.id;
      for (const example of race.race.examples) {
        for (const access of example.accesses) {
          const ids = racesOf.get(access.eventId) ?? [];
          if (!ids.includes(id)) ids.push(id);
          racesOf.set(access.eventId, ids);
        }
      }
    }
    const accesses = prepareAccesses(kept, options.sql ?? {}).filter(
      (a) => a.resource === resource,
    );
    const entries: HistoryEntry[] = historyOrder(accesses).map((a) => {
      const e = a.event;
      const value = a.sql ? a.sql.value : e.data.value;
      const version = e.data.version;
      return {
        trace_id: e.trace_id,
        event_id: e.id,
        service: e.service,
        instance: e.instance,
        ts_us: e.ts_us,
        time: isoMicros(e.ts_us),
        event_kind: e.kind as HistoryEntry['event_kind'],
        kind: a.write ? 'write' : 'read',
        ...(value === undefined ? {} : { value }),
        ...((typeof version === 'string' || Number.isInteger(version)) && !a.sql
          ? { version: version as string | number }
          : {}),
        statement:
          e.kind === 'db_query' && typeof e.data.statement === 'string' ? e.data.statement : null,
        clock: e.clock,
        races: racesOf.get(e.id) ?? [],
      };
    });
    return {
      resource,
      from: isoMicros(fromUs),
      to: isoMicros(toUs),
      entries,
      entries_returned: entries.length,
      truncated,
    };
  });

  app.get('/api/diagnostics', { schema: listDiagnosticsRoute }, async (request) => {
    const q = request.query;
    const limit = q.limit!;
    const cursor = cursorParam(q.cursor);
    const rows = await storage.listDiagnostics({
      fromUs: timeParam('from', q.from),
      toUs: timeParam('to', q.to),
      limit,
      after: cursor ? { tsUs: cursor.tsUs, traceId: cursor.id } : undefined,
    });
    const kept = withinBytes(rows, maxResponseBytes);
    const last = kept[kept.length - 1];
    return {
      // Listed only with at least one finding: never null.
      traces: kept.flatMap(({ summary, analysis }) =>
        analysis.diagnostics
          ? [
              {
                ...summaryJson(summary),
                diagnostic_count: analysis.diagnosticCount,
                diagnostics: analysis.diagnostics,
              },
            ]
          : [],
      ),
      next_cursor:
        (kept.length < rows.length || rows.length === limit) && last
          ? encodeCursor(last.summary.firstTsUs, last.summary.traceId)
          : null,
    };
  });

  // Both answer from the aggregates every collector keeps in storage as it ingests: merging a
  // few buckets per collector, whatever the number of events in the range.
  app.get('/api/services', { schema: servicesRoute }, async (request) => {
    const { fromUs, toUs } = rangeParams(request.query, HOUR_MS);
    const view = await aggregates.view(fromUs / 1000, toUs / 1000);
    return {
      from: isoMicros(fromUs),
      to: isoMicros(toUs),
      services: view.serviceMetrics(),
      events_considered: view.eventsConsidered(),
      truncated: view.truncated,
    };
  });

  app.get('/api/services/timeline', { schema: servicesTimelineRoute }, async (request) => {
    const { fromUs, toUs } = rangeParams(request.query, HOUR_MS);
    const { stepMs, starts } = timelineBuckets(
      Math.floor(fromUs / 1000),
      Math.floor(toUs / 1000),
      request.query.buckets!,
      Date.now() - DAY_MS,
    );
    const firstMs = starts[0]!;
    const view = await aggregates.view(firstMs, Math.floor(toUs / 1000));
    const series = timelineSeries(starts.map((start) => view.slice(start, start + stepMs - 1)));
    return {
      from: isoOfMs(firstMs),
      to: isoMicros(toUs),
      step_s: stepMs / 1000,
      buckets: starts.map(isoOfMs),
      ...series,
      events_considered: view.eventsConsidered(),
      truncated: view.truncated,
    };
  });

  app.get('/api/dependencies', { schema: dependenciesRoute }, async (request) => {
    const { fromUs, toUs } = rangeParams(request.query, HOUR_MS);
    const view = await aggregates.view(fromUs / 1000, toUs / 1000);
    return {
      from: isoMicros(fromUs),
      to: isoMicros(toUs),
      ...view.dependencyGraph(),
      events_considered: view.eventsConsidered(),
      truncated: view.truncated,
    };
  });

  app.get('/api/analysis/status', { schema: analysisStatusRoute }, async () => scheduler.status());

  app.post('/api/analysis/run', { schema: analysisRunRoute }, async () => scheduler.runNow());
}
