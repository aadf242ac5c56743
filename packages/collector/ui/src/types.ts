// The shapes the UI reads from the collector's query API (src/api/openapi.ts documents them).
// Fields the UI can live without are optional: the API grows, and an older collector still
// renders.

export type Clock = Record<string, number>;

export interface TraceSummary {
  trace_id: string;
  root_service: string | null;
  root_method: string | null;
  root_route: string | null;
  start_us: number;
  started_at: string;
  end_us: number;
  duration_ms: number;
  services: string[];
  span_count: number;
  event_count: number;
  error_count: number;
  race_count: number;
  status: 'ok' | 'error';
  analysis: 'done' | 'pending';
}

export interface TracePage {
  traces: TraceSummary[];
  next_cursor: string | null;
}

export interface SpanEvent {
  id: string;
  kind: string;
  ts_us: number;
  component: string;
  clock: Clock;
  clock_dropped?: number;
  data: Record<string, unknown>;
}

export interface Span {
  span_id: string;
  parent_span_id: string | null;
  parent_missing: boolean;
  service: string;
  instance: string;
  kind: 'server' | 'client' | 'internal';
  name: string;
  method: string | null;
  route: string | null;
  url: string | null;
  host: string | null;
  status: number | null;
  error: { type: string; message: string } | null;
  failed: boolean;
  complete: boolean;
  incoming: { status: string; reasons: string[] } | null;
  start_us: number;
  start: string;
  duration_ms: number;
  events: SpanEvent[];
  children: Span[];
}

export interface TraceDetail extends TraceSummary {
  spans: Span[];
  /** When the collector pages a large trace's events: where the next page starts. */
  next_cursor?: string | null;
}

export interface CriticalSection {
  spanId: string;
  service: string;
  kind?: string;
  name: string;
  startMs: number;
  durationMs: number;
}

export interface CriticalPath {
  rootSpanId: string;
  totalMs: number;
  /** Each span on the path, placed after the analysis corrected clock skew. */
  segments?: Array<{ spanId: string; startMs: number; durationMs: number }>;
  sections: CriticalSection[];
  services: Array<{ service: string; ms: number; percent: number }>;
  biggestContributor: string | null;
  skewAdjusted?: boolean;
}

export interface RaceAccess {
  eventId: string;
  traceId: string;
  kind: string;
  service: string;
  instance?: string;
  component: string;
  spanId?: string;
  tsUs: number;
  clock: Clock;
  atomic?: boolean;
  locks?: string[];
  value?: unknown;
  version?: unknown;
}

/** One racing pair (or lost-update quadruple) with its evidence. */
export interface RaceInstance {
  id: string;
  kind: string;
  scope: string;
  resource: string;
  confidence?: string;
  evidence?: string;
  accesses: RaceAccess[];
  services?: string[];
  traceIds?: string[];
  explanation?: string;
}

/** A group of race instances (same kind, resource and sides) with a few examples. */
export interface RaceGroupBody {
  id: string;
  kind: string;
  scope: string;
  resource: string;
  sides?: Array<{ service: string; route: string | null }>;
  count: number;
  countExact?: boolean;
  confidence?: string;
  evidence?: string;
  firstTsUs?: number;
  lastTsUs?: number;
  traceIds?: string[];
  explanation?: string;
  examples: RaceInstance[];
}

/**
 * A race as `/api/races` answers it: a group (kind, resource, two sides, count, examples with
 * full evidence). Older collectors answered one racing pair under `race`.
 */
export interface RaceItem {
  id: string;
  scope: 'trace' | 'cross';
  kind?: string | null;
  resource: string;
  sides?: Array<{ service: string; route: string | null }>;
  services: string[];
  trace_ids: string[];
  count?: number;
  count_exact?: boolean;
  confidence?: string;
  evidence?: string;
  ts_us: number;
  time: string;
  last_ts_us?: number;
  explanation?: string;
  examples?: RaceInstance[];
  race?: RaceInstance | RaceGroupBody;
}

export interface Diagnostics {
  brokenChains?: Array<Record<string, unknown> & { explanation?: string }>;
  clockSkew?: Array<Record<string, unknown> & { explanation?: string }>;
  errors?: Array<Record<string, unknown> & { explanation?: string }>;
  summary?: {
    slowestServices?: Array<{ service: string; spans: number; totalMs: number; selfMs: number }>;
  } & Record<string, unknown>;
  [other: string]: unknown;
}

export interface Percentiles {
  p50: number;
  p95?: number;
  p99: number;
}

/** An SDK a service's batches came from. */
export interface ServiceSdk {
  name: string;
  version: string;
  language: string | null;
  instances: number;
  last_seen: string;
}

export interface ServiceMetrics {
  service: string;
  instances?: number;
  /** Most recently seen first; empty for a service not heard from since the collector started. */
  sdks?: ServiceSdk[];
  requests: number;
  errors: number;
  errorRate: number;
  latencyMs: Percentiles;
  requestsPerSecond?: number;
  routes?: Array<{
    route: string;
    requests?: number;
    errors?: number;
    latencyMs?: Percentiles;
  }>;
}

export interface DependencyNode {
  name: string;
  uninstrumented: boolean;
}

export interface DependencyEdge {
  from: string;
  to: string;
  calls: number;
  errors: number;
  errorRate?: number;
  unmatched?: number;
  latencyMs: Percentiles;
}
