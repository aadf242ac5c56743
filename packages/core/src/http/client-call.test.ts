import { describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { decodeClock } from '../clock/codec.js';
import { runInContext } from '../context/async-context.js';
import type { RacewayEvent } from '../events.js';
import { headersFromRecord } from '../propagation/carrier.js';
import { isTracedCall, startClientCall } from './client-call.js';

function context(options = {}) {
  const { tracer, events } = recordingTracer('shop', options);
  return { ctx: tracer.startContext({}), events };
}

describe('client call', () => {
  it('does nothing outside a context', () => {
    expect(startClientCall({ url: 'http://inventory/items' })).toBeUndefined();
  });

  it('records request_sent as its own span and sends the clock after it', () => {
    const { ctx, events } = context();
    const call = runInContext(ctx, () =>
      startClientCall({ method: 'post', url: 'http://inventory:3000/items?q=1' }),
    );
    expect(call).toBeDefined();
    const [sent] = events as [RacewayEvent<'request_sent'>];
    expect(sent.kind).toBe('request_sent');
    expect(sent.span_id).toBe(call?.spanId);
    expect(sent.parent_span_id).toBe(ctx.spanId);
    expect(sent.data).toEqual({
      method: 'POST',
      url: 'http://inventory:3000/items',
      host: 'inventory:3000',
    });
    expect(call?.headers['X-Raceway-Trace-Id']).toBe(ctx.traceId);
    expect(call?.headers.traceparent).toBe(`00-${ctx.traceId}-${call?.spanId}-03`);
    const sentClock = decodeClock(String(call?.headers['X-Raceway-VC']));
    expect(sentClock.ok && sentClock.clock.toJSON()).toEqual(sent.clock);
    expect(isTracedCall(call?.headers.traceparent)).toBe(true);
    call?.end();
    expect(isTracedCall(call?.headers.traceparent)).toBe(false);
  });

  it('sends no headers outside propagateTo, and still records the call', () => {
    const { ctx, events } = context();
    const call = startClientCall({ url: 'https://api.stripe.com/v1/charges' }, ctx);
    expect(call?.headers).toEqual({});
    call?.end({ status: 200 });
    expect(events.map((e) => e.kind)).toEqual(['request_sent', 'response_received']);
    // Said in the event: the collector names the setting when the callee's side is missing.
    expect(events[0]?.data).toMatchObject({ host: 'api.stripe.com', headers_withheld: true });
    const own = startClientCall({ url: 'https://api.stripe.com/x', propagateTo: () => true }, ctx);
    expect(Object.keys(own?.headers ?? {})).toContain('traceparent');
    expect(events[2]?.data).not.toHaveProperty('headers_withheld');
  });

  it('merges the callee clock of the same trace only, then records response_received once', () => {
    const { ctx, events } = context();
    const call = startClientCall({ url: 'http://inventory/items' }, ctx);
    const response = headersFromRecord({
      'x-raceway-trace-id': ctx.traceId,
      'x-raceway-vc': '{"inventory#0000000a":4}',
    });
    call?.end({ status: 200, headers: response });
    call?.end({ error: new Error('late') });
    const done = events.filter(
      (e) => e.kind === 'response_received',
    ) as RacewayEvent<'response_received'>[];
    expect(done).toHaveLength(1);
    expect(done[0]?.data).toMatchObject({ status: 200, remote_clock: true });
    expect(done[0]?.clock['inventory#0000000a']).toBe(4);

    const other = startClientCall({ url: 'http://inventory/items' }, ctx);
    other?.end({
      status: 200,
      headers: headersFromRecord({
        'x-raceway-trace-id': '0af7651916cd43dd8448eb211c80319c',
        'x-raceway-vc': '{"elsewhere#0000000b":9}',
      }),
    });
    expect(ctx.clock.get('elsewhere#0000000b')).toBe(0);
  });

  it('records a network error without a status', () => {
    const { ctx, events } = context();
    startClientCall({ url: 'http://inventory/items' }, ctx)?.end({
      error: new Error('ECONNREFUSED'),
    });
    const done = events.at(-1) as RacewayEvent<'response_received'>;
    expect(done.data.status).toBeUndefined();
    expect(done.data.error).toMatchObject({ type: 'Error', message: 'ECONNREFUSED' });
  });

  it('ignores a URL it cannot parse', () => {
    const { ctx, events } = context();
    expect(startClientCall({ url: '/relative' }, ctx)).toBeUndefined();
    expect(events).toEqual([]);
  });
});
