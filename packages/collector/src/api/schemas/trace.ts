import { type Static, Type } from '@sinclair/typebox';
import { Count, DateTime, Dict, Nullable, OpenObject, Ref, StringEnum, TraceId } from './common.js';

export const AnalysisState = StringEnum(['done', 'pending'], {
  description: '`pending` while events arrived after the last analysis (see /api/analysis/run)',
});

export const TraceSummarySchema = Type.Object(
  {
    trace_id: TraceId(),
    root_service: Nullable(Type.String()),
    root_method: Nullable(Type.String()),
    root_route: Nullable(Type.String()),
    start_us: Type.Integer(),
    started_at: DateTime(),
    end_us: Type.Integer(),
    duration_ms: Type.Number(),
    services: Type.Array(Type.String()),
    span_count: Count(),
    event_count: Count(),
    error_count: Count(),
    race_count: Count({ description: 'Race groups of the trace' }),
    status: StringEnum(['ok', 'error']),
    analysis: StringEnum(['done', 'pending']),
  },
  { $id: 'TraceSummary' },
);
export type TraceSummary = Static<typeof TraceSummarySchema>;

/** A vector clock: instance -> counter. */
export const ClockSchema = Dict(Type.Integer());
export type Clock = Static<typeof ClockSchema>;

export const SpanEventSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9a-f]{32}$' }),
    kind: Type.String(),
    ts_us: Type.Integer(),
    component: Type.String(),
    clock: ClockSchema,
    clock_dropped: Type.Optional(Type.Integer()),
    data: OpenObject(),
  },
  { $id: 'SpanEvent' },
);
export type SpanEvent = Static<typeof SpanEventSchema>;

/** What a span is, with or without its events (the fields of {@link SpanSchema}). */
const spanFields = {
  span_id: Type.String(),
  parent_span_id: Nullable(Type.String()),
  parent_missing: Type.Boolean({
    description: 'The span names a parent that never reported (a broken chain)',
  }),
  service: Type.String(),
  instance: Type.String(),
  kind: StringEnum(['server', 'client', 'internal']),
  name: Type.String({
    description: '`GET /orders/:id` (server), `POST http://host/path` (client)',
  }),
  method: Nullable(Type.String()),
  route: Nullable(Type.String()),
  url: Nullable(Type.String()),
  host: Nullable(Type.String()),
  status: Nullable(Type.Integer()),
  error: Nullable(Type.Object({ type: Type.String(), message: Type.String() })),
  failed: Type.Boolean(),
  complete: Type.Boolean({ description: 'Both ends of the span were recorded' }),
  incoming: Nullable(Type.Object({ status: Type.String(), reasons: Type.Array(Type.String()) }), {
    description: 'Server spans: how the incoming trace context was taken (spec 2.4)',
  }),
  start_us: Type.Integer(),
  start: DateTime(),
  duration_ms: Type.Number({
    description: 'As the span’s host measured it when recorded, else from the timestamps',
  }),
};

export const SpanSchema = Type.Recursive(
  (This) =>
    Type.Object({
      ...spanFields,
      events: Type.Array(Ref(SpanEventSchema)),
      children: Type.Array(This),
    }),
  { $id: 'Span' },
);
export type Span = Static<typeof SpanSchema>;

/** A span without its events: the waterfall's row. */
export const SpanOutlineSchema = Type.Recursive(
  (This) =>
    Type.Object({
      ...spanFields,
      event_count: Count({ description: 'Events of the span (listed by /api/traces/{traceId})' }),
      children: Type.Array(This),
    }),
  { $id: 'SpanOutline' },
);
export type SpanOutline = Static<typeof SpanOutlineSchema>;

export const NextCursor = Nullable(Type.String(), {
  description: 'Pass it as `cursor` for the next page; null on the last page',
});

export const TraceDetailSchema = Type.Composite(
  [
    TraceSummarySchema,
    Type.Object({
      spans: Type.Array(Ref(SpanSchema)),
      events_returned: Count(),
      next_cursor: NextCursor,
    }),
  ],
  { description: 'The trace (one page of its events)' },
);
export type TraceDetail = Static<typeof TraceDetailSchema>;

export const TraceOutlineSchema = Type.Composite(
  [
    TraceSummarySchema,
    Type.Object({
      spans: Type.Array(Ref(SpanOutlineSchema)),
      events_read: Count({ description: 'Events the outline was built from' }),
      cut: Type.Boolean({
        description:
          'The trace has more events than an outline reads (200,000): spans may be missing',
      }),
    }),
  ],
  {
    description: "The trace's spans as a tree, without their events: what a waterfall draws first",
  },
);
export type TraceOutline = Static<typeof TraceOutlineSchema>;

export const TracePageSchema = Type.Object(
  {
    traces: Type.Array(Ref(TraceSummarySchema)),
    next_cursor: NextCursor,
    match_count: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'With `count=true`: how many traces match the filters (all pages), counted up to 10,000',
      }),
    ),
    match_count_capped: Type.Optional(
      Type.Boolean({
        description: 'With `count=true`: more than `match_count` traces match (counting stopped)',
      }),
    ),
  },
  { description: 'One page of trace summaries' },
);
export type TracePage = Static<typeof TracePageSchema>;
