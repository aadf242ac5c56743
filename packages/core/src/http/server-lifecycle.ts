import type { ClockTick } from '../clock/tick.js';
import type { RacewayOptions } from '../config.js';
import { runInContext } from '../context/async-context.js';
import type { ExecutionContext } from '../context/execution-context.js';
import { activeOtelSpanContext } from '../context/otel-span.js';
import { Tracer } from '../context/tracer.js';
import {
  durationSince,
  type ErrorInfo,
  type EventData,
  nowMicros,
  serializeError,
} from '../events.js';
import {
  type ExtractedContext,
  extractContext,
  HEADER_TRACE_ID,
  HEADER_VC,
  type RejectionReason,
} from '../propagation/index.js';
import { bindEmitter, type ListenerEmitterLike } from './bind-emitter.js';
import { eventMethod, eventPath, eventRoute, eventStatus, pathOf } from './event-fields.js';
import { type IncomingHeadersLike, incomingHeaders, noTraceHeaders } from './incoming-headers.js';
import { nodeExchangeSpan, trackNodeExchange } from './node-http-hooks.js';

/** The part of node's `IncomingMessage` the server lifecycle reads. */
export interface IncomingRequestLike extends IncomingHeadersLike {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
}

/** The part of node's `ServerResponse` the server lifecycle uses. */
export interface OutgoingResponseLike {
  statusCode: number;
  readonly headersSent: boolean;
  readonly writableFinished?: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: node's writeHead has several overloads.
  writeHead(...args: any[]): unknown;
  setHeader(name: string, value: string): unknown;
  on(event: 'close', listener: () => void): unknown;
}

/** What an adapter hands to {@link ServerLifecycle.start} for one request. */
export interface ServerRequestInit<Request extends IncomingRequestLike = IncomingRequestLike> {
  request: Request;
  response: OutgoingResponseLike;
  /** The route template, when the framework already knows it (Fastify does). */
  route?: string | null | undefined;
  /**
   * Reads the route template from the request when the response finishes (Express and Koa
   * route after the middleware has run). A function shared by all requests, not a closure per
   * request: this runs on every request.
   */
  getRoute?: ((request: Request) => string | null | undefined) | undefined;
}

/**
 * The status recorded when the client went away before any response was written: nginx's
 * "client closed request". No status line was sent, and 200 would claim a success.
 */
export const CLIENT_CLOSED_STATUS = 499;

/** What extraction gives for a request without trace headers (shared, never mutated). */
export const ABSENT_CONTEXT: Readonly<ExtractedContext> = Object.freeze({
  traceId: null,
  parentSpanId: null,
  traceFlags: null,
  clock: null,
  clockDropped: 0,
  tracestate: null,
  status: 'absent',
  reasons: Object.freeze([]) as unknown as RejectionReason[],
});
const ABSENT_INCOMING: EventData['request_received']['incoming'] = Object.freeze({
  status: 'absent',
  reasons: ABSENT_CONTEXT.reasons,
});

const ABORTED: ErrorInfo = {
  type: 'ConnectionClosed',
  message: 'the connection closed before the response finished',
};

/**
 * The server side of one traced request: its execution context, and the bookkeeping that
 * records `response_sent` and returns the clock on the response. Made by
 * {@link ServerLifecycle.start}; adapters only call {@link ServerSpan.run},
 * {@link ServerSpan.recordError} and, optionally, {@link ServerSpan.setRoute} / {@link ServerSpan.end}.
 */
export class ServerSpan {
  readonly context: ExecutionContext;
  readonly #method: string;
  readonly #startedAt: number;
  readonly #request: IncomingRequestLike;
  readonly #response: OutgoingResponseLike;
  readonly #getRoute: ((request: never) => string | null | undefined) | undefined;
  #route: string | null;
  #error: ErrorInfo | undefined;
  #seen: unknown;
  #tick: ClockTick | undefined;
  /** When the response head was written: the timestamp of `response_sent`. */
  #headersAtUs = 0;
  #ended = false;

  constructor(context: ExecutionContext, method: string, init: ServerRequestInit<never>) {
    this.context = context;
    this.#method = method;
    this.#startedAt = performance.now();
    this.#request = init.request;
    this.#response = init.response;
    this.#getRoute = init.getRoute;
    this.#route = eventRoute(init.route);
  }

  /** Runs `fn` (the rest of the request) with this span's context as the current context. */
  run<T>(fn: () => T): T {
    return runInContext(this.context, fn);
  }

  /** Sets the route template recorded on `response_sent`. */
  setRoute(route: string | null | undefined): void {
    const template = eventRoute(route);
    if (template !== null) this.#route = template;
  }

  /**
   * Records an error the framework saw (a thrown handler, an error middleware): an `error`
   * event now, and the error on `response_sent`. The same error reported twice (by a hook and
   * by a catch) is recorded once. Never throws.
   */
  recordError(error: unknown): void {
    if (this.#ended || !this.context.sampled) return;
    if (this.#seen !== undefined && this.#seen === error) return;
    try {
      const info = serializeError(error);
      this.#seen = error;
      this.#error ??= info;
      this.context.record('error', info);
    } catch {
      // Recording is best effort.
    }
  }

  /**
   * Called just before the response headers go out: takes the `response_sent` clock step and
   * timestamp now and puts the trace id and that clock on the response (spec 2.6). The event
   * itself is recorded when the response finishes, with this snapshot and timestamp.
   */
  writeHeaders(): void {
    if (this.#tick !== undefined || this.#ended) return;
    const ctx = this.context;
    if (!ctx.sampled) {
      // An unsampled request has no clock to return (spec 5.4): the trace id only.
      this.#setHeader(HEADER_TRACE_ID, ctx.traceId);
      return;
    }
    const tick = ctx.tick();
    this.#tick = tick;
    // The caller can have the answer as soon as the head is on the wire, long before 'finish'
    // on a busy event loop: a later stamp would put the server's answer after the caller
    // received it, a false clock skew on one host.
    this.#headersAtUs = nowMicros();
    try {
      this.#response.setHeader(HEADER_TRACE_ID, ctx.traceId);
      this.#response.setHeader(HEADER_VC, tick.header);
    } catch {
      // Headers refused (already flushed by a lower layer): the response goes out without them.
    }
  }

  /**
   * Records `response_sent` (once; later calls do nothing). Called by the lifecycle when the
   * response finishes or the connection closes; an adapter may call it earlier from its own
   * "response done" hook. Never throws.
   */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    // An unsampled request records nothing (spec 5.4): not even the event's fields are built.
    if (!this.context.sampled) return;
    try {
      const response = this.#response;
      const finished = response.writableFinished !== false;
      const headersOut = this.#tick !== undefined || response.headersSent;
      const status = headersOut ? (eventStatus(response.statusCode) ?? 500) : CLIENT_CLOSED_STATUS;
      const error = this.#error ?? (finished ? undefined : ABORTED);
      const route = this.#route ?? eventRoute(this.#readRoute());
      const data: {
        method: string;
        route?: string | null;
        status: number;
        duration_ms: number;
        error?: ErrorInfo;
      } = {
        method: this.#method,
        status,
        duration_ms: durationSince(this.#startedAt),
      };
      if (route !== null) data.route = route;
      if (error !== undefined) data.error = error;
      this.context.record(
        'response_sent',
        data,
        this.#tick === undefined ? undefined : { tick: this.#tick, tsUs: this.#headersAtUs },
      );
    } catch {
      // Recording is best effort.
    }
  }

  #setHeader(name: string, value: string): void {
    try {
      this.#response.setHeader(name, value);
    } catch {
      // Headers refused (already flushed by a lower layer): the response goes out without them.
    }
  }

  #readRoute(): string | null {
    if (this.#getRoute === undefined) return null;
    try {
      return (
        (this.#getRoute as (request: IncomingRequestLike) => string | null | undefined)(
          this.#request,
        ) ?? null
      );
    } catch {
      return null;
    }
  }
}

/**
 * The one node:http server lifecycle behind every framework adapter. Made once per middleware
 * (construction validates the options and throws a `RacewayConfigError` when they are wrong);
 * {@link ServerLifecycle.start} is then called for every request.
 */
export interface ServerLifecycle {
  readonly tracer: Tracer;
  /**
   * Starts tracing one request: skips `ignorePaths`, extracts the incoming context, starts
   * (joins or roots) an execution context, records `request_received`, and arranges for the
   * response to carry `X-Raceway-Trace-Id` and `X-Raceway-VC` and for `response_sent` to be
   * recorded when it finishes. Returns `undefined` (the request goes on untraced) when the
   * tracer is disabled, the path is ignored, or anything goes wrong. Never throws.
   */
  start<Request extends IncomingRequestLike>(
    init: ServerRequestInit<Request>,
  ): ServerSpan | undefined;
}

/**
 * Creates the server lifecycle for a tracer, or for options (then `Tracer.fromOptions`).
 *
 * @example
 * // A framework adapter in a few lines (Express-style middleware):
 * export function racewayMiddleware(options: RacewayOptions) {
 *   const lifecycle = createServerLifecycle(options);
 *   return function raceway(req, res, next) {
 *     const span = lifecycle.start({ request: req, response: res, getRoute: () => req.route?.path });
 *     if (span === undefined) return next();
 *     span.run(next);
 *   };
 * }
 */
export function createServerLifecycle(options: RacewayOptions | Tracer = {}): ServerLifecycle {
  const tracer = options instanceof Tracer ? options : Tracer.fromOptions(options);
  return {
    tracer,
    start(init) {
      if (tracer.disabled) return undefined;
      try {
        const { request, response } = init;
        const path = pathOf(request.url);
        if (tracer.shouldIgnorePath(path)) return undefined;
        const headers = incomingHeaders(request);
        const incoming = headers === noTraceHeaders ? ABSENT_CONTEXT : extractContext(headers);
        // A request that brings no trace, served inside OpenTelemetry's server span: one trace
        // for both (spec 2.8), and its sampling decision.
        const otel = incoming.traceId === null ? activeOtelSpanContext() : undefined;
        const context = tracer.startContext(
          otel === undefined ? incoming : { traceId: otel.traceId, traceFlags: otel.traceFlags },
        );
        const method = eventMethod(request.method);
        const span = new ServerSpan(context, method, init as unknown as ServerRequestInit<never>);
        if (context.sampled) {
          const data: EventData['request_received'] = {
            method,
            path: eventPath(path),
            incoming:
              incoming === ABSENT_CONTEXT
                ? ABSENT_INCOMING
                : { status: incoming.status, reasons: incoming.reasons },
          };
          const route = eventRoute(init.route);
          if (route !== null) data.route = route;
          context.record('request_received', data);
        }
        // node's own objects are tracked through process-wide hooks; anything else is hooked
        // itself. Either way the response gets its headers and its end, and listeners the
        // application adds to the request or response (reading the body itself, cleaning up
        // when the client goes away) run in the request's context.
        if (!trackNodeExchange(request, response, span, context)) {
          (request as { [FALLBACK_SPAN]?: ServerSpan })[FALLBACK_SPAN] = span;
          watchResponse(response, span);
          if (isEmitter(request)) bindEmitter(request, context);
          if (isEmitter(response)) bindEmitter(response, context);
        }
        return span;
      } catch {
        return undefined;
      }
    },
  };
}

const FALLBACK_SPAN = Symbol('raceway.request-span');

/**
 * The span of a request that a {@link ServerLifecycle} is tracing, while the request is in
 * flight; `undefined` otherwise. For adapters that meet the request again in a separate
 * callback (Express error middleware).
 *
 * @example
 * app.use((err, req, res, next) => {
 *   serverSpanOf(req)?.recordError(err);
 *   next(err);
 * });
 */
export function serverSpanOf(request: unknown): ServerSpan | undefined {
  const span = nodeExchangeSpan(request);
  if (span !== undefined) return span as ServerSpan;
  if (request === null || typeof request !== 'object') return undefined;
  return (request as { [FALLBACK_SPAN]?: ServerSpan })[FALLBACK_SPAN];
}

function isEmitter(value: unknown): value is ListenerEmitterLike {
  const emitter = value as Partial<ListenerEmitterLike>;
  return typeof emitter.on === 'function' && typeof emitter.removeListener === 'function';
}

// For responses that are not node's ServerResponse: hooks shared by every response (no
// closures per request); each response carries its span and its original writeHead.
const SPAN = Symbol('raceway.server-span');
const WRITE_HEAD = Symbol('raceway.write-head');

type WatchedResponse = OutgoingResponseLike & {
  [SPAN]: ServerSpan;
  [WRITE_HEAD]: OutgoingResponseLike['writeHead'];
};

function writeHeadWithTrace(this: WatchedResponse, ...args: unknown[]): unknown {
  this[SPAN].writeHeaders();
  return this[WRITE_HEAD].apply(this, args);
}

function onResponseClose(this: WatchedResponse): void {
  this[SPAN].end();
}

/**
 * Hooks one response that is not node's own: its `writeHead` (called for implicit headers too,
 * from the first `write`/`end`), and its `close` event, emitted after `finish` for a complete
 * response and alone for an aborted one.
 */
function watchResponse(response: OutgoingResponseLike, span: ServerSpan): void {
  const watched = response as WatchedResponse;
  watched[SPAN] = span;
  watched[WRITE_HEAD] = response.writeHead;
  watched.writeHead = writeHeadWithTrace;
  response.on('close', onResponseClose);
}
