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

/** What is instrumented of the `mysql2` module (`import mysql from 'mysql2'`). */
export interface Mysql2Module {
  Connection: { prototype: object };
  Pool?: { prototype: object } | undefined;
}

type Callback = (this: unknown, error: unknown, rows?: unknown, fields?: unknown) => unknown;

/** The parts of a mysql2 connection this package reads. */
interface Mysql2Connection {
  config?: { database?: unknown; namedPlaceholders?: unknown } | undefined;
}

/** A statement as `query` and `execute` take it: text, options (`{ sql, values }`) or a Query command. */
interface StatementOptions {
  sql?: unknown;
  values?: unknown;
  namedPlaceholders?: unknown;
  onResult?: unknown;
  emit?: unknown;
  start?: unknown;
}

interface Field {
  name?: unknown;
}

// Registered symbols: the ESM and CJS builds of this package, loaded side by side, must see each
// other's installation, or every statement would be recorded twice.
const ORIGINAL = Symbol.for('raceway.mysql2.original.v1');

const MAX_KEPT_ROWS = 10;

/**
 * Traces every statement of mysql2 connections (spec 4.3), MySQL or MariaDB: `query` and
 * `execute` in the callback, event and promise APIs (`mysql2/promise` runs on the same
 * connections), transactions (`beginTransaction`, `commit`, `rollback` are queries), and pools
 * (a pool runs its statements on its connections). Inside a traced context each statement
 * records a `db_query` event: its text as the application wrote it (placeholders, not the values
 * mysql2 formats into it), digests of its parameters (named ones with their names), the
 * connection (`mysql#1` per connection), the database, the rows returned or affected, digests of
 * the first rows returned, and the error.
 *
 * Pass the `mysql2` module, once at startup, also when the application uses `mysql2/promise`:
 * the `query` and `execute` methods of its connection class are wrapped, so every connection
 * and pool made before or after is covered, whoever makes it (an ORM or query builder too).
 * Callbacks run in the context that made the call (mysql2 calls them from its socket, or from
 * another request's release of a pool connection). Instrumenting again does nothing. Throws a
 * `RacewayConfigError` when given something else than the `mysql2` module.
 *
 * @example
 * import mysql from 'mysql2';
 * import mysqlPromise from 'mysql2/promise';
 * import { instrumentMysql2 } from '@raceway/mysql2';
 *
 * instrumentMysql2(mysql);
 * const pool = mysqlPromise.createPool(process.env.DATABASE_URL);
 * // inside a traced request handler:
 * await pool.execute('UPDATE items SET stock = stock - 1 WHERE id = ?', [id]); // a db_query event
 */
export function instrumentMysql2<T extends Mysql2Module>(mysql: T): T {
  const proto = driverPrototype(
    mysql?.Connection?.prototype,
    'addCommand',
    "instrumentMysql2(mysql): pass the mysql2 module (import mysql from 'mysql2'), also when the application uses mysql2/promise",
  );
  // On the prototype that defines them: Connection extends BaseConnection.
  for (const [name, isQuery] of [
    ['query', true],
    ['execute', false],
  ] as const) {
    wrapPrototypeMethod(prototypeDefining(proto, name), name, ORIGINAL, (original) =>
      traced(original, isQuery),
    );
  }
  bindPoolCheckoutCallbacks(mysql.Pool?.prototype, 'getConnection', ORIGINAL);
  return mysql;
}

/** Restores what {@link instrumentMysql2} wrapped: statements run afterwards are not recorded. */
export function uninstrumentMysql2(mysql: Mysql2Module): void {
  const proto = mysql?.Connection?.prototype;
  const unpatch = (owner: object | undefined, name: string) =>
    unwrapPrototypeMethod(prototypeDefining(owner, name), name, ORIGINAL);
  unpatch(proto, 'query');
  unpatch(proto, 'execute');
  unpatch(mysql?.Pool?.prototype, 'getConnection');
}

/** `query` (a Query command can stand for the statement) or `execute`. */
function traced(original: Method, isQuery: boolean): Method {
  return function tracedStatement(this: unknown, ...args: unknown[]) {
    const ctx = getCurrentContext();
    const [sql, values] = args as [unknown, unknown];
    if (ctx === undefined || sql == null) return original.apply(this, args);
    const connection = this as Mysql2Connection;
    // An unsampled context, or captureQueries off: callbacks are still bound, nothing is read.
    const inFlight = queryContext(ctx) === undefined ? undefined : begin(connection, sql, values);
    const finish = (result: QueryResult) => inFlight?.end(result);
    const tracedCallback = (callback: Callback): Callback => {
      const bound = bindContext(callback, ctx);
      return function tracedResult(
        this: unknown,
        error: unknown,
        rows?: unknown,
        fields?: unknown,
      ) {
        finish(error != null ? { error } : outcome(rows, fields));
        return bound.call(this, error, rows, fields);
      };
    };
    const command = isQuery && isCommand(sql) ? (sql as StatementOptions) : undefined;
    let hasCallback = true;
    if (command !== undefined && typeof command.onResult === 'function') {
      command.onResult = tracedCallback(command.onResult as Callback);
    } else if (command === undefined && typeof args[1] === 'function') {
      args[1] = tracedCallback(args[1] as Callback);
    } else if (command === undefined && typeof args[2] === 'function') {
      args[2] = tracedCallback(args[2] as Callback);
    } else {
      hasCallback = false;
    }
    const result = original.apply(this, args);
    const emitter = command ?? (result as StatementOptions | undefined);
    if (!hasCallback && inFlight !== undefined && typeof emitter?.emit === 'function') {
      observeEvents(emitter as never, inFlight);
    }
    return result;
  };
}

/** A Query command (made by `mysql.createQuery`, or by `pool.query`) rather than options. */
function isCommand(sql: unknown): boolean {
  const command = sql as StatementOptions;
  return (
    typeof sql === 'object' &&
    typeof command.emit === 'function' &&
    typeof command.start === 'function'
  );
}

function begin(
  connection: Mysql2Connection,
  sql: unknown,
  values: unknown,
): QueryInFlight | undefined {
  try {
    let text = sql;
    let params = typeof values === 'function' ? undefined : values;
    let named: unknown = connection.config?.namedPlaceholders;
    if (typeof sql === 'object' && sql !== null) {
      const options = sql as StatementOptions;
      text = options.sql;
      if (options.values !== undefined) params = options.values;
      if (options.namedPlaceholders !== undefined) named = options.namedPlaceholders;
    }
    if (typeof text !== 'string') return undefined;
    const isNamed = named === true && isPlainObject(params);
    const database = connection.config?.database;
    return startQuery({
      system: 'mysql',
      statement: text,
      // mysql2 takes a single value for a single placeholder (`query('... ?', 5)`).
      params: isNamed ? [] : Array.isArray(params) ? params : params === undefined ? [] : [params],
      namedParams: isNamed ? (params as Record<string, unknown>) : undefined,
      connection: connectionId(connection, 'mysql'),
      database: typeof database === 'string' ? database : null,
    });
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A write's answer: `ResultSetHeader` with `affectedRows`. */
function affected(result: unknown): number | undefined {
  const count = (result as { affectedRows?: unknown } | null)?.affectedRows;
  return typeof count === 'number' ? count : undefined;
}

/**
 * Rows and digests of what mysql2 answered: rows and fields for a read, a `ResultSetHeader` for
 * a write, and arrays of those for several statements in one text.
 */
function outcome(rows: unknown, fields: unknown): QueryResult {
  try {
    const several =
      Array.isArray(rows) &&
      Array.isArray(fields) &&
      fields.length > 0 &&
      fields.every((f) => f === undefined || f === null || Array.isArray(f));
    const results = several ? (rows as unknown[]) : [rows];
    const fieldLists = several ? (fields as unknown[]) : [fields];
    let count: number | null = null;
    let returned: unknown[] | undefined;
    let columns: string[] | undefined;
    results.forEach((result, i) => {
      const written = affected(result);
      if (written !== undefined) {
        count = (count ?? 0) + written;
        return;
      }
      if (!Array.isArray(result)) return;
      count = (count ?? 0) + result.length;
      returned ??= [];
      const names = fieldNames(fieldLists[i]);
      columns ??= names;
      for (const row of result.slice(0, MAX_KEPT_ROWS - returned.length)) returned.push(row);
    });
    return { rows: count, returned, columns };
  } catch {
    return {};
  }
}

function fieldNames(fields: unknown): string[] | undefined {
  if (!Array.isArray(fields)) return undefined;
  return fields.map((field: Field | undefined) => String(field?.name ?? ''));
}

/**
 * A statement without a callback reports as events: `fields`, one `result` per row (or the
 * `ResultSetHeader` of a write), `error` and `end`.
 */
function observeEvents(
  command: { emit(event: string | symbol, ...args: unknown[]): boolean },
  inFlight: QueryInFlight,
): void {
  const kept: unknown[] = [];
  let count: number | null = null;
  let columns: string[] | undefined;
  observeEmit(command, (event, args) => {
    if (event === 'fields') columns ??= fieldNames(args[0]);
    else if (event === 'result') {
      const written = affected(args[0]);
      count = (count ?? 0) + (written ?? 1);
      if (written === undefined && kept.length < MAX_KEPT_ROWS) kept.push(args[0]);
    } else if (event === 'error') inFlight.end({ error: args[0] });
    else if (event === 'end') {
      inFlight.end({ rows: count, returned: columns === undefined ? undefined : kept, columns });
    }
  });
}
