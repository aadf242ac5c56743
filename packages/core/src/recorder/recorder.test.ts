import { describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { schemaErrors, validateEvent } from '../../test/helpers/schemas.js';
import { decodeClock } from '../clock/codec.js';
import { runInContext } from '../context/async-context.js';
import { Tracer } from '../context/tracer.js';
import { headersFromRecord } from '../propagation/carrier.js';
import { extractContext } from '../propagation/extract.js';
import {
  getTraceHeaders,
  mergeResponseHeaders,
  recordLockHeld,
  trackError,
  trackEvent,
  trackLockAcquire,
  trackLockRelease,
  trackStateRead,
  trackStateWrite,
  withLock,
} from './index.js';

function traced<T>(fn: () => T, service = 'svc') {
  const { tracer, events } = recordingTracer(service);
  const ctx = tracer.startContext({});
  const result = runInContext(ctx, fn);
  return { ctx, events, result };
}

describe('recording API', () => {
  it('records state reads and writes with values and versions', () => {
    const { events } = traced(() => {
      trackStateRead('items/1', { value: { stock: 3 }, version: 7 });
      trackStateWrite('items/1', { value: 2, version: 8.5, atomic: true });
      trackStateWrite('items/2');
    });
    expect(events.map((e) => [e.kind, e.data])).toEqual([
      ['state_read', { resource: 'items/1', value: { stock: 3 }, version: 7 }],
      ['state_write', { resource: 'items/1', value: 2, version: '8.5', atomic: true }],
      ['state_write', { resource: 'items/2' }],
    ]);
  });

  it('records locks, errors and custom events', () => {
    const { events } = traced(() => {
      trackLockAcquire('inventory');
      trackLockRelease('inventory');
      trackError(new RangeError('out of stock'));
      trackEvent('cache_miss', { key: 'items/1', skipped: undefined, big: 'x'.repeat(2000) });
    });
    expect(events.map((e) => e.kind)).toEqual(['lock_acquire', 'lock_release', 'error', 'custom']);
    expect(events[2]?.data).toMatchObject({ type: 'RangeError', message: 'out of stock' });
    const custom = events[3]?.data as { name: string; attributes: Record<string, unknown> };
    expect(custom.name).toBe('cache_miss');
    expect(custom.attributes.key).toBe('items/1');
    expect('skipped' in custom.attributes).toBe(false);
    expect(Buffer.byteLength(custom.attributes.big as string)).toBeLessThanOrEqual(1024);
    for (const event of events)
      expect(validateEvent(event), schemaErrors(validateEvent)).toBe(true);
  });

  it('keeps events inside the schema whatever the application passes', () => {
    const { events } = traced(() => {
      trackStateRead('r'.repeat(1000), { version: Number.NaN });
      trackStateRead('', { value: 1 });
      trackStateRead(undefined as unknown as string);
      trackLockAcquire(null as unknown as string);
      trackEvent('n'.repeat(300), null as unknown as Record<string, unknown>);
      trackEvent('');
      trackError(undefined);
    });
    expect(events.map((e) => e.kind)).toEqual(['state_read', 'custom', 'error']);
    for (const event of events)
      expect(validateEvent(event), schemaErrors(validateEvent)).toBe(true);
  });

  it('does nothing outside a context, and never throws', () => {
    expect(() => {
      trackStateRead('x');
      trackStateWrite('x', { value: 1 });
      trackLockAcquire('l');
      trackLockRelease('l');
      trackError(new Error('e'));
      trackEvent('e');
      mergeResponseHeaders(() => {
        throw new Error('getter');
      });
    }).not.toThrow();
    expect(getTraceHeaders()).toEqual({});
  });

  it('does nothing in a context of a disabled tracer', () => {
    const tracer = new Tracer({ serviceName: 'off', disabled: true }, { env: {} });
    const ctx = tracer.startContext({});
    runInContext(ctx, () => {
      trackStateWrite('x');
      expect(getTraceHeaders()).toEqual({});
    });
    expect(ctx.clock.size).toBe(0);
  });

  it('withLock records acquire and release around the work, whatever its outcome', async () => {
    const { tracer, events } = recordingTracer('svc');
    const ctx = tracer.startContext({});
    await runInContext(ctx, async () => {
      expect(await withLock('l', async () => 42)).toBe(42);
      await expect(
        withLock('l', () => {
          throw new Error('inside');
        }),
      ).rejects.toThrow('inside');
    });
    expect(events.map((e) => e.kind)).toEqual([
      'lock_acquire',
      'lock_release',
      'lock_acquire',
      'lock_release',
    ]);
    expect(await withLock('outside', () => 'ran')).toBe('ran');
  });
});

describe('manual propagation', () => {
  it('getTraceHeaders is a client call: request_sent, and headers a callee can extract', () => {
    const {
      ctx,
      events,
      result: headers,
    } = traced(() => {
      trackEvent('before');
      return getTraceHeaders();
    });
    expect(Object.keys(headers).sort()).toEqual([
      'X-Raceway-Trace-Id',
      'X-Raceway-VC',
      'traceparent',
    ]);
    expect(ctx.clock.get(ctx.component)).toBe(2);
    const extracted = extractContext(headersFromRecord(headers));
    expect(extracted.status).toBe('accepted');
    expect(extracted.traceId).toBe(ctx.traceId);
    const sent = events.find((event) => event.kind === 'request_sent');
    expect(sent?.parent_span_id).toBe(ctx.spanId);
    expect(extracted.parentSpanId).toBe(sent?.span_id);
    expect(extracted.parentSpanId).not.toBe(ctx.spanId);
    expect(extracted.clock?.toJSON()).toEqual({ [ctx.component]: 2 });
  });

  it('passes tracestate on', () => {
    const { tracer } = recordingTracer('svc');
    const ctx = tracer.startContext({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      tracestate: 'v=1',
    });
    expect(runInContext(ctx, getTraceHeaders).tracestate).toBe('v=1');
  });

  it('mergeResponseHeaders merges a clock of the same trace only', () => {
    const { tracer } = recordingTracer('svc');
    const ctx = tracer.startContext({});
    const callee = 'api#0000beef';
    const vc = `{"${callee}":5}`;
    runInContext(ctx, () => {
      mergeResponseHeaders(
        headersFromRecord({ 'x-raceway-trace-id': 'f'.repeat(32), 'x-raceway-vc': vc }),
      );
      expect(ctx.clock.get(callee)).toBe(0);
      mergeResponseHeaders(
        headersFromRecord({ 'X-Raceway-Trace-Id': ctx.traceId, 'X-Raceway-VC': '{bad' }),
      );
      expect(ctx.clock.get(callee)).toBe(0);
      mergeResponseHeaders(
        headersFromRecord({ 'x-raceway-trace-id': ctx.traceId, 'x-raceway-vc': [vc, '{"x#1":1}'] }),
      );
      expect(ctx.clock.get(callee)).toBe(0);
      mergeResponseHeaders(
        headersFromRecord({ 'X-Raceway-Trace-Id': ctx.traceId, 'X-Raceway-VC': vc }),
      );
      expect(ctx.clock.get(callee)).toBe(5);
    });
    const next = ctx.record('custom', { name: 'after' })!;
    expect(decodeClock(JSON.stringify(next.clock))).toMatchObject({ ok: true });
    expect(next.clock[callee]).toBe(5);
  });
});

describe('withLock with a lock', () => {
  // A mutex of the async-mutex shape (runExclusive), and one of the acquire/release shape.
  function runExclusiveMutex() {
    let tail: Promise<unknown> = Promise.resolve();
    return {
      runExclusive<T>(fn: () => T | Promise<T>): Promise<T> {
        const run = tail.then(fn);
        tail = run.catch(() => undefined);
        return run;
      },
    };
  }
  function acquireMutex() {
    const inner = runExclusiveMutex();
    return {
      acquire(): Promise<() => void> {
        return new Promise((taken) => {
          void inner.runExclusive(() => new Promise<void>((released) => taken(() => released())));
        });
      },
    };
  }

  it.each([
    ['runExclusive', runExclusiveMutex],
    ['acquire', acquireMutex],
  ] as const)('takes a %s lock: ten concurrent increments lose nothing', async (_, makeLock) => {
    const lock = makeLock();
    let counter = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withLock('counter', lock, async () => {
          const seen = counter;
          await new Promise((resolve) => setTimeout(resolve, 2));
          counter = seen + 1;
        }),
      ),
    );
    expect(counter).toBe(10);
  });

  it('the recording-only form loses them, which is why it is not the lock', async () => {
    let counter = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        recordLockHeld('counter', async () => {
          const seen = counter;
          await new Promise((resolve) => setTimeout(resolve, 2));
          counter = seen + 1;
        }),
      ),
    );
    expect(counter).toBeLessThan(10);
  });
});
