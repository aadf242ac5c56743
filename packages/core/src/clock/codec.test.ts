import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeClock, encodeClock, MAX_CLOCK_ENTRIES, MAX_CLOCK_HEADER_BYTES } from './codec.js';
import { clockArb, clockKey, counter } from './test-arbitraries.js';
import { VectorClock } from './vector-clock.js';

// The exact encodings and rejections are pinned by spec/vectors/clock-codec.json; these tests
// cover what a finite list cannot: every clock, every string.

describe('encodeClock', () => {
  it('ignores a dropped option that is not a positive integer', () => {
    const clock = new VectorClock({ a: 1 });
    for (const dropped of [0, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(encodeClock(clock, { dropped })).toBe('{"a":1}');
    }
  });

  it('stays well under the byte bound with 64 entries of the longest keys and counters', () => {
    const clock = new VectorClock(
      Array.from(
        { length: 70 },
        (_, i) => [`${i}`.padStart(64, 'k'), Number.MAX_SAFE_INTEGER - i] as const,
      ),
    );
    const header = encodeClock(clock, { dropped: Number.MAX_SAFE_INTEGER });
    expect(Buffer.byteLength(header)).toBeLessThan(MAX_CLOCK_HEADER_BYTES);
    const decoded = decodeClock(header);
    expect(decoded.ok && decoded.clock.size).toBe(MAX_CLOCK_ENTRIES);
    // The marker saturates at 2^53-1 rather than overflowing into an undecodable number.
    expect(decoded.ok && decoded.dropped).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('decodeClock', () => {
  it('rejects input that is not a string without throwing', () => {
    for (const input of [undefined, null, 42, {}, ['{}']]) {
      expect(decodeClock(input as unknown as string)).toEqual({ ok: false, reason: 'vc_invalid' });
    }
  });

  it('counts bytes in UTF-8, not characters, near the bound', () => {
    const fits = `{"a":1}${' '.repeat(MAX_CLOCK_HEADER_BYTES - 7)}`;
    expect(decodeClock(fits).ok).toBe(true);
    // 7 + 8183 + 3 bytes (U+20AC) = 8193 bytes in 8191 characters.
    const over = `{"a":1}${' '.repeat(MAX_CLOCK_HEADER_BYTES - 9)}\u20ac`;
    expect(over.length).toBeLessThan(MAX_CLOCK_HEADER_BYTES);
    expect(decodeClock(over)).toEqual({ ok: false, reason: 'vc_oversized' });
    // A character outside the BMP is 4 bytes (one surrogate pair).
    const astral = `{"a":1}${' '.repeat(MAX_CLOCK_HEADER_BYTES - 10)}\u{1f680}`;
    expect(decodeClock(astral)).toEqual({ ok: false, reason: 'vc_oversized' });
  });
});

describe('codec properties', () => {
  it('decode(encode(clock)) gives the clock back, within the bound', () => {
    fc.assert(
      fc.property(clockArb(MAX_CLOCK_ENTRIES), (clock) => {
        const decoded = decodeClock(encodeClock(clock));
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;
        expect(decoded.dropped).toBe(0);
        expect(decoded.clock.toJSON()).toEqual(clock.toJSON());
      }),
      { numRuns: 200 },
    );
  });

  it('the encoding is canonical: insertion order does not matter, and it re-encodes to itself', () => {
    fc.assert(
      fc.property(clockArb(16), (clock) => {
        const header = encodeClock(clock);
        const reversed = new VectorClock(Array.from(clock.entries()).reverse());
        expect(encodeClock(reversed)).toBe(header);
        const decoded = decodeClock(header);
        expect(decoded.ok && encodeClock(decoded.clock)).toBe(header);
        expect(header).not.toMatch(/\s/);
      }),
    );
  });

  it('a clock over the bound keeps own and the highest counters, and counts the rest', () => {
    const entries = fc.uniqueArray(
      fc.tuple(
        clockKey.filter((k) => k !== 'own#00000000'),
        counter,
      ),
      { selector: (entry) => entry[0], minLength: MAX_CLOCK_ENTRIES, maxLength: 90 },
    );
    fc.assert(
      fc.property(entries, fc.integer({ min: 1, max: 1_000 }), (pairs, ownCounter) => {
        const clock = new VectorClock([...pairs, ['own#00000000', ownCounter]]);
        const decoded = decodeClock(encodeClock(clock, { own: 'own#00000000' }));
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;
        expect(decoded.clock.size).toBe(MAX_CLOCK_ENTRIES);
        expect(decoded.dropped).toBe(clock.size - MAX_CLOCK_ENTRIES);
        expect(decoded.clock.get('own#00000000')).toBe(ownCounter);
        const kept = new Set<string>();
        for (const [key, value] of decoded.clock.entries()) {
          expect(clock.get(key)).toBe(value);
          kept.add(key);
        }
        const lowestKept = Math.min(
          ...pairs.filter(([key]) => kept.has(key)).map(([, value]) => value),
        );
        for (const [key, value] of pairs) {
          if (!kept.has(key)) expect(value).toBeLessThanOrEqual(lowestKept);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('decoding arbitrary strings never throws', () => {
    const jsonish = fc
      .array(
        fc.constantFrom(
          '{',
          '}',
          '"',
          ':',
          ',',
          ' ',
          '\t',
          '0',
          '1',
          '9',
          '-',
          '.',
          'e',
          'a',
          '~dropped',
          '#',
          '\\',
          'é',
        ),
        { maxLength: 40 },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), jsonish), (input) => {
        const decoded = decodeClock(input);
        if (decoded.ok) expect(decodeClock(encodeClock(decoded.clock)).ok).toBe(true);
        else expect(['vc_invalid', 'vc_oversized']).toContain(decoded.reason);
      }),
      { numRuns: 500 },
    );
  });

  it('a valid encoding with one character changed is rejected or decodes to a valid clock', () => {
    fc.assert(
      fc.property(
        clockArb(6),
        fc.nat(),
        fc.constantFrom('"', ',', '0', '-', '.', 'x', '{', '}', ' ', '~'),
        (clock, at, ch) => {
          const header = encodeClock(clock);
          const i = at % header.length;
          const decoded = decodeClock(header.slice(0, i) + ch + header.slice(i + 1));
          if (!decoded.ok) return;
          const again = decodeClock(encodeClock(decoded.clock));
          expect(again.ok && again.clock.toJSON()).toEqual(decoded.clock.toJSON());
        },
      ),
      { numRuns: 300 },
    );
  });
});
