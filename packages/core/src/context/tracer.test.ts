import { afterEach, describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { VectorClock } from '../clock/vector-clock.js';
import { RacewayConfigError } from '../errors.js';
import { Tracer } from './tracer.js';

const created: Tracer[] = [];
afterEach(async () => {
  await Promise.all(created.splice(0).map((tracer) => tracer.shutdown({ timeoutMs: 10 })));
});

function cached(options: Parameters<typeof Tracer.fromOptions>[0]): Tracer {
  const tracer = Tracer.fromOptions(options);
  created.push(tracer);
  return tracer;
}

describe('Tracer.fromOptions', () => {
  it('returns the same tracer for the same service, collector and API key', () => {
    const a = cached({ serviceName: 'cache-a', serverUrl: 'http://127.0.0.1:1' });
    expect(cached({ serviceName: 'cache-a', serverUrl: 'http://127.0.0.1:1/' })).toBe(a);
    expect(
      cached({ serviceName: 'cache-a', serverUrl: 'http://127.0.0.1:1', apiKey: 'k' }),
    ).not.toBe(a);
    expect(cached({ serviceName: 'cache-b', serverUrl: 'http://127.0.0.1:1' })).not.toBe(a);
  });

  it('shares one transport between tracers of one collector and API key', () => {
    const a = cached({ serviceName: 'share-a', serverUrl: 'http://127.0.0.1:2' });
    const b = cached({ serviceName: 'share-b', serverUrl: 'http://127.0.0.1:2' });
    const c = cached({ serviceName: 'share-c', serverUrl: 'http://127.0.0.1:2', apiKey: 'other' });
    expect(a.transport).not.toBeNull();
    expect(b.transport).toBe(a.transport);
    expect(c.transport).not.toBe(a.transport);
  });

  it('throws coded errors for bad options', () => {
    expect(() => Tracer.fromOptions({ serviceName: 's', batchSize: -1 })).toThrow(
      RacewayConfigError,
    );
  });
});

describe('Tracer', () => {
  it('keeps several services apart in one process', () => {
    const web = recordingTracer('web');
    const api = recordingTracer('api');
    web.tracer.startContext({}).record('custom', { name: 'a' });
    api.tracer.startContext({}).record('custom', { name: 'b' });
    expect(web.events.map((e) => e.service)).toEqual(['web']);
    expect(api.events.map((e) => e.service)).toEqual(['api']);
  });

  it('starts a new trace without incoming context', () => {
    const { tracer } = recordingTracer('svc');
    const ctx = tracer.startContext({});
    expect(ctx.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ctx.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ctx.parentSpanId).toBeNull();
    expect(ctx.component).toMatch(/^svc#[0-9a-f]{8}$/);
    expect(ctx.clock.size).toBe(0);
  });

  it('joins an incoming trace with a copy of its clock', () => {
    const { tracer } = recordingTracer('svc');
    const incoming = new VectorClock({ 'web#00000001': 3 });
    const ctx = tracer.startContext({
      traceId: '4BF92F35-77B3-4DA6-A3CE-929D0E0E4736',
      parentSpanId: '00f067aa0ba902b7',
      clock: incoming,
      clockDropped: 2,
      tracestate: 'vendor=x',
    });
    expect(ctx.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(ctx.parentSpanId).toBe('00f067aa0ba902b7');
    expect(ctx.clockDropped).toBe(2);
    expect(ctx.tracestate).toBe('vendor=x');
    ctx.record('custom', { name: 'x' });
    expect(ctx.clock.toJSON()).toEqual({ [ctx.component]: 1, 'web#00000001': 3 });
    expect(incoming.toJSON()).toEqual({ 'web#00000001': 3 });
  });

  it('ignores a clock and parent that come without a valid trace id', () => {
    const { tracer } = recordingTracer('svc');
    const ctx = tracer.startContext({
      traceId: 'nope',
      parentSpanId: '00f067aa0ba902b7',
      clock: new VectorClock({ 'web#00000001': 3 }),
    });
    expect(ctx.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ctx.parentSpanId).toBeNull();
    expect(ctx.clock.size).toBe(0);
  });

  it('decides propagation and ignored paths from the options', () => {
    const { tracer } = recordingTracer('svc', { propagateTo: ['partner.example'] });
    expect(tracer.shouldPropagate(new URL('https://partner.example/'))).toBe(true);
    expect(tracer.shouldPropagate('http://localhost/')).toBe(false);
    expect(tracer.shouldPropagate('not a url')).toBe(false);
    expect(tracer.shouldIgnorePath('/healthz')).toBe(true);
  });

  it('records nothing and propagates nothing when disabled', () => {
    const tracer = new Tracer({ serviceName: 'off', disabled: true }, { env: {} });
    expect(tracer.transport).toBeNull();
    expect(tracer.shouldPropagate('http://localhost/')).toBe(false);
    const event = tracer.startContext({}).record('custom', { name: 'x' })!;
    expect(event.kind).toBe('custom');
  });
});
