/**
 * Reads an OTLP ExportTraceServiceRequest, as OTLP/JSON parsed it or as the protobuf decoder
 * returned it (the same shape; ids are hex in JSON and base64 from protobuf), into plain spans.
 * Never throws on odd input: a malformed span is returned as rejected with the reason, so the
 * rest of the request is kept (OTLP's partial success).
 */

/** An attribute value: OTLP AnyValue turned into JSON. */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

export interface OtlpSpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: Attributes;
}

/** One span with its resource, ids in lowercase hex. */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: OtlpSpanEvent[];
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
  resource: Attributes;
  scope: string;
}

export interface ReadSpans {
  spans: OtlpSpan[];
  /** Spans that could not be read, with why (the first few reasons are kept). */
  rejected: number;
  reasons: string[];
}

export type IdEncoding = 'hex' | 'base64';

const MAX_REASONS = 5;

/** Reads every span of a request; throws only when the body is not a request at all. */
export function readExportRequest(body: unknown, ids: IdEncoding): ReadSpans {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TypeError(
      'the body must be an ExportTraceServiceRequest object {"resourceSpans": [...]}',
    );
  }
  const out: ReadSpans = { spans: [], rejected: 0, reasons: [] };
  const reject = (reason: string) => {
    out.rejected++;
    if (out.reasons.length < MAX_REASONS && !out.reasons.includes(reason)) out.reasons.push(reason);
  };
  for (const resourceSpans of objects(body, 'resourceSpans', 'resource_spans')) {
    const resource = attributesOf(field(field(resourceSpans, 'resource'), 'attributes'));
    for (const scopeSpans of objects(resourceSpans, 'scopeSpans', 'scope_spans')) {
      const scopeName = field(field(scopeSpans, 'scope'), 'name');
      const scope = typeof scopeName === 'string' ? scopeName : '';
      for (const raw of objects(scopeSpans, 'spans')) {
        const span = readSpan(raw, ids, resource, scope);
        if (typeof span === 'string') reject(span);
        else out.spans.push(span);
      }
    }
  }
  return out;
}

function readSpan(
  raw: unknown,
  ids: IdEncoding,
  resource: Attributes,
  scope: string,
): OtlpSpan | string {
  const traceId = idOf(field(raw, 'traceId', 'trace_id'), ids, 16);
  if (traceId === null) return 'a span has no valid traceId (16 bytes, not all zero)';
  const spanId = idOf(field(raw, 'spanId', 'span_id'), ids, 8);
  if (spanId === null) return 'a span has no valid spanId (8 bytes, not all zero)';
  const parentRaw = field(raw, 'parentSpanId', 'parent_span_id');
  const parentSpanId = parentRaw === undefined || parentRaw === '' ? null : idOf(parentRaw, ids, 8);
  if (parentRaw !== undefined && parentRaw !== '' && parentSpanId === null) {
    return `span ${spanId} has an invalid parentSpanId (8 bytes, not all zero, or empty)`;
  }
  const start = nanosOf(field(raw, 'startTimeUnixNano', 'start_time_unix_nano'));
  const end = nanosOf(field(raw, 'endTimeUnixNano', 'end_time_unix_nano'));
  if (start === null || end === null || start <= 0n) {
    return `span ${spanId} has no valid startTimeUnixNano/endTimeUnixNano`;
  }
  const status = field(raw, 'status');
  const name = field(raw, 'name');
  const statusMessage = field(status, 'message');
  return {
    traceId,
    spanId,
    parentSpanId,
    name: typeof name === 'string' ? name : '',
    kind: enumOf(field(raw, 'kind'), KINDS),
    startTimeUnixNano: start,
    // A span that ends before it starts (a host clock stepped back) lasts zero.
    endTimeUnixNano: [start, end].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[1]!,
    attributes: attributesOf(field(raw, 'attributes')),
    events: list(field(raw, 'events')).flatMap((event) => {
      const time = nanosOf(field(event, 'timeUnixNano', 'time_unix_nano'));
      const eventName = field(event, 'name');
      if (time === null || typeof eventName !== 'string') return [];
      return [
        {
          timeUnixNano: time,
          name: eventName,
          attributes: attributesOf(field(event, 'attributes')),
        },
      ];
    }),
    statusCode: enumOf(field(status, 'code'), STATUS_CODES),
    statusMessage: typeof statusMessage === 'string' ? statusMessage : '',
    resource,
    scope,
  };
}

const KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};

/** OTLP/JSON writes enums as integers; names are accepted too (some exporters send them). */
function enumOf(value: unknown, names: Record<string, number>): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string') return names[value] ?? 0;
  return 0;
}

/** A field in lowerCamelCase (OTLP/JSON) or snake_case (which OTLP/JSON receivers accept). */
function field(value: unknown, name: string, snake?: string): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (name in record || snake === undefined) return record[name];
  return record[snake];
}

/**
 * The envelope's lists (`resourceSpans`, `scopeSpans`, `spans`): absent is empty, anything but
 * a list of objects makes the request unreadable (400), not a request of no spans.
 */
function objects(owner: unknown, name: string, snake?: string): unknown[] {
  const value = field(owner, name, snake);
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    value.some((item) => typeof item !== 'object' || item === null || Array.isArray(item))
  ) {
    throw new TypeError(`"${name}" must be a list of objects (OTLP ExportTraceServiceRequest)`);
  }
  return value;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** An id of `bytes` bytes in lowercase hex, or null when malformed or all zero. */
function idOf(value: unknown, encoding: IdEncoding, bytes: number): string | null {
  if (typeof value !== 'string') return null;
  let hex: string;
  if (encoding === 'hex') {
    hex = value.toLowerCase();
    if (!/^[0-9a-f]*$/.test(hex)) return null;
  } else {
    const raw = Buffer.from(value, 'base64');
    hex = raw.toString('hex');
  }
  if (hex.length !== bytes * 2 || /^0+$/.test(hex)) return null;
  return hex;
}

/** A fixed64 as OTLP/JSON sends it (a decimal string, or a number) or protobufjs returns it. */
function nanosOf(value: unknown): bigint | null {
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return null;
}

/** Deepest AnyValue nesting read; deeper values are cut to null. */
const MAX_VALUE_DEPTH = 8;

/** A list of KeyValue into a record (the first of a repeated key wins). */
export function attributesOf(value: unknown, depth = 0): Attributes {
  const out: Attributes = {};
  for (const kv of list(value)) {
    const key = field(kv, 'key');
    if (typeof key !== 'string' || key in out) continue;
    out[key] = anyValue(field(kv, 'value'), depth);
  }
  return out;
}

function anyValue(value: unknown, depth: number): AttributeValue {
  if (typeof value !== 'object' || value === null || depth > MAX_VALUE_DEPTH) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) {
    const n = Number(v.intValue);
    return Number.isFinite(n) ? n : null;
  }
  if (v.doubleValue !== undefined) {
    const n = Number(v.doubleValue);
    return Number.isFinite(n) ? n : null;
  }
  if (v.arrayValue !== undefined) {
    return list(field(v.arrayValue, 'values')).map((item) => anyValue(item, depth + 1));
  }
  if (v.kvlistValue !== undefined) return attributesOf(field(v.kvlistValue, 'values'), depth + 1);
  if (typeof v.bytesValue === 'string') return v.bytesValue;
  return null;
}
