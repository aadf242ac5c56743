// Races inside one trace: services (and branches of one handler) touching the same stock row,
// judged by the collector from the vector clocks the adapters and clients propagate.
import { setTimeout as delay } from 'node:timers/promises';
import { fork, getCurrentContext, withLock } from '@raceway/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  allEvents,
  type Barrier,
  barrier,
  callService,
  Mutex,
  type Race,
  rootRequest,
  type Scenario,
  StockTable,
  startScenario,
  stateAccesses,
} from '../src/fixtures/index.js';

async function scenario(): Promise<Scenario> {
  const started = await startScenario();
  onTestFinished(() => started.close());
  return started;
}

/** A read-modify-write of stock row 1; with a barrier, both sides read before either writes. */
function reserve(stock: StockTable, bothRead?: Barrier) {
  return async () => {
    const quantity = stock.read('1');
    await bothRead?.arrive();
    stock.write('1', quantity - 1);
    return { left: quantity - 1 };
  };
}

describe('two services read-modify-writing one row in one trace', () => {
  it('reports a lost update naming both services when the calls run at once', async () => {
    const s = await scenario();
    const stock = new StockTable({ '1': 10 });
    const bothRead = barrier(2);
    const order = await s.service({
      name: 'order',
      framework: 'koa',
      routes: { '/reserve': reserve(stock, bothRead) },
    });
    const inventory = await s.service({
      name: 'inventory',
      framework: 'fastify',
      routes: { '/reserve': reserve(stock, bothRead) },
    });
    const api = await s.service({
      name: 'api',
      framework: 'express',
      routes: {
        '/checkout': () =>
          Promise.all([
            callService('axios', `${order.url}/reserve`),
            callService('fetch', `${inventory.url}/reserve`),
          ]),
      },
    });

    const { traceId } = await rootRequest(`${api.url}/checkout`);
    await s.settle([traceId], { serverSpans: 3 });

    const answer = await s.api.traceRaces(traceId);
    expect(answer.analysis).toBe('done');
    expect(answer.races).toHaveLength(1);
    const [found] = answer.races as [Race];
    expect(found).toMatchObject({ scope: 'trace', resource: 'stock:1', trace_ids: [traceId] });
    expect([...found.services].sort()).toEqual(['inventory', 'order']);
    expect(found.examples[0]!).toMatchObject({
      kind: 'lost_update',
      confidence: 'certain',
      evidence: 'clock',
    });
    // [read A, write A, read B, write B]: each side read 10 and wrote 9.
    const accesses = found.examples[0]!.accesses;
    expect(accesses.map((a) => a.kind)).toEqual([
      'state_read',
      'state_write',
      'state_read',
      'state_write',
    ]);
    expect(accesses.map((a) => a.value)).toEqual([10, 9, 10, 9]);
    expect(accesses[0]?.service).toBe(accesses[1]?.service);
    expect(accesses[2]?.service).toBe(accesses[3]?.service);
    expect(new Set([accesses[0]?.service, accesses[2]?.service])).toEqual(
      new Set(['order', 'inventory']),
    );
    expect(found.examples[0]!.explanation).toMatch(/order/);
    expect(found.examples[0]!.explanation).toMatch(/inventory/);

    // The listing of every race says the same, and the row itself lost a decrement.
    const listed = await s.api.races('resource=stock:1');
    expect(listed.races.map((r) => r.id)).toEqual([found.id]);
    expect(stock.quantity('1')).toBe(9);
  });

  it('reports no race when the same calls run one after the other', async () => {
    const s = await scenario();
    const stock = new StockTable({ '1': 10 });
    const order = await s.service({
      name: 'order',
      framework: 'fastify',
      routes: { '/reserve': reserve(stock) },
    });
    const inventory = await s.service({
      name: 'inventory',
      framework: 'express',
      routes: { '/reserve': reserve(stock) },
    });
    const api = await s.service({
      name: 'api',
      framework: 'koa',
      routes: {
        '/checkout': async () => [
          await callService('fetch', `${order.url}/reserve`),
          await callService('axios', `${inventory.url}/reserve`),
        ],
      },
    });

    const { traceId } = await rootRequest(`${api.url}/checkout`);
    const [trace] = await s.settle([traceId], { serverSpans: 3 });

    // The four accesses reached the collector and were analysed: the silence means something.
    const accesses = stateAccesses(trace!);
    expect(accesses.map((a) => `${a.service} ${a.kind}`)).toEqual([
      'order state_read',
      'order state_write',
      'inventory state_read',
      'inventory state_write',
    ]);
    const answer = await s.api.traceRaces(traceId);
    expect(answer.analysis).toBe('done');
    expect(answer.races).toEqual([]);
    expect((await s.api.races()).races).toEqual([]);
    expect(stock.quantity('1')).toBe(8);
  });
});

describe('a read after a call whose callee wrote', () => {
  it.each([
    { client: 'fetch', reported: false },
    { client: 'axios', reported: false },
    { client: 'manual', reported: false },
    // Control: the callee's clock never comes back, so the caller's read looks concurrent
    // with the callee's write. This is what the response-clock rule (spec 2.6) prevents.
    { client: 'manual-no-merge', reported: true },
  ] as const)('via $client: race reported: $reported', async ({ client, reported }) => {
    const s = await scenario();
    const stock = new StockTable({ '1': 10 });
    const inventory = await s.service({
      name: 'inventory',
      framework: 'express',
      routes: { '/reserve': reserve(stock) },
    });
    const storefront = await s.service({
      name: 'storefront',
      framework: 'fastify',
      routes: {
        '/buy': async () => {
          await callService(client, `${inventory.url}/reserve`);
          return { left: stock.read('1') };
        },
      },
    });

    const { traceId, body } = await rootRequest(`${storefront.url}/buy`);
    expect(body).toEqual({ left: 9 });
    const [trace] = await s.settle([traceId], { serverSpans: 2 });
    expect(stateAccesses(trace!).map((a) => `${a.service} ${a.kind}`)).toEqual([
      'inventory state_read',
      'inventory state_write',
      'storefront state_read',
    ]);

    const { races, analysis } = await s.api.traceRaces(traceId);
    expect(analysis).toBe('done');
    if (!reported) {
      expect(races).toEqual([]);
      return;
    }
    expect(races).toHaveLength(1);
    const race = races[0]!.examples[0]!;
    expect(race.kind).toBe('read_write');
    expect(race.accesses.map((a) => `${a.service} ${a.kind}`)).toEqual([
      'inventory state_write',
      'storefront state_read',
    ]);
  });
});

describe('the same concurrent read-modify-writes under a common lock', () => {
  it.each([
    { locked: ['order', 'inventory'], reported: false },
    // Control: a lock only one side takes protects nothing.
    { locked: ['order'], reported: true },
  ])('locked by $locked: race reported: $reported', async ({ locked, reported }) => {
    const s = await scenario();
    const stock = new StockTable({ '1': 10 });
    const mutex = new Mutex();
    // Both requests are in their handlers before either takes the lock: the lock, not the
    // timing, is what orders them.
    const bothArrived = barrier(2);
    // Without a common lock, both read before either writes (a real lost update).
    const bothRead = reported ? barrier(2) : undefined;
    const handler = (service: string) => async () => {
      await bothArrived.arrive();
      const readModifyWrite = async () => {
        const quantity = stock.read('1');
        await bothRead?.arrive();
        await delay(5);
        stock.write('1', quantity - 1);
      };
      if (!locked.includes(service)) return readModifyWrite();
      return mutex.runExclusive(() => withLock('stock:1', readModifyWrite));
    };
    const order = await s.service({
      name: 'order',
      framework: 'express',
      routes: { '/reserve': handler('order') },
    });
    const inventory = await s.service({
      name: 'inventory',
      framework: 'fastify',
      routes: { '/reserve': handler('inventory') },
    });
    const api = await s.service({
      name: 'api',
      framework: 'koa',
      routes: {
        '/checkout': () =>
          Promise.all([
            callService('fetch', `${order.url}/reserve`),
            callService('axios', `${inventory.url}/reserve`),
          ]),
      },
    });

    const { traceId } = await rootRequest(`${api.url}/checkout`);
    const [trace] = await s.settle([traceId], { serverSpans: 3 });
    expect(stateAccesses(trace!)).toHaveLength(4);
    expect(allEvents(trace!).filter((e) => e.kind === 'lock_acquire')).toHaveLength(locked.length);

    const { races, analysis } = await s.api.traceRaces(traceId);
    expect(analysis).toBe('done');
    if (!reported) {
      expect(races).toEqual([]);
      expect(stock.quantity('1')).toBe(8);
      return;
    }
    expect(races.map((r) => r.kind)).toEqual(['lost_update']);
    expect([...races[0]!.services].sort()).toEqual(['inventory', 'order']);
    expect(stock.quantity('1')).toBe(9);
  });
});

describe('concurrent writes that declare themselves atomic', () => {
  it.each([
    { atomic: true, kind: null },
    // Control: the same blind writes, not atomic, are a write-write race.
    { atomic: false, kind: 'write_write' },
  ] as const)('atomic: $atomic: race $kind', async ({ atomic, kind }) => {
    const s = await scenario();
    const stock = new StockTable({ '1': 10 });
    const bothArrived = barrier(2);
    const decrement = async () => {
      await bothArrived.arrive();
      if (atomic) stock.decrementAtomically('1');
      else stock.write('1', 0);
      return {};
    };
    const order = await s.service({
      name: 'order',
      framework: 'koa',
      routes: { '/reserve': decrement },
    });
    const inventory = await s.service({
      name: 'inventory',
      framework: 'express',
      routes: { '/reserve': decrement },
    });
    const api = await s.service({
      name: 'api',
      framework: 'fastify',
      routes: {
        '/checkout': () =>
          Promise.all([
            callService('axios', `${order.url}/reserve`),
            callService('fetch', `${inventory.url}/reserve`),
          ]),
      },
    });

    const { traceId } = await rootRequest(`${api.url}/checkout`);
    const [trace] = await s.settle([traceId], { serverSpans: 3 });
    const writes = stateAccesses(trace!);
    expect(writes.map((w) => w.kind)).toEqual(['state_write', 'state_write']);
    expect(writes.map((w) => w.data.atomic === true)).toEqual([atomic, atomic]);

    const { races, analysis } = await s.api.traceRaces(traceId);
    expect(analysis).toBe('done');
    expect(races.map((r) => r.kind)).toEqual(kind === null ? [] : [kind]);
    if (atomic) expect(stock.quantity('1')).toBe(8);
  });
});

describe('two concurrent branches of one handler', () => {
  it('reports the lost update between the forked branches, not the read after the join', async () => {
    const s = await scenario();
    const stock = new StockTable({ '1': 10 });
    const bothRead = barrier(2);
    const branch = async () => {
      await reserve(stock, bothRead)();
      return getCurrentContext()?.component ?? null;
    };
    const inventory = await s.service({
      name: 'inventory',
      framework: 'koa',
      routes: {
        '/reserve-twice': async () => {
          const branches = await Promise.all([fork(branch), fork(branch)]);
          return { branches, handler: getCurrentContext()?.component, left: stock.read('1') };
        },
      },
    });

    const { traceId, body } = await rootRequest(`${inventory.url}/reserve-twice`);
    const { branches, handler, left } = body as {
      branches: string[];
      handler: string;
      left: number;
    };
    expect(left).toBe(9);
    expect(new Set(branches).size).toBe(2);
    expect(branches).not.toContain(handler);
    const [trace] = await s.settle([traceId], { serverSpans: 1 });
    const readAfterJoin = stateAccesses(trace!).at(-1)!;
    expect(readAfterJoin).toMatchObject({ kind: 'state_read', component: handler });

    const { races, analysis } = await s.api.traceRaces(traceId);
    expect(analysis).toBe('done');
    expect(races).toHaveLength(1);
    const race = races[0]!;
    expect(race.services).toEqual(['inventory']);
    expect(race.kind).toBe('lost_update');
    expect(new Set(race.examples[0]!.accesses.map((a) => a.component))).toEqual(new Set(branches));
    expect(race.examples[0]!.accesses.map((a) => a.eventId)).not.toContain(readAfterJoin.id);
  });

  it('orders what follows the join after the services the branches called', async () => {
    const s = await scenario();
    const stock = new StockTable({ '1': 10 });
    const bothRead = barrier(2);
    const order = await s.service({
      name: 'order',
      framework: 'fastify',
      routes: { '/reserve': reserve(stock, bothRead) },
    });
    const inventory = await s.service({
      name: 'inventory',
      framework: 'express',
      routes: { '/reserve': reserve(stock, bothRead) },
    });
    const api = await s.service({
      name: 'api',
      framework: 'koa',
      routes: {
        '/checkout': async () => {
          await Promise.all([
            fork(() => callService('axios', `${order.url}/reserve`)),
            fork(() => callService('fetch', `${inventory.url}/reserve`)),
          ]);
          // After the join: ordered after both callees through the branches' merged clocks.
          return { left: stock.read('1') };
        },
      },
    });

    const { traceId, body } = await rootRequest(`${api.url}/checkout`);
    expect(body).toEqual({ left: 9 });
    const [trace] = await s.settle([traceId], { serverSpans: 3 });
    expect(stateAccesses(trace!).at(-1)).toMatchObject({ service: 'api', kind: 'state_read' });

    const { races, analysis } = await s.api.traceRaces(traceId);
    expect(analysis).toBe('done');
    expect(races.map((r) => r.kind)).toEqual(['lost_update']);
    expect([...races[0]!.services].sort()).toEqual(['inventory', 'order']);
  });
});
