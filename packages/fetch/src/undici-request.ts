// The parts of undici's dispatcher-level request that the diagnostics channels hand out. The
// same shape in undici 6 (bundled with Node 20 for global fetch) and undici 7 (npm).

/** A request as published on `undici:request:create`. */
export interface UndiciRequest {
  origin?: string | URL;
  path?: string;
  method?: string;
  /** `[name, value, name, value, ...]` in undici 6 and 7; a `name: value\r\n` string in undici 5. */
  headers: unknown;
}

/** The full URL of an undici request, or undefined when it cannot be made out. */
export function requestUrl(request: UndiciRequest): URL | undefined {
  try {
    if (request.origin === undefined) return undefined;
    return new URL(request.path ?? '/', request.origin);
  } catch {
    return undefined;
  }
}

/** Every value of a request header, matched case-insensitively. */
export function readRequestHeader(request: UndiciRequest, name: string): string | undefined {
  const lower = name.toLowerCase();
  const headers = request.headers;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === lower) return String(headers[i + 1]);
    }
    return undefined;
  }
  if (typeof headers === 'string') {
    for (const line of headers.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === lower) {
        return line.slice(colon + 1).trim();
      }
    }
  }
  return undefined;
}

/**
 * Sets a request header, replacing every existing copy whatever its case (spec 2.5): an
 * instrumentation installed twice, or a user who already set the header, still sends one copy.
 * undici's own `addHeader` appends, so it is not used.
 */
export function replaceRequestHeader(request: UndiciRequest, name: string, value: string): void {
  const lower = name.toLowerCase();
  const headers = request.headers;
  if (Array.isArray(headers)) {
    for (let i = headers.length - 2; i >= 0; i -= 2) {
      if (String(headers[i]).toLowerCase() === lower) headers.splice(i, 2);
    }
    headers.push(name, value);
  } else if (typeof headers === 'string') {
    const kept = headers
      .split('\r\n')
      .filter(
        (line) => line !== '' && line.slice(0, line.indexOf(':')).trim().toLowerCase() !== lower,
      );
    kept.push(`${name}: ${value}`);
    request.headers = `${kept.join('\r\n')}\r\n`;
  }
}

/**
 * Keeps the request's one `traceparent`: a later `addHeader('traceparent', ...)` (another
 * tracer's undici instrumentation that subscribed after Raceway's, such as OpenTelemetry's
 * started after `instrumentFetch()`) is left out instead of sending a second copy, whose parent
 * would contradict the first (spec 2.5, 2.8). Other headers go through untouched.
 */
export function keepTraceparent(request: UndiciRequest): void {
  const target = request as UndiciRequest & { addHeader?: unknown };
  const addHeader = target.addHeader;
  if (typeof addHeader !== 'function') return;
  target.addHeader = function (this: unknown, name: unknown, value: unknown) {
    if (typeof name === 'string' && name.toLowerCase() === 'traceparent') return this;
    return addHeader.call(this, name, value);
  };
}
