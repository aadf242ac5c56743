import { type Static, Type } from '@sinclair/typebox';
import { DependenciesAnswerSchema, ServicesAnswerSchema } from './aggregates.js';
import {
  AnalysisStatusSchema,
  DiagnosticsSchema,
  RacePageSchema,
  TraceCriticalPathSchema,
  TraceDiagnosticsSchema,
  TraceRacesSchema,
} from './analysis.js';
import { Count, ErrorAnswer, OpenObject, Ref, StringEnum } from './common.js';
import { HealthSchema, HealthUnavailableSchema } from './health.js';
import { HistorySchema } from './history.js';
import { IngestResponseSchema } from './ingest.js';
import { TimelineSchema } from './timeline.js';
import {
  TraceDetailSchema,
  TraceOutlineSchema,
  TracePageSchema,
  TraceSummarySchema,
} from './trace.js';

// The schema of every route: what it takes (params, querystring) and what it answers, per
// status code. Fastify validates requests and serialises answers with them, @fastify/swagger
// writes /api/openapi.json from them. Semantics no schema can state (a cursor this API issued,
// `from` before `to`) are checked by the handlers (params.ts).

/** Epoch milliseconds from 0 to 253399999999999 (year 9999), without leading zeros. */
export const EPOCH_MS_PATTERN =
  '^(0|[1-9][0-9]{0,13}|1[0-9]{14}|2[0-4][0-9]{13}|25[0-2][0-9]{12}|253[0-3][0-9]{11})$';

const Time = (description: string) =>
  Type.Union([Type.String({ format: 'date-time' }), Type.String({ pattern: EPOCH_MS_PATTERN })], {
    description: `${description}: an RFC 3339 date-time (\`2026-01-31T12:00:00Z\`) or epoch milliseconds, from 1970 to 9999 (other times: 400)`,
  });
const TextFilter = (description: string) =>
  Type.Optional(Type.String({ maxLength: 512, description: `${description} (empty: no filter)` }));
/** A duration in milliseconds, fractions allowed, up to about 31 years. */
const Duration = (description: string) => Type.Number({ minimum: 0, maximum: 1e12, description });
const Limit = (fallback: number, max: number) =>
  Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: max,
      default: fallback,
      description: `Page size (default ${fallback})`,
    }),
  );
const Cursor = Type.Optional(
  Type.String({
    pattern: '^[A-Za-z0-9_-]+$',
    description: 'The `next_cursor` of the previous page, unchanged (opaque)',
  }),
);

/** A trace id as a request names it; normalised by traceIdParam (params.ts). */
const TraceIdParam = (description: string) =>
  Type.String({
    pattern:
      '^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$',
    not: { pattern: '^[0-]*$' },
    description,
  });
const TraceIdPath = Type.Object({
  traceId: TraceIdParam(
    '32 hex digits, not all zero (upper case and a dashed UUID are accepted and normalised)',
  ),
});

const badRequest = ErrorAnswer('A parameter is malformed; `message` says which and how to fix it');
const traceNotFound = ErrorAnswer('No trace with this id is stored');
/** Answers every /api route can give besides its own. */
const common = {
  401: ErrorAnswer(
    'Keys are configured and the request has no valid key (`WWW-Authenticate: Bearer`)',
  ),
  421: ErrorAnswer('The collector listens on loopback and the Host header names another host'),
  503: ErrorAnswer('The storage failed or is restarting, or too many requests wait; retry later'),
} as const;

export const healthzRoute = {
  summary: 'Health: storage reachable, stored counts, analysis backlog (no key needed)',
  tags: ['health'],
  security: [],
  response: {
    200: HealthSchema,
    421: common[421],
    503: Type.Union([HealthUnavailableSchema, ErrorAnswer('The collector is busy')], {
      description: HealthUnavailableSchema.description,
    }),
  },
} as const;

export const openApiRoute = {
  summary: 'This document',
  tags: ['meta'],
  response: { 200: OpenObject({ description: 'OpenAPI 3.1 document' }), ...common },
} as const;

export const listTracesRoute = {
  summary: 'List traces, newest first',
  tags: ['traces'],
  querystring: Type.Object({
    service: TextFilter('Only traces in which this service took part'),
    from: Type.Optional(Time('Only traces that started at or after this time')),
    to: Type.Optional(Time('Only traces that started at or before this time')),
    status: Type.Optional(
      StringEnum(['error', 'ok'], {
        description: 'Only traces with (`error`) or without (`ok`) errors',
      }),
    ),
    has_races: Type.Optional(
      Type.Boolean({ description: 'Only traces with races (`true`) or without (`false`)' }),
    ),
    route: TextFilter(
      'Only traces whose root route contains this text (ASCII letters in any case: `checkout` finds `/Checkout/:id`)',
    ),
    min_ms: Type.Optional(
      Duration('Only traces that lasted at least this many milliseconds (first to last event)'),
    ),
    max_ms: Type.Optional(
      Duration('Only traces that lasted at most this many milliseconds (first to last event)'),
    ),
    attr: Type.Optional(
      Type.String({
        maxLength: 400,
        description:
          'Only traces with an event attribute of this key and value, as `key=value` (the first `=` splits; exact match). Searched: the scalar attributes of `custom` events (trackEvent, OpenTelemetry span events), keys up to 128 and values up to 256 characters (empty: no filter)',
      }),
    ),
    trace_id_prefix: Type.Optional(
      Type.String({
        pattern: '^[0-9a-fA-F-]{0,36}$',
        description:
          'Only traces whose id starts with these hex digits (dashes ignored, any case; empty: no filter)',
      }),
    ),
    count: Type.Optional(
      Type.Boolean({
        description:
          'Also answer `match_count`: how many traces match (up to 10,000; `match_count_capped` beyond)',
      }),
    ),
    limit: Limit(50, 500),
    cursor: Cursor,
  }),
  response: { 200: TracePageSchema, 400: badRequest, ...common },
} as const;

export const traceRoute = {
  summary: 'One trace: its summary and its spans as a tree, with their events and clocks',
  description:
    'Events are paged in storage order (event id), `limit` at a time (default 1000), each page shown as a span tree in time order; a page is also cut at 8 MiB of JSON. `next_cursor` fetches the next page, null on the last. Pages are built one at a time (503 `busy` when 256 wait).',
  tags: ['traces'],
  params: TraceIdPath,
  querystring: Type.Object({ limit: Limit(1000, 5000), cursor: Cursor }),
  response: { 200: TraceDetailSchema, 400: badRequest, 404: traceNotFound, ...common },
} as const;

export const traceOutlineRoute = {
  summary: "One trace's spans as a tree, without their events: what a waterfall draws first",
  description:
    "Built from all the trace's events (up to 200,000; `cut` beyond), answered without them: a small answer for a big trace, drawn while its events come page by page from /api/traces/{traceId}. Built one at a time with those pages (503 `busy` when 256 wait).",
  tags: ['traces'],
  params: TraceIdPath,
  response: { 200: TraceOutlineSchema, 400: badRequest, 404: traceNotFound, ...common },
} as const;

export const criticalPathRoute = {
  summary: "The trace's critical path with time attributed per service",
  tags: ['analysis'],
  params: TraceIdPath,
  response: { 200: TraceCriticalPathSchema, 400: badRequest, 404: traceNotFound, ...common },
} as const;

export const traceRacesRoute = {
  summary: 'Race groups involving this trace: intra-trace and cross-trace',
  tags: ['analysis'],
  params: TraceIdPath,
  response: { 200: TraceRacesSchema, 400: badRequest, 404: traceNotFound, ...common },
} as const;

export const traceDiagnosticsRoute = {
  summary:
    'Broken chains, clock skew, error propagation, slow services and analysis limits of this trace',
  tags: ['analysis'],
  params: TraceIdPath,
  response: { 200: TraceDiagnosticsSchema, 400: badRequest, 404: traceNotFound, ...common },
} as const;

export const listRacesRoute = {
  summary: 'Race groups across all traces, newest first',
  tags: ['analysis'],
  querystring: Type.Object({
    resource: TextFilter('Only races on this resource'),
    service: TextFilter('Only races involving this service'),
    scope: Type.Optional(
      StringEnum(['trace', 'cross'], {
        description: 'Only intra-trace (`trace`) or cross-trace (`cross`) races',
      }),
    ),
    trace_id: Type.Optional(TraceIdParam('Only races involving this trace')),
    from: Type.Optional(Time('Start of the time range')),
    to: Type.Optional(Time('End of the time range (after `from`)')),
    limit: Limit(100, 1000),
    cursor: Cursor,
  }),
  response: { 200: RacePageSchema, 400: badRequest, ...common },
} as const;

export const DiagnosedTraceSchema = Type.Composite([
  TraceSummarySchema,
  Type.Object({
    diagnostic_count: Count({ description: 'Findings in `diagnostics`' }),
    diagnostics: Ref(DiagnosticsSchema),
  }),
]);

export const DiagnosticsPageSchema = Type.Object(
  {
    traces: Type.Array(DiagnosedTraceSchema),
    next_cursor: TracePageSchema.properties.next_cursor,
  },
  { description: 'One page of traces with their diagnostics' },
);

export const listDiagnosticsRoute = {
  summary: 'Traces with diagnostics, newest first',
  tags: ['analysis'],
  querystring: Type.Object({
    from: Type.Optional(Time('Start of the time range')),
    to: Type.Optional(Time('End of the time range (after `from`)')),
    limit: Limit(50, 500),
    cursor: Cursor,
  }),
  response: { 200: DiagnosticsPageSchema, 400: badRequest, ...common },
} as const;

const Range = Type.Object({
  from: Type.Optional(Time('Start of the range (default: one hour before `to`)')),
  to: Type.Optional(Time('End of the range (default: now)')),
});

export const servicesRoute = {
  summary: 'Per service: request count, error rate, p50/p95/p99 latency over a time range',
  tags: ['aggregates'],
  querystring: Range,
  response: { 200: ServicesAnswerSchema, 400: badRequest, ...common },
} as const;

export const servicesTimelineRoute = {
  summary:
    'Per service and per edge, over time: requests, errors and p50/p99 latency in buckets of a minute or more',
  description:
    'The range (default: the last hour) is cut into at most `buckets` buckets of 1, 2, 5, 10, 15 or 30 minutes, or 1, 2, 3, 6, 12 or 24 hours (at least an hour for a range reaching back more than a day, where minutes are merged into hours), aligned on multiples of their length.',
  tags: ['aggregates'],
  querystring: Type.Object({
    ...Range.properties,
    buckets: Type.Optional(
      Type.Integer({ minimum: 2, maximum: 240, default: 60, description: 'Most buckets wanted' }),
    ),
  }),
  response: { 200: TimelineSchema, 400: badRequest, ...common },
} as const;

export const dependenciesRoute = {
  summary:
    'Which service calls which: nodes and edges with call counts, error counts and p50/p95/p99; calls to uninstrumented peers end at nodes flagged `uninstrumented`',
  tags: ['aggregates'],
  querystring: Range,
  response: { 200: DependenciesAnswerSchema, 400: badRequest, ...common },
} as const;

export const analysisStatusRoute = {
  summary: 'What the background analysis still has to do',
  tags: ['analysis'],
  response: { 200: Ref(AnalysisStatusSchema, { description: 'Scheduler status' }), ...common },
} as const;

export const analysisRunRoute = {
  summary:
    'Analyse every trace whose stored events are not analysed yet, now (without waiting for traces to be quiet), and answer when done. No body. For tests, demos and scripts that must read analysis results right after sending events.',
  tags: ['analysis'],
  response: {
    200: Ref(AnalysisStatusSchema, { description: 'Status after the run' }),
    400: ErrorAnswer('A body was sent and it is not JSON (the route takes none)'),
    413: ErrorAnswer('A body above 64 KiB was sent (the route takes none)'),
    415: ErrorAnswer('A body of a type other than JSON was sent (the route takes none)'),
    ...common,
  },
} as const;

export const ingestRoute = {
  summary: 'Ingest a batch of events',
  description:
    'Body: a JSON batch (spec/schemas/batch.schema.json), optionally `Content-Encoding: gzip`. At most 5 MiB as received, 20 MiB decompressed, 5000 events. Answered only after the stored events are durable. Idempotent on event id. A batch mixing valid and invalid events: the valid ones are stored, the answer is 422 listing the rejected ones. Beyond the schema, an event is rejected when nested deeper than 32 levels, when its `data` is above 64 KiB of JSON, when it holds a non-finite number, when its timestamp is more than 10 minutes (`--max-clock-ahead`) ahead of the collector, or when `duration_ms` or `clock_dropped` is out of range.',
  tags: ['ingest'],
  response: {
    200: Ref(IngestResponseSchema, { description: 'Every event is stored' }),
    400: ErrorAnswer('Not JSON, bad gzip, or not a batch'),
    401: ErrorAnswer('An ingest key is configured and the request has no valid one'),
    413: ErrorAnswer('Body too large (compressed or decompressed) or more than 5000 events'),
    415: ErrorAnswer('Content-Type is not application/json, or an unsupported Content-Encoding'),
    421: common[421],
    422: Ref(IngestResponseSchema, {
      description:
        'Some events were invalid: they are listed in `rejected`; the valid ones are stored',
    }),
    503: ErrorAnswer(
      'Storage failed or is restarting, or too many bodies are being decompressed: nothing of the batch is guaranteed stored, retry',
    ),
  },
} as const;

export type DiagnosedTrace = Static<typeof DiagnosedTraceSchema>;
export type DiagnosticsPage = Static<typeof DiagnosticsPageSchema>;

export const resourceHistoryRoute = {
  summary: 'Every access of one resource across traces, with values and SQL statements',
  description:
    'Accesses of a `state_read`/`state_write` resource (`stock:mug`) or of a SQL row-and-column resource (`products[id=<digest>].stock`) in [`from`, `to`] (default: the last 24 hours), at most `limit` (the newest). Ordered by time; within one trace, by happens-before (vector clocks).',
  tags: ['analysis'],
  querystring: Type.Object({
    resource: Type.String({ minLength: 1, maxLength: 512, description: 'The resource name' }),
    from: Type.Optional(Time('Start of the range (default: 24 hours before `to`)')),
    to: Type.Optional(Time('End of the range (default: now)')),
    limit: Limit(500, 5000),
  }),
  response: { 200: HistorySchema, 400: badRequest, ...common },
} as const;
