import { EventEmitter, once } from 'node:events';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { VectorClock } from '../src/clock/vector-clock.js';
import { bindContext, getCurrentContext, runInContext } from '../src/context/async-context.js';
import { fork } from '../src/context/fork.js';
import type { RacewayEvent } from '../src/events.js';
import { trackStateWrite } from '../src/recorder/state.js';
import { recordingTracer } from './helpers/recording-tracer.js';

function newContext() {
  const { tracer, events } = recordingTracer('svc');
  return { ctx: tracer.startContext({}), events };
}

describe('async context propagation', () => {
  it('survives async/await chains', async () => {
    const { ctx } = newContext();
    const seen = await runInContext(ctx, async () => {
      await Promise.resolve();
      await sleep(1);
      const inner = async () => {
        await null;
        return getCurrentContext();
      };
      return inner();
    });
    expect(seen).toBe(ctx);
    expect(getCurrentContext()).toBeUndefined();
  });

  it('survives timers, immediates and nextTick', async () => {
    const { ctx } = newContext();
    const seen = await runInContext(ctx, () =>
      Promise.all([
        new Promise((resolve) => setTimeout(() => resolve(getCurrentContext()), 1)),
        new Promise((resolve) => setImmediate(() => resolve(getCurrentContext()))),
        new Promise((resolve) => process.nextTick(() => resolve(getCurrentContext()))),
        new Promise((resolve) => {
          const timer = setInterval(() => {
            clearInterval(timer);
            resolve(getCurrentContext());
          }, 1);
        }),
      ]),
    );
    expect(seen).toEqual([ctx, ctx, ctx, ctx]);
  });

  it('keeps concurrent contexts apart under Promise.all', async () => {
    const contexts = [newContext().ctx, newContext().ctx, newContext().ctx];
    const seen = await Promise.all(
      contexts.map((ctx, i) =>
        runInContext(ctx, async () => {
          // Interleave: later contexts resume first.
          await sleep(3 - i);
          await Promise.all([sleep(1), Promise.resolve()]);
          return getCurrentContext();
        }),
      ),
    );
    expect(seen).toEqual(contexts);
  });

  it('follows EventEmitter listeners run by an emit inside the context', async () => {
    const { ctx } = newContext();
    const emitter = new EventEmitter();
    const seen: unknown[] = [];
    emitter.on('data', () => seen.push(getCurrentContext()));
    runInContext(ctx, () => emitter.emit('data'));
    emitter.emit('data');
    expect(seen).toEqual([ctx, undefined]);
  });

  it('binds a listener to its context with bindContext, wherever the emit happens', async () => {
    const a = newContext().ctx;
    const b = newContext().ctx;
    const emitter = new EventEmitter();
    const seen: unknown[] = [];
    runInContext(a, () =>
      emitter.on(
        'done',
        bindContext(() => seen.push(getCurrentContext())),
      ),
    );
    runInContext(b, () => emitter.emit('done'));
    setImmediate(() => emitter.emit('done'));
    await once(emitter, 'done');
    expect(seen).toEqual([a, a]);
  });

  it('survives streams: async iteration, transforms and writable callbacks', async () => {
    const { ctx } = newContext();
    const seen: unknown[] = [];
    await runInContext(ctx, () =>
      pipeline(
        Readable.from(['a', 'b', 'c']),
        new Transform({
          objectMode: true,
          transform(chunk, _encoding, callback) {
            seen.push(getCurrentContext());
            setImmediate(() => callback(null, String(chunk).toUpperCase()));
          },
        }),
        new Writable({
          objectMode: true,
          write(_chunk, _encoding, callback) {
            seen.push(getCurrentContext());
            callback();
          },
        }),
      ),
    );
    expect(seen).toHaveLength(6);
    expect(seen.every((c) => c === ctx)).toBe(true);

    const readable = runInContext(ctx, () => {
      const stream = new Readable({ read() {} });
      stream.on('data', () => seen.push(getCurrentContext()));
      return stream;
    });
    const ended = once(readable, 'end');
    runInContext(ctx, () => {
      readable.push('x');
      readable.push(null);
    });
    await ended;
    expect(seen.at(-1)).toBe(ctx);
  });
});

function clockOf(event: RacewayEvent | undefined): VectorClock {
  if (event === undefined) throw new Error('missing event');
  return new VectorClock(event.clock);
}

describe('fork / join', () => {
  it('gives sibling branches concurrent clocks, both ordered with the parent', async () => {
    const { ctx, events } = newContext();
    await runInContext(ctx, async () => {
      trackStateWrite('setup');
      await Promise.all([
        fork(async () => {
          await sleep(1);
          trackStateWrite('row', { value: 'a' });
        }),
        fork(async () => {
          trackStateWrite('row', { value: 'b' });
        }),
      ]);
      trackStateWrite('after');
    });

    const byKind = (kind: string) => events.filter((e) => e.kind === kind);
    const write = (resource: string) =>
      events.filter((e) => e.kind === 'state_write' && e.data.resource === resource);
    const [a, b] = write('row');
    expect(write('row')).toHaveLength(2);
    expect(a?.component).not.toBe(b?.component);
    expect(a?.component).not.toBe(ctx.component);
    expect(clockOf(a).compare(clockOf(b))).toBe('concurrent');

    const [first] = write('setup');
    const [last] = write('after');
    for (const branch of [a, b]) {
      expect(clockOf(first).compare(clockOf(branch))).toBe('before');
      expect(clockOf(branch).compare(clockOf(last))).toBe('before');
    }

    // The parent recorded one fork and one join per branch, naming the branch's component.
    const forks = byKind('fork').map((e) => (e.data as { child: string }).child);
    const joins = byKind('join').map((e) => (e.data as { child: string }).child);
    expect(forks.sort()).toEqual([a?.component, b?.component].sort());
    expect(joins.sort()).toEqual(forks.sort());
    for (const event of [...byKind('fork'), ...byKind('join')])
      expect(event.component).toBe(ctx.component);
  });

  it('starts the branch from the parent clock after the fork event', async () => {
    const { ctx, events } = newContext();
    await runInContext(ctx, () =>
      fork(() => {
        const child = getCurrentContext();
        expect(child).not.toBe(ctx);
        expect(child?.traceId).toBe(ctx.traceId);
        expect(child?.spanId).toBe(ctx.spanId);
        expect(child?.clock.toJSON()).toEqual({ [ctx.component]: 1 });
        trackStateWrite('x');
      }),
    );
    const forkEvent = events.find((e) => e.kind === 'fork');
    const write = events.find((e) => e.kind === 'state_write');
    const join = events.find((e) => e.kind === 'join');
    expect(forkEvent?.clock).toEqual({ [ctx.component]: 1 });
    expect(write?.clock).toEqual({ [ctx.component]: 1, [write?.component ?? '']: 1 });
    expect(join?.clock).toEqual({ [ctx.component]: 2, [write?.component ?? '']: 1 });
  });

  it('nests, and joins a branch that fails', async () => {
    const { ctx, events } = newContext();
    await runInContext(ctx, async () => {
      await fork(() => fork(() => trackStateWrite('deep')));
      await expect(
        fork(() => {
          throw new Error('branch failed');
        }),
      ).rejects.toThrow('branch failed');
      await expect(fork(async () => Promise.reject(new Error('async fail')))).rejects.toThrow(
        'async fail',
      );
    });
    expect(events.filter((e) => e.kind === 'fork')).toHaveLength(4);
    expect(events.filter((e) => e.kind === 'join')).toHaveLength(4);
    const deep = events.find((e) => e.kind === 'state_write');
    const lastJoin = events.filter((e) => e.kind === 'join').at(-1);
    expect(clockOf(deep).compare(clockOf(lastJoin))).toBe('before');
  });

  it('runs the function as is outside a context', async () => {
    expect(await fork(() => getCurrentContext())).toBeUndefined();
    expect(await fork(async () => 7, { name: 'x' })).toBe(7);
  });

  it('labels a branch with its name', async () => {
    const { ctx } = newContext();
    const name = await runInContext(ctx, () =>
      fork(() => getCurrentContext()?.name, { name: 'charge' }),
    );
    expect(name).toBe('charge');
  });
});
