import type { HeaderGetter, HeaderValue } from '../propagation/index.js';
import { headersFromRecord } from '../propagation/index.js';

/** The part of node's `IncomingMessage` that header extraction reads. */
export interface IncomingHeadersLike {
  /** Node's parsed headers: lowercase names, repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, HeaderValue | number>>;
  /** Node's raw headers, `[name, value, name, value, ...]` as received, every copy kept. */
  readonly rawHeaders?: readonly string[];
}

// The headers Raceway reads on requests and responses. Messages carry a few dozen headers, so
// collecting these four in one pass over the raw list beats a case-insensitive scan per read.
const TRACE_HEADERS = new Set(['x-raceway-trace-id', 'x-raceway-vc', 'traceparent', 'tracestate']);
const SHORTEST = 10; // 'tracestate'
const LONGEST = 18; // 'x-raceway-trace-id'

/**
 * A getter for the trace headers (`X-Raceway-Trace-Id`, `X-Raceway-VC`, `traceparent`,
 * `tracestate`) over a raw header list `[name, value, name, value, ...]`, as node's
 * `rawHeaders` and undici's diagnostics channels give it (strings or Buffers). Every copy of a
 * repeated header is kept, which spec 2.1 needs to tell identical copies from conflicting
 * ones. Other headers read as absent. Never throws.
 *
 * @example
 * const get = traceHeadersFromRawList(['X-Raceway-VC', '{"api#1f3a9c07":3}', 'Content-Type', 'text/plain']);
 * get('x-raceway-vc'); // '{"api#1f3a9c07":3}'
 */
export function traceHeadersFromRawList(
  raw: ReadonlyArray<string | Uint8Array | null | undefined>,
): HeaderGetter {
  let found: Map<string, string[]> | undefined;
  try {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i];
      if (name == null || name.length < SHORTEST || name.length > LONGEST) continue;
      const lower = (
        typeof name === 'string' ? name : Buffer.from(name).toString('latin1')
      ).toLowerCase();
      if (!TRACE_HEADERS.has(lower)) continue;
      const item = raw[i + 1];
      const value =
        typeof item === 'string' ? item : item == null ? '' : Buffer.from(item).toString('latin1');
      found ??= new Map();
      const copies = found.get(lower);
      if (copies === undefined) found.set(lower, [value]);
      else copies.push(value);
    }
  } catch {
    // A list that is not what it claims to be: read what was collected so far.
  }
  if (found === undefined) return noTraceHeaders;
  const headers = found;
  return function getTraceHeader(name: string): HeaderValue {
    const copies = headers.get(name.toLowerCase());
    if (copies === undefined) return undefined;
    return copies.length === 1 ? copies[0] : copies;
  };
}

/**
 * The getter {@link traceHeadersFromRawList} returns for a message without any trace header
 * (most requests that start a trace): callers may compare against it to skip extraction.
 */
export const noTraceHeaders: HeaderGetter = () => undefined;

/**
 * The header getter the server lifecycle extracts from: node's `rawHeaders` when present (node's
 * `headers` joins copies with `, `, which cannot be told apart from a clock's own commas),
 * otherwise the `headers` object. Never throws.
 *
 * @example
 * extractContext(incomingHeaders(req));
 */
export function incomingHeaders(request: IncomingHeadersLike): HeaderGetter {
  const raw = request.rawHeaders;
  if (Array.isArray(raw)) return traceHeadersFromRawList(raw);
  return headersFromRecord(request.headers ?? {});
}
