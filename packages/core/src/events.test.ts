import { describe, expect, it } from 'vitest';
import { clampString, MAX_VALUE_BYTES, nowMicros, serializeError, toEventValue } from './events.js';

describe('nowMicros', () => {
  it('is an integer count of microseconds since the epoch', () => {
    const before = Date.now() * 1000;
    const now = nowMicros();
    expect(Number.isSafeInteger(now)).toBe(true);
    // Same clock as Date.now(), at a thousand times its resolution (a sanity bound, not timing).
    expect(Math.abs(now - before)).toBeLessThan(60_000_000);
  });
});

describe('toEventValue', () => {
  it('keeps small values as a JSON snapshot', () => {
    const value = { stock: 3, tags: ['a'], at: new Date(0) };
    const recorded = toEventValue(value);
    value.stock = 99;
    expect(recorded).toEqual({ stock: 3, tags: ['a'], at: '1970-01-01T00:00:00.000Z' });
    expect(toEventValue(7)).toBe(7);
    expect(toEventValue(null)).toBeNull();
    expect(toEventValue(Number.NaN)).toBeNull();
  });

  it('leaves out what JSON cannot represent', () => {
    expect(toEventValue(undefined)).toBeUndefined();
    expect(toEventValue(() => 1)).toBeUndefined();
    expect(toEventValue(Symbol('s'))).toBeUndefined();
  });

  it('cuts large values to 1 KiB of JSON text, on a character boundary', () => {
    const big = toEventValue({ text: 'é'.repeat(3000) });
    expect(typeof big).toBe('string');
    expect(Buffer.byteLength(big as string)).toBeLessThanOrEqual(MAX_VALUE_BYTES);
    expect(Buffer.byteLength(big as string)).toBeGreaterThan(MAX_VALUE_BYTES - 4);
    expect(big as string).toMatch(/^\{"text":"é+…$/);
    expect(big as string).not.toContain('\uFFFD');
  });

  it('records unserialisable values by their text instead of throwing', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(toEventValue(cyclic)).toBe('[object Object]');
    expect(toEventValue(10n)).toBe('10');
    const hostile = {
      toJSON() {
        throw new Error('no');
      },
      toString() {
        throw new Error('no');
      },
    };
    expect(toEventValue(hostile)).toBe('[object Object]');
  });
});

describe('clampString', () => {
  it('never splits a surrogate pair', () => {
    expect(clampString('ab😀', 3)).toBe('ab');
    expect(clampString('abc', 3)).toBe('abc');
    expect(clampString('abcd', 3)).toBe('abc');
  });
});

describe('serializeError', () => {
  it('reads name, message and stack of an Error', () => {
    const info = serializeError(new TypeError('bad input'));
    expect(info.type).toBe('TypeError');
    expect(info.message).toBe('bad input');
    expect(info.stack).toContain('TypeError: bad input');
  });

  it('describes anything else that can be thrown', () => {
    expect(serializeError('boom')).toEqual({ type: 'string', message: 'boom' });
    expect(serializeError(42)).toEqual({ type: 'number', message: '42' });
    expect(serializeError(null)).toEqual({ type: 'null', message: 'null' });
    expect(serializeError({ code: 'E1' })).toEqual({ type: 'Object', message: '{"code":"E1"}' });
    expect(serializeError({ message: 'has one' })).toEqual({ type: 'Object', message: 'has one' });
  });

  it('cuts to the schema limits and survives throwing getters', () => {
    const long = new Error('m'.repeat(10_000));
    long.name = 'N'.repeat(1000);
    const info = serializeError(long);
    expect(info.type).toHaveLength(256);
    expect(info.message).toHaveLength(4096);
    const hostile = new Error('x');
    Object.defineProperty(hostile, 'message', {
      get() {
        throw new Error('getter');
      },
    });
    expect(serializeError(hostile).message).toBe('');
  });
});
