/** A header as a carrier returns it: absent, once, or once per copy received. */
export type HeaderValue = string | readonly string[] | undefined;
/** Reads a header; `name` is given in lowercase and the getter matches it case-insensitively. */
export type HeaderGetter = (name: string) => HeaderValue;
/**
 * Writes a header. It MUST replace every existing value of the header, whatever its case, and
 * never append a second copy (spec 2.5).
 */
export type HeaderSetter = (name: string, value: string) => void;

/** The Raceway trace id header, as emitted. */
export const HEADER_TRACE_ID = 'X-Raceway-Trace-Id';
/** The Raceway vector clock header, as emitted. */
export const HEADER_VC = 'X-Raceway-VC';
/** The W3C Trace Context parent header. */
export const HEADER_TRACEPARENT = 'traceparent';
/** The W3C Trace Context vendor state header. */
export const HEADER_TRACESTATE = 'tracestate';

/**
 * A case-insensitive getter over a plain header object, such as node's `IncomingHttpHeaders`.
 * Numbers are read as strings; a name present under several spellings (`TraceParent` and
 * `traceparent`) is read as that header received several times. Never throws.
 *
 * @example
 * const get = headersFromRecord({ 'X-Raceway-Trace-Id': '4bf92f3577b34da6a3ce929d0e0e4736' });
 * get('x-raceway-trace-id'); // '4bf92f3577b34da6a3ce929d0e0e4736'
 * extractContext(headersFromRecord(req.headers));
 */
export function headersFromRecord(
  headers: Readonly<Record<string, HeaderValue | number>>,
): HeaderGetter {
  return function getHeader(name: string): HeaderValue {
    if (headers == null || typeof headers !== 'object') return undefined;
    const wanted = name.toLowerCase();
    const found: string[] = [];
    // The object is scanned on every read rather than indexed once, so the getter stays right
    // when the object changes between reads (a response's headers); the length test keeps the
    // scan cheap.
    for (const key of Object.keys(headers)) {
      if (key.length !== wanted.length || key.toLowerCase() !== wanted) continue;
      const value = headers[key];
      if (typeof value === 'string') found.push(value);
      else if (typeof value === 'number') found.push(String(value));
      else if (Array.isArray(value)) {
        for (const item of value) if (typeof item === 'string') found.push(item);
      }
    }
    if (found.length === 0) return undefined;
    return found.length === 1 ? found[0] : found;
  };
}

/**
 * A setter into a plain header object that replaces: every existing spelling of the name is
 * removed before the value is written under the name as given (spec 2.5). Never throws.
 *
 * @example
 * const headers: Record<string, string> = { traceparent: '00-old' };
 * injectContext(ctx, headersIntoRecord(headers)); // headers.traceparent replaced, one copy
 */
export function headersIntoRecord(headers: Record<string, unknown>): HeaderSetter {
  return function setHeader(name: string, value: string): void {
    try {
      const wanted = name.toLowerCase();
      for (const key of Object.keys(headers)) {
        if (key.length === wanted.length && key.toLowerCase() === wanted) delete headers[key];
      }
      headers[name] = value;
    } catch {
      // A frozen or exotic object: leave it as it is rather than break the caller.
    }
  };
}

/** Trims optional whitespace (space and horizontal tab only, spec 2.1) at both ends. */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * The copies of a header, trimmed, with empty copies left out (spec 2.1). With `splitCommas`,
 * a comma-separated value counts as several copies (a header that a proxy or node's
 * `IncomingMessage` joined). Tolerates anything a careless getter returns.
 */
export function headerCopies(value: unknown, splitCommas: boolean): string[] {
  const copies: string[] = [];
  const add = (raw: unknown) => {
    if (typeof raw !== 'string') return;
    if (!splitCommas) {
      const trimmed = trimOws(raw);
      if (trimmed !== '') copies.push(trimmed);
      return;
    }
    for (const part of raw.split(',')) {
      const trimmed = trimOws(part);
      if (trimmed !== '') copies.push(trimmed);
    }
  };
  if (Array.isArray(value)) for (const item of value) add(item);
  else add(value);
  return copies;
}

/** One header reduced to a single value (spec 2.1): absent, conflicting copies, or the value. */
export type SingleHeader =
  | { kind: 'absent' }
  | { kind: 'conflict' }
  | { kind: 'value'; value: string };

const ABSENT: SingleHeader = { kind: 'absent' };
const CONFLICT: SingleHeader = { kind: 'conflict' };

/** Reduces a header's copies to one value: accepted only when every copy is identical. */
export function singleHeader(copies: readonly string[]): SingleHeader {
  const first = copies[0];
  if (first === undefined) return ABSENT;
  for (let i = 1; i < copies.length; i++) if (copies[i] !== first) return CONFLICT;
  return { kind: 'value', value: first };
}

/** Calls a getter without letting a throwing getter escape (wire input never throws). */
export function safeGet(get: HeaderGetter, name: string): unknown {
  try {
    return get(name);
  } catch {
    return undefined;
  }
}
