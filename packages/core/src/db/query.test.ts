import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { schemaErrors, validateEvent } from '../../test/helpers/schemas.js';
import type { RacewayOptions } from '../config.js';
import { runInContext } from '../context/async-context.js';
import { Tracer } from '../context/tracer.js';
import type { RacewayEvent } from '../events.js';
import { connectionId } from './connection-id.js';
import { observeEmit } from './observe-emit.js';
import { paramDigest } from './param-digest.js';
import { type DbQuery, queryContext, recordQuery, startQuery } from './query.js';

function traced(options: RacewayOptions = {}) {
  const { tracer, events } = recordingTracer('svc', options);
  const ctx = tracer.startContext({});
  const run = <T>(fn: () => T) => runInContext(ctx, fn);
  const queries = () => events.filter((e): e is RacewayEvent<'db_query'> => e.kind === 'db_query');
  return { ctx, events, run, queries };
}

const base: DbQuery = {
  system: 'postgresql',
  statement: 'SELECT id, stock FROM items WHERE id = $1',
  params: [42],
  connection: 'pg#1',
  durationMs: 1.23456,
};

function expectValid(events: readonly RacewayEvent[]): void {
  for (const event of events) {
    expect(validateEvent(JSON.parse(JSON.stringify(event))), schemaErrors(validateEvent)).toBe(
      true,
    );
  }
}

describe('recordQuery', () => {
  it('records the statement, digests of parameters and rows, and the connection', () => {
    const { run, queries, events } = traced();
    run(() =>
      recordQuery({
        ...base,
        params: [42, 'mug', null, 1.5, true, Buffer.from([1, 2]), new Date(0), { a: 1 }],
        database: 'shop',
        rows: 1,
        returned: [{ id: 42, stock: 3 }],
      }),
    );
    const [event] = queries();
    expect(event?.data).toEqual({
      system: 'postgresql',
      statement: 'SELECT id, stock FROM items WHERE id = $1',
      params: [42, 'mug', null, 1.5, true, Buffer.from([1, 2]), new Date(0), { a: 1 }].map(
        (value) => ({ digest: paramDigest(value) }),
      ),
      connection: 'pg#1',
      database: 'shop',
      rows: 1,
      returned: [{ id: paramDigest(42), stock: paramDigest(3) }],
      duration_ms: 1.235,
    });
    expectValid(events);
  });

  it('takes one step of the clock, like every event', () => {
    const { ctx, run, events } = traced();
    run(() => {
      ctx.record('custom', { name: 'before' });
      recordQuery(base);
      ctx.record('custom', { name: 'after' });
    });
    expect(events.map((e) => [e.kind, e.clock[ctx.component]])).toEqual([
      ['custom', 1],
      ['db_query', 2],
      ['custom', 3],
    ]);
  });

  it('cuts a long statement to 4096 characters and says so', () => {
    const { run, queries, events } = traced();
    const statement = `SELECT '${'x'.repeat(5000)}'`;
    run(() => recordQuery({ ...base, statement }));
    expect(queries()[0]?.data.statement).toBe(statement.slice(0, 4096));
    expect(queries()[0]?.data.statement_truncated).toBe(true);
    expectValid(events);
  });

  it('digests with the configured key, and sends raw values only when asked', () => {
    const keyed = traced({ digestKey: 'shared' });
    keyed.run(() => recordQuery(base));
    expect(keyed.queries()[0]?.data.params).toEqual([{ digest: paramDigest(42, 'shared') }]);
    expect(paramDigest(42, 'shared')).not.toBe(paramDigest(42));

    const withValues = traced({ captureValues: true });
    withValues.run(() =>
      recordQuery({
        ...base,
        params: [42, Buffer.from('hi'), 10n, undefined],
        namedParams: { id: 'a' },
      }),
    );
    expect(withValues.queries()[0]?.data.params).toEqual([
      { digest: paramDigest(42), value: 42 },
      { digest: paramDigest(Buffer.from('hi')), value: '6869' },
      { digest: paramDigest(10n), value: '10' },
      { digest: paramDigest(null), value: null },
      { digest: paramDigest('a'), name: 'id', value: 'a' },
    ]);
    expectValid(withValues.events);
  });

  it('reads the digest key from RACEWAY_DIGEST_KEY', () => {
    const events: RacewayEvent[] = [];
    const tracer = new Tracer(
      { serviceName: 'svc' },
      {
        transport: { enqueue: (e: RacewayEvent) => events.push(e) } as never,
        env: { RACEWAY_DIGEST_KEY: 'from-env' },
      },
    );
    runInContext(tracer.startContext({}), () => recordQuery(base));
    expect(events[0]?.data).toMatchObject({
      params: [{ digest: paramDigest(42, 'from-env') }],
    });
  });

  it('digests at most 10 rows of 32 columns; array rows and single values take column names', () => {
    const { run, queries, events } = traced();
    const wide = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`c${i}`, i]));
    run(() => {
      recordQuery({ ...base, returned: Array.from({ length: 12 }, () => wide) });
      recordQuery({ ...base, returned: [[1, 'a']], columns: ['id', 'name'] });
      recordQuery({ ...base, returned: [7, 8], columns: ['id'] });
      recordQuery({ ...base, returned: [] });
    });
    const [many, arrays, plucked, none] = queries().map((e) => e.data);
    expect(many?.returned).toHaveLength(10);
    expect(Object.keys(many?.returned?.[0] ?? {})).toEqual(
      Array.from({ length: 32 }, (_, i) => `c${i}`),
    );
    expect(arrays?.returned).toEqual([{ id: paramDigest(1), name: paramDigest('a') }]);
    expect(plucked?.returned).toEqual([{ id: paramDigest(7) }, { id: paramDigest(8) }]);
    expect(none?.returned).toEqual([]);
    expect(none?.rows).toBeNull();
    expectValid(events);
  });

  it('records a failure with the driver code as its type', () => {
    const { run, queries, events } = traced();
    const unique = Object.assign(new Error('duplicate key value'), { code: '23505' });
    run(() => {
      recordQuery({ ...base, error: unique });
      recordQuery({ ...base, error: new TypeError('x'.repeat(3000)) });
    });
    const [first, second] = queries().map((e) => e.data.error);
    expect(first).toEqual({ type: '23505', message: 'duplicate key value' });
    expect(second?.type).toBe('TypeError');
    expect(second?.message).toHaveLength(2048);
    expectValid(events);
  });

  it('records nothing outside a context, unsampled, disabled, or with captureQueries off', () => {
    expect(() => recordQuery(base)).not.toThrow();
    for (const options of [{ sampleRate: 0 }, { captureQueries: false }] as RacewayOptions[]) {
      const { run, events } = traced(options);
      run(() => recordQuery(base));
      expect(events).toEqual([]);
    }
    const disabled = new Tracer({ disabled: true }, { env: {} });
    expect(() => runInContext(disabled.startContext({}), () => recordQuery(base))).not.toThrow();
  });

  it('never throws into the application', () => {
    const { run, queries } = traced();
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    expect(() =>
      run(() => {
        recordQuery({ ...base, returned: [hostile] });
        recordQuery({ ...base, namedParams: hostile as never });
        recordQuery(null as never);
        recordQuery({ ...base, statement: '' });
      }),
    ).not.toThrow();
    expect(queries()).toEqual([]);
  });
});

describe('startQuery', () => {
  it('records once, in the context that sent the statement, with the time to the answer', async () => {
    const { ctx, run, queries } = traced();
    const query = run(() => startQuery({ ...base, connection: 'pg#9' }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    query?.end({ rows: 2n, returned: [{ id: 1 }, { id: 2 }] }); // outside any context
    query?.end({ rows: 5 });
    const [event] = queries();
    expect(queries()).toHaveLength(1);
    expect(event?.component).toBe(ctx.component);
    expect(event?.data.rows).toBe(2);
    expect(event?.data.duration_ms).toBeGreaterThanOrEqual(4);
  });

  it('gives nothing to do when nothing would be recorded', () => {
    expect(startQuery(base)).toBeUndefined();
    const { run } = traced({ sampleRate: 0 });
    expect(run(() => startQuery(base))).toBeUndefined();
    expect(run(() => queryContext())).toBeUndefined();
    expect(traced({ captureQueries: false }).run(() => queryContext())).toBeUndefined();
    const on = traced();
    expect(on.run(() => queryContext())).toBe(on.ctx);
    expect(queryContext()).toBeUndefined();
    expect(on.run(() => startQuery({ ...base, statement: '' }))).toBeUndefined();
  });
});

describe('connectionId', () => {
  it('is the same for one connection and unique in the process', () => {
    const a = {};
    const b = {};
    const idA = connectionId(a, 'test-db');
    expect(idA).toMatch(/^test-db#\d+$/);
    expect(connectionId(a, 'test-db')).toBe(idA);
    const idB = connectionId(b, 'test-db');
    expect(idB).not.toBe(idA);
    expect(Number(idB.split('#')[1])).toBe(Number(idA.split('#')[1]) + 1);
  });
});

describe('observeEmit', () => {
  it('sees every event before the listeners, and leaves unhandled errors unhandled', () => {
    const emitter = new EventEmitter();
    const seen: Array<string | symbol> = [];
    const order: string[] = [];
    observeEmit(emitter, (event) => {
      seen.push(event);
      order.push(`observed ${String(event)}`);
    });
    emitter.on('end', () => order.push('listener end'));
    emitter.emit('end');
    expect(order).toEqual(['observed end', 'listener end']);
    expect(() => emitter.emit('error', new Error('boom'))).toThrow('boom');
    expect(seen).toEqual(['end', 'error']);
  });
});
