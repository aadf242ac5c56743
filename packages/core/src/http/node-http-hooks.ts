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

/**
 * The process-wide hooks behind the server lifecycle for node's own request and response
 * objects. Per request the lifecycle only records the objects in these WeakMaps; it adds no
 * property and no listener to the request or the response. (It used to: on Express, whose
 * objects get a new prototype per request, each property or listener added to them cost
 * microseconds, more than all the rest of the tracing together.)
 */
interface Hooks {
  /** response -> its span: `writeHead` and the finish channel find it here. */
  readonly spans: WeakMap<object, HookedSpan>;
  /** request or response -> context: listeners registered on them run in it. */
  readonly contexts: WeakMap<object, ExecutionContext>;
  /** socket -> the span of its latest request, ended if the connection closes first. */
  readonly sockets: WeakMap<object, HookedSpan>;
  /** sockets with a `close` listener already (one per connection, not per request). */
  readonly watchedSockets: WeakSet<object>;
}

// Installed once per process, even when both the ESM and the CJS build of this package are
// loaded: the hooks wrap node's prototypes, and wrapping them twice would run everything twice.
const HOOKS_KEY = Symbol.for('raceway.core.node-http-hooks.v1');
type Holder = { [HOOKS_KEY]?: Hooks };

function hooks(): Hooks {
  const holder = globalThis as Holder;
  let installed = holder[HOOKS_KEY];
  if (installed === undefined) {
    installed = {
      spans: new WeakMap(),
      contexts: new WeakMap(),
      sockets: new WeakMap(),
      watchedSockets: new WeakSet(),
    };
    install(installed);
    holder[HOOKS_KEY] = installed;
  }
  return installed;
}

function install(installed: Hooks): void {
  // Node 20 publishes no diagnostics channel before the response headers are written, and the
  // X-Raceway-VC response header must be the clock at that moment (spec 2.6): writeHead is
  // wrapped once, on the prototype. node calls it for implicit headers too (first write/end).
  const proto = ServerResponse.prototype as unknown as { writeHead: (...args: unknown[]) => unknown };
  const writeHead = proto.writeHead;
  proto.writeHead = function writeHeadWithTrace(this: object, ...args: unknown[]) {
    installed.spans.get(this)?.writeHeaders();
    return writeHead.apply(this, args);
  };

  diagnosticsChannel.subscribe('http.server.response.finish', (message) => {
    const response = (message as { response?: object } | null)?.response;
    if (response !== undefined) installed.spans.get(response)?.end();
  });

  // A request's `data` and `end` events fire from the socket, outside the async context of the
  // handler that listens to them: listeners registered on a traced request or response run in
  // its context. Untraced objects pay one WeakMap lookup per registration.
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
      this: object,
      event: string | symbol,
      listener: Listener,
    ): unknown {
      const ctx = typeof listener === 'function' ? installed.contexts.get(this) : undefined;
      return on.call(this, event, ctx === undefined ? listener : bindListener(listener, ctx));
    };
    emitter.on = onInContext;
    emitter.addListener = onInContext;
    emitter.once = function onceInContext(
      this: object,
      event: string | symbol,
      listener: Listener,
    ): unknown {
      const ctx = typeof listener === 'function' ? installed.contexts.get(this) : undefined;
      if (ctx === undefined) return once.call(this, event, listener);
      const self = this as typeof emitter;
      return on.call(this, event, bindOnceListener(self, event, listener, ctx));
    };
  }
}

function onSocketClose(this: object): void {
  hooks().sockets.get(this)?.end();
}

/**
 * Attaches a span to node's request and response objects through the process-wide hooks.
 * Returns false, and changes nothing, when they are not node's `IncomingMessage` and
 * `ServerResponse` (the lifecycle then hooks the objects themselves).
 */
export function trackNodeExchange(
  request: unknown,
  response: unknown,
  span: HookedSpan,
  ctx: ExecutionContext,
): boolean {
  if (!(request instanceof IncomingMessage) || !(response instanceof ServerResponse)) return false;
  const installed = hooks();
  installed.spans.set(response, span);
  installed.contexts.set(request, ctx);
  installed.contexts.set(response, ctx);
  const socket = request.socket;
  if (socket != null) {
    installed.sockets.set(socket, span);
    if (!installed.watchedSockets.has(socket)) {
      installed.watchedSockets.add(socket);
      socket.on('close', onSocketClose);
    }
  }
  return true;
}
