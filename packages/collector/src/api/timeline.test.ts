import { describe, expect, it } from 'vitest';
import { timelineBuckets } from './timeline.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('timelineBuckets', () => {
  it('takes the shortest step that gives at most the buckets asked for, aligned on it', () => {
    const from = 1_000 * HOUR + 7 * MINUTE + 5_000;
    const { stepMs, starts } = timelineBuckets(from, from + HOUR, 30, 0);
    expect(stepMs).toBe(5 * MINUTE);
    expect(starts.length).toBeLessThanOrEqual(30);
    expect(starts[0]).toBe(1_000 * HOUR + 5 * MINUTE);
    for (const s of starts) expect(s % stepMs).toBe(0);
    expect(starts[starts.length - 1]! + stepMs).toBeGreaterThan(from + HOUR);
  });

  it('never cuts an hour bucket: a range reaching past the minutes kept has hours at least', () => {
    const to = 2_000 * HOUR;
    const { stepMs } = timelineBuckets(to - 2 * HOUR, to, 200, to - HOUR);
    expect(stepMs).toBe(HOUR);
  });
});
