import { describe, expect, it } from 'vitest';
import { ConcurrencyGate } from './concurrency-gate.js';

describe('ConcurrencyGate', () => {
  it('runs at most `slots` at once, queues a bounded number, and refuses the rest with 503', async () => {
    const gate = new ConcurrencyGate(1, 1);
    let running = 0;
    let most = 0;
    const releases: Array<() => void> = [];
    const work = () =>
      new Promise<string>((resolve) => {
        running++;
        most = Math.max(most, running);
        releases.push(() => {
          running--;
          resolve('done');
        });
      });
    const first = gate.run(work);
    const second = gate.run(work);
    await expect(gate.run(work)).rejects.toMatchObject({ statusCode: 503, error: 'busy' });
    releases.shift()!();
    await expect(first).resolves.toBe('done');
    await new Promise((resolve) => setImmediate(resolve));
    releases.shift()!();
    await expect(second).resolves.toBe('done');
    expect(most).toBe(1);
    // Free again: a new run starts at once.
    const third = gate.run(work);
    await new Promise((resolve) => setImmediate(resolve));
    releases.shift()!();
    await expect(third).resolves.toBe('done');
  });
});
