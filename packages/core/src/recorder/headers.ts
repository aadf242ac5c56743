import type { ExecutionContext } from '../context/execution-context.js';
import { ClientCall } from '../http/client-call.js';
import { eventMethod } from '../http/event-fields.js';
import { mergeResponseClock } from '../http/response-clock.js';
import { type HeaderGetter, type HeaderValue, headersFromRecord } from '../propagation/carrier.js';
import { withActiveContext } from './active-context.js';

/** What a manual call is made to, so that the collector can draw it as a dependency edge. */
export interface TraceHeadersTarget {
  /** The full URL called; its host names the edge when no instrumented service answers. */
  url?: string | URL;
  /** The HTTP method. Default `GET`. */
  method?: string;
}

/** How a manual call ended, for {@link mergeResponseHeaders}. */
export interface ManualCallResult {
  /** The response's status code. */
  status?: number;
  /** A network error, timeout or abort instead of a response. */
  error?: unknown;
  /**
   * The headers object {@link getTraceHeaders} returned for the call this response answers.
   * Without it the response goes to the oldest call of the current context still open.
   */
  request?: object;
}

/** Response headers as the common HTTP clients hand them over. */
export type ResponseHeaders =
  | HeaderGetter
  | { get(name: string): string | null | undefined }
  | Readonly<Record<string, HeaderValue | number>>;

// Open manual calls, oldest first, per context; and each call by the headers object handed out
// for it. WeakMaps: a context or a headers object that is dropped takes its calls with it.
const openCalls = new WeakMap<ExecutionContext, ClientCall[]>();
const callByHeaders = new WeakMap<object, ClientCall>();
/** Calls a context keeps open at most: one that is never answered must not grow it forever. */
const MAX_OPEN_CALLS = 256;

/**
 * Trace headers for one outgoing call made by a client Raceway does not instrument (manual
 * propagation, spec 2.7). Each call is a client call of its own: a new client span id in
 * `traceparent`, a `request_sent` event, and `X-Raceway-Trace-Id`, `X-Raceway-VC`,
 * `traceparent` and, when there is one, `tracestate` to send. Name the target so that the
 * call shows in the dependency graph. Returns `{}` outside a context or when disabled. Never
 * throws. The headers always come back: the allow-list (`propagateTo`) is for calls Raceway
 * instruments by itself; here the application chose to send them.
 *
 * Pass the response to {@link mergeResponseHeaders} afterwards: it records the call's
 * `response_received`, and without it what the callee did looks concurrent with what the
 * caller does next.
 *
 * @example
 * const url = 'http://inventory/items/42';
 * const headers = getTraceHeaders({ url, method: 'GET' });
 * const response = await got(url, { headers });
 * mergeResponseHeaders(response.headers, { status: response.statusCode, request: headers });
 */
export function getTraceHeaders(target?: TraceHeadersTarget): Record<string, string> {
  let headers: Record<string, string> = {};
  withActiveContext((ctx) => {
    const call = new ClientCall(ctx, eventMethod(target?.method), targetUrl(target?.url), true);
    headers = { ...call.headers };
    if (!ctx.sampled) return; // nothing to record when the response comes
    callByHeaders.set(headers, call);
    let open = openCalls.get(ctx);
    if (open === undefined) {
      open = [];
      openCalls.set(ctx, open);
    }
    if (open.length === MAX_OPEN_CALLS) open.shift();
    open.push(call);
  });
  return headers;
}

/**
 * Ends a manual call (spec 2.7): merges the clock the callee sent back (`X-Raceway-VC`, spec
 * 2.6) when the response belongs to the same trace, then records the call's
 * `response_received`. The call is the one whose headers are given as `result.request`, or
 * else the oldest call of the current context still open. With no open call only the clock is
 * merged. Never throws.
 *
 * @example
 * const headers = getTraceHeaders({ url });
 * const response = await fetch(url, { headers });
 * mergeResponseHeaders(response.headers, { status: response.status, request: headers });
 */
export function mergeResponseHeaders(
  responseHeaders: ResponseHeaders | undefined,
  result: ManualCallResult = {},
): void {
  withActiveContext((ctx) => {
    const get = responseHeaders === undefined ? undefined : headerGetter(responseHeaders);
    const call = takeCall(ctx, result.request);
    if (call === undefined) {
      if (get !== undefined) mergeResponseClock(ctx, get);
      return;
    }
    call.end({ status: result.status, headers: get, error: result.error });
  });
}

function takeCall(ctx: ExecutionContext, request: object | undefined): ClientCall | undefined {
  const named =
    request !== null && typeof request === 'object' ? callByHeaders.get(request) : undefined;
  // A call named by its headers belongs to the context that made it, wherever it is answered.
  const open = openCalls.get(named?.context ?? ctx);
  const call = named ?? open?.[0];
  if (call === undefined || call.ended) return undefined;
  const index = open === undefined ? -1 : open.indexOf(call);
  if (index >= 0) open!.splice(index, 1);
  return call;
}

function targetUrl(url: string | URL | undefined): URL | null {
  if (url instanceof URL) return url;
  if (typeof url !== 'string') return null;
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

function headerGetter(headers: ResponseHeaders): HeaderGetter {
  if (typeof headers === 'function') return headers;
  const withGet = headers as { get?: unknown };
  if (typeof withGet.get === 'function') {
    return (name) =>
      (withGet.get as (n: string) => string | null | undefined).call(headers, name) ?? undefined;
  }
  return headersFromRecord(headers as Readonly<Record<string, HeaderValue | number>>);
}
