import { compareIds } from './accesses.js';
import { getOrCreate } from './collections.js';
import { type LatencySummary, summarize } from './dependency-graph.js';
import { type Event, isFailure, numberField } from './event.js';
import { LatencySketch } from './latency-sketch.js';

/** Request metrics of one service, from its server spans. */
export interface ServiceMetrics {
  service: string;
  /** Distinct instances that reported events. */
  instances: number;
  /** Server spans (requests handled). */
  requests: number;
  /** Answered with a status of 500 or more, or with an error. */
  errors: number;
  errorRate: number;
  /** Server span durations. */
  latencyMs: LatencySummary;
  /** Requests over the observed window; null when the window is empty. */
  requestsPerSecond: number | null;
}

/**
 * Per-service request count, errors, latency percentiles (from a {@link LatencySketch}) and
 * throughput. A server span is one `request_received` / `response_sent` span id; its duration
 * is the `duration_ms` the server recorded (the timestamps' difference when missing), an
 * unanswered request counts but has no duration. The window for requests per second is
 * `windowMs` when given (the time range the caller queried), otherwise the time from the
 * first to the last event passed. Linear in the events.
 *
 * @example
 * serviceMetrics(events); // [{ service: 'inventory', instances: 2, requests: 1200, errors: 3, errorRate: 0.0025, latencyMs: { p50: 8.2, p95: 31, p99: 70.4 }, requestsPerSecond: 20 }]
 */
export function serviceMetrics(
  events: readonly Event[],
  options: { windowMs?: number } = {},
): ServiceMetrics[] {
  interface Acc {
    instances: Set<string>;
    starts: Map<string, Event>;
    ends: Map<string, Event>;
  }
  const per = new Map<string, Acc>();
  let minUs = Number.POSITIVE_INFINITY;
  let maxUs = Number.NEGATIVE_INFINITY;
  for (const event of events) {
    if (event.ts_us < minUs) minUs = event.ts_us;
    if (event.ts_us > maxUs) maxUs = event.ts_us;
    const acc = getOrCreate(per, event.service, () => ({
      instances: new Set<string>(),
      starts: new Map<string, Event>(),
      ends: new Map<string, Event>(),
    }));
    acc.instances.add(event.instance);
    if (event.kind === 'request_received')
      acc.starts.set(`${event.trace_id}:${event.span_id}`, event);
    else if (event.kind === 'response_sent')
      acc.ends.set(`${event.trace_id}:${event.span_id}`, event);
  }
  const windowMs = options.windowMs ?? (maxUs > minUs ? (maxUs - minUs) / 1000 : 0);
  const out: ServiceMetrics[] = [];
  for (const [service, acc] of per) {
    const sketch = new LatencySketch();
    let requests = acc.starts.size;
    let errors = 0;
    for (const [key, end] of acc.ends) {
      const start = acc.starts.get(key);
      if (start === undefined) requests++;
      if (isFailure(end)) errors++;
      const duration =
        numberField(end, 'duration_ms') ?? (start ? (end.ts_us - start.ts_us) / 1000 : undefined);
      if (duration !== undefined) sketch.add(duration);
    }
    out.push({
      service,
      instances: acc.instances.size,
      requests,
      errors,
      errorRate: requests > 0 ? Math.round((errors / requests) * 10_000) / 10_000 : 0,
      latencyMs: summarize(sketch),
      requestsPerSecond:
        windowMs > 0 ? Math.round((requests / (windowMs / 1000)) * 1000) / 1000 : null,
    });
  }
  return out.sort((a, b) => b.requests - a.requests || compareIds(a.service, b.service));
}
