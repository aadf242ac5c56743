import { afterEach, describe, expect, it, vi } from 'vitest';
import { startCollector, type TestCollector } from './helpers/collector.js';
import { recordMany, transportUnderTest } from './helpers/events.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function collector(): Promise<TestCollector> {
  const started = await startCollector();
  cleanups.push(() => started.close());
  return started;
}

describe('Transport batch timer', () => {
  // A busy server records many events between two turns of the event loop: once a batch is
  // ready, each of them used to clear the batch timer and set it again (a timer per event, on
  // the thread that serves the requests).
  it('arms the batch timer once for a burst of events recorded in one turn of the event loop', async () => {
    const server = await collector();
    const { transport, ctx } = transportUnderTest(server.url, { batchSize: 200 });
    cleanups.push(() => transport.shutdown({ timeoutMs: 200 }));
    const timers = vi.spyOn(globalThis, 'setTimeout');

    const recorded = recordMany(ctx, 1000);
    // The flush interval's timer for the first event, then the one that sends the first full
    // batch at once.
    expect(timers).toHaveBeenCalledTimes(2);

    vi.restoreAllMocks();
    await transport.flush();
    expect(transport.stats()).toMatchObject({ sent: 1000, dropped: 0, queued: 0 });
    expect([...server.stored.keys()].sort()).toEqual(recorded.map((event) => event.id).sort());
  });

  // A service recording a few events at a time (a sampled tenth of its requests) used to send
  // whatever arrived while a request was in flight as soon as it was answered: a batch per
  // round trip, of a handful of events each, every one paying a whole request.
  it('sends a trickle of events once per flush interval, not whenever a request returns', async () => {
    const server = await collector();
    server.delayMs = 2;
    const flushIntervalMs = 200;
    const { transport, ctx } = transportUnderTest(server.url, { batchSize: 200, flushIntervalMs });
    cleanups.push(() => transport.shutdown({ timeoutMs: 200 }));

    const started = performance.now();
    const recorded: ReturnType<typeof recordMany> = [];
    for (let i = 0; i < 150; i++) {
      recorded.push(...recordMany(ctx, 1, i));
      await new Promise((resolve) => setTimeout(resolve, 4));
    }
    const elapsed = performance.now() - started;
    const sentBeforeFlush = server.batches.length;
    await transport.flush();

    // One batch per interval that ran out while events were recorded (and no more than one
    // for the events left at the end), however many requests were answered in between.
    expect(sentBeforeFlush).toBeGreaterThan(0);
    expect(sentBeforeFlush).toBeLessThanOrEqual(Math.ceil(elapsed / flushIntervalMs) + 1);
    expect(server.batches.length).toBeLessThanOrEqual(sentBeforeFlush + 1);
    expect(transport.stats()).toMatchObject({ sent: 150, dropped: 0, queued: 0 });
    expect([...server.stored.keys()].sort()).toEqual(recorded.map((event) => event.id).sort());
  });
});
