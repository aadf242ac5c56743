// What the order and inventory services do to a product's row, one function per mode. `naive`
// is the docs' code as written; the others are the usual fixes, which Raceway recognises from
// the SQL alone.

/** @typedef {import('./db.mjs').Db} Db */

export const MODES = [
  'naive',
  'atomic',
  'for-update',
  'version',
  'serializable',
  'column-disjoint',
];

/**
 * The docs' read-modify-write: two of these at once both read the same stock, and one
 * decrement is lost.
 *
 * @param {Db} db
 * @param {number} id
 */
async function naive(db, id) {
  const stock = (await db.query('SELECT stock FROM products WHERE id = $1', [id])).rows[0].stock;
  await db.query('UPDATE products SET stock = $1 WHERE id = $2', [stock - 1, id]);
}

/** The database does the arithmetic: nothing read, nothing lost. @param {Db} db @param {number} id */
async function atomic(db, id) {
  await db.query('UPDATE products SET stock = stock - 1 WHERE id = $1', [id]);
}

/**
 * The row is locked from the read to the commit: `SELECT ... FOR UPDATE` on PostgreSQL; SQLite
 * has no row locks, `BEGIN IMMEDIATE` takes the database's write lock up front.
 *
 * @param {Db} db
 * @param {number} id
 */
async function forUpdate(db, id) {
  const tx = await db.connect();
  try {
    const sqlite = db.system === 'sqlite';
    await tx.query(sqlite ? 'BEGIN IMMEDIATE' : 'BEGIN');
    const select = sqlite
      ? 'SELECT stock FROM products WHERE id = $1'
      : 'SELECT stock FROM products WHERE id = $1 FOR UPDATE';
    const stock = (await tx.query(select, [id])).rows[0].stock;
    await tx.query('UPDATE products SET stock = $1 WHERE id = $2', [stock - 1, id]);
    await tx.query('COMMIT');
  } catch (error) {
    await tx.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    tx.release();
  }
}

/**
 * Compare-and-set on a version column: the write applies only if nobody wrote since the read;
 * otherwise read again.
 *
 * @param {Db} db
 * @param {number} id
 */
async function version(db, id) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const row = (await db.query('SELECT stock, version FROM products WHERE id = $1', [id])).rows[0];
    const { rowCount } = await db.query(
      'UPDATE products SET stock = $1, version = $2 WHERE id = $3 AND version = $4',
      [row.stock - 1, row.version + 1, id, row.version],
    );
    if (rowCount === 1) return attempt;
  }
  throw new Error(`product ${id}: version conflict 20 times in a row`);
}

/**
 * A serializable transaction, retried when the database refuses it (PostgreSQL's SQLSTATE
 * 40001). SQLite's transactions are serializable; its way to run one that writes without
 * failing at the write is `BEGIN IMMEDIATE`, retried when the database stays busy.
 *
 * @param {Db} db
 * @param {number} id
 */
async function serializable(db, id) {
  const sqlite = db.system === 'sqlite';
  for (let attempt = 0; attempt < 20; attempt++) {
    const tx = await db.connect();
    try {
      await tx.query(sqlite ? 'BEGIN IMMEDIATE' : 'BEGIN ISOLATION LEVEL SERIALIZABLE');
      const stock = (await tx.query('SELECT stock FROM products WHERE id = $1', [id])).rows[0]
        .stock;
      await tx.query('UPDATE products SET stock = $1 WHERE id = $2', [stock - 1, id]);
      await tx.query('COMMIT');
      return attempt;
    } catch (error) {
      await tx.query('ROLLBACK').catch(() => {});
      const code = /** @type {{ code?: string }} */ (error).code;
      if (code !== '40001' && code !== 'SQLITE_BUSY') throw error;
    } finally {
      tx.release();
    }
  }
  throw new Error(`product ${id}: serialization failure 20 times in a row`);
}

/**
 * The same read-modify-write on a column of its own (`reserved` for the inventory, `stock` for
 * the order): the two services touch one row but never the same column.
 *
 * @param {Db} db
 * @param {number} id
 * @param {'stock' | 'reserved'} column
 */
async function columnDisjoint(db, id, column) {
  if (column === 'stock') return naive(db, id);
  const reserved = (await db.query('SELECT reserved FROM products WHERE id = $1', [id])).rows[0]
    .reserved;
  await db.query('UPDATE products SET reserved = $1 WHERE id = $2', [reserved + 1, id]);
}

/**
 * Runs `mode` against product `id`; `column` is the column this service owns in the
 * `column-disjoint` mode.
 *
 * @param {Db} db
 * @param {string} mode
 * @param {number} id
 * @param {'stock' | 'reserved'} column
 */
export async function takeOne(db, mode, id, column) {
  switch (mode) {
    case 'naive':
      return naive(db, id);
    case 'atomic':
      return atomic(db, id);
    case 'for-update':
      return forUpdate(db, id);
    case 'version':
      return version(db, id);
    case 'serializable':
      return serializable(db, id);
    case 'column-disjoint':
      return columnDisjoint(db, id, column);
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

/** The schema, for the tests and for a first run. */
export const SCHEMA = `CREATE TABLE IF NOT EXISTS products (
  id INTEGER PRIMARY KEY,
  stock INTEGER NOT NULL,
  reserved INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 1
)`;
