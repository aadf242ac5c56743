import { describe, expect, it } from 'vitest';
import { decidedFlags, isSampledFlags, propagatedFlags } from './trace-flags.js';

// What extraction hands on is pinned by spec/vectors/extract.json; these are the helpers' edges.
describe('trace flags', () => {
  it('keeps sampled and random, zeroes every other bit', () => {
    for (let value = 0; value < 256; value++) {
      const hex = value.toString(16).padStart(2, '0');
      expect(propagatedFlags(hex)).toBe((value & 3).toString(16).padStart(2, '0'));
    }
  });

  it('refuses what is not two lowercase hex digits', () => {
    for (const bad of ['', '1', '001', 'FF', 'g0', ' 1']) expect(propagatedFlags(bad)).toBeNull();
  });

  it('sets random only for ids Raceway drew itself', () => {
    expect([decidedFlags(true, true), decidedFlags(false, true)]).toEqual(['03', '02']);
    expect([decidedFlags(true, false), decidedFlags(false, false)]).toEqual(['01', '00']);
  });

  it('reads the sampled bit', () => {
    expect(['00', '01', '02', '03', 'ff', 'fe', 'zz'].map(isSampledFlags)).toEqual([
      false,
      true,
      false,
      true,
      true,
      false,
      false,
    ]);
  });
});
