import type { IncomingStatus, RejectionReason } from './propagation/index.js';

/** What an event records (spec 4). */
export type EventKind =
  | 'request_received'
  | 'response_sent'
  | 'request_sent'
  | 'response_received'
  | 'state_read'
  | 'state_write'
  | 'lock_acquire'
  | 'lock_release'
  | 'error'
  | 'fork'
  | 'join'
  | 'custom'
  | 'db_query';

/** An error as events carry it (`error` events, failed responses and client calls). */
export interface ErrorInfo {
  /** The error's class name (`TypeError`), at most 256 characters. */
  type: string;
  /** At most 4096 characters. */
  message: string;
  /** At most 16384 characters. */
  stack?: string;
}

/** The `data` object of each kind, exactly as `spec/schemas/event.schema.json` defines it. */
export interface EventData {
  request_received: {
    method: string;
    path: string;
    route?: string | null;
    incoming: { status: IncomingStatus; reasons: RejectionReason[] };
  };
  response_sent: {
    method: string;
    route?: string | null;
    status: number;
    duration_ms: number;
    error?: ErrorInfo;
  };
  request_sent: { method: string; url: string; host: string; headers_withheld?: boolean };
  response_received: {
    method: string;
    url: string;
    host: string;
    status?: number;
    duration_ms: number;
    error?: ErrorInfo;
    remote_clock?: boolean;
  };
  state_read: { resource: string; value?: unknown; version?: string | number };
  state_write: { resource: string; value?: unknown; version?: string | number; atomic?: boolean };
  lock_acquire: { lock: string };
  lock_release: { lock: string };
  error: ErrorInfo;
  fork: { child: string };
  join: { child: string };
  custom: { name: string; attributes?: Record<string, unknown> };
  db_query: {
    system: 'postgresql' | 'mysql' | 'sqlite';
    /** At most 4096 characters. */
    statement: string;
    statement_truncated?: boolean;
    params?: Array<{ digest: string; name?: string; value?: unknown }>;
    connection: string;
    database?: string | null;
    rows?: number | null;
    /** At most 10 rows of 32 columns: column name to digest. */
    returned?: Array<Record<string, string>>;
    error?: { type: string; message: string } | null;
    duration_ms: number;
  };
}

/** The fields every event has (spec 4). */
export interface EventCommon {
  /** 32 lowercase hex, unique: the collector stores each id once, so a retried batch never double counts. */
  id: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  service: string;
  instance: string;
  /** The execution context that recorded the event. */
  component: string;
  /** Wall-clock time in integer microseconds since the Unix epoch. */
  ts_us: number;
  /** The context's clock after this event's own increment, at most 64 entries. */
  clock: Record<string, number>;
  /** Present when the clock was truncated: how many entries are missing. */
  clock_dropped?: number;
}

/**
 * One event as sent to the collector (`spec/schemas/event.schema.json`). `kind` selects the
 * shape of `data`, so `if (event.kind === 'state_write') event.data.atomic` type-checks.
 */
export type RacewayEvent<K extends EventKind = EventKind> = {
  [P in K]: EventCommon & { kind: P; data: EventData[P] };
}[K];

/** Most bytes of JSON text a recorded value keeps (the schema's "1 KiB of text"). */
export const MAX_VALUE_BYTES = 1024;
/** Appended to a value's JSON text when it was cut. */
export const TRUNCATION_MARK = '…';
const TRUNCATION_MARK_BYTES = Buffer.byteLength(TRUNCATION_MARK);

// A getter on every call otherwise; it never changes within a process.
const TIME_ORIGIN = performance.timeOrigin;

/**
 * Wall-clock time in integer microseconds since the Unix epoch. `performance.timeOrigin` plus
 * `performance.now()` gives sub-millisecond precision and, unlike `Date.now()`, never steps
 * backwards within the process when the system clock is adjusted.
 *
 * @example
 * nowMicros(); // 1732500000123456
 */
export function nowMicros(): number {
  return Math.floor((TIME_ORIGIN + performance.now()) * 1000);
}

/**
 * The milliseconds elapsed since `startedAt` (a `performance.now()` reading), to the
 * microsecond: finer digits are noise, and they would cost a dozen bytes in every event.
 *
 * @example
 * durationSince(performance.now() - 12.3456789); // 12.346
 */
export function durationSince(startedAt: number): number {
  return Math.max(0, Math.round((performance.now() - startedAt) * 1000) / 1000);
}

/**
 * The `value` an event records for an application value: a JSON snapshot (so a later mutation
 * of the object does not change what was recorded). When its JSON text is longer than 1 KiB,
 * the value becomes a string: the first bytes of that text (cut on a character boundary)
 * followed by `…`, 1 KiB in all. A value JSON cannot represent (a function, a symbol,
 * `undefined`) gives `undefined`, and the field is left out. Never throws.
 *
 * @example
 * toEventValue({ stock: 3 }); // { stock: 3 }
 * toEventValue('x'.repeat(5000)); // '"xxxx…' (1024 bytes)
 */
export function toEventValue(value: unknown): unknown {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // BigInt, a cycle or a throwing toJSON: record what String() says instead.
    text = JSON.stringify(safeString(value));
  }
  if (text === undefined) return undefined;
  if (Buffer.byteLength(text) <= MAX_VALUE_BYTES) {
    return JSON.parse(text) as unknown;
  }
  return cutUtf8(text, MAX_VALUE_BYTES - TRUNCATION_MARK_BYTES) + TRUNCATION_MARK;
}

/** The longest prefix of `text` whose UTF-8 encoding fits in `maxBytes`, on a character boundary. */
function cutUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the character that was cut.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

/**
 * `text` cut to at most `max` UTF-16 code units, never between the two halves of a surrogate
 * pair, so the result always fits a schema `maxLength` of `max`.
 */
export function clampString(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end);
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * An error as events carry it: class name, message and stack, cut to the schema's limits.
 * Accepts anything that can be thrown (`throw 'text'`, plain objects) and never throws itself,
 * even for errors with throwing getters.
 *
 * @example
 * serializeError(new TypeError('bad input')); // { type: 'TypeError', message: 'bad input', stack: 'TypeError: bad input\n    at ...' }
 * serializeError('boom'); // { type: 'string', message: 'boom' }
 */
export function serializeError(error: unknown): ErrorInfo {
  try {
    if (error instanceof Error) {
      const info: ErrorInfo = {
        type: clampString(readString(() => error.name) || errorClassName(error), 256),
        message: clampString(
          readString(() => error.message),
          4096,
        ),
      };
      const stack = readString(() => error.stack);
      if (stack !== '') info.stack = clampString(stack, 16384);
      return info;
    }
    if (typeof error === 'string') return { type: 'string', message: clampString(error, 4096) };
    if (error !== null && typeof error === 'object') {
      const message = readString(() => (error as { message?: unknown }).message);
      return {
        type: clampString(errorClassName(error), 256),
        message: clampString(message !== '' ? message : describeObject(error), 4096),
      };
    }
    return {
      type: error === null ? 'null' : typeof error,
      message: clampString(safeString(error), 4096),
    };
  } catch {
    return { type: 'unknown', message: 'an error that could not be read' };
  }
}

function readString(read: () => unknown): string {
  try {
    const value = read();
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}

function errorClassName(error: object): string {
  return readString(() => error.constructor?.name) || 'Object';
}

function describeObject(value: object): string {
  try {
    return JSON.stringify(value) ?? safeString(value);
  } catch {
    return safeString(value);
  }
}
