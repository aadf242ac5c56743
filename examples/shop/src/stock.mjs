import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { instrumentBetterSqlite3 } from '@raceway/better-sqlite3';
import { paramDigest } from '@raceway/core';
import Database from 'better-sqlite3';
import { PRODUCTS } from './catalogue.mjs';
import { work } from './runtime.mjs';

// Once per process: every statement better-sqlite3 runs in a traced request is reported to
// Raceway (a `db_query` event), and the collector finds races in the SQL itself.
instrumentBetterSqlite3(Database);

/**
 * @typedef {object} Product
 * @property {string} sku
 * @property {string} name
 * @property {number} priceCents
 * @property {number} stock
 */

/**
 * The shop's stock table, in one SQLite file shared by the order and inventory services
 * (two processes, one row per product).
 */
export class StockStore {
  /** @param {string} path */
  constructor(path) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // WAL and a busy timeout: two processes write this file at once.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL, stock INTEGER NOT NULL)',
    );
    this.selectAll = this.db.prepare(
      'SELECT sku, name, price_cents AS priceCents, stock FROM products ORDER BY sku',
    );
    this.selectOne = this.db.prepare(
      'SELECT sku, name, price_cents AS priceCents, stock FROM products WHERE sku = ?',
    );
    this.update = this.db.prepare('UPDATE products SET stock = ? WHERE sku = ?');
  }

  /** @returns {Product[]} */
  list() {
    return /** @type {Product[]} */ (this.selectAll.all());
  }

  /**
   * @param {string} sku
   * @returns {Product | undefined}
   */
  get(sku) {
    return /** @type {Product | undefined} */ (this.selectOne.get(sku));
  }

  /**
   * @param {string} sku
   * @param {number} stock
   */
  setStock(sku, stock) {
    this.update.run(stock, sku);
  }

  close() {
    this.db.close();
  }
}

/**
 * The stock of one product in the database at `path`, read once (undefined for an unknown
 * product).
 *
 * @param {string} path
 * @param {string} sku
 * @returns {number | undefined}
 */
export function readStock(path, sku) {
  const store = new StockStore(path);
  try {
    return store.get(sku)?.stock;
  } finally {
    store.close();
  }
}

/**
 * Creates a fresh stock database at `path` (replacing any previous one) with the catalogue's
 * products and stock.
 *
 * @param {string} path
 */
export function seedStock(path) {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  const store = new StockStore(path);
  const insert = store.db.prepare(
    'INSERT INTO products (sku, name, price_cents, stock) VALUES (?, ?, ?, ?)',
  );
  store.db.transaction(() => {
    for (const p of PRODUCTS) insert.run(p.sku, p.name, p.priceCents, p.stock);
  })();
  store.close();
}

/** Thrown when there is not enough stock left. */
export class OutOfStockError extends Error {
  /**
   * @param {string} sku
   * @param {number} left
   */
  constructor(sku, left) {
    super(`only ${left} left of ${sku}`);
    this.name = 'OutOfStockError';
  }
}

/**
 * Takes `quantity` items of `sku` out of stock the way much real code does: read the row, do a
 * little work, write the new value back. Two callers that interleave both read the same stock
 * and one decrement is lost. Nothing here tells Raceway anything: it sees the SELECT and the
 * UPDATE that better-sqlite3 reports, with the value read and the value written.
 *
 * @param {StockStore} store
 * @param {string} sku
 * @param {number} quantity
 * @param {number} workMs  the work between the read and the write
 * @returns {Promise<number | undefined>} the stock written, undefined for an unknown product
 */
export async function takeFromStock(store, sku, quantity, workMs) {
  const product = store.get(sku);
  if (product === undefined) return undefined;
  if (product.stock < quantity) throw new OutOfStockError(sku, product.stock);
  await work(workMs);
  const stock = product.stock - quantity;
  store.setStock(sku, stock);
  return stock;
}

/**
 * The resource the collector names a product's stock by, read from the shop's SQL: the row of
 * `products` keyed by the digest of its SKU, and the column.
 *
 * @param {string} sku
 */
export function stockResource(sku) {
  return `products[sku=${paramDigest(sku)}].stock`;
}

/**
 * The same resource as the collector shows it to people: the shop's services send the SKU's raw
 * value (`captureValues`), so the row is named by it.
 *
 * @param {string} sku
 */
export function stockLabel(sku) {
  return `products[sku=${JSON.stringify(sku)}].stock`;
}

/** The stock database file: `SHOP_DB`, or `.raceway/shop.db` in the working directory. */
export function stockPath() {
  return process.env.SHOP_DB ?? '.raceway/shop.db';
}
