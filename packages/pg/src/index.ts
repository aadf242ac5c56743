import {
  bindContext,
  bindPoolCheckoutCallbacks,
  connectionId,
  driverPrototype,
  getCurrentContext,
  type PrototypeMethod as Method,
  observeEmit,
  prototypeDefining,
  type QueryInFlight,
  type QueryResult,
  queryContext,
  startQuery,
  unwrapPrototypeMethod,
  wrapPrototypeMethod,
} from '@raceway/core/integration';

/** What is instrumented of the `pg` module (`import pg from 'pg'`). */
export interface PgModule {
  Client: { prototype: object };
  Pool?: { prototype: object } | undefined;
}

type Callback = (this: unknown, error: unknown, result?: unknown) => unknown;

/** The parts of a `pg` Client this package reads. */
interface PgClient {
  database?: unknown;
  connection?: { parsedStatements?: Record<string, string | undefined> } | undefined;
}

interface PgField {
  name: string;
  dataTypeID?: number;
}

interface PgResult {
  rowCount?: number | null;
  rows?: unknown[];
  fields?: PgField[];
}

/** A query config (`{ text, values, name }`) or a Submittable (`new pg.Query()`, pg-cursor). */
interface QueryConfig {
  text?: unknown;
  values?: unknown;
  name?: unknown;
  callback?: unknown;
  submit?: unknown;
  emit?: unknown;
}

// Registered symbols: the ESM and CJS builds of this package, loaded side by side, must see each
// other's installation, or every query would be recorded twice.
const ORIGINAL = Symbol.for('raceway.pg.original.v1');

/** PostgreSQL's `int8`: pg hands it over as a string, sent as a number; digested as the integer. */
const INT8 = 20;

/**
 * Traces every statement of `pg` (node-postgres 8) clients (spec 4.3): `client.query` in its
 * callback and promise forms, with text or a query config (`{ text, values, name }`, prepared
 * statements included), Submittables (`new pg.Query()`; without a callback, recorded when they
 * emit `end` or `error`), and every `pool.query` (a Pool runs its queries on Clients). Inside a traced context each statement
 * records a `db_query` event: its text, digests of its parameters, the connection (`pg#1` per
 * Client), the database, the row count, digests of the first rows returned, and the error.
 * Transactions (`BEGIN` ... `COMMIT` on one pool client) are followed by that connection id.
 *
 * Pass the module, once at startup: `Client.prototype.query` is wrapped, so every client and
 * pool made before or after is covered, whoever makes it (an ORM or query builder too). A
 * callback given to `query` or `pool.connect` runs in the context that made the call (pg calls
 * it from its socket, or from another request's release of a pool client). Instrumenting again
 * does nothing. Throws a `RacewayConfigError` when given something else than the pg module.
 * The native binding (`pg.native`) is not instrumented.
 *
 * @example
 * import pg from 'pg';
 * import { instrumentPg } from '@raceway/pg';
 *
 * instrumentPg(pg);
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * // inside a traced request handler:
 * await pool.query('UPDATE items SET stock = stock - 1 WHERE id = $1', [id]); // a db_query event
 */
export function instrumentPg<T extends PgModule>(pg: T): T {
  const clientProto = driverPrototype(
    pg?.Client?.prototype,
    'query',
    "instrumentPg(pg): pass the pg module (import pg from 'pg'), whose Client is instrumented",
  );
  wrapPrototypeMethod(clientProto, 'query', ORIGINAL, tracedQuery);
  bindPoolCheckoutCallbacks(pg.Pool?.prototype, 'connect', ORIGINAL);
  return pg;
}

/** Restores what {@link instrumentPg} wrapped: queries run afterwards are no longer recorded. */
export function uninstrumentPg(pg: PgModule): void {
  unwrapPrototypeMethod(pg?.Client?.prototype, 'query', ORIGINAL);
  unwrapPrototypeMethod(prototypeDefining(pg?.Pool?.prototype, 'connect'), 'connect', ORIGINAL);
}

function tracedQuery(query: Method): Method {
  return function tracedClientQuery(this: unknown, ...args: unknown[]) {
    const ctx = getCurrentContext();
    if (ctx === undefined || args[0] == null) return query.apply(this, args);
    const client = this as PgClient;
    const [config, values] = args as [unknown, unknown];
    // An unsampled context, or captureQueries off: callbacks are still bound, nothing is read.
    const inFlight = queryContext(ctx) === undefined ? undefined : begin(client, config, values);
    const finish = (error: unknown, result: unknown) => {
      if (inFlight === undefined) return;
      inFlight.end(error != null ? { error } : outcome(result));
    };
    const traced = (callback: Callback): Callback =>
      function tracedCallback(this: unknown, error: unknown, result?: unknown) {
        finish(error, result);
        return callback.call(this, error, result);
      };
    const submittable =
      typeof config === 'object' && typeof (config as QueryConfig).submit === 'function';
    const callbackAt = typeof args[1] === 'function' ? 1 : typeof args[2] === 'function' ? 2 : -1;
    if (callbackAt >= 0) {
      args[callbackAt] = traced(bindContext(args[callbackAt] as Callback, ctx));
    } else if (
      typeof config === 'object' &&
      typeof (config as QueryConfig).callback === 'function'
    ) {
      const callback = traced(bindContext((config as QueryConfig).callback as Callback, ctx));
      // A Submittable is the query itself; a config object is the application's, which pg
      // copies before it takes a callback given beside it.
      if (submittable) (config as QueryConfig).callback = callback;
      else args.splice(1, 2, values, callback);
    } else if (submittable && inFlight !== undefined) {
      // Without a callback a Submittable reports its end as events only (`end`, `error`).
      observeEmit(config as never, (event, eventArgs) => {
        if (event === 'end') finish(null, eventArgs[0]);
        else if (event === 'error') finish(eventArgs[0], undefined);
      });
    }
    const result = query.apply(this, args);
    if (callbackAt >= 0 || submittable || inFlight === undefined) return result;
    if (typeof (config as QueryConfig).callback === 'function') return result;
    // The promise form: the application gets a promise settled after the event is recorded.
    const promise = result as Promise<unknown> | undefined;
    if (typeof promise?.then !== 'function') return result;
    return promise.then(
      (value) => {
        finish(null, value);
        return value;
      },
      (error: unknown) => {
        finish(error, undefined);
        throw error;
      },
    );
  };
}

function begin(client: PgClient, config: unknown, values: unknown): QueryInFlight | undefined {
  try {
    let text: unknown = config;
    let params: unknown = values;
    if (typeof config === 'object' && config !== null) {
      const { text: configText, values: configValues, name } = config as QueryConfig;
      text = configText;
      if (configValues !== undefined) params = configValues;
      // A prepared statement run again by name alone: the text pg parsed for that name.
      if (typeof text !== 'string' && typeof name === 'string') {
        text = client.connection?.parsedStatements?.[name];
      }
    }
    if (typeof text !== 'string') return undefined;
    return startQuery({
      system: 'postgresql',
      statement: text,
      params: Array.isArray(params) ? params : [],
      connection: connectionId(client, 'pg'),
      database: typeof client.database === 'string' ? client.database : null,
    });
  } catch {
    return undefined;
  }
}

/** Rows and digests of a pg result; a multi-statement text gives one result per statement. */
function outcome(result: unknown): QueryResult {
  try {
    const results = (Array.isArray(result) ? result : [result]) as Array<PgResult | undefined>;
    let rows: number | null = null;
    let returned: unknown[] | undefined;
    let columns: string[] | undefined;
    for (const one of results) {
      if (typeof one?.rowCount === 'number') rows = (rows ?? 0) + one.rowCount;
      const fields = one?.fields;
      if (!Array.isArray(fields) || fields.length === 0 || !Array.isArray(one?.rows)) continue;
      returned ??= [];
      columns ??= fields.map((field) => field.name);
      for (const row of one.rows.slice(0, 10 - returned.length)) {
        returned.push(withIntegers(row, fields));
      }
    }
    return { rows, returned, columns };
  } catch {
    return {};
  }
}

/** `int8` values back to integers, so that a read digests like the number that was written. */
function withIntegers(row: unknown, fields: readonly PgField[]): unknown {
  if (!fields.some((field) => field.dataTypeID === INT8)) return row;
  const integer = (value: unknown) =>
    typeof value === 'string' && /^-?\d+$/.test(value) ? BigInt(value) : value;
  if (Array.isArray(row)) {
    return row.map((value, i) => (fields[i]?.dataTypeID === INT8 ? integer(value) : value));
  }
  if (row === null || typeof row !== 'object') return row;
  const copy: Record<string, unknown> = { ...(row as Record<string, unknown>) };
  for (const field of fields) {
    if (field.dataTypeID === INT8 && Object.hasOwn(copy, field.name)) {
      copy[field.name] = integer(copy[field.name]);
    }
  }
  return copy;
}
