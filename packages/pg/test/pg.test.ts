// @raceway/pg against a real PostgreSQL (test/pg-global-setup.ts): every form of client.query
// and pool.query records one db_query event, in the context that sent the statement.
import { paramDigest, RacewayConfigError } from '@raceway/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { capture } from '../../core/test/helpers/recording-tracer.js';
import { instrumentPg, uninstrumentPg } from '../src/index.js';
import { type ThrowawayDatabase, throwawayDatabase } from './throwaway-database.js';

const adminUrl = inject('pgUrl');
const skipReason = inject('pgSkipReason');

const digests = (...values: unknown[]) => values.map((value) => ({ digest: paramDigest(value) }));

describe('instrumentPg', () => {
  it('refuses what is not the pg module', () => {
    expect(() => instrumentPg({} as never)).toThrow(RacewayConfigError);
  });
});

describe.skipIf(!adminUrl)(
  `@raceway/pg on a real PostgreSQL${adminUrl ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let db: ThrowawayDatabase;
    let url: string;
    let client: pg.Client;

    beforeAll(async () => {
      db = await throwawayDatabase(adminUrl!, 'raceway_pg');
      url = db.url;
      instrumentPg(pg);
      instrumentPg(pg); // twice: still one event per statement
      client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(
        'CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, stock integer NOT NULL)',
      );
      await client.query("INSERT INTO items VALUES (1, 'mug', 3), (2, 'cup', 5)");
    });

    afterAll(async () => {
      await client?.end();
      uninstrumentPg(pg);
      await db?.drop();
    });

    it('records the promise form: statement, parameter digests, connection, rows returned', async () => {
      const { run, queries, ctx } = capture();
      const result = await run(() =>
        client.query('SELECT id, name, stock FROM items WHERE id = $1', [1]),
      );
      expect(result.rows).toEqual([{ id: '1', name: 'mug', stock: 3 }]);
      const [event] = queries();
      expect(event?.component).toBe(ctx.component);
      expect(event?.data).toEqual({
        system: 'postgresql',
        statement: 'SELECT id, name, stock FROM items WHERE id = $1',
        params: digests(1),
        connection: expect.stringMatching(/^pg#\d+$/),
        database: db.name,
        rows: 1,
        // bigint comes back as the string '1': digested as the integer that was written.
        returned: [{ id: paramDigest(1), name: paramDigest('mug'), stock: paramDigest(3) }],
        duration_ms: expect.any(Number),
      });
    });

    it('records the callback form, and runs the callback in the caller context', async () => {
      const { run, queries, ctx } = capture();
      const seen = await run(
        () =>
          new Promise<{ rowCount: number | null; inContext: boolean }>((resolve, reject) => {
            client.query('UPDATE items SET stock = $1 WHERE id = $2', [4, 2], (error, result) => {
              if (error) reject(error);
              else
                resolve({
                  rowCount: result.rowCount,
                  // The event is recorded before the application sees the answer.
                  inContext: queries().length === 1,
                });
            });
          }),
      );
      expect(seen).toEqual({ rowCount: 1, inContext: true });
      expect(queries()[0]?.data).toMatchObject({
        statement: 'UPDATE items SET stock = $1 WHERE id = $2',
        params: digests(4, 2),
        rows: 1,
      });
      expect(queries()[0]?.data).not.toHaveProperty('returned');
      expect(queries()[0]?.component).toBe(ctx.component);
    });

    it('records query configs and prepared statements, run again by name alone', async () => {
      const { run, queries } = capture();
      await run(async () => {
        await client.query({
          name: 'stock-of',
          text: 'SELECT stock FROM items WHERE id = $1',
          values: [2],
        });
        // pg runs a statement it prepared by its name alone (its types ask for the text).
        await client.query({ name: 'stock-of', values: [1] } as unknown as pg.QueryConfig);
        await client.query({ text: 'SELECT $1::text AS x', values: ['a'], rowMode: 'array' });
      });
      expect(queries().map((e) => [e.data.statement, e.data.params, e.data.returned])).toEqual([
        ['SELECT stock FROM items WHERE id = $1', digests(2), [{ stock: paramDigest(4) }]],
        ['SELECT stock FROM items WHERE id = $1', digests(1), [{ stock: paramDigest(3) }]],
        ['SELECT $1::text AS x', digests('a'), [{ x: paramDigest('a') }]],
      ]);
    });

    it('records a Submittable that reports its end as events', async () => {
      const { run, queries } = capture();
      const rows = await run(
        () =>
          new Promise<unknown[]>((resolve, reject) => {
            const query = client.query(new pg.Query('SELECT id FROM items ORDER BY id'));
            const seen: unknown[] = [];
            query.on('row', (row: unknown) => seen.push(row));
            query.on('end', () => resolve(seen));
            query.on('error', reject);
          }),
      );
      expect(rows).toHaveLength(2);
      expect(queries()[0]?.data).toMatchObject({
        statement: 'SELECT id FROM items ORDER BY id',
        params: [],
        rows: 2,
      });
    });

    it('records errors with the SQLSTATE as their type', async () => {
      const { run, queries } = capture();
      await expect(
        run(() => client.query("INSERT INTO items VALUES ($1, 'dup', 0)", [1])),
      ).rejects.toThrow(/duplicate key/);
      expect(queries()[0]?.data.error).toEqual({
        type: '23505',
        message: expect.stringContaining('duplicate key value violates unique constraint'),
      });
      expect(queries()[0]?.data.rows).toBeNull();
    });

    it('follows a pool transaction by its client, one clock step per statement', async () => {
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      const { run, queries, ctx } = capture();
      await run(async () => {
        await pool.query('SELECT 1');
        const tx = await pool.connect();
        try {
          await tx.query('BEGIN');
          const { rows } = await tx.query('SELECT stock FROM items WHERE id = $1 FOR UPDATE', [1]);
          await tx.query('UPDATE items SET stock = $1 WHERE id = $2', [rows[0].stock - 1, 1]);
          await tx.query('COMMIT');
        } finally {
          tx.release();
        }
      });
      await pool.end();
      const statements = queries().map((e) => e.data.statement);
      expect(statements).toEqual([
        'SELECT 1',
        'BEGIN',
        'SELECT stock FROM items WHERE id = $1 FOR UPDATE',
        'UPDATE items SET stock = $1 WHERE id = $2',
        'COMMIT',
      ]);
      const connections = queries().map((e) => e.data.connection);
      // BEGIN ... COMMIT on one pool client: one connection id the collector follows.
      expect(new Set(connections.slice(1)).size).toBe(1);
      expect(queries().map((e) => e.clock[ctx.component])).toEqual([1, 2, 3, 4, 5]);
    });

    it('records a pool query that waited for a client in the context that sent it', async () => {
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      const a = capture();
      const b = a.tracer.startContext({});
      const held = await a.run(() => pool.connect());
      // b waits for the only client; a's release hands it over.
      const waiting = a.run(
        () =>
          new Promise((resolve, reject) =>
            pool.query('SELECT 2 AS two', (error, result) =>
              error ? reject(error) : resolve(result.rows),
            ),
          ),
        b,
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      a.run(() => held.release());
      expect(await waiting).toEqual([{ two: 2 }]);
      await pool.end();
      expect(a.queries().map((e) => [e.data.statement, e.component])).toEqual([
        ['SELECT 2 AS two', b.component],
      ]);
    });

    it('records nothing outside a context, unsampled, or with captureQueries off', async () => {
      const off = capture({ captureQueries: false });
      const unsampled = capture({ sampleRate: 0 });
      await client.query('SELECT 1');
      await off.run(() => client.query('SELECT 1'));
      await unsampled.run(() => client.query('SELECT 1'));
      expect([...off.events, ...unsampled.events]).toEqual([]);
    });
  },
);
