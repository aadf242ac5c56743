// The parts of node's `http.ClientRequest` the instrumentation reads and writes, all public.

import type { ClientRequest } from 'node:http';

/** The full URL of a client request, or undefined when it cannot be made out. */
export function requestUrl(request: ClientRequest): URL | undefined {
  try {
    // The Host header carries the port (and an IPv6 address's brackets) as sent; `host` is the
    // bare name, for a request made with `setHost: false`.
    const host = request.getHeader('host');
    const authority = typeof host === 'string' && host !== '' ? host : request.host;
    return new URL(request.path, `${request.protocol}//${authority}`);
  } catch {
    return undefined;
  }
}

/** The request's `traceparent`, when it carries exactly one. */
export function requestTraceparent(request: ClientRequest): string | undefined {
  return singleHeader(request, 'traceparent');
}

/** The request's `X-Raceway-VC`, when it carries exactly one. */
export function requestClock(request: ClientRequest): string | undefined {
  return singleHeader(request, 'x-raceway-vc');
}

function singleHeader(request: ClientRequest, name: string): string | undefined {
  const value = request.getHeader(name);
  // node-fetch 2 and others set every header as an array of values.
  const single = Array.isArray(value) && value.length === 1 ? value[0] : value;
  return typeof single === 'string' ? single : undefined;
}

/**
 * True while headers can still be set: node stores the head of a request made with an array of
 * headers, or with `Expect`, in its constructor, and every other one at the first `write` or
 * `end`.
 */
export function headersStillOpen(request: ClientRequest): boolean {
  return !request.headersSent;
}
