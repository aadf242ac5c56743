// @raceway/mysql2 against a real MariaDB or MySQL (test/mariadb-global-setup.ts): every form of
// query and execute records one db_query event, in the context that sent the statement.
import { randomBytes } from 'node:crypto';
import { paramDigest, RacewayConfigError } from '@raceway/core';
import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { capture } from '../../core/test/helpers/recording-tracer.js';
import { instrumentMysql2, uninstrumentMysql2 } from '../src/index.js';

const serverUrl = inject('mysqlUrl');
const skipReason = inject('mysqlSkipReason');

const digests = (...values: unknown[]) => values.map((value) => ({ digest: paramDigest(value) }));

describe('instrumentMysql2', () => {
  it('refuses what is not the mysql2 module, naming the promise module', () => {
    expect(() => instrumentMysql2({} as never)).toThrow(RacewayConfigError);
    expect(() => instrumentMysql2(mysqlPromise as never)).toThrow(/also when the application uses/);
  });
});

describe.skipIf(!serverUrl)(
  `@raceway/mysql2 on a real MariaDB or MySQL${serverUrl ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    const database = `raceway_mysql_${randomBytes(4).toString('hex')}`;
    let url: string;
    let connection: mysql.Connection;

    beforeAll(async () => {
      const admin = await mysqlPromise.createConnection(serverUrl!);
      await admin.query(`CREATE DATABASE ${database}`);
      await admin.end();
      const parsed = new URL(serverUrl!);
      parsed.pathname = `/${database}`;
      url = parsed.href;
      instrumentMysql2(mysql);
      instrumentMysql2(mysql); // twice: still one event per statement
      connection = mysql.createConnection(url);
      await connection
        .promise()
        .query(
          'CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(32) NOT NULL, stock INT NOT NULL)',
        );
      await connection.promise().query("INSERT INTO items VALUES (1, 'mug', 3), (2, 'cup', 5)");
    });

    afterAll(async () => {
      await connection?.promise().end();
      uninstrumentMysql2(mysql);
      const admin = await mysqlPromise.createConnection(serverUrl!);
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.end();
    });

    it('records a callback query as written, placeholders and parameter digests, not the formatted text', async () => {
      const { run, queries, ctx } = capture();
      const rows = await run(
        () =>
          new Promise((resolve, reject) => {
            connection.query('SELECT id, name FROM items WHERE id = ?', [1], (error, result) => {
              if (error) reject(error);
              // The callback runs in the caller's context, after the event was recorded.
              else resolve({ result, recorded: queries().length });
            });
          }),
      );
      expect(rows).toEqual({ result: [{ id: 1, name: 'mug' }], recorded: 1 });
      expect(queries()[0]?.component).toBe(ctx.component);
      expect(queries()[0]?.data).toEqual({
        system: 'mysql',
        statement: 'SELECT id, name FROM items WHERE id = ?',
        params: digests(1),
        connection: expect.stringMatching(/^mysql#\d+$/),
        database,
        rows: 1,
        returned: [{ id: paramDigest(1), name: paramDigest('mug') }],
        duration_ms: expect.any(Number),
      });
    });

    it('records the promise API, query and execute, and writes with the rows affected', async () => {
      const { run, queries } = capture();
      const promised = await mysqlPromise.createConnection(url);
      await run(async () => {
        await promised.execute('UPDATE items SET stock = ? WHERE id = ?', [4, 2]);
        await promised.query({ sql: 'SELECT stock FROM items WHERE id = ?', values: [2] });
        await promised.query('SELECT ? AS one', 1);
      });
      await promised.end();
      expect(
        queries().map((e) => [e.data.statement, e.data.params, e.data.rows, e.data.returned]),
      ).toEqual([
        ['UPDATE items SET stock = ? WHERE id = ?', digests(4, 2), 1, undefined],
        ['SELECT stock FROM items WHERE id = ?', digests(2), 1, [{ stock: paramDigest(4) }]],
        ['SELECT ? AS one', digests(1), 1, [{ one: paramDigest(1) }]],
      ]);
    });

    it('records named placeholders with their names', async () => {
      const { run, queries } = capture();
      const named = await mysqlPromise.createConnection({ uri: url, namedPlaceholders: true });
      await run(() => named.execute('SELECT name FROM items WHERE id = :id', { id: 2 }));
      await named.end();
      expect(queries()[0]?.data).toMatchObject({
        statement: 'SELECT name FROM items WHERE id = :id',
        params: [{ name: 'id', digest: paramDigest(2) }],
        returned: [{ name: paramDigest('cup') }],
      });
    });

    it('records a query without a callback, which reports as events', async () => {
      const { run, queries } = capture();
      const seen = await run(
        () =>
          new Promise<unknown[]>((resolve, reject) => {
            const rows: unknown[] = [];
            connection
              .query('SELECT id FROM items ORDER BY id')
              .on('result', (row) => rows.push(row))
              .on('error', reject)
              .on('end', () => resolve(rows));
          }),
      );
      expect(seen).toHaveLength(2);
      expect(queries()[0]?.data).toMatchObject({
        statement: 'SELECT id FROM items ORDER BY id',
        rows: 2,
        returned: [{ id: paramDigest(1) }, { id: paramDigest(2) }],
      });
    });

    it('records errors with the driver code as their type', async () => {
      const { run, queries } = capture();
      await expect(
        run(() => connection.promise().query("INSERT INTO items VALUES (?, 'dup', 0)", [1])),
      ).rejects.toThrow(/Duplicate entry/);
      expect(queries()[0]?.data.error).toEqual({
        type: 'ER_DUP_ENTRY',
        message: expect.stringContaining('Duplicate entry'),
      });
    });

    it('follows a pool transaction by its connection, one clock step per statement', async () => {
      const pool = mysqlPromise.createPool({ uri: url, connectionLimit: 2 });
      const { run, queries, ctx } = capture();
      await run(async () => {
        const tx = await pool.getConnection();
        try {
          await tx.beginTransaction();
          const [rows] = await tx.query('SELECT stock FROM items WHERE id = ? FOR UPDATE', [1]);
          const stock = (rows as Array<{ stock: number }>)[0]!.stock;
          await tx.execute('UPDATE items SET stock = ? WHERE id = ?', [stock - 1, 1]);
          await tx.commit();
        } finally {
          tx.release();
        }
        await pool.execute('SELECT 1');
      });
      await pool.end();
      expect(queries().map((e) => e.data.statement)).toEqual([
        'START TRANSACTION',
        'SELECT stock FROM items WHERE id = ? FOR UPDATE',
        'UPDATE items SET stock = ? WHERE id = ?',
        'COMMIT',
        'SELECT 1',
      ]);
      expect(
        new Set(
          queries()
            .slice(0, 4)
            .map((e) => e.data.connection),
        ).size,
      ).toBe(1);
      expect(queries().map((e) => e.clock[ctx.component])).toEqual([1, 2, 3, 4, 5]);
    });

    it('records a pool query that waited for a connection in the context that sent it', async () => {
      const pool = mysql.createPool({ uri: url, connectionLimit: 1 });
      const a = capture();
      const b = a.tracer.startContext({});
      const held = await a.run(
        () =>
          new Promise<mysql.PoolConnection>((resolve, reject) =>
            pool.getConnection((error, conn) => (error ? reject(error) : resolve(conn))),
          ),
      );
      const waiting = a.run(
        () =>
          new Promise((resolve, reject) =>
            pool.query('SELECT 2 AS two', (error, rows) => (error ? reject(error) : resolve(rows))),
          ),
        b,
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      a.run(() => held.release());
      expect(await waiting).toEqual([{ two: 2 }]);
      await pool.promise().end();
      expect(a.queries().map((e) => [e.data.statement, e.component])).toEqual([
        ['SELECT 2 AS two', b.component],
      ]);
    });

    it('records nothing outside a context, unsampled, or with captureQueries off', async () => {
      const off = capture({ captureQueries: false });
      const unsampled = capture({ sampleRate: 0 });
      await connection.promise().query('SELECT 1');
      await off.run(() => connection.promise().query('SELECT 1'));
      await unsampled.run(() => connection.promise().query('SELECT 1'));
      expect([...off.events, ...unsampled.events]).toEqual([]);
    });
  },
);
