import { describe, expect, it } from 'vitest';
import { distinct, flat, type RaceAccess, raceId } from './race.js';

const A = '7f3a9c1e5b2d4f6081a3c5e7092b4d6f';
const B = '0c1d2e3f405162738495a6b7c8d9eafb';
const C = '5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a';
const D = 'ffffffffffffffffffffffffffffffff';

describe('raceId', () => {
  // Stored races are replaced by id when a trace is analysed again: an id that changed between
  // versions would add a copy of every race. These are the ids the collector has always given.
  it('gives the ids races have always had', () => {
    expect(raceId('trace', 'write_write', 'stock:42', [A, B])).toBe('02df2dcbefd42d');
    expect(raceId('trace', 'lost_update', 'stock:42', [A, B, C, D])).toBe('1592d98cd38f9f');
  });

  it('does not depend on the order of the events', () => {
    expect(raceId('trace', 'write_write', 'stock:42', [B, A])).toBe('02df2dcbefd42d');
    expect(raceId('trace', 'lost_update', 'stock:42', [D, B, C, A])).toBe('1592d98cd38f9f');
  });

  it('writes 14 hex digits, zeros included', () => {
    expect(raceId('trace', 'read_write', 'cart:487569', [A, B])).toBe('000000298a1cc4');
    expect(raceId('trace', 'read_write', 'cart:616', [A, B])).toBe('000e69e2528b84');
    expect(raceId('trace', 'read_write', 'cart:117', [A, B])).toBe('10fcfb00fc66cc');
  });
});

describe('flat', () => {
  it('reads as the template literal', () => {
    const name = 'order';
    const resource = 'stock:42';
    expect(flat`${name} wrote ${resource} = 5`).toBe('order wrote stock:42 = 5');
    expect(flat`${name}${resource}`).toBe('orderstock:42');
    expect(flat`no values`).toBe('no values');
  });
});

describe('distinct', () => {
  const access = (service: string) => ({ service }) as RaceAccess;

  it('keeps the first of each value, in order', () => {
    const pick = (a: RaceAccess) => a.service;
    expect(distinct([access('b'), access('a')], pick)).toEqual(['b', 'a']);
    expect(distinct([access('a'), access('a')], pick)).toEqual(['a']);
    expect(distinct(['b', 'a', 'b', 'c'].map(access), pick)).toEqual(['b', 'a', 'c']);
  });
});
