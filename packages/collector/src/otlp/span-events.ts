import { createHash } from 'node:crypto';
import { otelComponent } from '../analysis/inferred-order.js';
import { canonicalNumber, canonicalValue, digestOf } from '../analysis/sql/sql-digest.js';
import type { StoredEvent } from '../event.js';
import type { Attributes, AttributeValue, OtlpSpan } from './read-request.js';

/**
 * OpenTelemetry spans as Raceway events (spec 4) of the same trace:
 *
 * - SERVER: `request_received` at the start, `response_sent` at the end;
 * - CLIENT: `request_sent` / `response_received` (so a call is an edge of the dependency graph);
 * - a database span (`db.system` or `db.system.name` of PostgreSQL, MySQL/MariaDB or SQLite, with
 *   `db.query.text` or `db.statement`): one `db_query` at its end, read by the SQL analysis;
 * - any other span: `custom` events `otel.span` at its start and end, so its children keep
 *   their place in the tree;
 * - span events: `exception` becomes an `error` event, any other a `custom` one.
 *
 * OpenTelemetry has no vector clocks. Each event gets the component `otel:<span id>` (a
 * database span: its parent's, the context it ran in) and the clock `{component: 1}`; the
 * analysis replaces them with happens-before inferred from the span structure
 * (analysis/inferred-order.ts) and marks what it inferred. Event ids are derived from the span
 * id, so a span exported twice is stored once.
 */
export function spanToEvents(span: OtlpSpan, options: SpanMappingOptions = {}): StoredEvent[] {
  const service = serviceOf(span.resource);
  const base = {
    trace_id: span.traceId,
    span_id: span.spanId,
    parent_span_id: span.parentSpanId,
    service,
    instance: instanceOf(span.resource, service),
  };
  const startUs = usOf(span.startTimeUnixNano);
  const endUs = usOf(span.endTimeUnixNano);
  const durationMs = Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6;
  const a = span.attributes;
  const error = spanError(span);
  const events: StoredEvent[] = [];
  const add = (
    role: string,
    kind: StoredEvent['kind'],
    tsUs: number,
    data: object,
    component?: string,
  ) => {
    const own = component ?? otelComponent(span.spanId);
    events.push({
      id: eventId(span.traceId, span.spanId, role),
      ...base,
      component: own,
      ts_us: tsUs,
      kind,
      clock: { [own]: 1 },
      data: data as Record<string, unknown>,
    });
  };

  const db = databaseCall(a);
  if (db !== null && span.kind !== 2) {
    const params = paramsOf(a, options.digestKey);
    add(
      'db',
      'db_query',
      endUs,
      {
        system: db.system,
        statement: db.statement.slice(0, 4096),
        ...(db.statement.length > 4096 ? { statement_truncated: true } : {}),
        ...(params.length > 0 ? { params } : {}),
        connection: connectionOf(a, span),
        database: stringAttr(a, 'db.namespace', 'db.name') ?? null,
        ...(error ? { error: { type: error.type, message: error.message.slice(0, 2048) } } : {}),
        duration_ms: durationMs,
      },
      // The statement ran in its caller's context (spec 4.3: db_query events carry the
      // context of the code that ran them).
      otelComponent(span.parentSpanId ?? span.spanId),
    );
  } else if (span.kind === 2) {
    const method = methodOf(a);
    const route = cut(stringAttr(a, 'http.route'), 512) ?? null;
    const status = statusOf(a) ?? (span.statusCode === 2 ? 500 : 200);
    add('start', 'request_received', startUs, {
      method,
      path: cut(serverPathOf(a, span.name), 2048) ?? '/',
      route,
      incoming: { status: span.parentSpanId === null ? 'absent' : 'accepted', reasons: [] },
    });
    add('end', 'response_sent', endUs, {
      method,
      route,
      status,
      duration_ms: durationMs,
      ...(error ? { error } : {}),
    });
  } else if (span.kind === 3) {
    const method = methodOf(a);
    const target = clientTargetOf(a, span.name);
    const status = statusOf(a);
    add('start', 'request_sent', startUs, { method, ...target });
    add('end', 'response_received', endUs, {
      method,
      ...target,
      ...(status !== undefined ? { status } : {}),
      duration_ms: durationMs,
      ...(error && (status === undefined || status >= 500 || span.statusCode === 2)
        ? { error }
        : {}),
    });
  } else {
    const kind = KIND_NAMES[span.kind] ?? 'internal';
    const name = cut(span.name, 200) || kind;
    add('start', 'custom', startUs, {
      name: 'otel.span',
      attributes: { phase: 'start', kind, name },
    });
    add('end', 'custom', endUs, {
      name: 'otel.span',
      attributes: { phase: 'end', kind, name, ...(error ? { error: error.message } : {}) },
    });
  }
  span.events.forEach((event, index) => {
    const tsUs = usOf(event.timeUnixNano);
    if (event.name === 'exception') {
      const type = stringAttr(event.attributes, 'exception.type') ?? 'Error';
      const message = stringAttr(event.attributes, 'exception.message') ?? '';
      const stack = stringAttr(event.attributes, 'exception.stacktrace');
      add(`event${index}`, 'error', tsUs, {
        type: type.slice(0, 256),
        message: message.slice(0, 4096),
        ...(stack ? { stack: stack.slice(0, 16384) } : {}),
      });
    } else {
      add(`event${index}`, 'custom', tsUs, {
        name: cut(event.name, 256) || 'event',
        attributes: event.attributes,
      });
    }
  });
  return events;
}

export interface SpanMappingOptions {
  /** The services' digest key (RACEWAY_DIGEST_KEY) for the digests of statement parameters. */
  digestKey?: string | undefined;
}

const KIND_NAMES: Record<number, string> = {
  0: 'internal',
  1: 'internal',
  4: 'producer',
  5: 'consumer',
};

/** A stable id per (trace, span, role): a span exported again is stored once. */
function eventId(traceId: string, spanId: string, role: string): string {
  return createHash('sha256').update(`${traceId}/${spanId}/${role}`).digest('hex').slice(0, 32);
}

function usOf(nanos: bigint): number {
  return Number(nanos / 1000n);
}

function cut(text: string | undefined, max: number): string | undefined {
  return text === undefined ? undefined : text.slice(0, max);
}

/** The first of `keys` that holds a non-empty string (new semantic conventions first). */
function stringAttr(attributes: Attributes, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const value = attributes[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

function numberAttr(attributes: Attributes, ...keys: string[]): number | undefined {
  for (const key of keys) {
    const value = attributes[key];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  }
  return undefined;
}

/**
 * Printable text for names (service, instance, SDK): the schema refuses control, zero-width
 * and bidirectional-formatting characters; cut to `max` characters.
 */
export function printable(text: string, max = 128): string {
  const clean = text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
    /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g,
    '',
  );
  return clean.slice(0, max);
}

function serviceOf(resource: Attributes): string {
  return printable(stringAttr(resource, 'service.name') ?? '') || 'unknown_service';
}

function instanceOf(resource: Attributes, service: string): string {
  return (
    printable(stringAttr(resource, 'service.instance.id', 'host.name', 'host.id') ?? '') || service
  );
}

function methodOf(a: Attributes): string {
  const method = (stringAttr(a, 'http.request.method', 'http.method') ?? '').toUpperCase();
  return /^[A-Z][A-Z0-9_-]{0,31}$/.test(method) ? method : 'OTHER';
}

function statusOf(a: Attributes): number | undefined {
  const status = numberAttr(a, 'http.response.status_code', 'http.status_code');
  return status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599
    ? status
    : undefined;
}

/** The path a server span answered: `url.path`, `http.target`, the path of a full URL, the name. */
function serverPathOf(a: Attributes, name: string): string {
  const path = stringAttr(a, 'url.path');
  if (path !== undefined) return path;
  const target = stringAttr(a, 'http.target');
  if (target !== undefined) return target.split(/[?#]/, 1)[0] || '/';
  const url = parseUrl(stringAttr(a, 'url.full', 'http.url'));
  return url?.pathname ?? (name || '/');
}

function parseUrl(text: string | undefined): URL | null {
  if (text === undefined) return null;
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** `url` (without query or fragment) and `host` (host[:port]) of a client call. */
function clientTargetOf(a: Attributes, name: string): { url: string; host: string } {
  const url = parseUrl(stringAttr(a, 'url.full', 'http.url'));
  const address = stringAttr(a, 'server.address', 'net.peer.name', 'net.host.name');
  const port = numberAttr(a, 'server.port', 'net.peer.port');
  const host =
    address !== undefined ? (port !== undefined ? `${address}:${port}` : address) : url?.host;
  if (url !== null) {
    return {
      url: `${url.protocol}//${url.host}${url.pathname}`.slice(0, 2048),
      host: (host || url.host || 'unknown').slice(0, 512),
    };
  }
  const target = host ?? 'unknown';
  return {
    url: (host ? `http://${host}` : name || 'unknown').slice(0, 2048),
    host: target.slice(0, 512),
  };
}

function spanError(span: OtlpSpan): { type: string; message: string } | undefined {
  if (span.statusCode !== 2) return undefined;
  const exception = span.events.find((e) => e.name === 'exception');
  const type =
    (exception && stringAttr(exception.attributes, 'exception.type')) ??
    stringAttr(span.attributes, 'error.type') ??
    'Error';
  const message =
    span.statusMessage ||
    (exception && stringAttr(exception.attributes, 'exception.message')) ||
    'the span ended with status ERROR';
  return { type: type.slice(0, 256), message: message.slice(0, 4096) };
}

const DB_SYSTEMS: Record<string, 'postgresql' | 'mysql' | 'sqlite'> = {
  postgresql: 'postgresql',
  mysql: 'mysql',
  mariadb: 'mysql',
  sqlite: 'sqlite',
};

/** The system and statement of a database span the SQL analysis can read, or null. */
function databaseCall(
  a: Attributes,
): { system: 'postgresql' | 'mysql' | 'sqlite'; statement: string } | null {
  const system = DB_SYSTEMS[stringAttr(a, 'db.system.name', 'db.system') ?? ''];
  const statement = stringAttr(a, 'db.query.text', 'db.statement');
  if (system === undefined || statement === undefined) return null;
  return { system, statement };
}

/**
 * The session a statement ran on. OpenTelemetry does not name connections; the statements of
 * one calling span to one database are taken as one session (what a handler that checks out a
 * connection does).
 */
function connectionOf(a: Attributes, span: OtlpSpan): string {
  const server = stringAttr(a, 'server.address', 'net.peer.name') ?? 'db';
  return `otel:${server}/${span.parentSpanId ?? span.spanId}`.slice(0, 128);
}

/**
 * Parameter digests from `db.query.parameter.<key>` (semantic conventions) or
 * `db.postgresql.values` (instrumentation-pg's enhanced reporting). OpenTelemetry records
 * values as text, so a value written as a number is digested as that number (as the SQL
 * analysis reads a literal), which is what a Raceway driver records for a numeric parameter.
 */
function paramsOf(
  a: Attributes,
  key: string | undefined,
): Array<{ digest: string; name?: string }> {
  const values: Array<{ name?: string; value: AttributeValue }> = [];
  const listed = a['db.postgresql.values'];
  if (Array.isArray(listed)) for (const value of listed) values.push({ value });
  else {
    for (const [name, value] of Object.entries(a)) {
      if (name.startsWith('db.query.parameter.')) {
        values.push({ name: name.slice('db.query.parameter.'.length).slice(0, 128), value });
      }
    }
  }
  return values.slice(0, 1000).map(({ name, value }) => {
    const canonical =
      (typeof value === 'string' || typeof value === 'number' ? canonicalNumber(value) : null) ??
      canonicalValue(value);
    return { digest: digestOf(canonical, key), ...(name !== undefined ? { name } : {}) };
  });
}
