import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Server as TlsServer } from 'node:tls';
import type { Ajv } from 'ajv';
import ajvFormats from 'ajv-formats';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { AnalysisBudget } from './analysis/options.js';
import type { SqlAnalysisOptions } from './analysis/sql/sql-accesses.js';
import { accessControl } from './api/access.js';
import { allowedMethodsOf } from './api/allowed-methods.js';
import { registerOpenApi } from './api/openapi.js';
import { validationMessage } from './api/params.js';
import { checkResponses } from './api/response-check.js';
import { queryRoutes } from './api/routes.js';
import { sharedSchemas } from './api/schemas/index.js';
import {
  describeStorage,
  parseDuration,
  parsePort,
  parseStorage,
  type StorageLocation,
} from './config.js';
import { HttpError, RacewayConfigError } from './errors.js';
import { formatBytes } from './ingest/body.js';
import { DEFAULT_EVENT_LIMITS, type EventLimits } from './ingest/limits.js';
import { ingestRoutes } from './ingest/route.js';
import { createValidators } from './ingest/validate.js';
import { CollectorMetrics } from './metrics.js';
import { OtlpExporter, type OtlpExportOptions } from './otlp/export.js';
import { otlpIngestRoutes } from './otlp/route.js';
import { AnalysisScheduler, type AnalysisStatus } from './scheduler/analysis-scheduler.js';
import { defaultEngine } from './scheduler/default-engine.js';
import type { AnalysisEngine } from './scheduler/engine.js';
import { SharedAggregates } from './shared-aggregates.js';
import { openStorage } from './storage/index.js';
import type { Storage } from './storage/types.js';
import { webUi } from './web-ui.js';

/** Options of {@link startCollector}; every one has a default. */
export interface CollectorOptions {
  /** TCP port; 0 picks a free one (default 8080). */
  port?: number;
  /** Address to listen on (default 127.0.0.1: reachable from this machine only). */
  host?: string;
  /**
   * `sqlite:<path>` (relative to the working directory), `postgres://...`, or an opened
   * {@link Storage} (the caller keeps ownership: close() does not close it). Default
   * `sqlite:./raceway.db`.
   */
  storage?: string | Storage;
  /**
   * Ingest keys: when non-empty, `POST /v1/events` requires `Authorization: Bearer <one of
   * these>`, and so does every `/api` route unless `readKeys` are set.
   */
  apiKeys?: string[];
  /** Read keys: when non-empty, every `/api` route requires one of these (ingest keys do not do). */
  readKeys?: string[];
  /** More Host names accepted when listening on a loopback address (DNS-rebinding guard). */
  allowedHosts?: string[];
  /** Browser origins allowed to read answers (CORS); none by default. */
  corsOrigins?: string[];
  /** Limits on events beyond the schema (depth, size, clock ahead, counters); see EventLimits. */
  eventLimits?: Partial<EventLimits>;
  /** Time and memory budgets of the analysis of one trace; see AnalysisBudget. */
  analysisBudget?: AnalysisBudget;
  /** How long data is kept: `7d`, `12h`, or milliseconds (default 7d). */
  retention?: string | number;
  /** How often the retention job runs, in ms (default: every 10 minutes, at most retention/4). */
  retentionIntervalMs?: number;
  /** A trace is analysed once quiet for this long, in ms (default 1000). */
  analysisDelayMs?: number;
  /**
   * `incremental` (default): a trace's analysis is kept and the events stored since are folded
   * into it; `full`: each analysis reads the trace back and analyses it whole.
   */
  analysisMode?: 'incremental' | 'full';
  /** Clock skew tolerated by the analysis, in ms. */
  skewToleranceMs?: number;
  /**
   * How the analysis reads `db_query` events: the services' digest key (`RACEWAY_DIGEST_KEY`,
   * to match literals with parameters) and the default isolation level per database system.
   */
  sql?: SqlAnalysisOptions;
  /** Largest accepted body as received, in bytes (default 5 MiB). */
  maxBodyBytes?: number;
  /** Largest accepted body after gzip decompression, in bytes (default 20 MiB). */
  maxDecompressedBytes?: number;
  /** The analysis functions (default: the collector's own analysis module). */
  engine?: AnalysisEngine;
  /**
   * Forward every stored span, with its events and clocks, and the races found, to this
   * OTLP/HTTP endpoint (batched, retried, bounded; see OtlpExporter). Default: no export.
   */
  otlpExport?: OtlpExportOptions;
  /**
   * Serve HTTPS with this certificate (chain) and private key, PEM files read at start and
   * again by {@link Collector.reloadTls} (the CLI calls it on SIGHUP). Default: plain HTTP.
   */
  tls?: { certFile: string; keyFile: string };
  /** Fastify's logger option (default off). */
  logger?: boolean | Record<string, unknown>;
  /**
   * For tests: validate every answer against the response schema its route declares (strict,
   * closed objects) before it is serialised; a mismatch answers 500
   * `response_does_not_match_schema`. Default: on when RACEWAY_CHECK_RESPONSES=1.
   */
  checkResponses?: boolean;
}

/** A running collector. */
export interface Collector {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  host: string;
  storage: Storage;
  /** Human-readable storage location (`SQLite /abs/raceway.db`). */
  storageDescription: string;
  retentionMs: number;
  app: FastifyInstance;
  /** Every route the collector serves (method and URL pattern), as OpenAPI documents them. */
  routes: Array<{ method: string; url: string }>;
  /** The OTLP exporter, when `otlpExport` is configured. */
  otlpExporter: OtlpExporter | null;
  /** Analyses everything stored so far and resolves when done (as POST /api/analysis/run). */
  analyzeNow(): Promise<AnalysisStatus>;
  /**
   * Reads the TLS certificate and key files again and serves new connections with them
   * (connections open keep theirs). A no-op without TLS.
   */
  reloadTls(): void;
  /** Runs the retention job now; resolves with what it deleted. */
  applyRetention(): Promise<{ events: number; traces: number; races: number }>;
  /** Stops accepting requests, finishes the ones in flight, stops the jobs, closes storage. */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

// ajv-formats is CommonJS: its default import is the plugin itself.
const addFormats = ajvFormats as unknown as (ajv: Ajv) => Ajv;

/** The certificate and key of `--tls-cert`/`--tls-key`, read now. */
function readTls(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new RacewayConfigError(
        'RACEWAY_INVALID_TLS',
        `cannot read the TLS ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): give a readable PEM file`,
      );
    }
  };
  return { cert: read(files.certFile, 'certificate'), key: read(files.keyFile, 'key') };
}

/**
 * Starts the collector: storage, ingestion, query API and background jobs (analysis,
 * retention). Resolves once it listens.
 *
 * @example
 * const collector = await startCollector({ port: 0, storage: 'sqlite::memory:' });
 * await fetch(`${collector.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
 * await collector.close();
 */
export async function startCollector(options: CollectorOptions = {}): Promise<Collector> {
  const port = parsePort(options.port ?? 8080);
  const host = options.host ?? '127.0.0.1';
  const retentionMs =
    typeof options.retention === 'number'
      ? options.retention
      : parseDuration(options.retention ?? '7d', 'retention');
  if (!(retentionMs > 0)) {
    throw new RacewayConfigError('RACEWAY_INVALID_DURATION', 'retention must be above zero');
  }
  const maxBodyBytes = options.maxBodyBytes ?? 5 * MiB;
  const maxDecompressedBytes = options.maxDecompressedBytes ?? 20 * MiB;
  const apiKeys = (options.apiKeys ?? []).filter((k) => k !== '');
  const engine = options.engine ?? defaultEngine;
  const tlsFiles = options.tls;
  // Read before anything starts: a missing or unreadable file is a configuration error.
  const tlsContext = tlsFiles ? readTls(tlsFiles) : null;

  let location: StorageLocation | null = null;
  let storage: Storage;
  const ownsStorage = typeof options.storage !== 'object';
  if (typeof options.storage === 'object') {
    storage = options.storage;
  } else {
    location = parseStorage(options.storage ?? 'sqlite:./raceway.db');
    storage = await openStorage(location);
  }
  // Every storage operation timed for /metrics (the caller's storage object is not changed).
  const metrics = new CollectorMetrics(() => scheduler.status());
  storage = metrics.timed(storage);
  const storageDescription = location
    ? describeStorage(location)
    : `${storage.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ${storage.location}`;

  // Names this process in shared storage: its aggregate rows, its analysis leases.
  const collectorId = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const otlpExporter = options.otlpExport
    ? new OtlpExporter({
        ...options.otlpExport,
        onError: (error) => app.log.warn({ err: error }, 'OTLP export gave up a batch'),
      })
    : null;
  const scheduler = new AnalysisScheduler({
    collectorId,
    storage,
    engine,
    delayMs: options.analysisDelayMs ?? 1000,
    ...(options.analysisMode ? { analysisMode: options.analysisMode } : {}),
    skewToleranceMs: options.skewToleranceMs,
    budget: options.analysisBudget,
    ...(options.sql ? { sql: options.sql } : {}),
    onError: (error, what) => app.log.error({ err: error }, `${what} failed`),
    // The export sends races with the spans they are on (see OtlpExporter).
    ...(otlpExporter ? { raceListener: otlpExporter } : {}),
  });
  let sdkDropped = 0;
  const startedAt = Date.now();
  // Service metrics, dependencies and SDKs: counted at ingest, kept in storage per collector,
  // answered from every collector's rows (see SharedAggregates).
  const aggregates = new SharedAggregates({
    storage,
    collectorId,
    retentionMs,
    onError: (error, what) => app.log.error({ err: error }, `${what} failed`),
  });

  // One type for both: the routes do not depend on the transport.
  const app = Fastify({
    ...(tlsContext ? { https: tlsContext } : {}),
    logger: options.logger ?? false,
    // Ingestion sets its own, larger limit; the query API takes no bodies.
    bodyLimit: 64 * 1024,
    forceCloseConnections: 'idle',
    ajv: {
      // `type: ['string', 'null']` (the schemas' nullable fields) is plain JSON Schema.
      customOptions: { allowUnionTypes: true },
      // `format: date-time` of the time parameters.
      plugins: [addFormats],
    },
  });
  // Answers are serialised with JSON.stringify, not with fast-json-stringify from the response
  // schemas: on this API's large lists (1000 race groups with their examples, 500 traces with
  // their diagnostics) it measured 1.6 to 7 times slower. The schemas still say every answer's
  // shape (/api/openapi.json) and the tests hold every answer to them (checkResponses), so an
  // undeclared field fails a test instead of being dropped silently.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  if (options.checkResponses ?? process.env.RACEWAY_CHECK_RESPONSES === '1') {
    checkResponses(app, sharedSchemas);
  }
  accessControl(app, {
    ingestKeys: apiKeys,
    readKeys: (options.readKeys ?? []).filter((k) => k !== ''),
    host,
    allowedHosts: options.allowedHosts ?? [],
    corsOrigins: options.corsOrigins ?? [],
  });
  const routes: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: route.url });
    }
  });
  const allowedMethods = allowedMethodsOf(routes);
  /** A known path asked with another method: answers 405 with the methods it takes. */
  function methodNotAllowed(request: FastifyRequest, reply: FastifyReply): boolean {
    const path = request.url.split('?')[0] ?? '';
    const allowed = allowedMethods(path);
    if (allowed.length === 0 || allowed.includes(request.method)) return false;
    reply
      .code(405)
      .header('allow', allowed.join(', '))
      .send({
        error: 'method_not_allowed',
        message: `${request.method} is not served at ${path}: use ${allowed.join(' or ')}`,
      });
    return true;
  }
  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    // Methods with a body (QUERY, say) fail body parsing before routing finds no route.
    if (!(err instanceof HttpError) && methodNotAllowed(request, reply)) return reply;
    if ('validation' in err && err.validation) {
      // A request the route's schema refused: say which parameter, and what it takes.
      const part = err.validationContext ?? 'querystring';
      const schema = (request.routeOptions.schema as Record<string, object> | undefined)?.[part];
      const values = part === 'params' ? request.params : request.query;
      return reply.code(400).send({
        error: 'bad_request',
        message: validationMessage(err.validation, part, schema, values),
      });
    }
    if (err instanceof HttpError) {
      if (err.statusCode === 401) reply.header('www-authenticate', 'Bearer');
      return reply
        .code(err.statusCode)
        .send({ error: err.error, message: err.message, ...err.details });
    }
    const status = err.statusCode ?? 500;
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(415).send({
        error: 'unsupported_media_type',
        message: `Content-Type "${request.headers['content-type'] ?? '(none)'}" is not accepted: send Content-Type: application/json`,
      });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({
        error: 'payload_too_large',
        message: `the body is larger than ${formatBytes(request.url.startsWith('/v1/') ? maxBodyBytes : 64 * 1024)}: send smaller batches`,
        limit_bytes: request.url.startsWith('/v1/') ? maxBodyBytes : 64 * 1024,
      });
    }
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'bad_request', message: err.message });
    }
    request.log.error({ err }, 'request failed');
    // 503 tells SDKs that nothing of the batch is guaranteed stored: they retry.
    return reply.code(503).send({
      error: 'unavailable',
      message: `the collector could not complete the request (${err.message}); retry later`,
    });
  });
  const ui = webUi();
  app.setNotFoundHandler(async (request, reply) => {
    if (methodNotAllowed(request, reply)) return reply;
    // The web UI answers the GETs the API does not (its files, and its deep links).
    if (await ui.serve(request, reply)) return reply;
    return reply.code(404).send({
      error: 'not_found',
      message: `no route ${request.method} ${request.url.split('?')[0]}: see /api/openapi.json`,
    });
  });

  try {
    await registerRoutes();
    await scheduler.start();
    aggregates.start();
  } catch (error) {
    if (ownsStorage) await storage.close();
    throw error;
  }

  async function registerRoutes() {
    // Before the routes: @fastify/swagger learns them as they are added.
    await registerOpenApi(app);
    // First: its hooks count the ingestion requests of the routes registered after.
    metrics.register(app);
    await app.register(ingestRoutes, {
      storage,
      validators: createValidators(),
      eventLimits: { ...DEFAULT_EVENT_LIMITS, maxAgeMs: retentionMs, ...options.eventLimits },
      apiKeys,
      maxBodyBytes,
      maxDecompressedBytes,
      onStored: (events) => {
        scheduler.onStored(events);
        aggregates.add(events);
        otlpExporter?.add(events);
      },
      onSdk: (sdk, events) => aggregates.noteSdk(sdk, events),
      onDropped: (count) => {
        sdkDropped += count;
        metrics.sdkDropped.inc(count);
      },
      onCounted: (counts) => {
        metrics.eventsAccepted.inc(counts.accepted);
        metrics.eventsDuplicate.inc(counts.duplicates);
        metrics.eventsRejected.inc(counts.rejected);
      },
    });
    // OTLP/HTTP: OpenTelemetry spans, stored as events of the same traces.
    await app.register(otlpIngestRoutes, {
      storage,
      validators: createValidators(),
      eventLimits: { ...DEFAULT_EVENT_LIMITS, maxAgeMs: retentionMs, ...options.eventLimits },
      apiKeys,
      maxBodyBytes,
      maxDecompressedBytes,
      digestKey: options.sql?.digestKey,
      onStored: (events) => {
        metrics.eventsAccepted.inc(events.length);
        scheduler.onStored(events);
        aggregates.add(events);
        otlpExporter?.add(events);
      },
      onSdk: (sdk, events) => aggregates.noteSdk(sdk, events),
    });
    await app.register(queryRoutes, {
      ...(options.sql ? { sql: options.sql } : {}),
      storage,
      scheduler,
      aggregates,
      health: () => ({
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
        retention_ms: retentionMs,
        sdk_reported_dropped_events: sdkDropped,
      }),
    });
  }

  /** The partitions the next days' events need (PostgreSQL), created ahead of them. */
  async function preparePartitions() {
    const created = await storage.preparePartitions?.(
      Date.now() * 1000,
      (Date.now() - retentionMs) * 1000,
    );
    if (created?.length) app.log.info({ created }, 'storage: created partitions');
  }
  async function applyRetention() {
    // Before deleting: the days ahead exist whatever retention does (and however long it takes).
    await preparePartitions().catch((err) => app.log.error({ err }, 'creating partitions failed'));
    return storage.deleteOlderThan((Date.now() - retentionMs) * 1000);
  }
  // Not fatal: without them events go to the default partition until the next run creates
  // them (and moves those events in).
  await preparePartitions().catch((err) => app.log.error({ err }, 'creating partitions failed'));
  let retentionRun: Promise<unknown> | null = null;
  const retentionTimer = setInterval(
    () => {
      if (retentionRun) return;
      retentionRun = applyRetention()
        .then((deleted) => {
          if (deleted.traces > 0) app.log.info({ deleted }, 'retention: deleted expired traces');
        })
        .catch((err) => app.log.error({ err }, 'retention job failed'))
        .finally(() => {
          retentionRun = null;
        });
    },
    options.retentionIntervalMs ?? Math.min(600_000, Math.max(1000, retentionMs / 4)),
  );
  retentionTimer.unref();

  try {
    await app.listen({ port, host });
  } catch (error) {
    clearInterval(retentionTimer);
    await scheduler.stop();
    await aggregates.stop();
    if (ownsStorage) await storage.close();
    throw error;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | null = null;
  return {
    url: `${tlsContext ? 'https' : 'http'}://${urlHost}:${boundPort}`,
    port: boundPort,
    host,
    storage,
    storageDescription,
    retentionMs,
    app,
    routes,
    otlpExporter,
    analyzeNow: () => scheduler.runNow(),
    reloadTls() {
      if (!tlsFiles) return;
      (app.server as unknown as TlsServer).setSecureContext(readTls(tlsFiles));
    },
    applyRetention,
    close() {
      closing ??= (async () => {
        clearInterval(retentionTimer);
        // In-flight batches are answered (and committed) before storage closes.
        await app.close();
        await otlpExporter?.close();
        await scheduler.stop();
        await aggregates.stop();
        await retentionRun;
        if (ownsStorage) await storage.close();
      })();
      return closing;
    },
  };
}
