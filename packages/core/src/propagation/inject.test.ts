import { describe, expect, it } from 'vitest';
import { VectorClock } from '../clock/vector-clock.js';
import { type HeaderSetter, headersIntoRecord } from './carrier.js';
import { injectContext, type OutgoingContext } from './inject.js';

// Header values and replacement are pinned by spec/vectors/inject.json.
const ctx: OutgoingContext = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: '03',
  clock: new VectorClock({ 'api#1f3a9c07': 3 }),
  own: 'api#1f3a9c07',
};

describe('injectContext', () => {
  it('writes each header once through the setter, names as the spec writes them', () => {
    const calls: Array<[string, string]> = [];
    injectContext({ ...ctx, tracestate: 'rojo=1' }, (name, value) => calls.push([name, value]));
    expect(calls.map(([name]) => name)).toEqual([
      'X-Raceway-Trace-Id',
      'X-Raceway-VC',
      'traceparent',
      'tracestate',
    ]);
  });

  it('does not throw when the setter throws, and still tries every header', () => {
    const names: string[] = [];
    const set: HeaderSetter = (name) => {
      names.push(name);
      throw new Error('headers already sent');
    };
    expect(() => injectContext(ctx, set)).not.toThrow();
    expect(names).toHaveLength(3);
  });

  it('writes nothing when the clock is not a VectorClock', () => {
    const headers: Record<string, unknown> = {};
    const bad = { ...ctx, clock: { 'api#1f3a9c07': 3 } as unknown as VectorClock };
    expect(() => injectContext(bad, headersIntoRecord(headers))).not.toThrow();
    expect(headers).toEqual({});
  });

  it('does not change the clock it sends', () => {
    const clock = new VectorClock({ a: 1 });
    injectContext({ ...ctx, clock }, () => {});
    expect(clock.toJSON()).toEqual({ a: 1 });
  });
});
