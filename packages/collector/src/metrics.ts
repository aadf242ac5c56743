import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorAnswer } from './api/schemas/common.js';
import type { AnalysisStatus } from './scheduler/analysis-scheduler.js';
import type { Storage } from './storage/types.js';

/**
 * The collector's Prometheus metrics (prom-client): ingestion (events accepted, duplicates,
 * rejected, batches by status, requests in flight), drops the SDKs reported, the analysis
 * backlog and storage latency per operation, plus Node's process metrics. `GET /metrics`
 * answers them in the Prometheus text format, behind the read key like `/api`.
 *
 * @example
 * const metrics = new CollectorMetrics(() => scheduler.status());
 * const storage = metrics.timed(openedStorage);
 * metrics.eventsAccepted.inc(events.length);
 */
export class CollectorMetrics {
  readonly registry = new Registry();
  readonly eventsAccepted: Counter;
  readonly eventsDuplicate: Counter;
  readonly eventsRejected: Counter;
  readonly sdkDropped: Counter;
  readonly ingestRequests: Counter<'status'>;
  readonly ingestInFlight: Gauge;
  readonly storageSeconds: Histogram<'operation' | 'outcome'>;

  constructor(analysis: () => AnalysisStatus) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'raceway_' });
    this.eventsAccepted = new Counter({
      name: 'raceway_events_accepted_total',
      help: 'Events stored (the ingest rate is its rate())',
      registers,
    });
    this.eventsDuplicate = new Counter({
      name: 'raceway_events_duplicate_total',
      help: 'Events received again (a retried batch) and not stored twice',
      registers,
    });
    this.eventsRejected = new Counter({
      name: 'raceway_events_rejected_total',
      help: 'Events refused as invalid (answered 422; the SDK counts them as dropped)',
      registers,
    });
    this.sdkDropped = new Counter({
      name: 'raceway_sdk_dropped_events_total',
      help: 'Events the SDKs reported dropping (queue full, retries given up) before sending',
      registers,
    });
    this.ingestRequests = new Counter({
      name: 'raceway_ingest_requests_total',
      help: 'Ingestion requests (POST /v1/events, /v1/traces) by answer status',
      labelNames: ['status'],
      registers,
    });
    this.ingestInFlight = new Gauge({
      name: 'raceway_ingest_requests_in_flight',
      help: 'Ingestion requests being received, validated or stored (the ingestion queue)',
      registers,
    });
    this.storageSeconds = new Histogram({
      name: 'raceway_storage_operation_seconds',
      help: 'Time of storage operations (inserts, reads, analysis saves) by operation',
      labelNames: ['operation', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const backlog = (name: string, help: string, read: (s: AnalysisStatus) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(analysis()));
        },
      });
    backlog(
      'raceway_analysis_pending_traces',
      'Traces with events not analysed yet (the analysis backlog)',
      (s) => s.pending_traces,
    );
    backlog(
      'raceway_analysis_pending_resources',
      'Resources with accesses not yet checked for cross-trace races',
      (s) => s.pending_resources,
    );
    backlog(
      'raceway_analysis_traces_analyzed',
      'Traces this collector analysed since it started',
      (s) => s.traces_analyzed,
    );
    backlog(
      'raceway_analysis_failures',
      'Analyses that failed since this collector started',
      (s) => s.failures,
    );
  }

  /**
   * `storage` with every operation timed (a Proxy: the storage itself is unchanged, and so is
   * what callers see besides the time it takes to measure).
   */
  timed(storage: Storage): Storage {
    const histogram = this.storageSeconds;
    return new Proxy(storage, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        return (...args: unknown[]) => {
          const result = value.apply(target, args);
          if (!(result instanceof Promise)) return result;
          const end = histogram.startTimer({ operation: property });
          return result.then(
            (ok) => {
              end({ outcome: 'ok' });
              return ok;
            },
            (error) => {
              end({ outcome: 'error' });
              throw error;
            },
          );
        };
      },
    });
  }

  /** `GET /metrics`, and the counting of ingestion requests. */
  register(app: FastifyInstance): void {
    const isIngest = (url: string) => url.startsWith('/v1/');
    app.addHook('onRequest', async (request) => {
      if (isIngest(request.url)) this.ingestInFlight.inc();
    });
    app.addHook('onResponse', async (request, reply) => {
      if (!isIngest(request.url)) return;
      this.ingestInFlight.dec();
      this.ingestRequests.inc({ status: String(reply.statusCode) });
    });
    app.get('/metrics', { schema: metricsRoute }, async (_request, reply) => {
      reply.header('content-type', this.registry.contentType);
      return this.registry.metrics();
    });
  }
}

const metricsRoute = {
  summary: 'Prometheus metrics: ingestion, drops, analysis backlog, storage latency',
  tags: ['health'],
  response: {
    200: {
      description: 'The metrics in the Prometheus text exposition format',
      content: { 'text/plain': { schema: Type.String() } },
    },
    401: ErrorAnswer(
      'Keys are configured and the request has no valid key (`WWW-Authenticate: Bearer`)',
    ),
    421: ErrorAnswer('The collector listens on loopback and the Host header names another host'),
  },
} as const;
