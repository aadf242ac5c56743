import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencySketch } from './latency-sketch.js';

function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

describe('LatencySketch', () => {
  it('answers quantiles within 1% of the exact value at that rank', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.001, max: 1e6, noNaN: true }), {
          minLength: 1,
          maxLength: 500,
        }),
        fc.constantFrom(0.5, 0.9, 0.95, 0.99),
        (values, q) => {
          const sketch = new LatencySketch();
          for (const v of values) sketch.add(v);
          const sorted = [...values].sort((a, b) => a - b);
          const exact = exactQuantile(sorted, q);
          const lower = sorted[Math.floor(q * (sorted.length - 1))]!;
          const upper = sorted[Math.ceil(q * (sorted.length - 1))]!;
          const got = sketch.quantile(q)!;
          expect(got).toBeGreaterThanOrEqual(Math.min(exact, lower) * 0.99 - 1e-12);
          expect(got).toBeLessThanOrEqual(Math.max(exact, upper) * 1.01 + 1e-12);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('merges exactly: two halves merged answer like one sketch of everything', () => {
    const all = new LatencySketch();
    const a = new LatencySketch();
    const b = new LatencySketch();
    for (let i = 1; i <= 10_000; i++) {
      const ms = ((i * 7919) % 5000) + 0.5;
      all.add(ms);
      (i % 2 ? a : b).add(ms);
    }
    expect(a.merge(b).count).toBe(10_000);
    for (const q of [0, 0.5, 0.95, 0.99, 1]) expect(a.quantile(q)).toBe(all.quantile(q));
  });

  it('round-trips through JSON and rejects malformed JSON with a coded error', () => {
    const sketch = new LatencySketch();
    for (const ms of [0, 1, 2, 3, 100, 2500]) sketch.add(ms);
    const copy = LatencySketch.fromJSON(JSON.parse(JSON.stringify(sketch)));
    expect(copy.count).toBe(6);
    expect(copy.quantile(0.5)).toBe(sketch.quantile(0.5));
    expect(copy.toJSON()).toEqual(sketch.toJSON());
    expect(() => LatencySketch.fromJSON({ ...sketch.toJSON(), count: 7 })).toThrow(
      expect.objectContaining({ code: 'RACEWAY_INVALID_SKETCH' }),
    );
    expect(() => LatencySketch.fromJSON('nope')).toThrow(/object/);
    expect(() => new LatencySketch({ relativeAccuracy: 2 })).toThrow(/relativeAccuracy/);
  });

  it('keeps memory bounded by collapsing the lowest buckets', () => {
    const sketch = new LatencySketch({ maxBuckets: 64 });
    for (let e = -6; e <= 9; e += 0.01) sketch.add(10 ** e);
    expect(sketch.toJSON().counts.length).toBeLessThanOrEqual(64);
    // High quantiles keep their accuracy.
    const p99 = sketch.quantile(0.99)!;
    expect(p99 / 10 ** (-6 + 0.99 * 15)).toBeGreaterThan(0.97);
    expect(p99 / 10 ** (-6 + 0.99 * 15)).toBeLessThan(1.03);
  });

  it('ignores values that are not latencies and answers null when empty', () => {
    const sketch = new LatencySketch();
    expect(sketch.quantile(0.5)).toBeNull();
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) sketch.add(bad);
    expect(sketch.count).toBe(0);
    sketch.add(0);
    expect(sketch.quantile(0.5)).toBe(0);
    expect(sketch.quantile(1.5)).toBeNull();
  });
});
