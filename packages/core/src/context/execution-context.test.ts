import { describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { schemaErrors, validateEvent } from '../../test/helpers/schemas.js';
import { VectorClock } from '../clock/vector-clock.js';
import type { EventData, EventKind } from '../events.js';

describe('ExecutionContext.record', () => {
  it('increments the own component and snapshots the clock', () => {
    const { tracer, events } = recordingTracer('svc');
    const ctx = tracer.startContext({});
    const first = ctx.record('custom', { name: 'a' })!;
    const second = ctx.record('custom', { name: 'b' })!;
    expect(first.clock).toEqual({ [ctx.component]: 1 });
    expect(second.clock).toEqual({ [ctx.component]: 2 });
    expect(events).toEqual([first, second]);
    expect(first.id).not.toBe(second.id);
    expect(second.ts_us).toBeGreaterThanOrEqual(first.ts_us);
    expect(first).toMatchObject({
      trace_id: ctx.traceId,
      span_id: ctx.spanId,
      parent_span_id: null,
      service: 'svc',
      instance: tracer.instance,
      component: ctx.component,
    });
    expect(first).not.toHaveProperty('clock_dropped');
  });

  it('places client-call events in their own span', () => {
    const { tracer } = recordingTracer('svc');
    const ctx = tracer.startContext({});
    const event = ctx.record(
      'request_sent',
      { method: 'GET', url: 'http://inventory/items', host: 'inventory' },
      { spanId: '1111111111111111', parentSpanId: ctx.spanId },
    )!;
    expect(event.span_id).toBe('1111111111111111');
    expect(event.parent_span_id).toBe(ctx.spanId);
  });

  it('produces events valid against the event schema, for every kind', () => {
    const { tracer, events } = recordingTracer('svc');
    const ctx = tracer.startContext({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentSpanId: '00f067aa0ba902b7',
    });
    const samples: { [K in EventKind]: EventData[K] } = {
      request_received: {
        method: 'GET',
        path: '/items/1',
        route: '/items/:id',
        incoming: { status: 'degraded', reasons: ['vc_invalid'] },
      },
      response_sent: {
        method: 'GET',
        route: null,
        status: 500,
        duration_ms: 1.25,
        error: { type: 'E', message: 'm' },
      },
      request_sent: { method: 'POST', url: 'http://inventory/items', host: 'inventory' },
      response_received: {
        method: 'POST',
        url: 'http://inventory/items',
        host: 'inventory',
        status: 201,
        duration_ms: 3,
        remote_clock: true,
      },
      state_read: { resource: 'items/1', value: { stock: 3 }, version: 7 },
      state_write: { resource: 'items/1', value: 2, version: 'etag-8', atomic: false },
      lock_acquire: { lock: 'items' },
      lock_release: { lock: 'items' },
      error: { type: 'TypeError', message: 'bad', stack: 'TypeError: bad' },
      fork: { child: 'svc#0000abcd' },
      join: { child: 'svc#0000abcd' },
      custom: { name: 'cache_miss', attributes: { key: 'items/1' } },
      db_query: {
        system: 'postgresql',
        statement: 'UPDATE items SET stock = $1 WHERE id = $2',
        params: [{ digest: '0123456789abcdef' }, { digest: 'fedcba9876543210', name: 'id' }],
        connection: 'pg#1',
        database: 'shop',
        rows: 1,
        returned: [{ id: '0123456789abcdef' }],
        error: { type: '40001', message: 'could not serialize access' },
        duration_ms: 0.5,
      },
    };
    for (const [kind, data] of Object.entries(samples)) {
      ctx.record(kind as EventKind, data as never);
    }
    expect(events).toHaveLength(13);
    for (const event of events) {
      expect(validateEvent(event), `${event.kind}: ${schemaErrors(validateEvent)}`).toBe(true);
    }
  });

  it('carries clock_dropped when the context lacks entries', () => {
    const { tracer } = recordingTracer('svc');
    const ctx = tracer.startContext({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      clock: new VectorClock({ 'web#00000001': 1 }),
      clockDropped: 5,
    });
    expect(ctx.record('custom', { name: 'x' })!.clock_dropped).toBe(5);
  });

  it('cuts a clock of more than 64 entries in the snapshot, keeping its own component', () => {
    const { tracer } = recordingTracer('svc');
    const ctx = tracer.startContext({});
    const others = new VectorClock(
      Array.from({ length: 70 }, (_, i) => [`peer#${String(i).padStart(8, '0')}`, i + 10] as const),
    );
    ctx.mergeClock(others);
    const event = ctx.record('custom', { name: 'x' })!;
    expect(Object.keys(event.clock)).toHaveLength(64);
    expect(event.clock[ctx.component]).toBe(1);
    expect(event.clock_dropped).toBe(7);
    // The lowest counters are the ones left out.
    expect(event.clock['peer#00000000']).toBeUndefined();
    expect(event.clock['peer#00000069']).toBe(79);
    expect(validateEvent(event), schemaErrors(validateEvent)).toBe(true);
    // The context itself keeps every entry.
    expect(ctx.clock.size).toBe(71);
  });

  it('merges remote clocks element-wise and keeps the largest dropped count', () => {
    const { tracer } = recordingTracer('svc');
    const ctx = tracer.startContext({});
    ctx.record('custom', { name: 'x' });
    ctx.mergeClock(new VectorClock({ 'api#00000001': 4, [ctx.component]: 1 }), 3);
    ctx.mergeClock(new VectorClock({ 'api#00000001': 2 }), 1);
    expect(ctx.clock.toJSON()).toEqual({ 'api#00000001': 4, [ctx.component]: 1 });
    expect(ctx.clockDropped).toBe(3);
  });

  it('does not throw when the transport does', () => {
    const { tracer } = recordingTracer('svc');
    tracer.emit = () => {
      throw new Error('broken');
    };
    expect(() => tracer.startContext({}).record('custom', { name: 'x' })).not.toThrow();
  });
});
