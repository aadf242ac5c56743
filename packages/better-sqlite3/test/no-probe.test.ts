// A better-sqlite3 that cannot open a throwaway database (a bundled build that needs its
// nativeBinding option): the Statement prototype is taken from the first statement prepared.
import { paramDigest } from '@raceway/core';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { capture } from '../../core/test/helpers/recording-tracer.js';
import { instrumentBetterSqlite3, uninstrumentBetterSqlite3 } from '../src/index.js';

class NeedsOptions extends Database {
  constructor(filename: string, options?: Database.Options & { configured?: boolean }) {
    if (options?.configured !== true) throw new Error('nativeBinding is required');
    super(filename, options);
  }
}

afterAll(() => uninstrumentBetterSqlite3(NeedsOptions));

describe('instrumentBetterSqlite3 without a throwaway database', () => {
  it('records the statements of databases opened afterwards', () => {
    instrumentBetterSqlite3(NeedsOptions);
    const db = new NeedsOptions(':memory:', { configured: true });
    const { run, queries } = capture();
    run(() => {
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      db.prepare('INSERT INTO t (id) VALUES (?)').run(7);
      db.transaction(() => db.prepare('SELECT id FROM t').all())();
    });
    expect(queries().map((e) => [e.data.statement, e.data.params])).toEqual([
      ['CREATE TABLE t (id INTEGER PRIMARY KEY)', undefined],
      ['INSERT INTO t (id) VALUES (?)', [{ digest: paramDigest(7) }]],
      ['BEGIN', []],
      ['SELECT id FROM t', []],
      ['COMMIT', []],
    ]);
    db.close();
  });
});
