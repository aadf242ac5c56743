import { paramDigest, RacewayConfigError } from '@raceway/core';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { capture } from '../../core/test/helpers/recording-tracer.js';
import { instrumentBetterSqlite3, uninstrumentBetterSqlite3 } from './index.js';

let db: Database.Database;

beforeAll(() => {
  instrumentBetterSqlite3(Database);
  instrumentBetterSqlite3(Database); // twice: still one event per statement
});
afterAll(() => uninstrumentBetterSqlite3(Database));

beforeEach(() => {
  db = new Database(':memory:');
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, stock INTEGER, image BLOB)');
  db.prepare('INSERT INTO items (id, name, stock) VALUES (?, ?, ?)').run(1, 'mug', 3);
  db.prepare('INSERT INTO items (id, name, stock) VALUES (?, ?, ?)').run(2, 'cup', 5);
});

const digests = (...values: unknown[]) => values.map((value) => ({ digest: paramDigest(value) }));

describe('@raceway/better-sqlite3', () => {
  it('records run with its parameters, the connection and the rows changed', () => {
    const { run, queries } = capture();
    run(() => db.prepare('UPDATE items SET stock = ? WHERE id = ?').run(2, 1));
    expect(queries().map((e) => e.data)).toEqual([
      {
        system: 'sqlite',
        statement: 'UPDATE items SET stock = ? WHERE id = ?',
        params: digests(2, 1),
        connection: expect.stringMatching(/^sqlite#\d+$/),
        database: ':memory:',
        rows: 1,
        duration_ms: expect.any(Number),
      },
    ]);
  });

  it('records get and all with digests of the rows read', () => {
    const { run, queries } = capture();
    const row = run(() => db.prepare('SELECT id, stock FROM items WHERE id = ?').get(1));
    const none = run(() => db.prepare('SELECT id FROM items WHERE id = ?').get(99));
    const rows = run(() => db.prepare('SELECT name FROM items ORDER BY id').all());
    expect(row).toEqual({ id: 1, stock: 3 });
    expect(none).toBeUndefined();
    expect(rows).toHaveLength(2);
    const [get, miss, all] = queries().map((e) => e.data);
    expect(get).toMatchObject({
      rows: 1,
      returned: [{ id: paramDigest(1), stock: paramDigest(3) }],
    });
    expect(miss).toMatchObject({ rows: 0, returned: [] });
    expect(all).toMatchObject({
      params: [],
      rows: 2,
      returned: [{ name: paramDigest('mug') }, { name: paramDigest('cup') }],
    });
  });

  it('names the columns of raw rows, plucked values and expanded rows', () => {
    const { run, queries } = capture();
    run(() => {
      db.prepare('SELECT id, name FROM items WHERE id = 1').raw().all();
      db.prepare('SELECT stock FROM items WHERE id = 1').pluck().get();
      db.prepare('SELECT id FROM items WHERE id = 1').expand().get();
    });
    expect(queries().map((e) => e.data.returned)).toEqual([
      [{ id: paramDigest(1), name: paramDigest('mug') }],
      [{ stock: paramDigest(3) }],
      [{ 'items.id': paramDigest(1) }],
    ]);
  });

  it('records named, array and bound parameters, bytes included', () => {
    const { run, queries } = capture();
    const image = Buffer.from([0xca, 0xfe]);
    run(() => {
      db.prepare('UPDATE items SET image = @image WHERE id = @id').run({ id: 1, image });
      db.prepare('SELECT * FROM items WHERE id IN (?, ?)').all([1, 2]);
      db.prepare('SELECT * FROM items WHERE id = ?').bind(2).get();
    });
    expect(queries().map((e) => e.data.params)).toEqual([
      [
        { name: 'id', digest: paramDigest(1) },
        { name: 'image', digest: paramDigest(image) },
      ],
      digests(1, 2),
      digests(2),
    ]);
  });

  it('sends raw values beside the digests only with captureValues', () => {
    const { run, queries } = capture({ captureValues: true });
    run(() =>
      db.prepare('SELECT * FROM items WHERE id = ? AND name = @name').get(1, { name: 'mug' }),
    );
    expect(queries()[0]?.data.params).toEqual([
      { digest: paramDigest(1), value: 1 },
      { name: 'name', digest: paramDigest('mug'), value: 'mug' },
    ]);
  });

  it('records the BEGIN and COMMIT of db.transaction, and ROLLBACK when it throws', () => {
    const { ctx, run, queries } = capture();
    const move = db.transaction((from: number, to: number) => {
      db.prepare('UPDATE items SET stock = stock - 1 WHERE id = ?').run(from);
      db.prepare('UPDATE items SET stock = stock + 1 WHERE id = ?').run(to);
    });
    run(() => move(1, 2));
    const failing = db.transaction(() => {
      db.prepare('INSERT INTO items (id) VALUES (?)').run(1);
    });
    run(() => expect(() => failing()).toThrow(/UNIQUE|PRIMARY/));
    const statements = queries().map((e) => e.data.statement);
    expect(statements).toEqual([
      'BEGIN',
      'UPDATE items SET stock = stock - 1 WHERE id = ?',
      'UPDATE items SET stock = stock + 1 WHERE id = ?',
      'COMMIT',
      'BEGIN',
      'INSERT INTO items (id) VALUES (?)',
      'ROLLBACK',
    ]);
    // One connection, and one clock step per statement.
    expect(new Set(queries().map((e) => e.data.connection)).size).toBe(1);
    expect(queries().map((e) => e.clock[ctx.component])).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(queries()[5]?.data.error).toEqual({
      type: 'SQLITE_CONSTRAINT_PRIMARYKEY',
      message: expect.stringContaining('UNIQUE constraint failed'),
    });
  });

  it('records exec, and errors with the SQLite code', () => {
    const { run, queries } = capture();
    run(() => {
      db.exec('DELETE FROM items WHERE id = 2');
      expect(() => db.prepare('SELECT nope FROM items').all()).toThrow();
      expect(() => db.exec('SELECT FROM')).toThrow();
    });
    const [exec, bad] = queries().map((e) => e.data);
    expect(exec).toEqual({
      system: 'sqlite',
      statement: 'DELETE FROM items WHERE id = 2',
      connection: expect.any(String),
      database: ':memory:',
      rows: null,
      duration_ms: expect.any(Number),
    });
    // prepare() fails before a statement exists: only exec's failure is a query of its own.
    expect(bad?.error).toEqual({
      type: 'SQLITE_ERROR',
      message: expect.stringContaining('syntax'),
    });
  });

  it('records iterate when the rows are read, also when the loop breaks', () => {
    const { run, queries } = capture();
    run(() => {
      const seen = [...db.prepare('SELECT id FROM items ORDER BY id').iterate()];
      expect(seen).toEqual([{ id: 1 }, { id: 2 }]);
      for (const _ of db.prepare('SELECT id FROM items ORDER BY id').iterate()) break;
    });
    expect(queries().map((e) => [e.data.rows, e.data.returned])).toEqual([
      [2, [{ id: paramDigest(1) }, { id: paramDigest(2) }]],
      [1, [{ id: paramDigest(1) }]],
    ]);
  });

  it('gives each database its own connection id', () => {
    const { run, queries } = capture();
    const other = new Database(':memory:');
    run(() => {
      db.prepare('SELECT 1').get();
      other.prepare('SELECT 1').get();
      db.prepare('SELECT 2').get();
    });
    const [a, b, c] = queries().map((e) => e.data.connection);
    expect(a).not.toBe(b);
    expect(a).toBe(c);
    other.close();
  });

  it('records nothing outside a context, unsampled, or with captureQueries off', () => {
    const off = capture({ captureQueries: false });
    const unsampled = capture({ sampleRate: 0 });
    db.prepare('SELECT 1').get();
    off.run(() => db.prepare('SELECT 1').get());
    unsampled.run(() => db.prepare('SELECT 1').get());
    expect([...off.events, ...unsampled.events]).toEqual([]);
  });

  it('refuses what is not the Database class', () => {
    expect(() => instrumentBetterSqlite3({} as never)).toThrow(RacewayConfigError);
  });
});
