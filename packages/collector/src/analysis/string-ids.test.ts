import { describe, expect, it } from 'vitest';
import { StringIds } from './string-ids.js';

/** What the table must agree with: a Map numbering keys in order of first use. */
function numberWithMap(keys: readonly string[]): number[] {
  const ids = new Map<string, number>();
  return keys.map((key) => {
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size;
      ids.set(key, id);
    }
    return id;
  });
}

/** Keys with repeats, in an order that mixes new and known keys; enough to grow the table. */
function sampleKeys(distinct: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i < distinct; i++) {
    keys.push(`span-${i.toString(16)}`);
    if (i % 3 === 0) keys.push(`span-${Math.floor(i / 2).toString(16)}`);
  }
  return keys;
}

describe('StringIds', () => {
  it('numbers keys in order of first use, as a Map would', () => {
    const keys = sampleKeys(5000);
    const ids = new StringIds();
    expect(keys.map((key) => ids.idOf(key))).toEqual(numberWithMap(keys));
    expect(ids.size).toBe(5000);
    expect(ids.find('span-10')).toBe(16);
    expect(ids.find('span-absent')).toBe(-1);
    expect(ids.size).toBe(5000);
  });

  it('tells apart keys whose hashes collide, past the probes it allows', () => {
    // Every key on one hash: all but the first few go to the fallback map.
    const keys = sampleKeys(3000);
    const ids = new StringIds(() => 42);
    expect(keys.map((key) => ids.idOf(key))).toEqual(numberWithMap(keys));
    expect(ids.find('span-bb7')).toBe(0xbb7);
    expect(ids.find('span-absent')).toBe(-1);
  });

  it('finds a key filed in the fallback map after the table grew', () => {
    // Of 1024 slots, 64 fillers take slots 1-64; 'k' (slot 1) overflows. Growing to 2048 slots
    // moves the fillers to 1025-1088, so slot 1 is free again: 'k' must still be found.
    const ids = new StringIds((key) =>
      key.startsWith('f') ? 1025 : key.startsWith('x') ? 200 : 1,
    );
    for (let i = 0; i < 64; i++) ids.idOf(`f${i}`);
    expect(ids.idOf('k')).toBe(64);
    for (let i = 0; i < 448; i++) ids.idOf(`x${i}`);
    expect(ids.idOf('k')).toBe(64);
    expect(ids.find('k')).toBe(64);
    expect(ids.size).toBe(513);
  });

  it('keys of the same name are the same key, whatever string object holds them', () => {
    const ids = new StringIds();
    const built = ['ab', 'c'].join('');
    expect(ids.idOf('abc')).toBe(0);
    expect(ids.idOf(built)).toBe(0);
    expect(ids.idOf('')).toBe(1);
    expect(ids.find('')).toBe(1);
  });
});
