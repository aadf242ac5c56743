// The shapes the UI reads from the collector's query API: the types of the API's own schemas
// (src/api/schemas, the source of /api/openapi.json), never a copy.

export type {
  AnalysisStatus,
  Clock,
  CriticalPath,
  DependenciesAnswer,
  DependencyEdge,
  DependencyNode,
  DiagnosedTrace,
  Diagnostics,
  DiagnosticsPage,
  Race,
  RaceAccess,
  RaceExample,
  RacePage,
  ServiceMetrics,
  ServiceSdk,
  ServicesAnswer,
  Span,
  SpanEvent,
  TraceCriticalPath,
  TraceDetail,
  TraceDiagnostics,
  TracePage,
  TraceRaces,
  TraceSummary,
} from '../../src/api/schemas/index.js';
