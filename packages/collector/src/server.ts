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
import { TrafficAggregates } from './analysis/traffic-aggregates.js';
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
import { SdkRegistry } from './ingest/sdk-registry.js';
import { createValidators } from './ingest/validate.js';
import { AnalysisScheduler, type AnalysisStatus } from './scheduler/analysis-scheduler.js';
import { defaultEngine } from './scheduler/default-engine.js';
import type { AnalysisEngine } from './scheduler/engine.js';
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
  /** Analyses everything stored so far and resolves when done (as POST /api/analysis/run). */
  analyzeNow(): Promise<AnalysisStatus>;
  /** Runs the retention job now; resolves with what it deleted. */
  applyRetention(): Promise<{ events: number; traces: number; races: number }>;
  /** Stops accepting requests, finishes the ones in flight, stops the jobs, closes storage. */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

// ajv-formats is CommonJS: its default import is the plugin itself.
const addFormats = ajvFormats as unknown as (ajv: Ajv) => Ajv;

/** How far back the traffic aggregates are read from storage at start. */
const BACKFILL_MS = 3_600_000;
/** One read of the backfill: this much time, at most BACKFILL_LIMIT events. */
const BACKFILL_STEP_MS = 300_000;
const BACKFILL_LIMIT = 10_000;
const HTTP_KINDS = [
  'request_received',
  'response_sent',
  'request_sent',
  'response_received',
] as const;

/**
 * Reads the last hour's request/response events back into the traffic aggregates at start, in
 * small time steps (bounded: at most 12 x BACKFILL_LIMIT events).
 */
async function backfillTraffic(storage: Storage, traffic: TrafficAggregates, untilMs: number) {
  for (let fromMs = untilMs - BACKFILL_MS; fromMs < untilMs; fromMs += BACKFILL_STEP_MS) {
    const events = await storage.getEventsByKind(
      [...HTTP_KINDS],
      fromMs * 1000,
      Math.min(fromMs + BACKFILL_STEP_MS, untilMs) * 1000 - 1,
      BACKFILL_LIMIT,
    );
    traffic.add(events);
    await new Promise((resolve) => setImmediate(resolve));
  }
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

  let location: StorageLocation | null = null;
  let storage: Storage;
  const ownsStorage = typeof options.storage !== 'object';
  if (typeof options.storage === 'object') {
    storage = options.storage;
  } else {
    location = parseStorage(options.storage ?? 'sqlite:./raceway.db');
    storage = await openStorage(location);
  }
  const storageDescription = location
    ? describeStorage(location)
    : `${storage.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ${storage.location}`;

  const scheduler = new AnalysisScheduler({
    storage,
    engine,
    delayMs: options.analysisDelayMs ?? 1000,
    skewToleranceMs: options.skewToleranceMs,
    budget: options.analysisBudget,
    ...(options.sql ? { sql: options.sql } : {}),
    onError: (error, what) => app.log.error({ err: error }, `${what} failed`),
  });
  let sdkDropped = 0;
  const startedAt = Date.now();
  // Service metrics and dependencies, kept at ingest for as long as data is kept; what was
  // stored before this start is read back for the last hour (see backfillTraffic).
  const traffic = new TrafficAggregates(retentionMs);
  const sdks = new SdkRegistry();
  traffic.coveredSinceMs = startedAt - BACKFILL_MS;

  const app = Fastify({
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
    // Before listening: nothing is ingested meanwhile, so nothing is counted twice.
    await backfillTraffic(storage, traffic, startedAt);
  } catch (error) {
    if (ownsStorage) await storage.close();
    throw error;
  }

  async function registerRoutes() {
    // Before the routes: @fastify/swagger learns them as they are added.
    await registerOpenApi(app);
    await app.register(ingestRoutes, {
      storage,
      validators: createValidators(),
      eventLimits: { ...DEFAULT_EVENT_LIMITS, maxAgeMs: retentionMs, ...options.eventLimits },
      apiKeys,
      maxBodyBytes,
      maxDecompressedBytes,
      onStored: (events) => {
        scheduler.onStored(events);
        traffic.add(events);
      },
      onSdk: (sdk, events) => sdks.note(sdk, events),
      onDropped: (count) => {
        sdkDropped += count;
      },
    });
    await app.register(queryRoutes, {
      ...(options.sql ? { sql: options.sql } : {}),
      storage,
      scheduler,
      traffic,
      sdks,
      health: () => ({
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
        retention_ms: retentionMs,
        sdk_reported_dropped_events: sdkDropped,
      }),
    });
  }

  async function applyRetention() {
    return storage.deleteOlderThan((Date.now() - retentionMs) * 1000);
  }
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
    if (ownsStorage) await storage.close();
    throw error;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${boundPort}`,
    port: boundPort,
    host,
    storage,
    storageDescription,
    retentionMs,
    app,
    routes,
    analyzeNow: () => scheduler.runNow(),
    applyRetention,
    close() {
      closing ??= (async () => {
        clearInterval(retentionTimer);
        // In-flight batches are answered (and committed) before storage closes.
        await app.close();
        await scheduler.stop();
        await retentionRun;
        if (ownsStorage) await storage.close();
      })();
      return closing;
    },
  };
}
