import diagnosticsChannel from 'node:diagnostics_channel';
import { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionContext } from '../context/execution-context.js';
import { bindListener, bindOnceListener, type Listener } from './bind-emitter.js';

/** What the hooks call on the span of a response. */
export interface HookedSpan {
  /** The response headers are about to be written. */
  writeHeaders(): void;
  /** The response finished, or its connection closed. */
  end(): void;
}

/** One request in flight on a connection. */
interface Exchange {
  readonly request: object;
  readonly response: object;
  readonly span: HookedSpan;
  readonly context: ExecutionContext;
}

/**
 * The process-wide hooks behind the server lifecycle for node's own request and response
 * objects. Per request the lifecycle adds no property and no listener to the request or the
 * response, and makes no WeakMap entry keyed by them: on Express, whose objects get a new
 * prototype per request, each added property cost microseconds; a WeakMap entry per request
 * object costs a hash for the young object and ephemeron work in every young-generation
 * collection, and a WeakMap value that leads back to its key (a span holds its response) kept
 * whole requests alive through those collections and had them promoted.
 *
 * Everything is found through the connection (the socket) instead: it is long-lived, its entry
 * is made once per connection, and the request's own entry in it is removed when the response
 * finishes. Listeners registered on a request or response after that (node's own clean-up)
 * are not bound: the request is over.
 */
interface Hooks {
  /** socket -> the requests in flight on it (one, unless the client pipelines). */
  readonly exchanges: WeakMap<object, Exchange[]>;
}

// Installed once per process, even when both the ESM and the CJS build of this package are
// loaded: the hooks wrap node's prototypes, and wrapping them twice would run everything twice.
const HOOKS_KEY = Symbol.for('raceway.core.node-http-hooks.v3');
type Holder = { [HOOKS_KEY]?: Hooks };

function hooks(): Hooks {
  const holder = globalThis as Holder;
  let installed = holder[HOOKS_KEY];
  if (installed === undefined) {
    installed = { exchanges: new WeakMap() };
    install(installed);
    holder[HOOKS_KEY] = installed;
  }
  return installed;
}

function find(installed: Hooks, socket: unknown, response: object): Exchange | undefined {
  if (socket == null) return undefined;
  const list = installed.exchanges.get(socket);
  if (list === undefined) return undefined;
  for (const exchange of list) if (exchange.response === response) return exchange;
  return undefined;
}

/** The context of a traced request or response still in flight, found through its connection. */
function contextOf(installed: Hooks, emitter: { socket?: unknown }): ExecutionContext | undefined {
  const socket = emitter.socket;
  if (socket == null) return undefined;
  const list = installed.exchanges.get(socket);
  if (list === undefined) return undefined;
  for (const exchange of list) {
    if (exchange.request === emitter || exchange.response === emitter) return exchange.context;
  }
  return undefined;
}

function remove(installed: Hooks, socket: object, exchange: Exchange): void {
  const list = installed.exchanges.get(socket);
  if (list === undefined) return;
  // Without pipelining a connection has one request in flight.
  if (list.length === 1 && list[0] === exchange) {
    list.pop();
    return;
  }
  const index = list.indexOf(exchange);
  if (index !== -1) list.splice(index, 1);
}

function install(installed: Hooks): void {
  // Node 20 publishes no diagnostics channel before the response headers are written, and the
  // X-Raceway-VC response header must be the clock at that moment (spec 2.6): writeHead is
  // wrapped once, on the prototype. node calls it for implicit headers too (first write/end).
  const proto = ServerResponse.prototype as unknown as {
    writeHead: (...args: unknown[]) => unknown;
    writeHeader?: (...args: unknown[]) => unknown;
  };
  const writeHead = proto.writeHead;
  const writeHeadWithTrace = function writeHeadTraced(
    this: { socket?: unknown },
    ...args: unknown[]
  ): unknown {
    find(installed, this.socket, this)?.span.writeHeaders();
    return writeHead.apply(this, args);
  };
  proto.writeHead = writeHeadWithTrace;
  // node's old alias of writeHead.
  if (proto.writeHeader === writeHead) proto.writeHeader = writeHeadWithTrace;

  diagnosticsChannel.subscribe('http.server.response.finish', (message) => {
    const { response, socket } = (message ?? {}) as { response?: object; socket?: object };
    if (response === undefined || socket === undefined) return;
    const exchange = find(installed, socket, response);
    if (exchange === undefined) return;
    remove(installed, socket, exchange);
    exchange.span.end();
  });

  // A request's `data` and `end` events fire from the socket, outside the async context of the
  // handler that listens to them: listeners registered on a traced request or response while it
  // is in flight run in its context. Untraced objects pay one lookup per registration.
  for (const target of [IncomingMessage.prototype, ServerResponse.prototype]) {
    const emitter = target as unknown as {
      on: (event: string | symbol, listener: Listener) => unknown;
      addListener: (event: string | symbol, listener: Listener) => unknown;
      once: (event: string | symbol, listener: Listener) => unknown;
      removeListener: (event: string | symbol, listener: Listener) => unknown;
    };
    const on = emitter.on;
    const once = emitter.once;
    const onInContext = function onInContext(
      this: { socket?: unknown },
      event: string | symbol,
      listener: Listener,
    ): unknown {
      const ctx = typeof listener === 'function' ? contextOf(installed, this) : undefined;
      return on.call(this, event, ctx === undefined ? listener : bindListener(listener, ctx));
    };
    emitter.on = onInContext;
    emitter.addListener = onInContext;
    emitter.once = function onceInContext(
      this: { socket?: unknown },
      event: string | symbol,
      listener: Listener,
    ): unknown {
      const ctx = typeof listener === 'function' ? contextOf(installed, this) : undefined;
      if (ctx === undefined) return once.call(this, event, listener);
      const self = this as typeof emitter;
      return on.call(this, event, bindOnceListener(self, event, listener, ctx));
    };
  }
}

/** The connection closed: whatever was still in flight on it was cut off. */
function onSocketClose(this: object): void {
  const installed = hooks();
  const list = installed.exchanges.get(this);
  if (list === undefined) return;
  installed.exchanges.delete(this);
  for (const exchange of list) exchange.span.end();
}

/**
 * Attaches a span to node's request and response objects through the process-wide hooks.
 * Returns false, and changes nothing, when they are not node's `IncomingMessage` and
 * `ServerResponse` on a connection (the lifecycle then hooks the objects themselves).
 */
export function trackNodeExchange(
  request: unknown,
  response: unknown,
  span: HookedSpan,
  ctx: ExecutionContext,
): boolean {
  if (!(request instanceof IncomingMessage) || !(response instanceof ServerResponse)) return false;
  const socket = request.socket;
  if (socket == null) return false;
  const installed = hooks();
  const list = installed.exchanges.get(socket);
  const exchange: Exchange = { request, response, span, context: ctx };
  if (list !== undefined) list.push(exchange);
  else {
    // The first request on this connection: one listener for the connection's lifetime.
    installed.exchanges.set(socket, [exchange]);
    socket.on('close', onSocketClose);
  }
  return true;
}

/**
 * The span of a request tracked by {@link trackNodeExchange}, while it is in flight.
 */
export function nodeExchangeSpan(request: unknown): HookedSpan | undefined {
  if (!(request instanceof IncomingMessage) || request.socket == null) return undefined;
  const list = hooks().exchanges.get(request.socket);
  if (list === undefined) return undefined;
  for (const exchange of list) if (exchange.request === request) return exchange.span;
  return undefined;
}
