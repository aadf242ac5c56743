import diagnosticsChannel from 'node:diagnostics_channel';
import { getCurrentContext } from '../context/async-context.js';
import { checkClientOptions } from '../misuse.js';
import type { HeaderGetter } from '../propagation/index.js';
import { type ClientCall, isTracedCall, startClientCall } from './client-call.js';
import { type ClientInstrumentationOptions, compileClientPropagateTo } from './client-options.js';
import { otelClientTraceparent } from './otel-client-traceparent.js';

/** What a client library's request object tells when it is about to be sent. */
export interface ChannelRequestInit {
  method: string | undefined;
  /** The full target URL; `undefined` when it cannot be made out (the call is not traced). */
  url: URL | undefined;
  /** The `traceparent` the request already carries, if any. */
  traceparent: string | undefined;
  /**
   * The `X-Raceway-VC` the request already carries, if any: an outer layer's call whose
   * `traceparent` OpenTelemetry replaced (axios under OpenTelemetry's http instrumentation) is
   * known by it.
   */
  clock?: string | undefined;
  /** Sets a header on the request, replacing every existing copy whatever its case. */
  setHeader(name: string, value: string): void;
}

/**
 * The client calls in flight of one diagnostics-channel instrumentation (undici's channels for
 * fetch, node's `http.client.*` channels for node:http), keyed by the library's own request
 * object: response and error messages arrive outside the caller's async context, so the call is
 * found through the request instead. Every method is best effort and never throws into the
 * application's request.
 */
export class ChannelClientCalls {
  /** The instrumentation's `propagateTo`, or `undefined` when the tracer decides. */
  propagateTo: ((url: URL) => boolean) | undefined;
  readonly #calls = new WeakMap<object, ClientCall>();

  constructor(propagateTo: ((url: URL) => boolean) | undefined) {
    this.propagateTo = propagateTo;
  }

  /** True while `request` is a call this instrumentation traces. */
  has(request: object): boolean {
    return this.#calls.has(request);
  }

  /**
   * The request is about to be sent from the current context: starts its client call and puts
   * the trace headers on it. Leaves it alone outside a context, when it is already tracked, or
   * when an outer layer (wrapFetch, axios, manual `getTraceHeaders`) traces it already.
   */
  start(request: object, init: ChannelRequestInit): void {
    try {
      if (this.#calls.has(request)) return;
      const context = getCurrentContext();
      if (context === undefined || init.url === undefined) return;
      // Replacing an outer layer's headers would break its span link.
      if (isTracedCall(init.traceparent, init.clock)) return;
      const call = startClientCall(
        {
          method: init.method,
          url: init.url,
          propagateTo: this.propagateTo,
          sharedTraceparent: otelClientTraceparent(init.traceparent, context),
        },
        context,
      );
      if (call === undefined) return;
      this.#calls.set(request, call);
      for (const [name, value] of Object.entries(call.headers)) init.setHeader(name, value);
    } catch {
      // Instrumentation never breaks the application's request.
    }
  }

  /**
   * The response headers arrived: records `response_received` and merges the callee's clock.
   * The call stays known (for {@link fail}) until {@link forget}.
   */
  respond(request: object, status: number | undefined, headers: HeaderGetter | undefined): void {
    try {
      this.#calls.get(request)?.end({ status, headers });
    } catch {
      // Instrumentation never breaks the application's request.
    }
  }

  /** The request is over: its call is no longer looked for. */
  forget(request: object): void {
    this.#calls.delete(request);
  }

  /**
   * The request failed: ends the call with the error, or, when the response was already
   * recorded (a body that broke off), records the error in the call's span.
   */
  fail(request: object, error: unknown): void {
    const call = this.#calls.get(request);
    if (call === undefined) return;
    this.#calls.delete(request);
    if (call.ended) call.recordError(error);
    else call.end({ error });
  }
}

/** A channel name and what to do with its messages. */
export type ChannelHandlers = Record<string, (message: unknown) => void>;

/** What {@link installChannelInstrumentation} needs from a client instrumentation. */
export interface ChannelInstrumentationSpec {
  /**
   * Where the installation is kept on `globalThis` (a `Symbol.for` key): one per process, even
   * when both the ESM and the CJS build of a package are loaded, since two would record every
   * call twice.
   */
  key: symbol;
  /** The public function's name, for error messages (`instrumentFetch`). */
  name: string;
  /** The handlers to subscribe, made once per installation. */
  handlers(calls: ChannelClientCalls): ChannelHandlers;
  /** Anything to set up besides the subscriptions; returns how to undo it. */
  setUp?(calls: ChannelClientCalls): () => void;
}

interface Installation {
  calls: ChannelClientCalls;
  handlers: ChannelHandlers;
  tearDown: (() => void) | undefined;
}

type Holder = Record<symbol, Installation | undefined>;

/**
 * Installs a client instrumentation built on diagnostics channels: validates the options
 * (throwing a `RacewayConfigError` at once), subscribes the handlers, and keeps the
 * installation on `globalThis`. Installing again only replaces the options.
 *
 * @example
 * installChannelInstrumentation(options, {
 *   key: Symbol.for('raceway.fetch.installation.v1'),
 *   name: 'instrumentFetch',
 *   handlers: (calls) => ({ 'undici:request:create': (message) => calls.start(...) }),
 * });
 */
export function installChannelInstrumentation(
  options: ClientInstrumentationOptions | undefined,
  spec: ChannelInstrumentationSpec,
): void {
  checkClientOptions(options, spec.name);
  const propagateTo = compileClientPropagateTo(options?.propagateTo);
  const holder = globalThis as unknown as Holder;
  const existing = holder[spec.key];
  if (existing !== undefined) {
    existing.calls.propagateTo = propagateTo;
    return;
  }
  const calls = new ChannelClientCalls(propagateTo);
  const installation: Installation = {
    calls,
    handlers: spec.handlers(calls),
    tearDown: undefined,
  };
  for (const [name, handler] of Object.entries(installation.handlers)) {
    diagnosticsChannel.subscribe(name, handler);
  }
  installation.tearDown = spec.setUp?.(calls);
  holder[spec.key] = installation;
}

/**
 * Undoes {@link installChannelInstrumentation}. Calls in flight at that moment record no
 * `response_received`.
 */
export function uninstallChannelInstrumentation(key: symbol): void {
  const holder = globalThis as unknown as Holder;
  const installation = holder[key];
  if (installation === undefined) return;
  for (const [name, handler] of Object.entries(installation.handlers)) {
    diagnosticsChannel.unsubscribe(name, handler);
  }
  installation.tearDown?.();
  delete holder[key];
}
