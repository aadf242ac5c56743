import type { FastifySchemaValidationError } from 'fastify';
import { HttpError } from '../errors.js';

// What the route schemas (schemas/routes.ts) cannot say about a request: times turned into
// microseconds and kept within 1970-9999, `from` before `to`, cursors this API issued, trace ids
// normalised; and the 400 answer of a request the schemas refused, naming the parameter.

/** Times are 1970 to 9999 (what an ISO 8601 date-time of four-digit years can name). */
export const MAX_EPOCH_MS = 253_399_999_999_999;

const EPOCH_MS = /^\d+$/;

const timeError = (name: string, value: string) =>
  new HttpError(
    400,
    'bad_request',
    `query parameter "${name}" is "${value.slice(0, 80)}": give an ISO 8601 time (2026-01-31T12:00:00Z) or epoch milliseconds, from 1970 to 9999`,
  );

/**
 * A time parameter the schema accepted (an RFC 3339 date-time or epoch milliseconds), in
 * microseconds since the epoch; 400 for a time before 1970.
 */
export function timeParam(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = EPOCH_MS.test(value) ? Number(value) : parseDateTime(value);
  if (ms === null || ms < 0 || ms > MAX_EPOCH_MS) throw timeError(name, value);
  return ms * 1000;
}

/**
 * A date-time as ajv-formats' `date-time` accepts it (RFC 3339; `T`, `t` or a space between
 * date and time; offsets `Z`, `+01`, `+0100`, `+01:00`), in ms since the epoch; null for
 * anything else. Fields roll over like Date.UTC's (a leap second is the next minute).
 */
export function parseDateTime(text: string): number | null {
  const m =
    /^(\d{4})-(\d\d)-(\d\d)[Tt\s](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|([+-])(\d\d)(?::?(\d\d))?)$/.exec(
      text,
    );
  if (!m) return null;
  const fraction = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  // Date.UTC reads years 0-99 as 1900-1999: the year is set on its own.
  const date = new Date(
    Date.UTC(
      2000,
      Number(m[2]) - 1,
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6]),
      fraction,
    ),
  );
  date.setUTCFullYear(Number(m[1]));
  const utc = date.getTime();
  const offsetMin = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11] ?? 0)) : 0;
  return utc - offsetMin * 60_000;
}

/** A time range; `to` defaults to now and `from` to `to - defaultSpanMs`. */
export function rangeParams(
  query: { from?: string; to?: string },
  defaultSpanMs: number,
): { fromUs: number; toUs: number } {
  const toUs = timeParam('to', query.to) ?? Date.now() * 1000;
  const fromUs = timeParam('from', query.from) ?? toUs - defaultSpanMs * 1000;
  if (fromUs > toUs) {
    throw new HttpError(400, 'bad_request', '"from" is after "to": swap them');
  }
  return { fromUs, toUs };
}

/** `min_ms` and `max_ms` of a listing; a minimum above the maximum is a 400. */
export function durationRange(
  minMs: number | undefined,
  maxMs: number | undefined,
): { minDurationMs?: number; maxDurationMs?: number } {
  if (minMs !== undefined && maxMs !== undefined && minMs > maxMs) {
    throw new HttpError(400, 'bad_request', '"min_ms" is above "max_ms": swap them');
  }
  return { minDurationMs: minMs, maxDurationMs: maxMs };
}

/** `attr=key=value`: split at the first `=`; 400 without one or with an empty key. */
export function attributeParam(
  value: string | undefined,
): { key: string; value: string } | undefined {
  if (value === undefined || value === '') return undefined;
  const at = value.indexOf('=');
  if (at <= 0) {
    throw new HttpError(
      400,
      'bad_request',
      `query parameter "attr" is "${value.slice(0, 80)}": give key=value (e.g. attr=cart.size=3)`,
    );
  }
  return { key: value.slice(0, at), value: value.slice(at + 1) };
}

/** `trace_id_prefix` of a listing: lower-case hex digits without dashes, undefined when empty. */
export function traceIdPrefixParam(value: string | undefined): string | undefined {
  const prefix = value?.replaceAll('-', '').toLowerCase();
  if (prefix === undefined || prefix === '') return undefined;
  if (prefix.length > 32) {
    throw new HttpError(
      400,
      'bad_request',
      'query parameter "trace_id_prefix" has more than 32 hex digits',
    );
  }
  return prefix;
}

/** A text filter: undefined when absent or empty (no filter). */
export const textParam = (value: string | undefined) => (value === '' ? undefined : value);

/**
 * Opaque pagination cursors: base64url of `[timestamp, id]`. A client passes back the
 * `next_cursor` of the previous page.
 */
export function encodeCursor(tsUs: number, id: string): string {
  return Buffer.from(JSON.stringify([tsUs, id])).toString('base64url');
}

export const badCursor = () =>
  new HttpError(
    400,
    'bad_request',
    'query parameter "cursor" is not a cursor this API returned: pass "next_cursor" of the previous page unchanged',
  );

export function cursorParam(value: string | undefined): { tsUs: number; id: string } | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      Number.isSafeInteger(parsed[0]) &&
      typeof parsed[1] === 'string'
    ) {
      return { tsUs: parsed[0] as number, id: parsed[1] };
    }
  } catch {
    // reported below
  }
  throw badCursor();
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const notATraceId = (value: unknown) =>
  `"${String(value).slice(0, 80)}" is not a trace id: 32 hex digits (or a dashed UUID), not all zero`;

/**
 * A trace id from the path, normalised like the propagation contract does (upper case and the
 * dashed UUID form accepted); 400 for anything else.
 */
export function traceIdParam(value: string): string {
  const lower = value.toLowerCase();
  const id = UUID.test(lower) ? lower.replaceAll('-', '') : lower;
  if (!TRACE_ID.test(id) || /^0+$/.test(id)) {
    throw new HttpError(400, 'bad_request', notATraceId(value));
  }
  return id;
}

/** The parts of a property schema a message is made from. */
interface ParamSchema {
  type?: string;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  anyOf?: Array<{ format?: string }>;
}

/**
 * The message of a 400 for a request its route's schema refused: which parameter, and what it
 * takes (the schema says). `schema` is the refused part's schema (querystring or params),
 * `values` that part of the request as received.
 */
export function validationMessage(
  errors: FastifySchemaValidationError[],
  part: string,
  schema: { properties?: Record<string, ParamSchema> } | undefined,
  values: unknown,
): string {
  const error = errors[0];
  const name =
    (error?.params as { missingProperty?: string } | undefined)?.missingProperty ??
    error?.instancePath.split('/')[1] ??
    '';
  const value = (values as Record<string, unknown> | undefined)?.[name];
  if (name === 'traceId' || name === 'trace_id') return notATraceId(value);
  const what = part === 'params' ? `path parameter "${name}"` : `query parameter "${name}"`;
  if (Array.isArray(value)) return `${what} was given more than once`;
  const property = schema?.properties?.[name];
  if (name === 'cursor') return badCursor().message;
  if (property?.anyOf?.some((s) => s.format === 'date-time')) {
    return timeError(name, String(value)).message;
  }
  if (property?.enum) {
    return `${what} must be one of ${property.enum.join(', ')}; got "${String(value).slice(0, 80)}"`;
  }
  if (property?.type === 'boolean') return `${what} must be true or false`;
  if (property?.type === 'integer') {
    return `${what} must be an integer from ${property.minimum} to ${property.maximum}`;
  }
  if (property?.maxLength !== undefined && error?.keyword === 'maxLength') {
    return `${what} is longer than ${property.maxLength} characters`;
  }
  return `${what} ${error?.message ?? 'is not valid'}`;
}
