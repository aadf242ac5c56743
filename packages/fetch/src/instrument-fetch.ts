import { HEADER_TRACEPARENT } from '@raceway/core';
import {
  type ChannelClientCalls,
  type ChannelHandlers,
  type ClientInstrumentationOptions,
  installChannelInstrumentation,
  traceHeadersFromRawList,
  uninstallChannelInstrumentation,
} from '@raceway/core/integration';
import {
  keepTraceparent,
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

const INSTALLATION_KEY = Symbol.for('raceway.fetch.installation.v1');

function requestOf(message: unknown): UndiciRequest | undefined {
  const request = (message as { request?: unknown } | null)?.request;
  return request !== null && typeof request === 'object' ? (request as UndiciRequest) : undefined;
}

function undiciHandlers(calls: ChannelClientCalls): ChannelHandlers {
  return {
    [CREATE](message) {
      const request = requestOf(message);
      if (request === undefined) return;
      calls.start(request, {
        method: request.method,
        url: requestUrl(request),
        traceparent: readRequestHeader(request, HEADER_TRACEPARENT),
        setHeader: (name, value) => {
          replaceRequestHeader(request, name, value);
          if (name.toLowerCase() === HEADER_TRACEPARENT) keepTraceparent(request);
        },
      });
    },
    // response_received is recorded when the headers arrive, which is when fetch() (or
    // undici.request) hands the response to the application: a body nobody reads, or a stream
    // that never ends, must not leave the call unrecorded. The call stays known until the body
    // ends, so that a body that breaks off is recorded too.
    [HEADERS](message) {
      const request = requestOf(message);
      if (request === undefined || !calls.has(request)) return;
      const response = (message as { response?: { statusCode?: number; headers?: unknown } })
        .response;
      const raw = Array.isArray(response?.headers) ? response.headers : [];
      calls.respond(request, response?.statusCode, traceHeadersFromRawList(raw));
    },
    [TRAILERS](message) {
      const request = requestOf(message);
      if (request !== undefined) calls.forget(request);
    },
    [ERROR](message) {
      const request = requestOf(message);
      if (request !== undefined) calls.fail(request, (message as { error?: unknown }).error);
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
  installChannelInstrumentation(options, {
    key: INSTALLATION_KEY,
    name: 'instrumentFetch',
    handlers: undiciHandlers,
  });
}

/**
 * Stops tracing fetch and undici calls (undoes {@link instrumentFetch}). Calls in flight at
 * that moment record no `response_received`.
 *
 * @example
 * uninstrumentFetch();
 */
export function uninstrumentFetch(): void {
  uninstallChannelInstrumentation(INSTALLATION_KEY);
}
