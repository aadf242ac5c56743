import { ownEpoch } from '../clock.js';
import { getOrCreate } from '../collections.js';
import type { Event } from '../event.js';
import { canonicalValue, DEFAULT_DIGEST_KEY, digestOf } from './sql-digest.js';
import {
  type Isolation,
  type SqlParam,
  type SqlSystem,
  type StatementAccess,
  type StatementAnalysis,
  statementAccesses,
  type UnkeyedReason,
} from './statement-accesses.js';

/** How the collector reads `db_query` events (collector options). */
export interface SqlAnalysisOptions {
  /** The services' `RACEWAY_DIGEST_KEY`, to digest literals in statement text. */
  digestKey?: string;
  /**
   * The isolation level of a transaction that names none, per system. Defaults: PostgreSQL
   * read committed, MySQL repeatable read (which does not stop a lost update of a plain SELECT
   * then UPDATE), SQLite read committed: a deferred `BEGIN` protects nothing here, only
   * `BEGIN IMMEDIATE` / `EXCLUSIVE` take the database's write lock. Set `sqlite: 'serializable'`
   * to count deferred SQLite transactions as serialised (SQLite fails the second writer with
   * SQLITE_BUSY rather than lose its update).
   */
  isolation?: Partial<Record<SqlSystem, Isolation>>;
}

export const DEFAULT_ISOLATION: Record<SqlSystem, Isolation> = {
  postgresql: 'read committed',
  mysql: 'repeatable read',
  sqlite: 'read committed',
};

/** One access of a `db_query` event, with the database locks its transaction held at it. */
export interface SqlEventAccess {
  resource: string;
  row: string;
  column: string;
  write: boolean;
  atomic: boolean;
  /** Read: the digest the statement returned for the column; write: the digest assigned. */
  value?: string;
  /** Locks held (row locks by row name, serialising transaction locks), sorted. */
  locks: string[];
  /** One token per lock and acquisition (`lock\0n`). */
  holds: string[];
}

export interface SqlAccesses {
  byEvent: Map<Event, SqlEventAccess[]>;
  /** `db_query` events seen. */
  statements: number;
  /** Statements that read or wrote rows it could not key (left out), by reason. */
  unkeyed: Partial<Record<UnkeyedReason, number>>;
  unkeyedCount: number;
}

const SYSTEMS = new Set<string>(['postgresql', 'mysql', 'sqlite']);

interface Transaction {
  isolation: Isolation;
  /** Lock name -> hold token, in acquisition order. */
  locks: Map<string, string>;
}

interface Connection {
  transaction: Transaction | null;
  /** `SET TRANSACTION` outside a transaction: the next one's isolation. */
  next?: Isolation;
  /** `SET SESSION TRANSACTION ...`: the connection's default. */
  session?: Isolation;
}

let holdSeq = 0;

/**
 * The accesses of the `db_query` events among `events` (DESIGN 11). Transactions are followed
 * per connection (instance and `connection`, in time order): inside one, a `FOR UPDATE` /
 * `FOR SHARE` read takes a lock named by the row, held by every later access of the
 * transaction until COMMIT or ROLLBACK; a transaction the database serialises (SQLite
 * `BEGIN IMMEDIATE`/`EXCLUSIVE`; SERIALIZABLE; PostgreSQL REPEATABLE READ, which fails the
 * second of two concurrent read-modify-writes of a row) holds a lock named by the database for
 * its whole length. Autocommit statements hold nothing. A failed statement accessed nothing.
 *
 * A row-level access (`SELECT count(*)`, `DELETE`) also stands for every column of that row
 * the other statements name, so it conflicts with them.
 */
export function sqlAccesses(
  events: readonly Event[],
  options: SqlAnalysisOptions = {},
): SqlAccesses {
  const out: SqlAccesses = { byEvent: new Map(), statements: 0, unkeyed: {}, unkeyedCount: 0 };
  const byConnection = new Map<string, Event[]>();
  for (const event of events) {
    if (event.kind !== 'db_query') continue;
    const { system, statement, connection } = event.data;
    if (typeof system !== 'string' || !SYSTEMS.has(system) || typeof statement !== 'string')
      continue;
    const conn = typeof connection === 'string' ? connection : '';
    getOrCreate(byConnection, `${event.instance}\u0000${conn}`, () => []).push(event);
  }
  const columnsOfRow = new Map<string, Set<string>>();
  for (const list of byConnection.values()) {
    // One context's statements in its program order; different contexts by time.
    list.sort(
      (a, b) =>
        (a.component === b.component ? ownEpoch(a) - ownEpoch(b) : 0) ||
        a.ts_us - b.ts_us ||
        ownEpoch(a) - ownEpoch(b) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    const conn: Connection = { transaction: null };
    for (const event of list) {
      out.statements++;
      const analysis = analyse(event, options);
      if (analysis.unkeyed !== undefined) {
        out.unkeyed[analysis.unkeyed] = (out.unkeyed[analysis.unkeyed] ?? 0) + 1;
        out.unkeyedCount++;
      }
      const failed = event.data.error !== undefined && event.data.error !== null;
      if (analysis.transaction !== undefined) {
        if (!failed || analysis.transaction.action !== 'begin')
          control(conn, event, analysis, options);
        continue;
      }
      if (failed || analysis.accesses.length === 0) continue;
      const list2 = accessesOf(event, analysis, conn);
      for (const a of list2) {
        if (a.column !== '*') getOrCreate(columnsOfRow, a.row, () => new Set()).add(a.column);
      }
      out.byEvent.set(event, list2);
    }
  }
  // Row-level accesses stand for every column of the row named elsewhere.
  for (const [event, list] of out.byEvent) {
    if (!list.some((a) => a.column === '*')) continue;
    const seen = new Set(list.map((a) => a.resource));
    const extra: SqlEventAccess[] = [];
    for (const a of list) {
      if (a.column !== '*') continue;
      for (const column of columnsOfRow.get(a.row) ?? []) {
        const resource = `${a.row}.${column}`;
        if (seen.has(resource)) continue;
        seen.add(resource);
        extra.push({ ...a, column, resource });
      }
    }
    if (extra.length > 0) out.byEvent.set(event, [...list, ...extra]);
  }
  return out;
}

function analyse(event: Event, options: SqlAnalysisOptions): StatementAnalysis {
  const params = Array.isArray(event.data.params)
    ? (event.data.params as unknown[]).map((p): SqlParam => {
        if (p === null || typeof p !== 'object') return '';
        const { digest, name } = p as { digest?: unknown; name?: unknown };
        if (typeof digest !== 'string') return '';
        return typeof name === 'string' ? { digest, name } : { digest };
      })
    : [];
  const opts: { digestKey?: string; truncated?: boolean } = {};
  if (options.digestKey !== undefined) opts.digestKey = options.digestKey;
  if (event.data.statement_truncated === true) opts.truncated = true;
  return statementAccesses(
    event.data.system as SqlSystem,
    event.data.statement as string,
    params,
    opts,
  );
}

function serialised(system: SqlSystem, isolation: Isolation, mode: string | undefined): boolean {
  switch (system) {
    case 'sqlite':
      return mode === 'immediate' || mode === 'exclusive' || isolation === 'serializable';
    case 'postgresql':
      return isolation === 'repeatable read' || isolation === 'serializable';
    default:
      return isolation === 'serializable';
  }
}

/** The lock a serialised transaction holds: the database's. */
function databaseLock(system: SqlSystem, event: Event): string {
  const database = typeof event.data.database === 'string' ? event.data.database : 'default';
  return system === 'sqlite'
    ? `sqlite database ${database} (write lock)`
    : `${system} database ${database} (serialised transactions)`;
}

function control(
  conn: Connection,
  event: Event,
  analysis: StatementAnalysis,
  options: SqlAnalysisOptions,
): void {
  const t = analysis.transaction!;
  const system = event.data.system as SqlSystem;
  switch (t.action) {
    case 'begin': {
      const isolation =
        t.isolation ??
        conn.next ??
        conn.session ??
        options.isolation?.[system] ??
        DEFAULT_ISOLATION[system];
      conn.next = undefined;
      conn.transaction = { isolation, locks: new Map() };
      if (serialised(system, isolation, t.mode)) {
        const lock = databaseLock(system, event);
        conn.transaction.locks.set(lock, `${lock}\u0000${++holdSeq}`);
      }
      break;
    }
    case 'commit':
    case 'rollback':
      conn.transaction = null;
      break;
    case 'set_isolation':
      if (t.scope === 'session') conn.session = t.isolation;
      else if (conn.transaction !== null) {
        conn.transaction.isolation = t.isolation!;
        if (serialised(system, t.isolation!, undefined)) {
          const lock = databaseLock(system, event);
          if (!conn.transaction.locks.has(lock)) {
            conn.transaction.locks.set(lock, `${lock}\u0000${++holdSeq}`);
          }
        }
      } else conn.next = t.isolation;
      break;
  }
}

function accessesOf(event: Event, analysis: StatementAnalysis, conn: Connection): SqlEventAccess[] {
  const tx = conn.transaction;
  if (tx !== null && analysis.lock !== undefined) {
    for (const a of analysis.accesses) {
      if (!tx.locks.has(a.row)) tx.locks.set(a.row, `${a.row}\u0000${++holdSeq}`);
    }
  }
  const locks = tx === null ? [] : [...tx.locks.keys()].sort();
  const holds = locks.map((l) => tx!.locks.get(l)!);
  const returned = Array.isArray(event.data.returned) ? event.data.returned[0] : undefined;
  const firstRow =
    returned !== null && typeof returned === 'object'
      ? (returned as Record<string, unknown>)
      : undefined;
  const out: SqlEventAccess[] = [];
  const seen = new Set<string>();
  const push = (
    a: StatementAccess,
    column: string,
    resource: string,
    value: string | undefined,
  ) => {
    if (seen.has(resource)) return;
    seen.add(resource);
    const access: SqlEventAccess = {
      resource,
      row: a.row,
      column,
      write: a.write,
      atomic: a.atomic,
      locks,
      holds,
    };
    if (value !== undefined) access.value = value;
    out.push(access);
  };
  for (const a of analysis.accesses) {
    if (a.write) {
      push(a, a.column, a.resource, a.value);
    } else if (a.column === '*' && firstRow !== undefined && Object.keys(firstRow).length > 0) {
      // SELECT *: the columns the first row returned.
      for (const [column, digest] of Object.entries(firstRow)) {
        const c = column.toLowerCase();
        push(a, c, `${a.row}.${c}`, typeof digest === 'string' ? digest : undefined);
      }
    } else {
      const digest = firstRow?.[a.returnedAs ?? a.column];
      push(a, a.column, a.resource, typeof digest === 'string' ? digest : undefined);
    }
  }
  return out;
}

/**
 * The resources a `db_query` event reads or writes, without its transaction: what an index of
 * accesses by resource (the cross-trace windows) files the event under. The cross-trace pass
 * then needs, besides the accesses of a resource, the transaction control statements of their
 * connections (as it needs the lock events of their contexts).
 *
 * @example
 * sqlResourcesOf(event); // ['products[id=73eb651a20385a68].stock']
 */
export function sqlResourcesOf(event: Event, options: SqlAnalysisOptions = {}): string[] {
  if (event.kind !== 'db_query') return [];
  const { system, statement } = event.data;
  if (typeof system !== 'string' || !SYSTEMS.has(system) || typeof statement !== 'string')
    return [];
  if (event.data.error !== undefined && event.data.error !== null) return [];
  const analysis = analyse(event, options);
  return accessesOf(event, analysis, { transaction: null }).map((a) => a.resource);
}

/**
 * The connection a `db_query` event ran on (`<instance>\0<connection>`), the unit
 * {@link sqlAccesses} follows transactions per; null for other events.
 */
export function sqlConnectionOf(event: Event): string | null {
  if (event.kind !== 'db_query') return null;
  const { connection } = event.data;
  return `${event.instance}\u0000${typeof connection === 'string' ? connection : ''}`;
}

/**
 * Whether a `db_query` event is one the transactions of its connection depend on: BEGIN,
 * COMMIT, ROLLBACK, SET TRANSACTION, or a row-locking read (`FOR UPDATE` / `FOR SHARE`). The
 * cross-trace pass needs these of every connection whose accesses it reads (as it needs the
 * lock events of their contexts).
 */
export function isSqlTransactionStatement(event: Event, options: SqlAnalysisOptions = {}): boolean {
  if (event.kind !== 'db_query') return false;
  const { system, statement } = event.data;
  if (typeof system !== 'string' || !SYSTEMS.has(system) || typeof statement !== 'string')
    return false;
  const analysis = analyse(event, options);
  return analysis.transaction !== undefined || analysis.lock !== undefined;
}

/** Raw parameter values the services chose to send (`capture_values`), by digest. */
export function rawValuesByDigest(events: readonly Event[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const event of events) {
    if (event.kind !== 'db_query' || !Array.isArray(event.data.params)) continue;
    for (const p of event.data.params as unknown[]) {
      if (p === null || typeof p !== 'object' || !('value' in p)) continue;
      const { digest, value } = p as { digest?: unknown; value: unknown };
      if (typeof digest === 'string') out.set(digest, value);
    }
  }
  return out;
}

/**
 * A resource as people read it: each digest of its row key shown as the raw value when a
 * service sent it, otherwise as its last four hex digits (`products[id=…5a68].stock`). For
 * display only: resources are matched by their full digests.
 *
 * @example
 * resourceLabel('products[id=73eb651a20385a68].stock'); // 'products[id=…5a68].stock'
 * resourceLabel('products[id=73eb651a20385a68].stock', new Map([['73eb651a20385a68', 42]]));
 * // 'products[id=42].stock'
 */
export function resourceLabel(
  resource: string,
  raw: ReadonlyMap<string, unknown> = new Map(),
): string {
  const open = resource.indexOf('[');
  const close = resource.lastIndexOf(']');
  if (open < 0 || close < open) return resource;
  const parts = resource
    .slice(open + 1, close)
    .split(',')
    .map((part) => {
      const eq = part.lastIndexOf('=');
      const digest = part.slice(eq + 1);
      if (eq < 0 || !/^[0-9a-f]{16}$/.test(digest)) return part;
      const shown = raw.has(digest) ? JSON.stringify(raw.get(digest)) : `…${digest.slice(-4)}`;
      return `${part.slice(0, eq)}=${shown}`;
    });
  return `${resource.slice(0, open)}[${parts.join(',')}]${resource.slice(close + 1)}`;
}

/**
 * {@link resourceLabel} with the raw values the services among `events` sent: how race groups
 * and histories name their resource.
 */
export function resourceLabeller(events: readonly Event[]): (resource: string) => string {
  const raw = rawValuesByDigest(events);
  return (resource) => resourceLabel(resource, raw);
}

/**
 * The resource a person typed with raw values (`products[sku="mug"].stock`, as
 * {@link resourceLabel} shows it when services send values) with each value digested as
 * services digest it, so it names the stored resource (`products[sku=<digest>].stock`). Parts
 * that are digests already, and names that are not a row's, are kept as typed.
 *
 * @example
 * resourceFromLabel('products[id=42].stock'); // 'products[id=73eb651a20385a68].stock'
 */
export function resourceFromLabel(typed: string, digestKey = DEFAULT_DIGEST_KEY): string {
  const open = typed.indexOf('[');
  const close = typed.lastIndexOf(']');
  if (open < 0 || close < open) return typed;
  const key = splitKey(typed.slice(open + 1, close));
  if (key === null) return typed;
  const parts = key.map(([column, value]) => {
    if (/^[0-9a-f]{16}$/.test(value)) return `${column}=${value}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return `${column}=${value}`;
    }
    return `${column}=${digestOf(canonicalValue(parsed), digestKey)}`;
  });
  return `${typed.slice(0, open)}[${parts.join(',')}]${typed.slice(close + 1)}`;
}

/** `a="x, y",b=2` as [column, value text] pairs (JSON strings may hold commas); null if malformed. */
function splitKey(text: string): Array<[string, string]> | null {
  const out: Array<[string, string]> = [];
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) return null;
    const column = text.slice(i, eq);
    let end = eq + 1;
    if (text[end] === '"') {
      end++;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      end++;
    } else {
      while (end < text.length && text[end] !== ',') end++;
    }
    out.push([column, text.slice(eq + 1, end)]);
    if (end < text.length && text[end] !== ',') return null;
    i = end + 1;
  }
  return out;
}
