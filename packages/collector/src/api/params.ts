import { HttpError } from '../errors.js';

/** The raw query string of a request, as Fastify parses it. */
export type Query = Record<string, string | string[] | undefined>;

function single(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) {
    throw new HttpError(400, 'bad_request', `query parameter "${name}" was given more than once`);
  }
  return value;
}

/** A text filter, or undefined when absent or empty (no filter). */
export function stringParam(query: Query, name: string, maxLength = 512): string | undefined {
  const raw = single(query, name);
  const value = raw === '' ? undefined : raw;
  if (value !== undefined && value.length > maxLength) {
    throw new HttpError(
      400,
      'bad_request',
      `query parameter "${name}" is longer than ${maxLength} characters`,
    );
  }
  return value;
}

/**
 * A time parameter, as an ISO 8601 date-time (`2026-11-25T10:00:00Z`) or epoch milliseconds
 * (`1732528800000`), returned in microseconds since the epoch.
 */
export function timeParam(query: Query, name: string): number | undefined {
  const value = single(query, name);
  if (value === undefined) return undefined;
  const ms = EPOCH_MS.test(value) ? Number(value) : parseDateTime(value);
  if (ms === null || ms < 0 || ms > MAX_EPOCH_MS) {
    throw new HttpError(
      400,
      'bad_request',
      `query parameter "${name}" is "${value}": give an ISO 8601 time (2026-01-31T12:00:00Z) or epoch milliseconds, from 1970 to 9999`,
    );
  }
  return ms * 1000;
}

/** Times are 1970 to 9999 (what an ISO 8601 date-time of four-digit years can name). */
export const MAX_EPOCH_MS = 253_399_999_999_999;
/** Epoch milliseconds from 0 to {@link MAX_EPOCH_MS}, without leading zeros. */
export const EPOCH_MS_PATTERN =
  '^(0|[1-9][0-9]{0,13}|1[0-9]{14}|2[0-4][0-9]{13}|25[0-2][0-9]{12}|253[0-3][0-9]{11})$';
const EPOCH_MS = new RegExp(EPOCH_MS_PATTERN);

/**
 * An RFC 3339 date-time (the pattern the OpenAPI document declares), in ms since the epoch;
 * null for anything else. Fields roll over like Date.UTC's (a leap second is the next minute).
 */
export function parseDateTime(text: string): number | null {
  const m =
    /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):([0-5]\d):([0-5]\d|60)(\.\d{1,9})?([Zz]|([+-])([01]\d|2[0-3]):([0-5]\d))$/.exec(
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
  const offsetMin = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) : 0;
  return utc - offsetMin * 60_000;
}

/** A time range; `to` defaults to now and `from` to `to - defaultSpanMs`. */
export function rangeParams(query: Query, defaultSpanMs: number): { fromUs: number; toUs: number } {
  const toUs = timeParam(query, 'to') ?? Date.now() * 1000;
  const fromUs = timeParam(query, 'from') ?? toUs - defaultSpanMs * 1000;
  if (fromUs > toUs) {
    throw new HttpError(400, 'bad_request', '"from" is after "to": swap them');
  }
  return { fromUs, toUs };
}

/** An integer in [1, max], `fallback` when absent. */
export function limitParam(query: Query, fallback: number, max: number): number {
  const value = single(query, 'limit');
  if (value === undefined) return fallback;
  const n = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new HttpError(
      400,
      'bad_request',
      `query parameter "limit" must be an integer from 1 to ${max}`,
    );
  }
  return n;
}

/** `true`/`false`, undefined when absent. */
export function boolParam(query: Query, name: string): boolean | undefined {
  const value = single(query, name);
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new HttpError(400, 'bad_request', `query parameter "${name}" must be true or false`);
}

/** One of the allowed values, undefined when absent. */
export function enumParam<T extends string>(
  query: Query,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const value = single(query, name);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new HttpError(
      400,
      'bad_request',
      `query parameter "${name}" must be one of ${allowed.join(', ')}; got "${value}"`,
    );
  }
  return value as T;
}

/**
 * Opaque pagination cursors: base64url of `[timestamp, id]`. A client passes back the
 * `next_cursor` of the previous page.
 */
export function encodeCursor(tsUs: number, id: string): string {
  return Buffer.from(JSON.stringify([tsUs, id])).toString('base64url');
}

export function cursorParam(query: Query): { tsUs: number; id: string } | undefined {
  const value = single(query, 'cursor');
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
  throw new HttpError(
    400,
    'bad_request',
    'query parameter "cursor" is not a cursor this API returned: pass "next_cursor" of the previous page unchanged',
  );
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A trace id from the path, normalised like the propagation contract does (upper case and the
 * dashed UUID form accepted); 400 for anything else.
 */
export function traceIdParam(value: string): string {
  const lower = value.toLowerCase();
  const id = UUID.test(lower) ? lower.replaceAll('-', '') : lower;
  if (!TRACE_ID.test(id) || /^0+$/.test(id)) {
    throw new HttpError(
      400,
      'bad_request',
      `"${value.slice(0, 80)}" is not a trace id: 32 hex digits (or a dashed UUID), not all zero`,
    );
  }
  return id;
}
