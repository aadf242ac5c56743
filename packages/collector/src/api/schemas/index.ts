import { LatencySchema } from './aggregates.js';
import {
  AnalysisStatusSchema,
  CriticalPathSchema,
  DiagnosticsSchema,
  RaceAccessSchema,
  RaceExampleSchema,
  RaceSchema,
  RaceSideSchema,
} from './analysis.js';
import { ErrorSchema } from './common.js';
import { IngestResponseSchema } from './ingest.js';
import { SpanEventSchema, SpanOutlineSchema, SpanSchema, TraceSummarySchema } from './trace.js';

// The API's shapes. Server code imports the schemas; the web UI and the tests import only the
// types (`import type { Race } from '.../src/api/schemas/index.js'`).

export type {
  DependenciesAnswer,
  DependencyEdge,
  DependencyNode,
  Latency,
  ServiceMetrics,
  ServiceSdk,
  ServicesAnswer,
} from './aggregates.js';
export type {
  AnalysisStatus,
  CriticalPath,
  Diagnostics,
  Race,
  RaceAccess,
  RaceExample,
  RacePage,
  RaceSide,
  TraceCriticalPath,
  TraceDiagnostics,
  TraceRaces,
} from './analysis.js';
export type { ApiError } from './common.js';
export type { Health, HealthUnavailable } from './health.js';
export type { History, HistoryEntry } from './history.js';
export type { IngestResponse } from './ingest.js';
export type { DiagnosedTrace, DiagnosticsPage } from './routes.js';
export type { Timeline } from './timeline.js';
export type {
  Clock,
  Span,
  SpanEvent,
  SpanOutline,
  TraceDetail,
  TraceOutline,
  TracePage,
  TraceSummary,
} from './trace.js';

/**
 * The schemas answers refer to by `$ref` (their `$id`): registered once with `app.addSchema`,
 * and the components of /api/openapi.json.
 */
export const sharedSchemas = [
  ErrorSchema,
  TraceSummarySchema,
  SpanEventSchema,
  SpanSchema,
  SpanOutlineSchema,
  CriticalPathSchema,
  DiagnosticsSchema,
  RaceAccessSchema,
  RaceExampleSchema,
  RaceSideSchema,
  RaceSchema,
  AnalysisStatusSchema,
  LatencySchema,
  IngestResponseSchema,
];
