// An ORM on pg is traced through the driver: Sequelize's model queries and transactions are
// recorded with no setup beyond instrumenting pg (Sequelize is given it as its dialectModule).
import { paramDigest } from '@raceway/core';
import pg from 'pg';
import { DataTypes, Model, Sequelize } from 'sequelize';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { capture } from '../../core/test/helpers/recording-tracer.js';
import { instrumentPg, uninstrumentPg } from '../src/index.js';
import { type ThrowawayDatabase, throwawayDatabase } from './throwaway-database.js';

const adminUrl = inject('pgUrl');
const skipReason = inject('pgSkipReason');

const digests = (...values: unknown[]) => values.map((value) => ({ digest: paramDigest(value) }));

class Item extends Model {
  declare id: number;
  declare stock: number;
}

describe.skipIf(!adminUrl)(
  `Sequelize on @raceway/pg${adminUrl ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let db: ThrowawayDatabase;
    let sequelize: Sequelize;

    beforeAll(async () => {
      db = await throwawayDatabase(adminUrl!, 'raceway_sequelize');
      instrumentPg(pg);
      sequelize = new Sequelize(db.url, {
        dialect: 'postgres',
        dialectModule: pg,
        logging: false,
        pool: { max: 2, min: 0, idle: 60_000 },
      });
      Item.init(
        { id: { type: DataTypes.INTEGER, primaryKey: true }, stock: DataTypes.INTEGER },
        { sequelize, tableName: 'items', timestamps: false },
      );
      await Item.sync();
      await Item.create({ id: 1, stock: 3 });
      // Open both pooled connections outside any traced context, so that the statements
      // Sequelize runs when it connects (type lookups, session settings) stay out of the tests.
      await Promise.all([
        sequelize.query('SELECT pg_sleep(0.05)'),
        sequelize.query('SELECT pg_sleep(0.05)'),
      ]);
    });

    afterAll(async () => {
      await sequelize?.close();
      uninstrumentPg(pg);
      await db?.drop();
    });

    it('records findByPk then update with the statements Sequelize generated', async () => {
      const { run, queries, ctx } = capture();
      await run(async () => {
        const item = await Item.findByPk(1);
        await item!.update({ stock: item!.stock - 1 });
      });
      const events = queries();
      expect(events.map((e) => e.component)).toEqual([ctx.component, ctx.component]);
      const data = events.map((e) => e.data);
      expect(data.map((d) => d.statement)).toEqual([
        // Sequelize writes the key of findByPk into the text, and binds the values of update.
        'SELECT "id", "stock" FROM "items" AS "Item" WHERE "Item"."id" = 1;',
        'UPDATE "items" SET "stock"=$1 WHERE "id" = $2',
      ]);
      expect(data[0]).toMatchObject({
        system: 'postgresql',
        params: [],
        connection: expect.stringMatching(/^pg#\d+$/),
        database: db.name,
        rows: 1,
        returned: [{ id: paramDigest(1), stock: paramDigest(3) }],
      });
      expect(data[1]).toMatchObject({
        system: 'postgresql',
        params: digests(2, 1),
        connection: expect.stringMatching(/^pg#\d+$/),
        database: db.name,
        rows: 1,
      });
      expect(await Item.findByPk(1).then((item) => item?.stock)).toBe(2);
    });

    it('records a transaction as START TRANSACTION ... COMMIT on one connection', async () => {
      const { run, queries } = capture();
      let outside: unknown;
      await run(() =>
        sequelize.transaction(async (transaction) => {
          const item = await Item.findByPk(1, { transaction });
          // While the transaction holds its connection, a statement outside it takes the other.
          outside = await sequelize.query('SELECT 1 AS outside', { plain: true });
          await item!.update({ stock: 7 }, { transaction });
        }),
      );
      expect(outside).toEqual({ outside: 1 });
      const data = queries().map((e) => e.data);
      expect(data.map((d) => d.statement)).toEqual([
        'START TRANSACTION;',
        'SELECT "id", "stock" FROM "items" AS "Item" WHERE "Item"."id" = 1;',
        'SELECT 1 AS outside',
        'UPDATE "items" SET "stock"=$1 WHERE "id" = $2',
        'COMMIT;',
      ]);
      expect(data[3]).toMatchObject({ params: digests(7, 1), rows: 1 });
      const inTransaction = [data[0], data[1], data[3], data[4]].map((d) => d?.connection);
      // One connection id per connection: the transaction's, and another for the pool's other.
      expect(new Set(inTransaction).size).toBe(1);
      expect(inTransaction[0]).toMatch(/^pg#\d+$/);
      expect(data[2]?.connection).toMatch(/^pg#\d+$/);
      expect(data[2]?.connection).not.toBe(inTransaction[0]);
      expect(await Item.findByPk(1).then((item) => item?.stock)).toBe(7);
    });
  },
);
