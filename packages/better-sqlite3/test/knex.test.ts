// An ORM or query builder on better-sqlite3 is traced through the driver: Knex's queries,
// transactions included, are recorded with no setup beyond instrumenting the driver.
import { paramDigest } from '@raceway/core';
import Database from 'better-sqlite3';
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture } from '../../core/test/helpers/recording-tracer.js';
import { instrumentBetterSqlite3, uninstrumentBetterSqlite3 } from '../src/index.js';

let db: Knex;

beforeAll(async () => {
  instrumentBetterSqlite3(Database);
  db = knex({
    client: 'better-sqlite3',
    connection: { filename: ':memory:' },
    useNullAsDefault: true,
  });
  await db.schema.createTable('items', (table) => {
    table.integer('id').primary();
    table.integer('stock');
  });
  await db('items').insert({ id: 1, stock: 3 });
});

afterAll(async () => {
  await db.destroy();
  uninstrumentBetterSqlite3(Database);
});

describe('Knex on better-sqlite3', () => {
  it('records its queries and transactions', async () => {
    const { run, queries } = capture();
    await run(() =>
      db.transaction(async (trx) => {
        const row = await trx('items').where({ id: 1 }).first('stock');
        await trx('items')
          .where({ id: 1 })
          .update({ stock: row.stock - 1 });
      }),
    );
    const data = queries().map((e) => e.data);
    expect(data.map((d) => d.statement)).toEqual([
      'BEGIN;',
      'select `stock` from `items` where `id` = ? limit ?',
      'update `items` set `stock` = ? where `id` = ?',
      'COMMIT;',
    ]);
    expect(data[1]).toMatchObject({
      params: [{ digest: paramDigest(1) }, { digest: paramDigest(1) }],
      rows: 1,
      returned: [{ stock: paramDigest(3) }],
    });
    expect(data[2]).toMatchObject({
      params: [{ digest: paramDigest(2) }, { digest: paramDigest(1) }],
      rows: 1,
    });
    expect(new Set(data.map((d) => d.connection)).size).toBe(1);
  });
});
