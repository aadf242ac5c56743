import { createRequire } from 'node:module';
import { lex, placeholderName, type Token, wordsAt } from './lexer.js';
import { canonicalNumber, canonicalValue, DEFAULT_DIGEST_KEY, digestOf } from './sql-digest.js';

/**
 * One SQL statement as accesses (DESIGN 11): the rows it reads or writes, keyed by the equality
 * predicates of its WHERE clause, column by column.
 *
 * The parser is node-sql-parser (maintained, pure JavaScript, one grammar per dialect loaded on
 * demand, about 300 kB each). The alternatives on Node 20: libpg-query / @pgsql/parser (the real
 * PostgreSQL parser, WASM) knows PostgreSQL only; sql-parser-cst calls its PostgreSQL support
 * experimental; pgsql-ast-parser is PostgreSQL only and little maintained. What node-sql-parser
 * 5.4 does not parse is handled around it, with the lexer (`lexer.ts`), never by matching
 * statement text:
 * - transaction control (`BEGIN IMMEDIATE`, `SET TRANSACTION ISOLATION LEVEL ...`, SQLite's
 *   `COMMIT` and `END`), read as its flat list of keywords;
 * - a trailing row-locking clause (PostgreSQL's `FOR UPDATE` / `FOR SHARE` / `FOR NO KEY
 *   UPDATE`, MySQL 8's `FOR SHARE`): taken off at its token, the rest parsed;
 * - `?` placeholders (their place is not in the AST): renumbered `:__pN` (or `$N`) first;
 * - SQLite's upsert (`ON CONFLICT (...) DO UPDATE`), parsed with the PostgreSQL grammar, whose
 *   syntax SQLite copied.
 */
export type SqlSystem = 'postgresql' | 'mysql' | 'sqlite';

export type Isolation = 'read uncommitted' | 'read committed' | 'repeatable read' | 'serializable';

/** Why a statement's accesses could not be keyed to rows (it is left out of race detection). */
export type UnkeyedReason =
  | 'unparseable'
  | 'truncated'
  | 'multiple_statements'
  | 'no_key'
  | 'range'
  | 'join'
  | 'subquery'
  | 'compound'
  | 'multi_row'
  | 'missing_param';

export interface TransactionControl {
  action: 'begin' | 'commit' | 'rollback' | 'set_isolation';
  /** The isolation level the statement names. */
  isolation?: Isolation;
  /** SQLite's `BEGIN DEFERRED | IMMEDIATE | EXCLUSIVE`. */
  mode?: 'deferred' | 'immediate' | 'exclusive';
  /** `set_isolation`: the next transaction (`SET TRANSACTION`) or the session's default. */
  scope?: 'transaction' | 'session';
}

/** One column of one row (or `*`: the whole row) read or written. */
export interface StatementAccess {
  table: string;
  /** Column name -> digest: the equality predicates that name the row. */
  key: Record<string, string>;
  /** `products[id=<digest>]`: the row, also the name of its row lock. */
  row: string;
  column: string;
  /** `products[id=<digest>].stock`, or the row for `*`. */
  resource: string;
  write: boolean;
  /** A write the database applies on the current row (`c = c - 1`, compare-and-set). */
  atomic: boolean;
  /** Write: the digest of the parameter or literal assigned. */
  value?: string;
  /** Read: the name of the column in the statement's result (`returned`), when known. */
  returnedAs?: string;
}

export interface StatementAnalysis {
  accesses: StatementAccess[];
  /** `SELECT ... FOR UPDATE` (`update`) or `FOR SHARE` / `LOCK IN SHARE MODE` (`share`). */
  lock?: 'update' | 'share';
  /** A write conditioned on a column it sets or on a version column. */
  compareAndSet?: boolean;
  transaction?: TransactionControl;
  unkeyed?: UnkeyedReason;
}

/** A parameter as a `db_query` event carries it (`name`: a named one), or a bare digest. */
export type SqlParam = { digest: string; value?: unknown; name?: string } | string;

/** An operand: the n-th parameter (0-based) or a literal's canonical form. */
type Operand = { param: number } | { literal: string };

interface TemplateAccess {
  table: string;
  key: Array<[string, Operand]>;
  column: string;
  write: boolean;
  atomic: boolean;
  value?: Operand;
  returnedAs?: string;
}

/** What one statement text means, independently of its parameters: what the cache keeps. */
interface Template {
  accesses: TemplateAccess[];
  lock?: 'update' | 'share';
  compareAndSet?: boolean;
  transaction?: TransactionControl;
  unkeyed?: UnkeyedReason;
  /** The names of the statement's named placeholders, in order of first use (NAMED_BASE). */
  paramNames?: string[];
}

class UnkeyedError extends Error {
  constructor(readonly reason: UnkeyedReason) {
    super(reason);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the parser's AST is untyped JSON
type Node = any;

const require = createRequire(import.meta.url);
const parsers = new Map<string, { astify(sql: string, opt: object): Node }>();

/** The parser of one dialect, its grammar loaded on first use. */
function parserOf(dialect: 'postgresql' | 'mysql' | 'sqlite') {
  let parser = parsers.get(dialect);
  if (parser === undefined) {
    const { Parser } = require(`node-sql-parser/build/${dialect}.js`) as {
      Parser: new () => { astify(sql: string, opt: object): Node };
    };
    parser = new Parser();
    parsers.set(dialect, parser);
  }
  return parser;
}

const CACHE_SIZE = 2000;
const cache = new Map<string, Template>();

/** The template of a statement, from a bounded LRU keyed by dialect and text. */
function templateOf(system: SqlSystem, statement: string): Template {
  const cacheKey = `${system}\u0000${statement}`;
  const hit = cache.get(cacheKey);
  if (hit !== undefined) {
    cache.delete(cacheKey);
    cache.set(cacheKey, hit);
    return hit;
  }
  let template: Template;
  try {
    template = analyse(system, statement);
  } catch (error) {
    if (!(error instanceof UnkeyedError)) throw error;
    template = { accesses: [], unkeyed: error.reason };
  }
  cache.set(cacheKey, template);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return template;
}

/**
 * The accesses of one statement with its parameters' digests. Literals in the text are digested
 * with `digestKey` (the services' `RACEWAY_DIGEST_KEY`).
 *
 * @example
 * statementAccesses('postgresql', 'UPDATE products SET stock = stock - 1 WHERE id = $1', [d42]);
 * // { accesses: [{ table: 'products', row: 'products[id=<d42>]', column: 'stock', write: true,
 * //                atomic: true, ... }] }
 */
export function statementAccesses(
  system: SqlSystem,
  statement: string,
  params: readonly SqlParam[] = [],
  options: { digestKey?: string; truncated?: boolean } = {},
): StatementAnalysis {
  if (options.truncated) return { accesses: [], unkeyed: 'truncated' };
  const template = templateOf(system, statement);
  const digestKey = options.digestKey ?? DEFAULT_DIGEST_KEY;
  const out: StatementAnalysis = { accesses: [] };
  if (template.lock) out.lock = template.lock;
  if (template.compareAndSet) out.compareAndSet = true;
  if (template.transaction) out.transaction = template.transaction;
  if (template.unkeyed) out.unkeyed = template.unkeyed;
  const literals = new Map<string, string>();
  const digest = (operand: Operand): string | undefined => {
    if ('param' in operand) {
      const param =
        operand.param >= NAMED_BASE
          ? namedParam(params, template.paramNames?.[operand.param - NAMED_BASE])
          : params[operand.param];
      return typeof param === 'string' ? param : param?.digest;
    }
    let d = literals.get(operand.literal);
    if (d === undefined) {
      d = digestOf(operand.literal, digestKey);
      literals.set(operand.literal, d);
    }
    return d;
  };
  for (const t of template.accesses) {
    const key: Record<string, string> = {};
    for (const [column, operand] of t.key) {
      const d = digest(operand);
      if (d === undefined) return { accesses: [], unkeyed: 'missing_param' };
      key[column] = d;
    }
    const row = rowName(t.table, key);
    const access: StatementAccess = {
      table: t.table,
      key,
      row,
      column: t.column,
      resource: t.column === '*' ? row : `${row}.${t.column}`,
      write: t.write,
      atomic: t.atomic,
    };
    if (t.value !== undefined) {
      const d = digest(t.value);
      if (d !== undefined) access.value = d;
    }
    if (t.returnedAs !== undefined) access.returnedAs = t.returnedAs;
    out.accesses.push(access);
  }
  return out;
}

/** The parameter sent under `name` (drivers give names without their `:`, `@`, `$`). */
function namedParam(params: readonly SqlParam[], name: string | undefined): SqlParam | undefined {
  if (name === undefined) return undefined;
  return params.find((p) => typeof p === 'object' && p.name === name);
}

/** `products[id=<digest>]`, key columns sorted. */
export function rowName(table: string, key: Record<string, string>): string {
  const parts = Object.keys(key)
    .sort()
    .map((c) => `${c}=${key[c]}`);
  return `${table}[${parts.join(',')}]`;
}

// ---------------------------------------------------------------------------------------------
// Statement text -> template

function analyse(system: SqlSystem, statement: string): Template {
  const tokens = lex(statement);
  if (tokens === null) throw new UnkeyedError('unparseable');
  const meaningful = trimSemicolons(tokens);
  if (meaningful.length === 0) return { accesses: [] };
  const transaction = transactionControl(meaningful);
  if (transaction !== undefined) {
    return transaction === null ? { accesses: [] } : { accesses: [], transaction };
  }
  const { lock, rest } = lockingClause(meaningful);
  const { ast, names } = parse(system, statement, rest);
  const template = fromAst(ast);
  if (lock) template.lock = lock;
  if (names.length > 0) template.paramNames = names;
  return template;
}

function trimSemicolons(tokens: Token[]): Token[] {
  let end = tokens.length;
  while (end > 0 && tokens[end - 1]!.text === ';') end--;
  return tokens.slice(0, end);
}

const ISOLATIONS: Array<[string[], Isolation]> = [
  [['READ', 'UNCOMMITTED'], 'read uncommitted'],
  [['READ', 'COMMITTED'], 'read committed'],
  [['REPEATABLE', 'READ'], 'repeatable read'],
  [['SERIALIZABLE'], 'serializable'],
  [['SNAPSHOT'], 'repeatable read'],
];

function isolationIn(tokens: readonly Token[]): Isolation | undefined {
  for (let i = 0; i + 1 < tokens.length; i++) {
    if (!wordsAt(tokens, i, 'ISOLATION', 'LEVEL')) continue;
    for (const [words, level] of ISOLATIONS) if (wordsAt(tokens, i + 2, ...words)) return level;
  }
  return undefined;
}

/**
 * Transaction control, read from its keywords: a `TransactionControl`, null for a statement
 * about transactions that changes nothing here (`SAVEPOINT`, `ROLLBACK TO`), undefined for any
 * other statement.
 */
function transactionControl(tokens: readonly Token[]): TransactionControl | null | undefined {
  const first = tokens[0]!;
  if (first.type !== 'word') return undefined;
  const isolation = isolationIn(tokens);
  const withIsolation = (t: TransactionControl): TransactionControl =>
    isolation ? { ...t, isolation } : t;
  switch (first.text) {
    case 'BEGIN': {
      // PL/pgSQL blocks (`BEGIN ... END` in a DO body) are inside strings; a bare BEGIN
      // followed by other words than these is not transaction control.
      const next = tokens[1];
      const mode =
        next?.text === 'IMMEDIATE'
          ? 'immediate'
          : next?.text === 'EXCLUSIVE'
            ? 'exclusive'
            : next?.text === 'DEFERRED'
              ? 'deferred'
              : undefined;
      return withIsolation(mode ? { action: 'begin', mode } : { action: 'begin' });
    }
    case 'START':
      return wordsAt(tokens, 1, 'TRANSACTION') ? withIsolation({ action: 'begin' }) : undefined;
    case 'COMMIT':
    case 'END':
      return tokens.length <= 4 ? { action: 'commit' } : undefined;
    case 'ROLLBACK':
    case 'ABORT':
      return tokens.some((t) => t.type === 'word' && t.text === 'TO')
        ? null
        : { action: 'rollback' };
    case 'SAVEPOINT':
    case 'RELEASE':
      return null;
    case 'SET': {
      const at = tokens.findIndex((t) => t.type === 'word' && t.text === 'TRANSACTION');
      if (at < 0 || isolation === undefined) return undefined;
      const session = tokens
        .slice(1, at)
        .some((t) => t.text === 'SESSION' || t.text === 'GLOBAL' || t.text === 'CHARACTERISTICS');
      return { action: 'set_isolation', isolation, scope: session ? 'session' : 'transaction' };
    }
    default:
      return undefined;
  }
}

/** A trailing `FOR UPDATE | FOR NO KEY UPDATE | FOR SHARE | FOR KEY SHARE | LOCK IN SHARE MODE`. */
function lockingClause(tokens: Token[]): { lock?: 'update' | 'share'; rest: Token[] } {
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    if (depth !== 0 || t.type !== 'word') continue;
    let lock: 'update' | 'share' | undefined;
    if (wordsAt(tokens, i, 'FOR', 'UPDATE') || wordsAt(tokens, i, 'FOR', 'NO', 'KEY', 'UPDATE')) {
      lock = 'update';
    } else if (
      wordsAt(tokens, i, 'FOR', 'SHARE') ||
      wordsAt(tokens, i, 'FOR', 'KEY', 'SHARE') ||
      wordsAt(tokens, i, 'LOCK', 'IN', 'SHARE', 'MODE')
    ) {
      lock = 'share';
    }
    if (lock === undefined) continue;
    // The clause runs to the end (OF tables, NOWAIT, SKIP LOCKED, more clauses).
    const tail = tokens.slice(i);
    if (
      tail.every((x) => x.type === 'word' || x.type === 'ident' || x.text === ',' || x.text === '.')
    ) {
      return { lock, rest: tokens.slice(0, i) };
    }
  }
  return { rest: tokens };
}

/**
 * Parses the statement (without its locking clause), `?` placeholders renumbered. SQLite text
 * the SQLite grammar rejects is tried with the PostgreSQL grammar (upserts).
 */
function parse(
  system: SqlSystem,
  statement: string,
  tokens: readonly Token[],
): { ast: Node; names: string[] } {
  const attempts: Array<'postgresql' | 'mysql' | 'sqlite'> =
    system === 'sqlite' ? ['sqlite', 'postgresql'] : [system];
  for (const dialect of attempts) {
    const { text, names } = rewritePlaceholders(statement, tokens, dialect);
    let ast: Node;
    try {
      ast = parserOf(dialect).astify(text, { database: dialect });
    } catch {
      continue;
    }
    if (Array.isArray(ast)) {
      if (ast.length !== 1) throw new UnkeyedError('multiple_statements');
      ast = ast[0];
    }
    return { ast, names };
  }
  throw new UnkeyedError('unparseable');
}

/**
 * Numbers the parameters the parser sees for named placeholders: `:__p<NAMED_BASE + k>` is the
 * k-th name of the statement, looked up by name in the event's parameters.
 */
const NAMED_BASE = 100_000;

/**
 * The statement text up to its last token, with every placeholder as the parser reads it:
 * `$N` for PostgreSQL, `:__pN` for the others. `?` and `%s` are numbered in text order; named
 * placeholders get a number past NAMED_BASE each, one per distinct name (in `names`).
 */
function rewritePlaceholders(
  statement: string,
  tokens: readonly Token[],
  dialect: string,
): { text: string; names: string[] } {
  const names: string[] = [];
  if (tokens.length === 0) return { text: '', names };
  let out = '';
  let at = tokens[0]!.start;
  let next = 1;
  for (const [i, t] of tokens.entries()) {
    if (t.type === 'punct' && t.text === '%%') {
      out += `${statement.slice(at, t.start)}%`;
      at = t.end;
      continue;
    }
    if (t.type !== 'param') continue;
    let n: number;
    const named = placeholderName(t);
    if (named !== undefined) {
      let k = names.indexOf(named);
      if (k < 0) k = names.push(named) - 1;
      n = NAMED_BASE + k + 1;
    } else if (t.text.startsWith('?')) n = t.text.length > 1 ? Number(t.text.slice(1)) : next++;
    else if (t.text === '%s') n = next++;
    else n = Number(t.text.slice(1));
    let param = dialect === 'postgresql' ? `$${n}` : `:__p${n}`;
    // The PostgreSQL grammar takes `($1)::int` but not `$1::int`.
    if (tokens[i + 1]?.text === ':' && tokens[i + 2]?.text === ':') param = `(${param})`;
    out += statement.slice(at, t.start) + param;
    at = t.end;
  }
  return { text: out + statement.slice(at, tokens[tokens.length - 1]!.end), names };
}

// ---------------------------------------------------------------------------------------------
// AST -> template

const VERSION_COLUMN =
  /^(version|.+_version|version_.+|lock_version|rev|revision|etag|row_version)$/;

/** Whether a column name reads as a version counter (compare-and-set on it is atomic). */
export function isVersionColumn(column: string): boolean {
  return VERSION_COLUMN.test(column);
}

function fromAst(ast: Node): Template {
  switch (ast?.type) {
    case 'select':
      return fromSelect(ast);
    case 'update':
      return fromUpdate(ast);
    case 'delete':
      return fromDelete(ast);
    case 'insert':
      return fromInsert(ast);
    case 'replace':
      throw new UnkeyedError('no_key');
    default:
      return { accesses: [] };
  }
}

function name(value: Node): string {
  if (typeof value === 'string') return value.toLowerCase();
  if (value && typeof value === 'object') {
    if ('expr' in value) return name(value.expr);
    if ('value' in value) return name(value.value);
  }
  return String(value).toLowerCase();
}

interface Target {
  table: string;
  /** Names a column reference may qualify this table with. */
  names: Set<string>;
}

/** The one table a statement works on; joins and derived tables are not keyed. */
function singleTable(from: Node): Target {
  if (!Array.isArray(from) || from.length === 0) throw new UnkeyedError('no_key');
  if (from.length > 1) throw new UnkeyedError('join');
  const t = from[0];
  if (t.expr?.ast || typeof t.table !== 'string') throw new UnkeyedError('subquery');
  const table = t.table.toLowerCase();
  const names = new Set([table]);
  if (t.as) names.add(String(t.as).toLowerCase());
  return { table, names };
}

function isSubquery(node: Node): boolean {
  return node !== null && typeof node === 'object' && ('ast' in node || node.type === 'select');
}

/** Walks an expression: column references, and whether a subquery is inside. */
function columnRefs(node: Node, out: Array<{ table: string | null; column: string }> = []) {
  if (node === null || typeof node !== 'object') return out;
  if (isSubquery(node)) throw new UnkeyedError('subquery');
  if (Array.isArray(node)) {
    for (const n of node) columnRefs(n, out);
    return out;
  }
  if (node.type === 'column_ref') {
    out.push({
      table: node.table ? String(node.table).toLowerCase() : null,
      column: name(node.column),
    });
    return out;
  }
  if (node.type === 'star') {
    out.push({ table: null, column: '*' });
    return out;
  }
  for (const key of Object.keys(node)) {
    if (key === 'loc') continue;
    columnRefs(node[key], out);
  }
  return out;
}

/** A parameter or literal, or undefined for any other expression. */
function operandOf(node: Node): Operand | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  switch (node.type) {
    case 'var':
      return node.prefix === '$' && typeof node.name === 'number'
        ? { param: node.name - 1 }
        : undefined;
    case 'param': {
      const m =
        typeof node.value === 'string' && node.value.startsWith('__p')
          ? Number(node.value.slice(3))
          : Number.NaN;
      return Number.isInteger(m) && m > 0 ? { param: m - 1 } : undefined;
    }
    case 'number': {
      const c = canonicalNumber(node.value);
      return c === null ? undefined : { literal: c };
    }
    case 'single_quote_string':
    case 'string':
    case 'natural_string':
      return { literal: `s:${String(node.value).replaceAll("''", "'")}` };
    case 'bool':
    case 'boolean':
      return {
        literal: canonicalValue(
          node.value === true || node.value === 'TRUE' || node.value === 'true',
        ),
      };
    case 'null':
      return { literal: 'n' };
    case 'cast':
      return operandOf(node.expr);
    case 'unary_expr':
      if (node.operator === '-' && node.expr?.type === 'number') {
        const c = canonicalNumber(`-${node.expr.value}`);
        return c === null ? undefined : { literal: c };
      }
      return undefined;
    default:
      return undefined;
  }
}

interface Where {
  /** Equality predicates `column = operand`. */
  equalities: Array<[string, Operand]>;
  /** Every column a conjunct mentions. */
  conditioned: Set<string>;
}

/** The conjuncts of a WHERE clause. */
function whereOf(where: Node, target: Target): Where {
  const out: Where = { equalities: [], conditioned: new Set() };
  if (where === null || where === undefined) return out;
  const conjuncts: Node[] = [];
  const flatten = (n: Node) => {
    if (n?.type === 'binary_expr' && String(n.operator).toUpperCase() === 'AND') {
      flatten(n.left);
      flatten(n.right);
    } else {
      conjuncts.push(n);
    }
  };
  flatten(where);
  for (const c of conjuncts) {
    const refs = columnRefs(c);
    for (const r of refs) {
      if (r.table !== null && !target.names.has(r.table)) throw new UnkeyedError('join');
      out.conditioned.add(r.column);
    }
    if (c?.type === 'binary_expr' && c.operator === '=') {
      const [col, value] =
        c.left?.type === 'column_ref'
          ? [c.left, c.right]
          : c.right?.type === 'column_ref'
            ? [c.right, c.left]
            : [null, null];
      const operand = col ? operandOf(value) : undefined;
      if (col && operand) out.equalities.push([name(col.column), operand]);
    }
  }
  return out;
}

/** The key of a statement: equalities on columns neither set nor version-like. */
function keyOf(
  where: Where,
  setColumns: ReadonlySet<string>,
  hadWhere: boolean,
): Array<[string, Operand]> {
  const seen = new Set<string>();
  const key: Array<[string, Operand]> = [];
  for (const [column, operand] of where.equalities) {
    if (setColumns.has(column) || isVersionColumn(column) || seen.has(column)) continue;
    seen.add(column);
    key.push([column, operand]);
  }
  if (key.length === 0) throw new UnkeyedError(hadWhere ? 'range' : 'no_key');
  return key;
}

function fromSelect(ast: Node): Template {
  if (ast.with) throw new UnkeyedError('subquery');
  if (ast._next || ast.set_op) throw new UnkeyedError('compound');
  if (!ast.from) return { accesses: [] };
  const target = singleTable(ast.from);
  const where = whereOf(ast.where, target);
  const key = keyOf(where, new Set(), Boolean(ast.where));
  const columns = new Map<string, string | undefined>();
  const items = ast.columns === '*' ? [{ expr: { type: 'column_ref', column: '*' } }] : ast.columns;
  for (const item of Array.isArray(items) ? items : []) {
    const refs = columnRefs(item.expr);
    for (const r of refs) {
      if (r.table !== null && !target.names.has(r.table)) throw new UnkeyedError('join');
    }
    const single =
      refs.length === 1 && item.expr?.type === 'column_ref' ? refs[0]!.column : undefined;
    const alias = item.as ? name(item.as) : single;
    for (const r of refs) {
      if (!columns.has(r.column)) columns.set(r.column, r.column === single ? alias : undefined);
    }
    if (refs.length === 0 && item.expr?.type === 'aggr_func') columns.set('*', undefined);
  }
  if (columns.size === 0) columns.set('*', undefined);
  const accesses: TemplateAccess[] = [];
  for (const [column, returnedAs] of columns) {
    const access: TemplateAccess = {
      table: target.table,
      key,
      column,
      write: false,
      atomic: false,
    };
    if (returnedAs !== undefined && column !== '*') access.returnedAs = returnedAs;
    accesses.push(access);
  }
  return { accesses };
}

interface SetItem {
  column: string;
  value: Node;
}

function setItems(set: Node): SetItem[] {
  return (Array.isArray(set) ? set : []).map((s: Node) => ({
    column: name(s.column),
    value: s.value,
  }));
}

/**
 * Writes of SET items. A value that reads only the row itself (`c = c - 1`, `t.c + $1`) is
 * atomic; a parameter or literal is a plain write of that value; `insertedRef` resolves
 * `EXCLUDED.c` / `VALUES(c)` to the value inserted.
 */
function writes(
  target: Target,
  items: readonly SetItem[],
  key: Array<[string, Operand]>,
  compareAndSet: boolean,
  inserted?: (node: Node) => Operand | undefined | null,
): TemplateAccess[] {
  return items.map(({ column, value }) => {
    const access: TemplateAccess = {
      table: target.table,
      key,
      column,
      write: true,
      atomic: compareAndSet,
    };
    const direct = operandOf(value) ?? inserted?.(value) ?? undefined;
    if (direct !== undefined) {
      access.value = direct;
      return access;
    }
    const refs = columnRefs(value);
    const own = refs.filter((r) => r.table === null || target.names.has(r.table));
    const excluded = refs.filter((r) => r.table === 'excluded' || r.table === 'new');
    if (own.length + excluded.length !== refs.length) throw new UnkeyedError('join');
    if (own.length > 0) access.atomic = true;
    return access;
  });
}

function fromUpdate(ast: Node): Template {
  if (ast.from && (!Array.isArray(ast.from) || ast.from.length > 0)) throw new UnkeyedError('join');
  const target = singleTable(ast.table);
  const items = setItems(ast.set);
  const setColumns = new Set(items.map((s) => s.column));
  const where = whereOf(ast.where, target);
  const key = keyOf(where, setColumns, Boolean(ast.where));
  const compareAndSet = [...where.conditioned].some((c) => setColumns.has(c) || isVersionColumn(c));
  const accesses = writes(target, items, key, compareAndSet);
  return compareAndSet ? { accesses, compareAndSet } : { accesses };
}

function fromDelete(ast: Node): Template {
  const target = singleTable(ast.from ?? ast.table);
  if (Array.isArray(ast.table) && ast.table.length > 1) throw new UnkeyedError('join');
  const where = whereOf(ast.where, target);
  const key = keyOf(where, new Set(), Boolean(ast.where));
  const compareAndSet = [...where.conditioned].some(isVersionColumn);
  const access: TemplateAccess = {
    table: target.table,
    key,
    column: '*',
    write: true,
    atomic: compareAndSet,
  };
  return compareAndSet ? { accesses: [access], compareAndSet } : { accesses: [access] };
}

function fromInsert(ast: Node): Template {
  const target = singleTable(ast.table);
  const conflict = ast.conflict;
  const duplicate = ast.on_duplicate_update;
  const upsert = conflict?.action?.expr?.type === 'update' || duplicate;
  // A plain insert (or ON CONFLICT DO NOTHING) creates a row: nothing it could lose.
  if (!upsert) return { accesses: [] };
  const columns: string[] = (Array.isArray(ast.columns) ? ast.columns : []).map(name);
  const rows = ast.values?.type === 'values' ? ast.values.values : null;
  if (!Array.isArray(rows)) throw new UnkeyedError('subquery');
  if (rows.length !== 1) throw new UnkeyedError('multi_row');
  const values: Node[] = rows[0].value ?? [];
  const insertedOf = (column: string): Operand | undefined => {
    const at = columns.indexOf(column);
    return at < 0 ? undefined : operandOf(values[at]);
  };
  // EXCLUDED.c (PostgreSQL, SQLite) and VALUES(c) (MySQL): the value inserted.
  const inserted = (node: Node): Operand | undefined | null => {
    if (node?.type === 'column_ref' && String(node.table).toLowerCase() === 'excluded') {
      return insertedOf(name(node.column));
    }
    if (node?.type === 'function' && name(node.name?.name?.[0] ?? node.name) === 'values') {
      const arg = node.args?.value?.[0];
      return arg?.type === 'column_ref' ? insertedOf(name(arg.column)) : null;
    }
    return null;
  };
  let items: SetItem[];
  let keyColumns: string[];
  let compareAndSet = false;
  if (conflict) {
    items = setItems(conflict.action.expr.set);
    const targetCols = conflict.target?.expr;
    if (!Array.isArray(targetCols) || targetCols.length === 0) throw new UnkeyedError('no_key');
    keyColumns = targetCols.map((c: Node) => name(c.column ?? c));
    if (conflict.action.expr.where) compareAndSet = true;
  } else {
    items = setItems(duplicate.set);
    const set = new Set(items.map((s) => s.column));
    // MySQL names no key: the columns inserted and not updated are the unique key's.
    keyColumns = columns.filter((c) => !set.has(c) && !isVersionColumn(c));
  }
  const key: Array<[string, Operand]> = [];
  for (const column of keyColumns) {
    const operand = insertedOf(column);
    if (operand === undefined) throw new UnkeyedError('no_key');
    key.push([column, operand]);
  }
  if (key.length === 0) throw new UnkeyedError('no_key');
  const accesses = writes(target, items, key, compareAndSet, inserted);
  return compareAndSet ? { accesses, compareAndSet } : { accesses };
}

/** Drops every cached parse (tests). */
export function clearStatementCache(): void {
  cache.clear();
}

export { canonicalValue };
