import {
  connectionId,
  type ExecutionContext,
  type QueryInFlight,
  type QueryResult,
  queryContext,
  RacewayConfigError,
  startQuery,
} from '@raceway/core/integration';

/** What is instrumented of better-sqlite3's `Database` class (the module's default export). */
export interface BetterSqlite3Database {
  new (filename: string, options?: object): BetterSqlite3Connection;
  prototype: BetterSqlite3Connection;
}

/** The parts of a `Database` instance this package reads or wraps. */
export interface BetterSqlite3Connection {
  readonly name: string;
  exec(source: string): unknown;
  prepare(source: string): BetterSqlite3Statement;
  close(): unknown;
}

/** The parts of a `Statement` this package reads or wraps. */
export interface BetterSqlite3Statement {
  readonly source: string;
  readonly reader: boolean;
  readonly database: BetterSqlite3Connection;
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
  bind(...params: unknown[]): BetterSqlite3Statement;
  columns(): Array<{ name: string }>;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;
type Prototype = Record<string, unknown>;

// Registered symbols: the ESM and CJS builds of this package, loaded side by side, must see each
// other's installation, or every statement would be recorded twice.
const ORIGINALS = Symbol.for('raceway.better-sqlite3.originals.v1');
const STATEMENT_PROTOTYPE = Symbol.for('raceway.better-sqlite3.statement-prototype.v1');
const BOUND = Symbol.for('raceway.better-sqlite3.bound-params.v1');

type Patched = Prototype & { [ORIGINALS]?: Map<string, Method> };
type DatabaseClass = BetterSqlite3Database & { [STATEMENT_PROTOTYPE]?: Patched };
type Bound = { positional: unknown[]; named: Record<string, unknown> | undefined };
type BoundStatement = BetterSqlite3Statement & { [BOUND]?: Bound };

/**
 * Traces every statement run through better-sqlite3 (spec 4.3): `prepare(sql).run/get/all/
 * iterate`, `exec`, `pragma`, and the `BEGIN`, `COMMIT`, `ROLLBACK` (and savepoints) that
 * `db.transaction(fn)` issues itself, so the collector can follow transactions. Inside a traced
 * context each statement records a `db_query` event: its text, digests of its parameters, the
 * database (`sqlite#1` per `Database` instance), the rows changed or read, digests of the first
 * rows read, and the error. Outside a context the statements run untouched.
 *
 * Pass the module's `Database` class, once at startup: the methods of its `Database` and
 * `Statement` prototypes are wrapped, so every database opened before or after is covered,
 * whoever opens it (an ORM or query builder too). Instrumenting again does nothing. Throws a
 * `RacewayConfigError` when given something else than the `Database` class.
 *
 * @example
 * import Database from 'better-sqlite3';
 * import { instrumentBetterSqlite3 } from '@raceway/better-sqlite3';
 *
 * instrumentBetterSqlite3(Database);
 * const db = new Database('shop.db');
 * // inside a traced request handler:
 * db.prepare('UPDATE items SET stock = stock - 1 WHERE id = ?').run(id); // a db_query event
 */
export function instrumentBetterSqlite3<T extends BetterSqlite3Database>(Database: T): T {
  const klass = checkDatabaseClass(Database);
  patch(Database.prototype as unknown as Prototype, 'exec', (exec) => {
    return function tracedExec(this: unknown, ...args: unknown[]) {
      const ctx = queryContext();
      if (ctx === undefined) return exec.apply(this, args);
      const query = begin(ctx, this as BetterSqlite3Connection, args[0], undefined, undefined);
      return settle(query, () => exec.apply(this, args), noRows);
    };
  });
  const statementProto = klass[STATEMENT_PROTOTYPE] ?? probeStatementPrototype(klass);
  if (statementProto !== undefined) {
    traceStatementMethods(klass, statementProto);
    return Database;
  }
  // No throwaway database could be opened (a build that needs its `nativeBinding` option): the
  // prototype is taken from the first statement the application prepares.
  patch(Database.prototype as unknown as Prototype, 'prepare', (prepare) => {
    return function tracedPrepare(this: unknown, ...args: unknown[]) {
      const statement = prepare.apply(this, args);
      if (klass[STATEMENT_PROTOTYPE] === undefined && statement !== null) {
        try {
          traceStatementMethods(klass, Object.getPrototypeOf(statement) as Patched);
        } catch {
          // Recording is best effort.
        }
      }
      return statement;
    };
  });
  return Database;
}

/** Wraps the methods of `Statement` that bind parameters and run statements. */
function traceStatementMethods(klass: DatabaseClass, statementProto: Patched): void {
  Object.defineProperty(klass, STATEMENT_PROTOTYPE, { value: statementProto, configurable: true });
  patch(statementProto, 'bind', (bind) => {
    return function tracedBind(this: unknown, ...args: unknown[]) {
      const result = bind.apply(this, args);
      try {
        (this as BoundStatement)[BOUND] = splitParams(args);
      } catch {
        // Parameters are recorded best effort.
      }
      return result;
    };
  });
  traceStatements(statementProto, 'run', (_, info) => ({
    rows: (info as { changes?: number } | undefined)?.changes,
  }));
  traceStatements(statementProto, 'get', (statement, row) =>
    rowsRead(statement, row === undefined ? [] : [row]),
  );
  traceStatements(statementProto, 'all', (statement, rows) =>
    rowsRead(statement, Array.isArray(rows) ? rows : []),
  );
  // iterate() is recorded when its loop is over: see tracedIterator.
  traceStatements(statementProto, 'iterate', undefined);
}

const noRows = (): QueryResult => ({});

/**
 * Wraps a method of `Statement` that runs the statement: records it when the driver returns
 * (what `describe` reads of the result), or, for `iterate`, when the iteration is over.
 */
function traceStatements(
  proto: Patched,
  name: 'run' | 'get' | 'all' | 'iterate',
  describe: ((statement: BetterSqlite3Statement, result: unknown) => QueryResult) | undefined,
): void {
  patch(proto, name, (method) => {
    return function tracedStatement(this: unknown, ...args: unknown[]) {
      const ctx = queryContext();
      if (ctx === undefined) return method.apply(this, args);
      const statement = this as BoundStatement;
      const query = beginStatement(ctx, statement, args);
      if (describe !== undefined) {
        return settle(
          query,
          () => method.apply(this, args),
          (result) => describe(statement, result),
        );
      }
      const iterator = settle(
        query,
        () => method.apply(this, args) as IterableIterator<unknown>,
        undefined,
      );
      return query === undefined ? iterator : tracedIterator(statement, iterator, query);
    };
  });
}

/**
 * Restores the methods {@link instrumentBetterSqlite3} wrapped. Statements run afterwards are
 * no longer recorded.
 */
export function uninstrumentBetterSqlite3(Database: BetterSqlite3Database): void {
  unpatch(Database.prototype as unknown as Prototype);
  const statementProto = (Database as DatabaseClass)[STATEMENT_PROTOTYPE];
  if (statementProto !== undefined) unpatch(statementProto);
}

function checkDatabaseClass(Database: BetterSqlite3Database): DatabaseClass {
  if (
    typeof Database !== 'function' ||
    typeof Database.prototype?.prepare !== 'function' ||
    typeof Database.prototype.exec !== 'function'
  ) {
    throw new RacewayConfigError(
      'RACEWAY_INVALID_ARGUMENTS',
      "instrumentBetterSqlite3(Database): pass better-sqlite3's Database class (import Database from 'better-sqlite3')",
    );
  }
  return Database as DatabaseClass;
}

/**
 * better-sqlite3 does not export its `Statement` class: its prototype is read from a statement
 * of a throwaway in-memory database. Undefined when none can be opened.
 */
function probeStatementPrototype(Database: BetterSqlite3Database): Patched | undefined {
  let probe: BetterSqlite3Connection | undefined;
  try {
    probe = new Database(':memory:');
    return Object.getPrototypeOf(probe.prepare('SELECT 1')) as Patched;
  } catch {
    return undefined;
  } finally {
    try {
      probe?.close();
    } catch {
      // A probe that cannot close is garbage-collected.
    }
  }
}

function patch(target: Patched, name: string, wrap: (original: Method) => Method): void {
  const original = target[name];
  if (typeof original !== 'function') return;
  let originals = target[ORIGINALS];
  if (originals === undefined) {
    originals = new Map();
    Object.defineProperty(target, ORIGINALS, { value: originals, configurable: true });
  }
  if (originals.has(name)) return;
  originals.set(name, original as Method);
  target[name] = wrap(original as Method);
}

function unpatch(target: Patched): void {
  const originals = target[ORIGINALS];
  if (originals === undefined) return;
  for (const [name, original] of originals) target[name] = original;
  originals.clear();
}

function begin(
  ctx: ExecutionContext,
  db: BetterSqlite3Connection,
  statement: unknown,
  params: unknown[] | undefined,
  namedParams: Record<string, unknown> | undefined,
): QueryInFlight | undefined {
  if (typeof statement !== 'string') return undefined;
  try {
    return startQuery(
      {
        system: 'sqlite',
        statement,
        params,
        namedParams,
        connection: connectionId(db, 'sqlite'),
        database: db.name,
      },
      ctx,
    );
  } catch {
    return undefined;
  }
}

function beginStatement(
  ctx: ExecutionContext,
  statement: BoundStatement,
  args: unknown[],
): QueryInFlight | undefined {
  try {
    const { positional, named } = statement[BOUND] ?? splitParams(args);
    return begin(ctx, statement.database, statement.source, positional, named);
  } catch {
    return undefined;
  }
}

/**
 * Runs the driver call; ends the query with what `describe` reads of the result, or with the
 * error, which is rethrown as is. `describe` undefined: the caller ends the query later.
 */
function settle<R>(
  query: QueryInFlight | undefined,
  call: () => R,
  describe: ((result: R) => QueryResult) | undefined,
): R {
  if (query === undefined) return call();
  let result: R;
  try {
    result = call();
  } catch (error) {
    query.end({ error });
    throw error;
  }
  if (describe !== undefined) {
    let outcome: QueryResult = {};
    try {
      outcome = describe(result);
    } catch {
      // What could not be read is left out.
    }
    query.end(outcome);
  }
  return result;
}

/**
 * Bind parameters as better-sqlite3 takes them: any mix of values, arrays of values (spread)
 * and one object of named parameters (`@id`, `:id`, `$id`).
 */
function splitParams(args: readonly unknown[]): Bound {
  const positional: unknown[] = [];
  let named: Record<string, unknown> | undefined;
  for (const arg of args) {
    if (Array.isArray(arg)) positional.push(...arg);
    else if (isNamedParams(arg)) named = { ...named, ...arg };
    else positional.push(arg);
  }
  return { positional, named };
}

function isNamedParams(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * What a read returned: the rows, their count, and the column names of raw (array) rows and
 * plucked values. Expanded rows (`{ table: { column: value } }`) are flattened to
 * `table.column`.
 */
function rowsRead(statement: BetterSqlite3Statement, rows: readonly unknown[]): QueryResult {
  const first = rows[0];
  let columns: string[] | undefined;
  if (first !== undefined && (Array.isArray(first) || !isNamedParams(first))) {
    columns = statement.columns().map((column) => column.name);
  }
  const returned = rows
    .slice(0, 10)
    .map((row) => (isNamedParams(row) ? flattenExpanded(row) : row));
  return { rows: rows.length, returned, columns };
}

function flattenExpanded(row: Record<string, unknown>): Record<string, unknown> {
  const values = Object.values(row);
  if (!values.some(isNamedParams)) return row;
  const flat: Record<string, unknown> = {};
  for (const [table, columns] of Object.entries(row)) {
    if (!isNamedParams(columns)) continue;
    for (const [column, value] of Object.entries(columns)) flat[`${table}.${column}`] = value;
  }
  return flat;
}

const MAX_KEPT_ROWS = 10;

/**
 * The iterator of `iterate()`, recording when it is exhausted, closed early (`break`) or fails,
 * with the rows read until then.
 */
function tracedIterator(
  statement: BetterSqlite3Statement,
  iterator: IterableIterator<unknown>,
  query: QueryInFlight,
): IterableIterator<unknown> {
  const kept: unknown[] = [];
  let count = 0;
  const finish = (error?: unknown) => {
    if (query.ended) return;
    if (error !== undefined) {
      query.end({ error });
      return;
    }
    let outcome: QueryResult = {};
    try {
      outcome = { ...rowsRead(statement, kept), rows: count };
    } catch {
      // What could not be read is left out.
    }
    query.end(outcome);
  };
  const traced: IterableIterator<unknown> = {
    next(...args: [] | [undefined]) {
      let step: IteratorResult<unknown>;
      try {
        step = iterator.next(...args);
      } catch (error) {
        finish(error);
        throw error;
      }
      if (step.done) finish();
      else {
        count++;
        if (kept.length < MAX_KEPT_ROWS) kept.push(step.value);
      }
      return step;
    },
    return(value?: unknown) {
      finish();
      return iterator.return?.(value) ?? { done: true, value };
    },
    [Symbol.iterator]() {
      return traced;
    },
  };
  return traced;
}
