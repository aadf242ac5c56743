import type { ClientRequest, IncomingMessage } from 'node:http';
import {
  type ChannelClientCalls,
  type ChannelHandlers,
  type ClientInstrumentationOptions,
  incomingHeaders,
  installChannelInstrumentation,
  uninstallChannelInstrumentation,
} from '@raceway/core/integration';
import {
  headersStillOpen,
  requestClock,
  requestTraceparent,
  requestUrl,
} from './client-request.js';
import { installGlobalAgents, setAgentHook } from './tracing-agent.js';

/** Options of {@link instrumentHttp}. */
export type HttpInstrumentationOptions = ClientInstrumentationOptions;

// node's http client channels. `created` is published from the ClientRequest constructor, before
// the head is written, from Node 22.12 and 23.2 on; Node 20 publishes `start` only once the
// head is stored (too late for headers), so there the default agents add them instead.
const CREATED = 'http.client.request.created';
const RESPONSE = 'http.client.response.finish';
const ERROR = 'http.client.request.error';

const INSTALLATION_KEY = Symbol.for('raceway.http.installation.v1');

/** True when this Node publishes `http.client.request.created` (22.12+, 23.2+). */
export function nodePublishesRequestCreated(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

function messageRequest(message: unknown): ClientRequest | undefined {
  const request = (message as { request?: unknown } | null)?.request;
  return request !== null && typeof request === 'object' ? (request as ClientRequest) : undefined;
}

/** Starts the call of a request whose head is not written yet, from the caller's context. */
function startRequest(calls: ChannelClientCalls, request: ClientRequest): void {
  // A request whose head node already stored can take no header: left untraced rather than
  // recorded as a call its callee could never join.
  if (!headersStillOpen(request)) return;
  calls.start(request, {
    method: request.method,
    url: requestUrl(request),
    traceparent: requestTraceparent(request),
    clock: requestClock(request),
    setHeader: (name, value) => request.setHeader(name, value),
  });
}

function httpHandlers(calls: ChannelClientCalls): ChannelHandlers {
  return {
    [CREATED](message) {
      const request = messageRequest(message);
      if (request !== undefined) startRequest(calls, request);
    },
    // Published when the response head arrives, which is when node hands the response to the
    // application: the call is recorded then, whether or not the body is ever read.
    [RESPONSE](message) {
      const request = messageRequest(message);
      if (request === undefined || !calls.has(request)) return;
      const response = (message as { response?: IncomingMessage }).response;
      calls.respond(
        request,
        response?.statusCode,
        response === undefined ? undefined : incomingHeaders(response),
      );
      calls.forget(request);
    },
    [ERROR](message) {
      const request = messageRequest(message);
      if (request !== undefined) calls.fail(request, (message as { error?: unknown }).error);
    },
  };
}

/** Before Node 22.12: node's default agents add the headers (see `tracing-agent.ts`). */
function setUpAgents(calls: ChannelClientCalls): () => void {
  if (nodePublishesRequestCreated()) return () => {};
  setAgentHook((request) => startRequest(calls, request));
  const restore = installGlobalAgents();
  return () => {
    setAgentHook(undefined);
    restore();
  };
}

/**
 * Traces every outgoing request made with node's `http.request` / `https.request` (`get`
 * likewise) and the clients built on them (got, node-fetch 2, the AWS SDK): inside an execution
 * context, each call gets a client span, records `request_sent` and `response_received` (when
 * the response head arrives, or with the error), carries the trace headers (replacing any copy
 * already set) when the target is allowed by `propagateTo`, and merges the callee's clock from
 * the response. Calls made outside a context, and calls that an outer layer (`wrapFetch`,
 * `instrumentAxios`, `getTraceHeaders`) already traces, are left alone; the SDK's own requests
 * to the collector run outside any context.
 *
 * Node's diagnostics channels report responses and errors; nothing is patched. Headers are added
 * from the `http.client.request.created` channel on Node 22.12+; before that, node publishes no
 * channel early enough, and `http.globalAgent` / `https.globalAgent` are replaced with
 * {@link RacewayHttpAgent} / {@link RacewayHttpsAgent} of the same settings: a client with an
 * agent of its own needs one of those there.
 *
 * Calling it again only replaces the options. Throws a `RacewayConfigError` for an invalid
 * `propagateTo`.
 *
 * @example
 * import { instrumentHttp } from '@raceway/http';
 *
 * instrumentHttp();
 * // inside a traced request handler:
 * const stock = await got('http://inventory:3000/items/42').json(); // carries the trace headers
 */
export function instrumentHttp(options: HttpInstrumentationOptions = {}): void {
  installChannelInstrumentation(options, {
    key: INSTALLATION_KEY,
    name: 'instrumentHttp',
    handlers: httpHandlers,
    setUp: setUpAgents,
  });
}

/**
 * Stops tracing node:http calls (undoes {@link instrumentHttp}, putting the default agents
 * back). Calls in flight at that moment record no `response_received`.
 *
 * @example
 * uninstrumentHttp();
 */
export function uninstrumentHttp(): void {
  uninstallChannelInstrumentation(INSTALLATION_KEY);
}
