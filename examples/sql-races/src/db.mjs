// The `db` the services use: `db.query(text, params)` resolving to `{ rows, rowCount }`, the
// shape of a pg Pool, over PostgreSQL (pg) or SQLite (better-sqlite3). Nothing here tells
// Raceway anything: the drivers are instrumented once at startup and report every statement.
import { instrumentBetterSqlite3 } from '@raceway/better-sqlite3';
import { instrumentPg } from '@raceway/pg';
import Database from 'better-sqlite3';
import pg from 'pg';

instrumentPg(pg);
instrumentBetterSqlite3(Database);

/**
 * @typedef {object} QueryResult
 * @property {any[]} rows
 * @property {number} rowCount
 *
 * @typedef {object} Queryable
 * @property {(text: string, params?: unknown[]) => Promise<QueryResult>} query
 *
 * @typedef {Queryable & { release: () => void }} Connection  one connection, for a transaction
 *
 * @typedef {object} Db
 * @property {'postgresql' | 'sqlite'} system
 * @property {(text: string, params?: unknown[]) => Promise<QueryResult>} query
 * @property {() => Promise<Connection>} connect
 * @property {() => Promise<void>} close
 */

// Test-only: RACE_PAUSE_MS holds each service for that long after a SELECT, so that two
// concurrent read-modify-writes both read before either writes, every time. It is here, in the
// adapter, so that the services' code stays the docs' code. Unset in a real deployment.
const pauseMs = Number(process.env.RACE_PAUSE_MS ?? 0);

/** @param {string} text */
async function afterQuery(text) {
  if (pauseMs > 0 && /^\s*select\b/i.test(text)) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

/**
 * `DATABASE` is a postgres:// URL or `sqlite:<file>`.
 *
 * @param {string} url
 * @returns {Db}
 */
export function openDb(url) {
  return url.startsWith('sqlite:') ? openSqlite(url.slice('sqlite:'.length)) : openPg(url);
}

/** @param {string} url @returns {Db} */
function openPg(url) {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  /** @param {pg.Pool | pg.PoolClient} on */
  const query =
    (on) =>
    /** @type {Queryable['query']} */
    async (text, params = []) => {
      const result = await on.query(text, params);
      await afterQuery(text);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    };
  return {
    system: 'postgresql',
    query: query(pool),
    async connect() {
      const client = await pool.connect();
      return { query: query(client), release: () => client.release() };
    },
    close: () => pool.end(),
  };
}

/**
 * SQLite's placeholders are `?`: the statements, written with `$1, $2...` in order, are sent
 * with `?` (the SQL the driver records is SQLite's).
 *
 * @param {string} text
 */
function sqliteText(text) {
  let next = 1;
  return text.replace(/\$(\d+)/g, (_, n) => {
    if (Number(n) !== next++) throw new Error(`placeholders out of order in: ${text}`);
    return '?';
  });
}

/** @param {string} file @returns {Db} */
function openSqlite(file) {
  // One connection per service process; a busy database is waited for up to 5 s.
  const sqlite = new Database(file, { timeout: 5000 });
  /** @type {Connection} */
  const connection = {
    async query(text, params = []) {
      const statement = sqlite.prepare(sqliteText(text));
      let result;
      if (statement.reader) {
        const rows = statement.all(...params);
        result = { rows, rowCount: rows.length };
      } else {
        result = { rows: [], rowCount: statement.run(...params).changes };
      }
      await afterQuery(text);
      return result;
    },
    release() {},
  };
  return {
    system: 'sqlite',
    query: connection.query,
    connect: async () => connection,
    close: async () => {
      sqlite.close();
    },
  };
}
