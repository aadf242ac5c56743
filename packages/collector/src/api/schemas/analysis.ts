import { type Static, Type } from '@sinclair/typebox';
import { Count, DateTime, Dict, Nullable, Ref, StringEnum, TraceId } from './common.js';
import { ClockSchema } from './trace.js';

// The analysis results as the API answers them: the JSON of the analysis module's types
// (src/analysis), stored as is and served as is. routes.ts returns the module's own types for
// these schemas, so TypeScript fails the build when the two drift apart.

const SpanKind = StringEnum(['server', 'client', 'internal']);
const RaceKind = StringEnum(['write_write', 'read_write', 'lost_update']);
const Confidence = StringEnum(['certain', 'uncertain']);
const Evidence = StringEnum(['clock', 'same_version', 'same_value', 'timing']);

// --- critical path -------------------------------------------------------------------------

export const CriticalPathSchema = Type.Object(
  {
    rootSpanId: Type.String(),
    traceStartUs: Type.Integer({
      description: "The root span's start (as its host recorded it), µs since the epoch",
    }),
    totalMs: Type.Number(),
    segments: Type.Array(
      Type.Object({
        spanId: Type.String(),
        parentSpanId: Nullable(Type.String()),
        service: Type.String(),
        instance: Type.String(),
        kind: SpanKind,
        name: Type.String(),
        startMs: Type.Number({ description: 'From the trace start, skew-adjusted' }),
        durationMs: Type.Number(),
        selfMs: Type.Number({ description: 'The part of the path the span spends itself' }),
      }),
      { description: 'Spans on the path, in the order the path reaches them' },
    ),
    sections: Type.Array(
      Type.Object({
        spanId: Type.String(),
        service: Type.String({
          description: "Who the time is attributed to (an uninstrumented callee's host)",
        }),
        kind: SpanKind,
        name: Type.String(),
        startMs: Type.Number(),
        durationMs: Type.Number(),
      }),
      { description: "The path as consecutive stretches from the root's start to its end" },
    ),
    services: Type.Array(
      Type.Object({
        service: Type.String(),
        ms: Type.Number(),
        percent: Type.Number({ minimum: 0, maximum: 100 }),
        uninstrumented: Type.Optional(Type.Literal(true)),
      }),
      { description: 'Time per service, most first' },
    ),
    biggestContributor: Nullable(Type.String(), {
      description: 'The service to optimise first: the largest share of the path',
    }),
    skewAdjusted: Type.Boolean({
      description: "A span on the path was shifted to fit its caller's window (clock skew)",
    }),
  },
  { $id: 'CriticalPath', description: 'Where the time of the trace went, end to end' },
);
export type CriticalPath = Static<typeof CriticalPathSchema>;

// --- diagnostics ---------------------------------------------------------------------------

const BrokenChainSchema = Type.Object({
  kind: StringEnum([
    'callee_missing',
    'parent_unknown',
    'context_rejected',
    'context_degraded',
    'clock_missing',
    'response_not_merged',
  ]),
  service: Type.String(),
  spanId: Type.String(),
  eventId: Type.String(),
  traceId: Type.String(),
  host: Type.Optional(Type.String({ description: '`callee_missing`: the host called' })),
  calleeInstrumented: Type.Optional(Type.Boolean()),
  headersWithheld: Type.Optional(
    Type.Boolean({
      description:
        "`callee_missing`: the caller's SDK sent no trace headers (the host is outside its propagateTo)",
    }),
  ),
  reasons: Type.Optional(Type.Array(Type.String())),
  count: Count(),
  explanation: Type.String(),
});

const AnalysisLimitSchema = Type.Object({
  kind: StringEnum(['bounded_detector', 'time_budget', 'events_cut', 'analysis_failed']),
  resources: Type.Optional(Type.Array(Type.String())),
  contexts: Type.Optional(Type.Integer()),
  accesses: Type.Optional(Type.Integer()),
  events: Type.Optional(Type.Integer()),
  explanation: Type.String(),
});

const ClockSkewSchema = Type.Object({
  callerService: Type.String(),
  callerInstance: Type.String(),
  calleeService: Type.String(),
  calleeInstance: Type.String(),
  offsetMs: Type.Number({ description: "How far the callee's clock is ahead (negative: behind)" }),
  roundTripMs: Type.Number(),
  samples: Count(),
  violations: Count(),
  maxViolationMs: Type.Number(),
  explanation: Type.String(),
});

const ErrorPropagationSchema = Type.Object({
  origin: Type.Object({
    service: Type.String(),
    spanId: Type.String(),
    kind: SpanKind,
    status: Type.Optional(Type.Integer()),
    error: Type.Optional(Type.Object({ type: Type.String(), message: Type.String() })),
    uninstrumented: Type.Optional(Type.Literal(true)),
  }),
  path: Type.Array(Type.String()),
  handledBy: Nullable(Type.String()),
  reachedRoot: Type.Boolean(),
  traceId: Type.String(),
  count: Count(),
  explanation: Type.String(),
});

const ServiceTimeSchema = Type.Object({
  service: Type.String(),
  spans: Count(),
  totalMs: Type.Number(),
  selfMs: Type.Number(),
  maxMs: Type.Number(),
});

export const DiagnosticsSchema = Type.Object(
  {
    brokenChains: Type.Array(BrokenChainSchema),
    analysisLimits: Type.Array(AnalysisLimitSchema, {
      description: 'What the analysis cut or simplified to stay within its budget',
    }),
    clockSkew: Type.Array(ClockSkewSchema),
    errors: Type.Array(ErrorPropagationSchema),
    summary: Type.Object({
      traces: Count(),
      events: Count(),
      spans: Count(),
      services: Type.Array(Type.String()),
      truncatedClockEvents: Count(),
      slowestServices: Type.Array(ServiceTimeSchema),
      sqlStatements: Type.Optional(
        Type.Object(
          {
            total: Count(),
            unkeyed: Count(),
            unkeyedByReason: Dict(Count()),
          },
          {
            description:
              'Present when the trace ran SQL: statements seen, and those that read or wrote rows the analysis could not key (ranges, joins, subqueries, unparseable text), left out of race detection, by reason',
          },
        ),
      ),
    }),
  },
  {
    $id: 'Diagnostics',
    description:
      'Broken chains, clock skew, error propagation, slow services and analysis limits. Every top-level array is a list of findings: empty for a healthy trace.',
  },
);
export type Diagnostics = Static<typeof DiagnosticsSchema>;

// --- races ---------------------------------------------------------------------------------

export const RaceAccessSchema = Type.Object(
  {
    eventId: Type.String(),
    traceId: TraceId(),
    kind: StringEnum(['state_read', 'state_write']),
    service: Type.String(),
    instance: Type.String(),
    component: Type.String(),
    spanId: Type.String(),
    route: Type.Optional(
      Nullable(Type.String(), {
        description: 'Route template of the server span the access ran in',
      }),
    ),
    tsUs: Type.Integer(),
    clock: ClockSchema,
    clockDropped: Type.Optional(Type.Integer()),
    value: Type.Optional(
      Type.Unknown({ description: 'The value seen or written, when the SDK recorded it' }),
    ),
    version: Type.Optional(Type.Unsafe<string | number>({ type: ['string', 'integer'] })),
    atomic: Type.Boolean(),
    locks: Type.Array(Type.String()),
  },
  { $id: 'RaceAccess', description: 'One access a race involves, with its evidence' },
);
export type RaceAccess = Static<typeof RaceAccessSchema>;

export const RaceExampleSchema = Type.Object(
  {
    id: Type.String(),
    kind: RaceKind,
    scope: StringEnum(['trace', 'cross_trace']),
    resource: Type.String(),
    confidence: Confidence,
    evidence: Evidence,
    accesses: Type.Array(Ref(RaceAccessSchema)),
    services: Type.Array(Type.String()),
    traceIds: Type.Array(Type.String()),
    overlapMs: Type.Optional(
      Type.Number({ description: 'Cross-trace: how long the read-modify-write windows overlap' }),
    ),
    outcome: Type.Optional(
      StringEnum(['lost', 'not_lost', 'unknown'], {
        description:
          'Lost updates: `lost` when both read the same value or version and both wrote; `not_lost` when one side read what the other wrote; `unknown` when the values recorded cannot tell',
      }),
    ),
    explanation: Type.String(),
  },
  {
    $id: 'RaceExample',
    description:
      'One instance of a race group: two accesses (write-write, read-write) or four (lost update: read A, write A, read B, write B), with full evidence',
  },
);
export type RaceExample = Static<typeof RaceExampleSchema>;

export const RaceSideSchema = Type.Object(
  {
    service: Type.String(),
    route: Nullable(Type.String(), {
      description: 'Route template of the server span, null outside one',
    }),
  },
  { $id: 'RaceSide' },
);
export type RaceSide = Static<typeof RaceSideSchema>;

export const RaceSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9a-f]{1,32}$' }),
    scope: StringEnum(['trace', 'cross']),
    kind: RaceKind,
    resource: Type.String(),
    label: Type.String({
      description:
        'The resource as people read it: the key of a database row shown with the raw values its services sent (`products[sku="mug"].stock`), else by the last four hex digits of each digest (`products[id=…5a68].stock`); other resources as they are named',
    }),
    sides: Type.Array(Ref(RaceSideSchema), { minItems: 2, maxItems: 2 }),
    services: Type.Array(Type.String(), { description: 'Distinct services of the two sides' }),
    trace_ids: Type.Array(TraceId()),
    count: Type.Integer({ minimum: 1, description: 'Instances found' }),
    count_exact: Type.Boolean({
      description:
        'false when the resource had more concurrent contexts than the exact detector takes: `count` is then the number of accesses found racing with the other side (at least one per racing access), see the trace diagnostics `analysisLimits`',
    }),
    confidence: Confidence,
    evidence: Evidence,
    outcome: Type.Optional(
      StringEnum(['lost', 'not_lost', 'unknown'], {
        description:
          'Lost updates: `lost` when an example shows an update was lost (both read the same value or version and both wrote), else `unknown` when the values cannot tell, else `not_lost` (one side read what the other wrote: the race did no harm this time)',
      }),
    ),
    lost_count: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Lost updates: how many instances the values show lost an update (outcome `lost`). Counted over every instance of a cross-trace group; over the examples of an intra-trace group (a lower bound when `count` exceeds them)',
      }),
    ),
    ts_us: Type.Integer({ description: 'Earliest access of the group' }),
    time: DateTime(),
    last_ts_us: Type.Integer({ description: 'Latest access of the group' }),
    last_time: DateTime(),
    explanation: Type.String(),
    examples: Type.Array(Ref(RaceExampleSchema), { maxItems: 3 }),
  },
  {
    $id: 'Race',
    description:
      'A race group: every instance of one race type on one resource between the same two sides (service and route), as TSan reports one race per pair of sites. `count` instances were found; `examples` holds up to 3 of them with full evidence.',
  },
);
export type Race = Static<typeof RaceSchema>;

// --- scheduler -----------------------------------------------------------------------------

export const AnalysisStatusSchema = Type.Object(
  {
    pending_traces: Count({ description: 'Traces with events not analysed yet' }),
    pending_resources: Count({
      description: 'Resources with state accesses not yet checked for cross-trace races',
    }),
    running: Type.Boolean(),
    traces_analyzed: Count(),
    cross_trace_passes: Count(),
    failures: Count(),
    last_run_at: Nullable(DateTime()),
    delay_ms: Type.Number(),
  },
  { $id: 'AnalysisStatus', description: 'What the background analysis still has to do' },
);
export type AnalysisStatus = Static<typeof AnalysisStatusSchema>;

/** The head of every per-trace analysis answer. */
export const AnalysisHead = {
  trace_id: TraceId(),
  analysis: StringEnum(['done', 'pending'], {
    description: '`pending` while events arrived after the last analysis (see /api/analysis/run)',
  }),
  analyzed_at: Nullable(DateTime()),
};

export const TraceCriticalPathSchema = Type.Object(
  {
    ...AnalysisHead,
    critical_path: Type.Union([Ref(CriticalPathSchema), Type.Null()]),
  },
  { description: 'The critical path (null until the trace is analysed, or when it has no span)' },
);
export type TraceCriticalPath = Static<typeof TraceCriticalPathSchema>;

export const TraceDiagnosticsSchema = Type.Object(
  { ...AnalysisHead, diagnostics: Type.Union([Ref(DiagnosticsSchema), Type.Null()]) },
  { description: 'The diagnostics (null until the trace is analysed)' },
);
export type TraceDiagnostics = Static<typeof TraceDiagnosticsSchema>;

export const TraceRacesSchema = Type.Object(
  {
    ...AnalysisHead,
    races: Type.Array(Ref(RaceSchema)),
    truncated: Type.Boolean({
      description: 'More groups exist than one answer holds (1000, or 8 MiB)',
    }),
  },
  { description: 'The race groups found so far' },
);
export type TraceRaces = Static<typeof TraceRacesSchema>;

export const RacePageSchema = Type.Object(
  {
    races: Type.Array(Ref(RaceSchema)),
    next_cursor: Nullable(Type.String(), {
      description: 'Pass it as `cursor` for the next page; null on the last page',
    }),
  },
  { description: 'One page of race groups' },
);
export type RacePage = Static<typeof RacePageSchema>;
