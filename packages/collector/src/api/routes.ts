import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RaceGroup } from '../analysis/race-groups.js';
import type { TrafficAggregates } from '../analysis/traffic-aggregates.js';
import { ConcurrencyGate } from '../concurrency-gate.js';
import { HttpError } from '../errors.js';
import type { SdkRegistry } from '../ingest/sdk-registry.js';
import type { AnalysisScheduler } from '../scheduler/analysis-scheduler.js';
import type { RaceRecord, Storage, TraceSummary } from '../storage/types.js';
import { openApiDocument } from './openapi.js';
import {
  boolParam,
  cursorParam,
  encodeCursor,
  enumParam,
  limitParam,
  type Query,
  rangeParams,
  stringParam,
  timeParam,
  traceIdParam,
} from './params.js';
import { isoMicros, spanTreeJson, summaryJson } from './span-tree.js';

export interface QueryRouteOptions {
  storage: Storage;
  scheduler: AnalysisScheduler;
  /** Service metrics and dependencies, maintained at ingest. */
  traffic: TrafficAggregates;
  /** The SDK each service's batches came from. */
  sdks: SdkRegistry;
  /** Largest answer of a listing in bytes (default 8 MiB): longer pages are cut. */
  maxResponseBytes?: number;
  /** Counters shown by /healthz. */
  health: () => Record<string, unknown>;
}

const HOUR_MS = 3_600_000;

/** Largest answer of a listing, in bytes of JSON (approximate): beyond, the page is cut. */
const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

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

const badCursor = () =>
  new HttpError(
    400,
    'bad_request',
    'query parameter "cursor" is not a cursor this API returned: pass "next_cursor" of the previous page unchanged',
  );

function query(request: FastifyRequest): Query {
  return request.query as Query;
}

/**
 * A race group as the API answers it (OpenAPI `Race`). Rows written by a substitute engine
 * that are not groups still answer with the columns storage keeps.
 */
function raceJson(r: RaceRecord) {
  const g = (r.race ?? {}) as Partial<RaceGroup>;
  const lastTsUs = typeof g.lastTsUs === 'number' ? g.lastTsUs : r.tsUs;
  return {
    id: r.id,
    scope: r.scope,
    kind: g.kind ?? null,
    resource: r.resource,
    sides: g.sides ?? [
      { service: r.serviceA, route: null },
      { service: r.serviceB, route: null },
    ],
    services: [...new Set([r.serviceA, r.serviceB])],
    trace_ids: r.traceB ? [r.traceA, r.traceB] : [r.traceA],
    count: typeof g.count === 'number' ? g.count : 1,
    count_exact: g.countExact ?? true,
    confidence: g.confidence ?? 'certain',
    evidence: g.evidence ?? 'clock',
    ts_us: r.tsUs,
    time: isoMicros(r.tsUs),
    last_ts_us: lastTsUs,
    last_time: isoMicros(lastTsUs),
    explanation: g.explanation ?? '',
    examples: Array.isArray(g.examples) ? g.examples : [r.race],
  };
}

/** The query API under /api, and /healthz. Every answer is JSON; see openapi.ts. */
export async function queryRoutes(app: FastifyInstance, options: QueryRouteOptions): Promise<void> {
  const { storage, scheduler, traffic, sdks } = options;
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

  app.get('/healthz', { config: { access: 'public' } }, async (_request, reply) => {
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
      return {
        status: 'ok',
        storage: { kind: storage.kind, location: storage.location, reachable: true, writer },
        counts,
        analysis: scheduler.status(),
        memory_mib: {
          rss: Math.round(process.memoryUsage().rss / 1048576),
          heap_used: Math.round(process.memoryUsage().heapUsed / 1048576),
        },
        ...options.health(),
      };
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
  });

  app.get('/api/openapi.json', async () => openApiDocument);

  app.get('/api/traces', async (request) => {
    const q = query(request);
    const limit = limitParam(q, 50, 500);
    const cursor = cursorParam(q);
    const page = await storage.listTraces({
      service: stringParam(q, 'service'),
      fromUs: timeParam(q, 'from'),
      toUs: timeParam(q, 'to'),
      status: enumParam(q, 'status', ['error', 'ok'] as const),
      hasRaces: boolParam(q, 'has_races'),
      limit,
      after: cursor ? { tsUs: cursor.tsUs, traceId: cursor.id } : undefined,
    });
    return {
      traces: page.traces.map(summaryJson),
      next_cursor: page.next ? encodeCursor(page.next.tsUs, page.next.traceId) : null,
    };
  });

  // One page of a large trace is tens of milliseconds of synchronous work (read, parse, span
  // tree, JSON): pages are built one at a time, with the event loop free between the steps,
  // so that ingestion is answered in between.
  const pageGate = new ConcurrencyGate(1, 256, 'trace pages are being read');
  app.get<{ Params: { traceId: string } }>('/api/traces/:traceId', async (request, reply) => {
    const summary = await traceOr404(request.params.traceId);
    const q = query(request);
    const limit = limitParam(q, 1000, 5000);
    const after = cursorParam(q)?.id ?? null;
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
      const spans = spanTreeJson(page);
      await nextTurn();
      return JSON.stringify({
        ...summaryJson(summary),
        spans,
        events_returned: page.length,
        next_cursor: more && last ? encodeCursor(0, last.id) : null,
      });
    });
    return reply.type('application/json; charset=utf-8').send(body);
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

  app.get<{ Params: { traceId: string } }>(
    '/api/traces/:traceId/critical-path',
    async (request) => {
      const { head, record } = await analysisOf(request.params.traceId);
      return { ...head, critical_path: record?.criticalPath ?? null };
    },
  );

  app.get<{ Params: { traceId: string } }>('/api/traces/:traceId/diagnostics', async (request) => {
    const { head, record } = await analysisOf(request.params.traceId);
    return { ...head, diagnostics: record?.diagnostics ?? null };
  });

  app.get<{ Params: { traceId: string } }>('/api/traces/:traceId/races', async (request) => {
    const { head } = await analysisOf(request.params.traceId);
    const races = await storage.listRaces({ traceId: head.trace_id, limit: 1000 });
    const kept = withinBytes(races.map(raceJson), maxResponseBytes);
    return { ...head, races: kept, truncated: kept.length < races.length || races.length === 1000 };
  });

  app.get('/api/races', async (request) => {
    const q = query(request);
    const limit = limitParam(q, 100, 1000);
    const races = await storage.listRaces({
      resource: stringParam(q, 'resource'),
      service: stringParam(q, 'service'),
      scope: enumParam(q, 'scope', ['trace', 'cross'] as const),
      traceId: q.trace_id !== undefined ? traceIdParam(String(q.trace_id)) : undefined,
      fromUs: timeParam(q, 'from'),
      toUs: timeParam(q, 'to'),
      limit,
      after: cursorParam(q),
    });
    const kept = withinBytes(races, maxResponseBytes);
    const last = kept[kept.length - 1];
    return {
      races: kept.map(raceJson),
      next_cursor:
        (kept.length < races.length || races.length === limit) && last
          ? encodeCursor(last.tsUs, last.id)
          : null,
    };
  });

  app.get('/api/diagnostics', async (request) => {
    const q = query(request);
    const limit = limitParam(q, 50, 500);
    const cursor = cursorParam(q);
    const rows = await storage.listDiagnostics({
      fromUs: timeParam(q, 'from'),
      toUs: timeParam(q, 'to'),
      limit,
      after: cursor ? { tsUs: cursor.tsUs, traceId: cursor.id } : undefined,
    });
    const kept = withinBytes(rows, maxResponseBytes);
    const last = kept[kept.length - 1];
    return {
      traces: kept.map(({ summary, analysis }) => ({
        ...summaryJson(summary),
        diagnostic_count: analysis.diagnosticCount,
        diagnostics: analysis.diagnostics,
      })),
      next_cursor:
        (kept.length < rows.length || rows.length === limit) && last
          ? encodeCursor(last.summary.firstTsUs, last.summary.traceId)
          : null,
    };
  });

  // Both answer from the aggregates maintained at ingest: merging a few buckets, whatever the
  // number of events in the range.
  app.get('/api/services', async (request) => {
    const { fromUs, toUs } = rangeParams(query(request), HOUR_MS);
    const [fromMs, toMs] = [fromUs / 1000, toUs / 1000];
    const coverage = traffic.coverage(fromMs, toMs);
    return {
      from: isoMicros(fromUs),
      to: isoMicros(toUs),
      services: traffic
        .serviceMetrics(fromMs, toMs)
        .map((metrics) => ({ ...metrics, sdks: sdks.of(metrics.service) })),
      events_considered: coverage.events,
      truncated: coverage.truncated,
    };
  });

  app.get('/api/dependencies', async (request) => {
    const { fromUs, toUs } = rangeParams(query(request), HOUR_MS);
    const [fromMs, toMs] = [fromUs / 1000, toUs / 1000];
    const coverage = traffic.coverage(fromMs, toMs);
    return {
      from: isoMicros(fromUs),
      to: isoMicros(toUs),
      ...traffic.dependencyGraph(fromMs, toMs),
      events_considered: coverage.events,
      truncated: coverage.truncated,
    };
  });

  app.get('/api/analysis/status', async () => scheduler.status());

  app.post('/api/analysis/run', async () => scheduler.runNow());
}
