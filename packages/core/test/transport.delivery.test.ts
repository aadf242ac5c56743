// Spec 4.2 against real servers: a batch the collector keeps failing does not hold up the
// others, and a collector that is down gets one request at a time and loses nothing.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ExecutionContext } from '../src/context/execution-context.js';
import { Diagnostics, type RacewayLogger } from '../src/logger.js';
import type { EventBatch } from '../src/transport/batch.js';
import type { TransportOptions } from '../src/transport/transport.js';
import { freePort, startCollector, type TestCollector } from './helpers/collector.js';
import { recordMany, transportUnderTest } from './helpers/events.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function collectorOn(port?: number): Promise<TestCollector> {
  const collector = await startCollector({ port });
  cleanups.push(() => collector.close());
  return collector;
}

function transportTo(url: string, options: Partial<TransportOptions> = {}) {
  const made = transportUnderTest(url, options);
  cleanups.push(() => made.transport.shutdown({ timeoutMs: 200 }));
  return made;
}

function debugLines(): { diagnostics: Diagnostics; lines: string[] } {
  const lines: string[] = [];
  const logger: RacewayLogger = {
    debug: (message) => lines.push(message),
    warn: (message) => lines.push(message),
    error: (message) => lines.push(message),
  };
  return { diagnostics: new Diagnostics(logger, true), lines };
}

const ids = (batch: EventBatch) => batch.events.map((e) => e.id);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('delivery (spec 4.2)', () => {
  it('drops a batch the collector keeps failing at its 5th strike, and delivers every other event', async () => {
    const POISON_BATCHES = 4;
    const POISON_SIZE = 100;
    const GOOD_FIRST = 2000;
    // Its first answer is no strike (nothing was delivered since it was sent); each later one
    // is, since the service records on and the collector takes those events in between.
    const ATTEMPTS = 6;
    const collector = await collectorOn();
    const { diagnostics, lines } = debugLines();
    const { transport, ctx } = transportTo(collector.url, {
      batchSize: POISON_SIZE,
      maxQueueSize: 50_000,
      // The default: no limit of its own on the retries of a batch.
      maxRetries: undefined,
      diagnostics,
    });
    const poison = new Set<string>();
    const good: string[] = [];
    const isPoisoned = (batch: EventBatch) => batch.events.some((e) => poison.has(e.id));
    const attempts = new Map<string, number>();
    collector.answerWith = (batch) => {
      if (!isPoisoned(batch)) return undefined;
      const key = batch.events[0]?.id as string;
      attempts.set(key, (attempts.get(key) ?? 0) + 1);
      // The service goes on recording while the poison batch is on its way: these events are
      // queued when its 503 comes back, and the collector takes them before its next attempt.
      good.push(...recordGood(ctx, attempts.get(key) === 1 ? GOOD_FIRST : POISON_SIZE));
      return 503;
    };

    for (let round = 0; round < POISON_BATCHES; round++) {
      // Alone in the queue, the poison events make a batch of their own.
      for (const event of recordMany(ctx, POISON_SIZE)) poison.add(event.id);
      await vi.waitFor(
        () => {
          expect(attempts.size).toBe(round + 1);
          expect([...attempts.values()].at(-1)).toBe(ATTEMPTS);
          expect(collector.stored.size, `round ${round}: good events stored`).toBe(good.length);
        },
        { timeout: 10_000, interval: 5 },
      );
    }
    await transport.flush();

    const stats = transport.stats();
    expect(stats).toMatchObject({
      queued: 0,
      queuedBytes: 0,
      sent: good.length,
      dropped: POISON_BATCHES * POISON_SIZE,
      rejected: 0,
      retries: POISON_BATCHES * (ATTEMPTS - 1),
    });
    expect([...collector.stored.keys()].sort()).toEqual([...good].sort());
    expect([...attempts.values()]).toEqual(Array(POISON_BATCHES).fill(ATTEMPTS));
    // Every attempt of a poison batch sent the same events.
    for (const batch of collector.batches.filter(isPoisoned)) {
      expect(ids(batch)).toHaveLength(POISON_SIZE);
      expect(ids(batch).every((id) => poison.has(id))).toBe(true);
    }
    // The debug lines, one per batch given up (the warnings are rate-limited).
    const givenUp = lines.filter((l) =>
      /^dropped .*while the collector took others: given up/.test(l),
    );
    expect(givenUp).toHaveLength(POISON_BATCHES);
    expect(givenUp[0]).toMatch(
      /^dropped 100 events: HTTP 503: .*\(5 times for this batch while the collector took others: given up\)/,
    );

    // The drops are reported to the collector with the batches it takes.
    good.push(...recordGood(ctx, 1));
    await transport.flush();
    const reported = collector.batches
      .filter((batch) => !isPoisoned(batch))
      .reduce((sum, batch) => sum + (batch.dropped ?? 0), 0);
    expect(reported).toBe(POISON_BATCHES * POISON_SIZE);
    expect(collector.duplicates).toBe(0);
  }, 30_000);

  it('loses nothing while the collector is down, and sends one request at a time until it is back', async () => {
    const port = await freePort();
    const { transport, ctx } = transportTo(`http://127.0.0.1:${port}`, {
      batchSize: 100,
      maxQueueSize: 50_000,
      maxRetries: undefined,
      retryBaseMs: 10,
      retryMaxMs: 100,
      flushIntervalMs: 20,
    });
    const recorded: string[] = [];
    const producer = setInterval(() => recorded.push(...recordGood(ctx, 20)), 5);
    cleanups.push(async () => clearInterval(producer));

    // Down: nothing listens on the port.
    await sleep(1000);
    expect(transport.stats()).toMatchObject({ sent: 0, dropped: 0 });
    expect(transport.stats().retries).toBeGreaterThan(0);

    // Up, but failing every batch, slowly: requests sent together would overlap.
    const collector = await collectorOn(port);
    collector.answerWith = () => 503;
    collector.delayMs = 20;
    await sleep(1500);
    const failedRequests = collector.batches.length;
    expect(failedRequests).toBeGreaterThan(5);
    expect(collector.mostInFlight).toBe(1);
    expect(transport.stats()).toMatchObject({ sent: 0, dropped: 0 });

    // Back, still slow: requests sent together overlap.
    collector.answerWith = null;
    await sleep(500);
    clearInterval(producer);
    await transport.flush();

    const stats = transport.stats();
    expect(recorded.length).toBeGreaterThan(5000);
    expect(stats).toMatchObject({ queued: 0, sent: recorded.length, dropped: 0 });
    expect(collector.stored.size).toBe(recorded.length);
    expect([...collector.stored.keys()].sort()).toEqual([...recorded].sort());
    // Once it answers, the slots fill again.
    expect(collector.mostInFlight).toBeGreaterThan(1);
  }, 30_000);
});

/** Records `count` events that the collector takes, and returns their ids. */
function recordGood(ctx: ExecutionContext, count: number): string[] {
  return recordMany(ctx, count).map((event) => event.id);
}
