import { describe, expect, it } from 'vitest';
import { analyzeTrace } from '../analyze-trace.js';
import { detectCrossTraceRaces } from '../cross-trace-races.js';
import type { Event } from '../event.js';
import type { Race } from '../race.js';
import { type SimContext, TraceSimulator } from '../test-support/trace-simulator.js';
import { detectTraceRaces } from '../trace-races.js';
import { canonicalValue, digestOf } from './sql-digest.js';

type System = 'postgresql' | 'mysql' | 'sqlite';
/** What one side does, `at(ms)` setting the time relative to the side's start. */
type Program = (ctx: SimContext, at: (ms: number) => void, side: 0 | 1) => void;

const d = (value: unknown) => digestOf(canonicalValue(value));
const STOCK = `products[id=${d(42)}].stock`;

/** Two services that a checkout calls concurrently (one trace, concurrent clocks). */
function withinTrace(program: Program): Race[] {
  const sim = new TraceSimulator();
  const root = sim.request(sim.service('gateway'), { route: 'POST /checkout' });
  const toOrder = root.fork();
  const toInventory = root.fork();
  const order = toOrder.call(sim.service('order')).serve({ route: 'POST /orders' });
  const inventory = toInventory.call(sim.service('inventory')).serve({ route: 'POST /reserve' });
  const start = sim.nowUs / 1000;
  program(order, (ms) => sim.at(start + ms), 0);
  program(inventory, (ms) => sim.at(start + ms), 1);
  return detectTraceRaces(sim.events);
}

/** Two requests (two traces) to two services, the second starting 10 ms after the first. */
function acrossTraces(program: Program): Race[] {
  const events: Event[] = [];
  for (const side of [0, 1] as const) {
    const sim = new TraceSimulator();
    const service = sim.service(side === 0 ? 'order' : 'inventory');
    sim.at(side * 10 - 1);
    const ctx = sim.request(service, { route: 'POST /reserve' });
    program(ctx, (ms) => sim.at(side * 10 + ms), side);
    ctx.respond();
    events.push(...sim.events);
  }
  return detectCrossTraceRaces(events);
}

/** DESIGN 11's example: read the stock, write it back minus one. */
function readThenWrite(
  options: {
    system?: System;
    begin?: string;
    select?: string;
    update?: string;
    /** What each side reads (default 5 for both). */
    seen?: [number, number];
    column?: [string, string];
  } = {},
): Program {
  return (ctx, at, side) => {
    const system = options.system ?? 'mysql';
    const ph = system === 'postgresql' ? ['$1', '$2'] : ['?', '?'];
    const column = options.column?.[side] ?? 'stock';
    const seen = options.seen?.[side] ?? 5;
    at(0);
    if (options.begin) ctx.query(options.begin, { system });
    ctx.query(options.select ?? `SELECT ${column} FROM products WHERE id = ${ph[0]}`, {
      system,
      params: [42],
      returned: [{ [column]: seen, version: 7 }],
    });
    at(20);
    if (options.update) {
      ctx.query(options.update, { system, params: [42, 7] });
    } else {
      ctx.query(`UPDATE products SET ${column} = ${ph[0]} WHERE id = ${ph[1]}`, {
        system,
        params: [seen - 1, 42],
      });
    }
    if (options.begin) ctx.query('COMMIT', { system });
  };
}

const lost = (races: Race[]) => races.filter((r) => r.kind === 'lost_update');

describe('races from SQL (DESIGN 11)', () => {
  describe.each([
    ['within a trace', withinTrace],
    ['across traces', acrossTraces],
  ] as const)('%s', (_, detect) => {
    it('finds the lost update of SELECT stock then UPDATE products SET stock = ?, observed', () => {
      const races = lost(detect(readThenWrite()));
      expect(races).toHaveLength(1);
      expect(races[0]).toMatchObject({ resource: STOCK, outcome: 'lost' });
      expect(races[0]!.accesses.map((a) => [a.kind, a.value])).toEqual([
        ['state_read', d(5)],
        ['state_write', d(4)],
        ['state_read', d(5)],
        ['state_write', d(4)],
      ]);
    });

    it.each(['postgresql', 'sqlite'] as const)('finds it in %s too, autocommit', (system) => {
      expect(lost(detect(readThenWrite({ system })))).toHaveLength(1);
    });

    it('never calls a serialised pair lost: the second read saw the first write', () => {
      const races = lost(detect(readThenWrite({ seen: [5, 4] })));
      for (const race of races) expect(race.outcome).toBe('not_lost');
    });

    it('finds nothing when the write is atomic (SET stock = stock - 1)', () => {
      const program: Program = (ctx, at) => {
        at(0);
        ctx.query('UPDATE products SET stock = stock - 1 WHERE id = ?', { params: [42] });
      };
      expect(detect(program)).toEqual([]);
      // A read beside the other side's atomic write sees the row before or after it: no race.
      expect(
        detect(readThenWrite({ update: 'UPDATE products SET stock = stock - 1 WHERE id = ?' })),
      ).toEqual([]);
    });

    it('finds nothing when the read locks the row (SELECT ... FOR UPDATE in a transaction)', () => {
      const program = readThenWrite({
        begin: 'START TRANSACTION',
        select: 'SELECT stock FROM products WHERE id = ? FOR UPDATE',
      });
      expect(detect(program)).toEqual([]);
    });

    it('still finds it when FOR UPDATE runs in autocommit (the lock ends with the statement)', () => {
      const program = readThenWrite({
        select: 'SELECT stock FROM products WHERE id = ? FOR UPDATE',
      });
      expect(lost(detect(program))).toHaveLength(1);
    });

    it('finds no lost update with a version check (compare-and-set)', () => {
      const program = readThenWrite({
        select: 'SELECT stock, version FROM products WHERE id = ?',
        update:
          'UPDATE products SET stock = stock - 1, version = version + 1 WHERE id = ? AND version = ?',
      });
      // Nor a read-write race: the compare-and-set of a stale read changes nothing.
      expect(detect(program)).toEqual([]);
      // With the value computed by the application, as the docs' services do.
      const computed = readThenWrite({
        select: 'SELECT stock, version FROM products WHERE id = ?',
        update: 'UPDATE products SET stock = ?, version = version + 1 WHERE id = ? AND version = ?',
      });
      expect(detect(computed)).toEqual([]);
    });

    it('still finds a read-write race between a read and a plain write', () => {
      const program: Program = (ctx, at, side) => {
        at(side * 5);
        if (side === 0) ctx.query('SELECT stock FROM products WHERE id = ?', { params: [42] });
        else ctx.query('UPDATE products SET stock = ? WHERE id = ?', { params: [3, 42] });
      };
      const races = detect(program);
      if (detect === withinTrace) expect(races.map((r) => r.kind)).toEqual(['read_write']);
      // Across traces only read-modify-write interleavings are reported.
      else expect(races).toEqual([]);
    });

    it('finds nothing in SERIALIZABLE transactions', () => {
      const pg = readThenWrite({
        system: 'postgresql',
        begin: 'BEGIN ISOLATION LEVEL SERIALIZABLE',
      });
      expect(detect(pg)).toEqual([]);
      const rr = readThenWrite({
        system: 'postgresql',
        begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ',
      });
      expect(detect(rr)).toEqual([]);
      const sqlite = readThenWrite({ system: 'sqlite', begin: 'BEGIN IMMEDIATE' });
      expect(detect(sqlite)).toEqual([]);
    });

    it('still finds it in READ COMMITTED, MySQL REPEATABLE READ and deferred SQLite transactions', () => {
      expect(lost(detect(readThenWrite({ system: 'postgresql', begin: 'BEGIN' })))).toHaveLength(1);
      expect(lost(detect(readThenWrite({ begin: 'START TRANSACTION' })))).toHaveLength(1);
      expect(
        lost(detect(readThenWrite({ begin: 'START TRANSACTION ISOLATION LEVEL REPEATABLE READ' }))),
      ).toHaveLength(1);
      expect(lost(detect(readThenWrite({ system: 'sqlite', begin: 'BEGIN' })))).toHaveLength(1);
    });

    it('finds nothing when the two sides read and write different columns', () => {
      expect(detect(readThenWrite({ column: ['stock', 'price'] }))).toEqual([]);
    });
  });

  it('matches a literal in the text with a parameter of the same value', () => {
    const races = lost(
      withinTrace((ctx, at, side) => {
        at(0);
        ctx.query(
          side === 0
            ? 'SELECT stock FROM products WHERE id = 42'
            : 'SELECT stock FROM products WHERE id = ?',
          {
            params: side === 0 ? [] : [42],
            returned: [{ stock: 5 }],
          },
        );
        at(20);
        ctx.query('UPDATE products SET stock = ? WHERE id = ?', { params: [4, 42] });
      }),
    );
    expect(races).toHaveLength(1);
    expect(races[0]!.resource).toBe(STOCK);
  });

  it('counts the statements it could not key in the diagnostics', () => {
    const sim = new TraceSimulator();
    const ctx = sim.request(sim.service('report'), { route: 'GET /report' });
    ctx.query('SELECT stock FROM products WHERE id > ?', { params: [10] });
    ctx.query(
      'SELECT p.stock FROM products p JOIN orders o ON o.product_id = p.id WHERE o.id = ?',
      {
        params: [1],
      },
    );
    ctx.query('SELECT stock FROM products WHERE id = ?', { params: [1] });
    ctx.query('this is not SQL');
    ctx.respond();
    expect(analyzeTrace(sim.events).diagnostics.summary.sqlStatements).toEqual({
      total: 4,
      unkeyed: 3,
      unkeyedByReason: { range: 1, join: 1, unparseable: 1 },
    });
  });
});

describe('transactions, options and names', () => {
  it('releases a row lock at ROLLBACK: a later read-modify-write races again', () => {
    const races = withinTrace((ctx, at) => {
      at(0);
      ctx.query('START TRANSACTION');
      ctx.query('SELECT stock FROM products WHERE id = ? FOR UPDATE', {
        params: [42],
        returned: [{ stock: 5 }],
      });
      ctx.query('ROLLBACK');
      ctx.query('SELECT stock FROM products WHERE id = ?', {
        params: [42],
        returned: [{ stock: 5 }],
      });
      at(20);
      ctx.query('UPDATE products SET stock = ? WHERE id = ?', { params: [4, 42] });
    });
    expect(lost(races)).toHaveLength(1);
  });

  it('takes a session isolation level into account (SET SESSION TRANSACTION ...)', () => {
    const program = readThenWrite({ begin: 'START TRANSACTION' });
    const races = withinTrace((ctx, at, side) => {
      ctx.query('SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE');
      program(ctx, at, side);
    });
    expect(races).toEqual([]);
  });

  it('applies SET TRANSACTION to the next transaction only', () => {
    const races = withinTrace((ctx, at, side) => {
      ctx.query('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE');
      ctx.query('START TRANSACTION');
      ctx.query('COMMIT');
      readThenWrite({ begin: 'START TRANSACTION' })(ctx, at, side);
    });
    expect(lost(races)).toHaveLength(1);
  });

  it('lets the default isolation be configured per system', () => {
    const sim = new TraceSimulator();
    const root = sim.request(sim.service('gateway'));
    const sides = [root.fork(), root.fork()];
    for (const [side, ctx] of sides.entries()) {
      readThenWrite({ system: 'sqlite', begin: 'BEGIN' })(ctx, (ms) => sim.at(ms), side as 0 | 1);
    }
    expect(lost(detectTraceRaces(sim.events))).toHaveLength(1);
    expect(
      detectTraceRaces(sim.events, { sql: { isolation: { sqlite: 'serializable' } } }),
    ).toEqual([]);
  });

  it('ignores a statement that failed', () => {
    const races = withinTrace((ctx, at, side) => {
      at(0);
      ctx.query('SELECT stock FROM products WHERE id = ?', {
        params: [42],
        returned: [{ stock: 5 }],
      });
      at(20);
      ctx.query('UPDATE products SET stock = ? WHERE id = ?', {
        params: [4, 42],
        ...(side === 1 ? { error: { type: 'DeadlockError', message: 'deadlock found' } } : {}),
      });
    });
    expect(lost(races)).toEqual([]);
  });

  it('lets a whole-row access conflict with the columns other statements name', () => {
    const races = withinTrace((ctx, at, side) => {
      at(0);
      if (side === 0) ctx.query('DELETE FROM products WHERE id = ?', { params: [42] });
      else
        ctx.query('SELECT stock FROM products WHERE id = ?', {
          params: [42],
          returned: [{ stock: 5 }],
        });
    });
    expect(races.map((r) => [r.kind, r.resource])).toEqual([['read_write', STOCK]]);
  });

  it('agrees with the brute-force detector on SQL events', async () => {
    const { detectRacesBruteForce } = await import('../trace-races.js');
    const sim = new TraceSimulator();
    const root = sim.request(sim.service('gateway'));
    for (const side of [0, 1] as const) {
      readThenWrite({ column: ['stock', 'stock'] })(root.fork(), (ms) => sim.at(ms), side);
    }
    expect(detectTraceRaces(sim.events)).toEqual(detectRacesBruteForce(sim.events));
  });

  it('names resources for people: a raw value when sent, else the digest abbreviated', async () => {
    const { rawValuesByDigest, resourceLabel, sqlResourcesOf } = await import('./sql-accesses.js');
    const sim = new TraceSimulator();
    const ctx = sim.request(sim.service('inventory'));
    const event = ctx.query('UPDATE products SET stock = ? WHERE id = ?', {
      params: [4, 42],
      values: true,
    });
    expect(sqlResourcesOf(event)).toEqual([STOCK]);
    expect(resourceLabel(STOCK)).toBe(`products[id=…${d(42).slice(-4)}].stock`);
    expect(resourceLabel(STOCK, rawValuesByDigest([event]))).toBe('products[id=42].stock');
  });

  it('reads a resource typed with raw values back to its digests', async () => {
    const { resourceFromLabel, resourceLabel } = await import('./sql-accesses.js');
    expect(resourceFromLabel('products[id=42].stock')).toBe(STOCK);
    // A label, as the UI shows it, names the resource it labels.
    const sku = `products[sku=${d('mug')},warehouse=${d('a, b')}].stock`;
    const raw = new Map<string, unknown>([
      [d('mug'), 'mug'],
      [d('a, b'), 'a, b'],
    ]);
    expect(resourceLabel(sku, raw)).toBe('products[sku="mug",warehouse="a, b"].stock');
    expect(resourceFromLabel(resourceLabel(sku, raw))).toBe(sku);
    // Digests, other names and what does not parse are kept as typed.
    expect(resourceFromLabel(STOCK)).toBe(STOCK);
    expect(resourceFromLabel('stock:mug')).toBe('stock:mug');
    expect(resourceFromLabel('products[id=…5a68].stock')).toBe('products[id=…5a68].stock');
    expect(resourceFromLabel('products[id].stock')).toBe('products[id].stock');
    // The collector's digest key, when the services use another.
    expect(resourceFromLabel('products[id=42].stock', 'k2')).toBe(
      `products[id=${digestOf(canonicalValue(42), 'k2')}].stock`,
    );
  });
});

describe('analyzeTrace with db_query events', () => {
  it('reports the lost update as a group, with its verdict, on the exact and the bounded detector', () => {
    const sim = new TraceSimulator();
    const root = sim.request(sim.service('gateway'), { route: 'POST /checkout' });
    const contexts = [root.fork(), root.fork()];
    for (const [side, ctx] of contexts.entries()) {
      readThenWrite()(ctx, (ms) => sim.at(ms), side as 0 | 1);
    }
    for (const exactMaxContexts of [64, 1]) {
      const { races } = analyzeTrace(sim.events, { budget: { exactMaxContexts } });
      const group = races.find((g) => g.kind === 'lost_update');
      expect(group?.resource).toBe(STOCK);
      expect(group?.examples[0]?.outcome).toBe('lost');
    }
  });
});
