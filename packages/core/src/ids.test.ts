import { describe, expect, it } from 'vitest';
import { isClockKey } from './clock/vector-clock.js';
import {
  isValidSpanId,
  isValidTraceId,
  newComponent,
  newEventId,
  newSpanId,
  newTraceId,
  normalizeTraceId,
  sanitizeServiceName,
} from './ids.js';

describe('random ids', () => {
  it('newTraceId gives distinct valid trace ids', () => {
    const ids = Array.from({ length: 500 }, () => newTraceId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(ids.every(isValidTraceId)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('newSpanId gives distinct valid span ids', () => {
    const ids = Array.from({ length: 500 }, () => newSpanId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(ids.every(isValidSpanId)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('newEventId gives distinct 32-digit ids', () => {
    const ids = Array.from({ length: 1000 }, () => newEventId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('newEventId is a per-process prefix and a counter, carried across every 256th id', () => {
    const ids = Array.from({ length: 1000 }, () => newEventId());
    const prefixes = new Set(ids.map((id) => id.slice(0, 16)));
    expect(prefixes.size).toBe(1);
    expect([...prefixes][0]).not.toBe('0'.repeat(16));
    const counters = ids.map((id) => BigInt(`0x${id.slice(16)}`));
    for (let i = 1; i < counters.length; i++) {
      expect(counters[i]).toBe((counters[i - 1] as bigint) + 1n);
    }
  });
});

describe('newComponent', () => {
  it('is the service name and 8 hex digits', () => {
    expect(newComponent('inventory')).toMatch(/^inventory#[0-9a-f]{8}$/);
  });

  it('gives every context its own component', () => {
    expect(newComponent('api')).not.toBe(newComponent('api'));
  });

  it('replaces each code point outside [A-Za-z0-9._-] with one underscore', () => {
    expect(sanitizeServiceName('checkout api/v2')).toBe('checkout_api_v2');
    expect(sanitizeServiceName('café')).toBe('caf_');
    expect(sanitizeServiceName('pay🚀ments')).toBe('pay_ments');
    expect(sanitizeServiceName('a.b_c-D9')).toBe('a.b_c-D9');
  });

  it('cuts the service part to 55 characters so the component fits in 64', () => {
    const component = newComponent('s'.repeat(200));
    expect(component).toMatch(/^s{55}#[0-9a-f]{8}$/);
    expect(component).toHaveLength(64);
    expect(isClockKey(component)).toBe(true);
  });

  it('always gives a valid clock key', () => {
    for (const name of ['', ' ', '~dropped', 'ünïcödé', 'a'.repeat(55), 'x:y@z']) {
      expect(isClockKey(newComponent(name))).toBe(true);
    }
  });
});

describe('normalizeTraceId', () => {
  it('accepts 32 hex digits in any case and the dashed UUID form', () => {
    const id = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(normalizeTraceId(id)).toBe(id);
    expect(normalizeTraceId(id.toUpperCase())).toBe(id);
    expect(normalizeTraceId('4BF92F35-77b3-4DA6-a3ce-929D0E0E4736')).toBe(id);
  });

  it('rejects other forms, the all-zero id and non-strings', () => {
    for (const input of [
      '',
      ' 4bf92f3577b34da6a3ce929d0e0e4736',
      '0'.repeat(32),
      '00000000-0000-0000-0000-000000000000',
      '4bf92f3577b34da6a3ce929d0e0e473',
      '{4bf92f35-77b3-4da6-a3ce-929d0e0e4736}',
    ]) {
      expect(normalizeTraceId(input)).toBeNull();
    }
    expect(normalizeTraceId(42 as unknown as string)).toBeNull();
  });
});

describe('isValidTraceId / isValidSpanId', () => {
  it('accept only the canonical lowercase non-zero form', () => {
    expect(isValidTraceId('4bf92f3577b34da6a3ce929d0e0e4736')).toBe(true);
    expect(isValidTraceId('4BF92F3577B34DA6A3CE929D0E0E4736')).toBe(false);
    expect(isValidTraceId('0'.repeat(32))).toBe(false);
    expect(isValidTraceId(undefined)).toBe(false);
    expect(isValidSpanId('00f067aa0ba902b7')).toBe(true);
    expect(isValidSpanId('0'.repeat(16))).toBe(false);
    expect(isValidSpanId('00f067aa0ba902b')).toBe(false);
  });
});
