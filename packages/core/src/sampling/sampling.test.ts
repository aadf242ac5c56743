import { describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { VectorClock } from '../clock/vector-clock.js';
import { resolveConfig } from '../config.js';
import { runInContext } from '../context/async-context.js';
import { fork } from '../context/fork.js';
import { RacewayConfigError } from '../errors.js';
import { trackStateWrite } from '../recorder/state.js';

// The decision itself is pinned by spec/vectors/sampling.json; here, how a tracer applies it.
const JOINED = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('sampleRate', () => {
  it.each([Number.NaN, -0.1, 1.5, '0.5', null, Number.POSITIVE_INFINITY])(
    'refuses %s as an option, with a coded error',
    (sampleRate) => {
      expect(() =>
        resolveConfig({ serviceName: 's', sampleRate: sampleRate as number }, {}),
      ).toThrow(expect.objectContaining({ code: 'RACEWAY_INVALID_SAMPLE_RATE' }));
    },
  );

  it('reads RACEWAY_SAMPLE_RATE, and the option wins over it', () => {
    expect(resolveConfig({ serviceName: 's' }, { RACEWAY_SAMPLE_RATE: '0.25' }).sampleRate).toBe(
      0.25,
    );
    expect(
      resolveConfig({ serviceName: 's', sampleRate: 1 }, { RACEWAY_SAMPLE_RATE: '0' }).sampleRate,
    ).toBe(1);
    expect(resolveConfig({ serviceName: 's' }, {}).sampleRate).toBe(1);
    let error: unknown;
    try {
      resolveConfig({ serviceName: 's' }, { RACEWAY_SAMPLE_RATE: '25%' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RacewayConfigError);
    expect(String((error as Error).message)).toContain('RACEWAY_SAMPLE_RATE');
  });
});

describe('a tracer applies the decision', () => {
  it('keeps a joined traceparent decision whatever its own rate', () => {
    const { tracer } = recordingTracer('s', { sampleRate: 1 });
    expect(tracer.startContext({ traceId: JOINED, traceFlags: '00' }).traceFlags).toBe('00');
    const { tracer: none } = recordingTracer('s', { sampleRate: 0 });
    expect(none.startContext({ traceId: JOINED, traceFlags: '01' }).traceFlags).toBe('01');
  });

  it('decides a new trace (random flag set) and one joined without flags (not set)', () => {
    const { tracer: all } = recordingTracer('s', { sampleRate: 1 });
    const { tracer: none } = recordingTracer('s', { sampleRate: 0 });
    expect(all.startContext({}).traceFlags).toBe('03');
    expect(none.startContext({}).traceFlags).toBe('02');
    expect(all.startContext({ traceId: JOINED }).traceFlags).toBe('01');
    expect(none.startContext({ traceId: JOINED }).traceFlags).toBe('00');
  });

  it('an unsampled context records nothing, forks and joins included, and keeps no clock', () => {
    const { tracer, events } = recordingTracer('s', { sampleRate: 0 });
    const ctx = tracer.startContext({
      traceId: JOINED,
      traceFlags: '00',
      clock: new VectorClock({ 'up#00000001': 4 }),
    });
    expect(ctx.sampled).toBe(false);
    expect(ctx.clock.size).toBe(0);
    expect(ctx.record('custom', { name: 'x' })).toBeUndefined();
    return runInContext(ctx, async () => {
      await fork(() => trackStateWrite('orders/1', { value: 2 }));
      expect(events).toEqual([]);
    });
  });

  it('a sampled context records as before', () => {
    const { tracer, events } = recordingTracer('s', { sampleRate: 1 });
    const ctx = tracer.startContext({ traceId: JOINED, traceFlags: '01' });
    ctx.record('custom', { name: 'x' });
    expect(events.map((event) => event.kind)).toEqual(['custom']);
  });
});
