import diagnosticsChannel from 'node:diagnostics_channel';
import { getCurrentContext, HEADER_TRACEPARENT } from '@raceway/core';
import {
  type ClientCall,
  type ClientInstrumentationOptions,
  checkClientOptions,
  compileClientPropagateTo,
  isTracedCall,
  startClientCall,
  traceHeadersFromRawList,
} from '@raceway/core/integration';
import {
  readRequestHeader,
  replaceRequestHeader,
  requestUrl,
  type UndiciRequest,
} from './undici-request.js';

/** Options of {@link instrumentFetch}. */
export type FetchInstrumentationOptions = ClientInstrumentationOptions;

// undici publishes these for every request of every dispatcher, under the same names in the
// copy bundled with Node (global fetch) and in the npm package; subscribing covers both.
const CREATE = 'undici:request:create';
const HEADERS = 'undici:request:headers';
const TRAILERS = 'undici:request:trailers';
const ERROR = 'undici:request:error';

interface Installation {
  propagateTo: ((url: URL) => boolean) | undefined;
  // Response callbacks run outside the caller's async context: the call is found through
  // its request object instead.
  calls: WeakMap<object, ClientCall>;
  handlers: Record<string, (message: unknown) => void>;
}

// One installation per process, even when both the ESM and the CJS build of this package are
// loaded: two would record every call twice.
const INSTALLATION_KEY = Symbol.for('raceway.fetch.installation.v1');
type Holder = { [INSTALLATION_KEY]?: Installation };

function current(): Installation | undefined {
  return (globalThis as Holder)[INSTALLATION_KEY];
}

function requestOf(message: unknown): UndiciRequest | undefined {
  const request = (message as { request?: unknown } | null)?.request;
  return request !== null && typeof request === 'object' ? (request as UndiciRequest) : undefined;
}

function createHandlers(installation: Installation): Record<string, (message: unknown) => void> {
  return {
    [CREATE](message) {
      try {
        const request = requestOf(message);
        if (request === undefined) return;
        const context = getCurrentContext();
        if (context === undefined) return;
        // A call an outer layer traces already (wrapFetch, axios' fetch adapter): leave it.
        if (isTracedCall(readRequestHeader(request, HEADER_TRACEPARENT))) return;
        const url = requestUrl(request);
        if (url === undefined) return;
        const call = startClientCall(
          { method: request.method, url, propagateTo: installation.propagateTo },
          context,
        );
        if (call === undefined) return;
        installation.calls.set(request, call);
        for (const [name, value] of Object.entries(call.headers)) {
          replaceRequestHeader(request, name, value);
        }
      } catch {
        // Instrumentation never breaks the application's request.
      }
    },
    // response_received is recorded when the headers arrive, which is when fetch() (or
    // undici.request) hands the response to the application: a body nobody reads, or a stream
    // that never ends, must not leave the call unrecorded. The call stays known until the body
    // ends, so that a body that breaks off is recorded too.
    [HEADERS](message) {
      try {
        const request = requestOf(message);
        const call = request && installation.calls.get(request);
        if (call === undefined) return;
        const response = (message as { response?: { statusCode?: number; headers?: unknown } })
          .response;
        const raw = Array.isArray(response?.headers) ? response.headers : [];
        call.end({ status: response?.statusCode, headers: traceHeadersFromRawList(raw) });
      } catch {
        // Instrumentation never breaks the application's request.
      }
    },
    [TRAILERS](message) {
      const request = requestOf(message);
      if (request !== undefined) installation.calls.delete(request);
    },
    [ERROR](message) {
      const request = requestOf(message);
      const call = request && installation.calls.get(request);
      if (request === undefined || call === undefined) return;
      installation.calls.delete(request);
      const error = (message as { error?: unknown }).error;
      if (call.ended) call.recordError(error);
      else call.end({ error });
    },
  };
}

/**
 * Traces every outgoing request made with global `fetch` or with undici (`undici.request`,
 * `undici.fetch`, any undici dispatcher): inside an execution context, each call gets a client
 * span, records `request_sent` and `response_received`, carries the trace headers (replacing
 * any copy already set, so installing twice still sends one) when the target is allowed by
 * `propagateTo`, and merges the callee's clock from the response. Calls made outside a context
 * are left untouched. It subscribes to undici's diagnostics channels; nothing is patched.
 *
 * Calling it again only replaces the options. Throws a `RacewayConfigError` for an invalid
 * `propagateTo`.
 *
 * @example
 * import { instrumentFetch } from '@raceway/fetch';
 *
 * instrumentFetch();
 * // inside a traced request handler:
 * const stock = await fetch('http://inventory:3000/items/42'); // carries the trace headers
 */
export function instrumentFetch(options: FetchInstrumentationOptions = {}): void {
  checkClientOptions(options, 'instrumentFetch');
  const propagateTo = compileClientPropagateTo(options.propagateTo);
  const existing = current();
  if (existing !== undefined) {
    existing.propagateTo = propagateTo;
    return;
  }
  const installation: Installation = {
    propagateTo,
    calls: new WeakMap(),
    handlers: {},
  };
  installation.handlers = createHandlers(installation);
  for (const [name, handler] of Object.entries(installation.handlers)) {
    diagnosticsChannel.subscribe(name, handler);
  }
  (globalThis as Holder)[INSTALLATION_KEY] = installation;
}

/**
 * Stops tracing fetch and undici calls (undoes {@link instrumentFetch}). Calls in flight at
 * that moment record no `response_received`.
 *
 * @example
 * uninstrumentFetch();
 */
export function uninstrumentFetch(): void {
  const installation = current();
  if (installation === undefined) return;
  for (const [name, handler] of Object.entries(installation.handlers)) {
    diagnosticsChannel.unsubscribe(name, handler);
  }
  delete (globalThis as Holder)[INSTALLATION_KEY];
}
