import { getCurrentContext } from '../context/async-context.js';
import type { ExecutionContext } from '../context/execution-context.js';
import {
  clampString,
  durationSince,
  type EventData,
  serializeError,
  toEventValue,
} from '../events.js';
import { paramDigest } from './param-digest.js';

/** The database systems a `db_query` event names (spec 4.3). */
export type DbSystem = EventData['db_query']['system'];

/** What a driver instrumentation knows when it sends a statement. */
export interface QueryInit {
  system: DbSystem;
  /** The statement text as sent, placeholders included; cut to 4096 characters when recorded. */
  statement: string;
  /** Positional parameters, in order. */
  params?: readonly unknown[] | undefined;
  /** Named parameters (`@id`, `:id`, `$id`), recorded after the positional ones with their names. */
  namedParams?: Readonly<Record<string, unknown>> | undefined;
  /** The driver connection, unique in the process (see {@link connectionId}). */
  connection: string;
  /** The database name, when the driver knows it. */
  database?: string | null | undefined;
}

/** How a statement ended. Every field is optional. */
export interface QueryResult {
  /** Rows returned (reads) or affected (writes); null or absent when unknown. */
  rows?: number | bigint | null | undefined;
  /**
   * The rows the statement returned, as the driver hands them over: objects (column to value),
   * arrays (with their names in `columns`) or single values (a plucked column). Only the first
   * 10 rows and 32 columns are digested. Absent for statements that return no rows.
   */
  returned?: readonly unknown[] | undefined;
  /** Column names of array rows, or the name of a plucked column. */
  columns?: readonly string[] | undefined;
  /** The error the driver answered with. */
  error?: unknown;
}

/** One statement, recorded at once by {@link recordQuery}. */
export interface DbQuery extends QueryInit, QueryResult {
  /** From sending the statement to the answer, in milliseconds. */
  durationMs: number;
}

/** Longest statement text an event carries (event.schema.json). */
export const MAX_STATEMENT_LENGTH = 4096;
const MAX_PARAMS = 1000;
const MAX_PARAM_NAME = 128;
const MAX_CONNECTION = 128;
const MAX_DATABASE = 256;
const MAX_ROWS = 10;
const MAX_COLUMNS = 32;
const MAX_ERROR_TYPE = 256;
const MAX_ERROR_MESSAGE = 2048;

/**
 * The context a query sent now would be recorded in: the current one (or the one given), when
 * it is sampled and its tracer records queries; undefined otherwise. The cheap first check of a
 * driver instrumentation on its hot path, before it reads any argument.
 *
 * @example
 * const ctx = queryContext();
 * if (ctx === undefined) return run.apply(this, args); // nothing to record: untouched
 */
export function queryContext(context?: ExecutionContext): ExecutionContext | undefined {
  try {
    return recordingContext(context ?? getCurrentContext());
  } catch {
    return undefined;
  }
}

function recordingContext(context: ExecutionContext | undefined): ExecutionContext | undefined {
  if (context === undefined || !context.sampled) return undefined;
  const owner = context.owner;
  if (owner.disabled || owner.queryCapture?.enabled !== true) return undefined;
  return context;
}

/**
 * Records one `db_query` event (spec 4.3) in the current context (or the one given): the
 * statement (cut to 4096 characters), a digest of each parameter (and its raw value when
 * `captureValues` is on), the connection, the row count, digests of the first rows returned
 * and the error. Like every event it takes one step of the context's clock. Records nothing
 * outside a context, in an unsampled one, with a disabled tracer or `captureQueries: false`.
 * Never throws.
 *
 * Driver instrumentations (`@raceway/pg`, `@raceway/mysql2`, `@raceway/better-sqlite3`) call
 * it for you; call it yourself for a driver Raceway does not instrument.
 *
 * @example
 * const started = performance.now();
 * const rows = db.query(sql, [id]);
 * recordQuery({
 *   system: 'sqlite',
 *   statement: sql,
 *   params: [id],
 *   connection: connectionId(db, 'sqlite'),
 *   rows: rows.length,
 *   returned: rows,
 *   durationMs: performance.now() - started,
 * });
 */
export function recordQuery(query: DbQuery, context?: ExecutionContext): void {
  try {
    const ctx = recordingContext(context ?? getCurrentContext());
    if (ctx === undefined) return;
    const duration = Number(query.durationMs);
    record(
      ctx,
      query,
      query,
      Number.isFinite(duration) && duration > 0 ? Math.round(duration * 1000) / 1000 : 0,
    );
  } catch {
    // Recording is best effort: never into the application.
  }
}

/**
 * A statement sent and not answered yet, made by {@link startQuery}: `end` records it, once,
 * in the context that sent it.
 */
export class QueryInFlight {
  readonly context: ExecutionContext;
  readonly #init: QueryInit;
  readonly #startedAt = performance.now();
  #ended = false;

  constructor(context: ExecutionContext, init: QueryInit) {
    this.context = context;
    this.#init = init;
  }

  /** True once the query has been recorded. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The driver answered (or failed): records the `db_query` event, the first time only. Never throws. */
  end(result: QueryResult = {}): void {
    if (this.#ended) return;
    this.#ended = true;
    try {
      record(this.context, this.#init, result, durationSince(this.#startedAt));
    } catch {
      // Recording is best effort.
    }
  }
}

/**
 * The one query lifecycle behind every driver instrumentation: call it when the statement is
 * sent, and `end` the result when the driver answers. Returns undefined, so that the driver
 * does no work for Raceway, outside a context, in an unsampled one, with a disabled tracer or
 * `captureQueries: false`. Never throws.
 *
 * @example
 * const query = startQuery({ system: 'postgresql', statement: text, params: values, connection });
 * try {
 *   const result = await send(text, values);
 *   query?.end({ rows: result.rowCount, returned: result.rows });
 *   return result;
 * } catch (error) {
 *   query?.end({ error });
 *   throw error;
 * }
 */
export function startQuery(init: QueryInit, context?: ExecutionContext): QueryInFlight | undefined {
  try {
    const ctx = recordingContext(context ?? getCurrentContext());
    if (ctx === undefined || typeof init.statement !== 'string' || init.statement === '') {
      return undefined;
    }
    return new QueryInFlight(ctx, init);
  } catch {
    return undefined;
  }
}

function record(
  ctx: ExecutionContext,
  init: QueryInit,
  result: QueryResult,
  durationMs: number,
): void {
  if (typeof init.statement !== 'string' || init.statement === '') return;
  const { digestKey, values } = ctx.owner.queryCapture;
  const statement = clampString(init.statement, MAX_STATEMENT_LENGTH);
  const data: EventData['db_query'] = {
    system: init.system,
    statement,
    connection: clampString(String(init.connection || 'unknown'), MAX_CONNECTION),
    duration_ms: durationMs,
  };
  if (statement.length < init.statement.length) data.statement_truncated = true;
  const params = digestParams(init.params, init.namedParams, digestKey, values);
  if (params !== undefined) data.params = params;
  if (typeof init.database === 'string' && init.database !== '') {
    data.database = clampString(init.database, MAX_DATABASE);
  }
  data.rows = rowCount(result.rows);
  if (Array.isArray(result.returned)) {
    data.returned = digestRows(result.returned, result.columns, digestKey);
  }
  if (result.error !== undefined && result.error !== null) data.error = queryError(result.error);
  ctx.record('db_query', data);
}

type Param = NonNullable<EventData['db_query']['params']>[number];

function digestParams(
  positional: readonly unknown[] | undefined,
  named: Readonly<Record<string, unknown>> | undefined,
  key: string,
  withValues: boolean,
): Param[] | undefined {
  const params: Param[] = [];
  const add = (value: unknown, name?: string) => {
    if (params.length === MAX_PARAMS) return;
    const param: Param = { digest: paramDigest(value, key) };
    if (name !== undefined) param.name = clampString(name, MAX_PARAM_NAME);
    if (withValues) param.value = rawValue(value);
    params.push(param);
  };
  if (Array.isArray(positional)) for (const value of positional) add(value);
  if (named !== null && typeof named === 'object') {
    for (const name of Object.keys(named)) add(named[name], name);
  }
  return positional === undefined && named === undefined ? undefined : params;
}

/** A parameter's value as an event carries it: bytes as hex, anything else as JSON (1 KiB at most). */
function rawValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return toEventValue(Buffer.from(value).toString('hex'));
  return toEventValue(value) ?? null;
}

function rowCount(rows: QueryResult['rows']): number | null {
  if (typeof rows === 'bigint') return rows >= 0n ? Number(rows) : null;
  return typeof rows === 'number' && Number.isSafeInteger(rows) && rows >= 0 ? rows : null;
}

function digestRows(
  rows: readonly unknown[],
  columns: readonly string[] | undefined,
  key: string,
): Array<Record<string, string>> {
  const digested: Array<Record<string, string>> = [];
  for (const row of rows.slice(0, MAX_ROWS)) {
    const out: Record<string, string> = {};
    let count = 0;
    const put = (column: string, value: unknown) => {
      if (count === MAX_COLUMNS || Object.hasOwn(out, column)) return;
      // defineProperty, so that a column named __proto__ stays a column.
      Object.defineProperty(out, column, {
        value: paramDigest(value, key),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      count++;
    };
    if (Array.isArray(row)) {
      row.forEach((value, index) => {
        put(columns?.[index] ?? String(index), value);
      });
    } else if (isRecord(row)) {
      for (const column of Object.keys(row)) put(column, row[column]);
    } else {
      put(columns?.[0] ?? 'value', row);
    }
    digested.push(out);
  }
  return digested;
}

/** A row object: not a value that has a canonical form of its own (bytes, a date). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date)
  );
}

/**
 * The error a query answered with: its driver code as the type when it has one (`23505`,
 * `ER_DUP_ENTRY`, `SQLITE_CONSTRAINT_PRIMARYKEY`: what the collector can act on), else its
 * class name; and the message.
 */
function queryError(error: unknown): { type: string; message: string } {
  const info = serializeError(error);
  let code: unknown;
  try {
    code = (error as { code?: unknown } | null)?.code;
  } catch {
    code = undefined;
  }
  const type = typeof code === 'string' && code !== '' ? code : info.type;
  return {
    type: clampString(type, MAX_ERROR_TYPE),
    message: clampString(info.message, MAX_ERROR_MESSAGE),
  };
}
