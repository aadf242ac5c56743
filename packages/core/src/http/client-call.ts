import { getCurrentContext } from '../context/async-context.js';
import type { ClockTick, ExecutionContext } from '../context/execution-context.js';
import { activeOtelSpanContext } from '../context/otel-span.js';
import { durationSince, type ErrorInfo, nowMicros, serializeError } from '../events.js';
import { newSpanId } from '../ids.js';
import {
  HEADER_TRACEPARENT,
  HEADER_VC,
  type HeaderGetter,
  headersIntoRecord,
  injectContext,
} from '../propagation/index.js';
import { formatTraceparent, type Traceparent } from '../propagation/traceparent.js';
import { eventMethod, eventStatus, eventTarget } from './event-fields.js';
import { otelClientTraceparent } from './otel-client-traceparent.js';
import { mergeResponseClock } from './response-clock.js';

/** What a client instrumentation knows when a call starts. */
export interface ClientCallInit {
  method?: string | undefined;
  /** The full target URL (relative URLs cannot be called from a server and are not traced). */
  url: string | URL;
  /**
   * Decides whether the target may receive trace headers, instead of the tracer's `propagateTo`
   * (see {@link compileClientPropagateTo}).
   */
  propagateTo?: ((url: URL) => boolean) | undefined;
  /**
   * The `traceparent` OpenTelemetry's instrumentation put on this request, naming its client
   * span (spec 2.8): the call takes that span's id and sends no `traceparent` of its own.
   */
  sharedTraceparent?: Traceparent | undefined;
  /**
   * The library's own lower layers handle the request after the headers are put on it (axios'
   * adapters run after its interceptors), and OpenTelemetry's instrumentation there may replace
   * the `traceparent` with its client span's. With an OpenTelemetry span of the trace active,
   * `request_sent` then waits until {@link ClientCall.sent} tells the `traceparent` that went
   * out (or until the call ends), so that the call can take that span as its own (spec 2.8).
   * A call that never ends then records no `request_sent` either.
   */
  traceparentMayBeReplaced?: boolean | undefined;
}

/** A `request_sent` whose clock step is taken, recorded once the span id is settled. */
interface PendingRequestSent {
  data: { method: string; url: string; host: string; headers_withheld?: true };
  tick: ClockTick;
  tsUs: number;
}

/** How a client call ended; every field is optional. */
export interface ClientCallResult {
  status?: number | undefined;
  /** The response's headers, for the callee's clock (`X-Raceway-VC`). */
  headers?: HeaderGetter | undefined;
  /** A network error, timeout or abort. */
  error?: unknown;
}

// traceparent values of calls in flight, so that a lower layer (undici's diagnostics channels
// under a wrapped fetch, or under axios' fetch adapter) recognises a call that an upper layer
// already traces and leaves its headers alone. Bounded: a call that never ends (a response
// body nobody reads) must not grow it forever. Kept on globalThis so that the ESM and CJS
// builds of this package share it.
const IN_FLIGHT_KEY = Symbol.for('raceway.core.client-calls-in-flight.v1');
const MAX_IN_FLIGHT = 10_000;
type InFlightHolder = { [IN_FLIGHT_KEY]?: Set<string> };

function inFlight(): Set<string> {
  const holder = globalThis as InFlightHolder;
  let set = holder[IN_FLIGHT_KEY];
  if (set === undefined) {
    set = new Set();
    holder[IN_FLIGHT_KEY] = set;
  }
  return set;
}

const UNKNOWN_TARGET = Object.freeze({ url: 'unknown', host: 'unknown' });

/**
 * True when `traceparent` is the header of a client call that Raceway is tracing right now, or
 * `clock` (the request's `X-Raceway-VC`) that of one whose `traceparent` OpenTelemetry may
 * replace below it (`ClientCallInit.traceparentMayBeReplaced`). A client instrumentation that
 * sees such a request leaves it alone: an outer instrumentation already records it, and
 * replacing its headers would break the span link.
 *
 * @example
 * if (isTracedCall(existingTraceparent)) return; // traced by wrapFetch around this fetch
 */
export function isTracedCall(
  traceparent: string | undefined | null,
  clock?: string | undefined | null,
): boolean {
  const set = inFlight();
  return (
    (typeof traceparent === 'string' && set.has(traceparent)) ||
    (typeof clock === 'string' && set.has(clock))
  );
}

/**
 * One outgoing HTTP call made from an execution context: a client span of its own (child of the
 * context's span), the headers to send, and the bookkeeping of its end. Made by
 * {@link startClientCall}.
 */
export class ClientCall {
  readonly context: ExecutionContext;
  #spanId: string;
  /**
   * The headers to put on the request, replacing any existing copy (case-insensitively): empty
   * when the target is outside `propagateTo`.
   */
  readonly headers: Readonly<Record<string, string>>;
  readonly #method: string;
  readonly #url: string;
  readonly #host: string;
  readonly #startedAt: number;
  readonly #traceparent: string | undefined;
  /** What {@link isTracedCall} knows this call by while it is in flight. */
  readonly #inFlightKeys: string[] = [];
  #status: number | undefined;
  #remoteClock = false;
  #responded = false;
  #ended = false;
  #pendingSent: PendingRequestSent | undefined;

  /**
   * `target` is null for a manual call made without naming its target (spec 2.7): the events
   * then say `unknown` for the url and host. With `deferSent`, `request_sent` is recorded by
   * {@link sent} or at the end (see `ClientCallInit.traceparentMayBeReplaced`).
   */
  constructor(
    context: ExecutionContext,
    method: string,
    target: URL | null,
    propagate: boolean,
    shared?: Traceparent,
    deferSent = false,
  ) {
    this.context = context;
    this.#spanId = shared?.parentId ?? newSpanId();
    this.#method = method;
    const { url, host } = target === null ? UNKNOWN_TARGET : eventTarget(target);
    this.#url = url;
    this.#host = host;
    // request_sent is the call's clock step: the clock sent is the one after it (spec 2.5).
    // A host outside `propagateTo` gets no headers: said in the event, so that the collector
    // can name the setting when the callee's side of the trace is missing.
    const data = propagate
      ? { method, url, host }
      : { method, url, host, headers_withheld: true as const };
    if (deferSent && context.sampled) {
      this.#pendingSent = { data, tick: context.tick(), tsUs: nowMicros() };
    } else {
      context.record('request_sent', data, { spanId: this.#spanId, parentSpanId: context.spanId });
    }
    const headers: Record<string, string> = {};
    if (propagate) {
      injectContext(
        {
          traceId: context.traceId,
          spanId: this.#spanId,
          traceFlags: context.traceFlags,
          clock: context.clock,
          own: context.component,
          clockDropped: context.clockDropped,
          tracestate: context.tracestate,
        },
        headersIntoRecord(headers),
      );
    }
    if (shared !== undefined && propagate) {
      // One traceparent on the wire, OpenTelemetry's, which names this very span.
      delete headers[HEADER_TRACEPARENT];
      this.#traceparent = formatTraceparent(shared.traceId, shared.parentId, shared.flags);
    } else {
      this.#traceparent = headers[HEADER_TRACEPARENT];
    }
    this.headers = headers;
    this.#startedAt = performance.now();
    if (this.#traceparent !== undefined) this.#inFlightKeys.push(this.#traceparent);
    // The traceparent may be replaced on the way: the clock header still tells the call.
    const clock = headers[HEADER_VC];
    if (this.#pendingSent !== undefined && clock !== undefined) this.#inFlightKeys.push(clock);
    const set = inFlight();
    for (const key of this.#inFlightKeys) {
      if (set.size >= MAX_IN_FLIGHT) {
        const oldest = set.values().next().value;
        if (oldest !== undefined) set.delete(oldest);
      }
      set.add(key);
    }
  }

  /** The client span id, sent as the parent id in `traceparent`. */
  get spanId(): string {
    return this.#spanId;
  }

  /**
   * Tells the `traceparent` the request went out with, for a call started with
   * `traceparentMayBeReplaced`: when it names OpenTelemetry's client span of the trace (spec
   * 2.8), the call takes that span as its own; then `request_sent` is recorded, with the clock
   * step taken when the call started. Only the first call counts. Never throws.
   *
   * @example
   * call.sent(nodeRequest.getHeader('traceparent'));
   */
  sent(traceparent: string | undefined): void {
    const pending = this.#pendingSent;
    if (pending === undefined) return;
    this.#pendingSent = undefined;
    try {
      const shared =
        traceparent === this.#traceparent
          ? undefined
          : otelClientTraceparent(traceparent, this.context);
      if (shared !== undefined) this.#spanId = shared.parentId;
      this.context.record('request_sent', pending.data, {
        spanId: this.#spanId,
        parentSpanId: this.context.spanId,
        tick: pending.tick,
        tsUs: pending.tsUs,
      });
    } catch {
      // Recording is best effort.
    }
  }

  /**
   * The response's status line and headers arrived: merges the callee's clock (when the
   * response belongs to this trace) so that what the caller does next is ordered after what the
   * callee did. Only the first call counts. Never throws.
   */
  responded(status: number | undefined, headers: HeaderGetter | undefined): void {
    if (this.#responded || this.#ended) return;
    this.#responded = true;
    this.#status = eventStatus(status);
    if (headers !== undefined) this.#remoteClock = mergeResponseClock(this.context, headers);
  }

  /**
   * The call is over: records `response_received` (once) with the status, the duration, the
   * error if any, and whether the callee's clock was merged. Never throws.
   */
  end(result: ClientCallResult = {}): void {
    if (this.#ended) return;
    this.sent(this.#traceparent);
    if (result.status !== undefined || result.headers !== undefined) {
      this.responded(result.status, result.headers);
    }
    this.#ended = true;
    const set = inFlight();
    for (const key of this.#inFlightKeys) set.delete(key);
    try {
      const data: {
        method: string;
        url: string;
        host: string;
        status?: number;
        duration_ms: number;
        error?: ErrorInfo;
        remote_clock?: boolean;
      } = {
        method: this.#method,
        url: this.#url,
        host: this.#host,
        duration_ms: durationSince(this.#startedAt),
        remote_clock: this.#remoteClock,
      };
      if (this.#status !== undefined) data.status = this.#status;
      if (result.error !== undefined) data.error = serializeError(result.error);
      this.context.record('response_received', data, {
        spanId: this.#spanId,
        parentSpanId: this.context.spanId,
      });
    } catch {
      // Recording is best effort.
    }
  }

  /** True once `response_received` has been recorded. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Records a failure that came after the response was recorded (the body broke off while the
   * application read it): an `error` event in the call's span. Never throws.
   */
  recordError(error: unknown): void {
    try {
      this.context.record('error', serializeError(error), {
        spanId: this.#spanId,
        parentSpanId: this.context.spanId,
      });
    } catch {
      // Recording is best effort.
    }
  }
}

/**
 * The one client-call lifecycle behind every client instrumentation (fetch, undici, axios):
 * from the current context (or the one given), checks `propagateTo`, starts a client span,
 * records `request_sent` and returns the call with the headers to inject. Returns `undefined`,
 * and the call goes out untouched, outside any context, with a disabled tracer, for a URL that
 * cannot be parsed, or when anything goes wrong. Never throws.
 *
 * @example
 * const call = startClientCall({ method: 'GET', url });
 * const response = await send(url, { headers: { ...userHeaders, ...call?.headers } });
 * call?.end({ status: response.status, headers: (name) => response.headers.get(name) ?? undefined });
 */
export function startClientCall(
  init: ClientCallInit,
  context: ExecutionContext | undefined = getCurrentContext(),
): ClientCall | undefined {
  if (context === undefined || context.owner.disabled) return undefined;
  try {
    const target = init.url instanceof URL ? init.url : new URL(init.url);
    const propagate =
      init.propagateTo !== undefined
        ? safeMatch(init.propagateTo, target)
        : context.owner.shouldPropagate(target);
    if (!propagate) context.owner.diagnostics.notPropagated(target);
    // Only OpenTelemetry in this trace replaces the header below; otherwise recorded at once.
    const deferSent =
      init.traceparentMayBeReplaced === true &&
      propagate &&
      activeOtelSpanContext()?.traceId === context.traceId;
    return new ClientCall(
      context,
      eventMethod(init.method),
      target,
      propagate,
      init.sharedTraceparent,
      deferSent,
    );
  } catch {
    return undefined;
  }
}

function safeMatch(match: (url: URL) => boolean, url: URL): boolean {
  try {
    return match(url) === true;
  } catch {
    return false;
  }
}
