import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runInContext } from '../src/context/async-context.js';
import { Tracer } from '../src/context/tracer.js';
import { trackStateWrite } from '../src/recorder/state.js';
import type { Transport, TransportOptions } from '../src/transport/transport.js';
import { freePort, startCollector, type TestCollector } from './helpers/collector.js';
import { recordMany, transportUnderTest } from './helpers/events.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function collectorOn(port?: number, apiKey?: string): Promise<TestCollector> {
  const collector = await startCollector({ port, apiKey });
  cleanups.push(() => collector.close());
  return collector;
}

function transportTo(url: string, options: Partial<TransportOptions> = {}) {
  const made = transportUnderTest(url, options);
  cleanups.push(() => made.transport.shutdown({ timeoutMs: 200 }));
  return made;
}

function tracerFor(transport: Transport): Tracer {
  return new Tracer({ serviceName: 'shop' }, { transport, env: {} });
}

/**
 * An application server in the same process as the transport: every request records
 * `perRequest` state writes in its own context, and the highest queue length is sampled after
 * each one.
 */
async function startApp(transport: Transport, perRequest: number) {
  const tracer = tracerFor(transport);
  let highestQueue = 0;
  const server = http.createServer((req, res) => {
    runInContext(tracer.startContext({}), () => {
      for (let i = 0; i < perRequest; i++) {
        trackStateWrite(`orders/${i}`, { value: 'x'.repeat(200) });
        highestQueue = Math.max(highestQueue, transport.stats().queued);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, recorded: perRequest }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, highestQueue: () => highestQueue };
}

/** The garbage collector, exposed at run time so the test needs no special node flags. */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** `count` requests, `concurrency` at a time; every answer is checked. */
async function hammer(appUrl: string, count: number, concurrency: number): Promise<number> {
  let next = 0;
  let ok = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        const answer = await get(`${appUrl}/orders/${n}`);
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.body)).toEqual({ path: `/orders/${n}`, recorded: 40 });
        ok++;
      }
    }),
  );
  return ok;
}

describe('Transport against a real collector', () => {
  it('stays bounded while the collector is down, the app keeps answering, and delivers once it is back', async () => {
    const port = await freePort();
    const maxQueueSize = 500;
    const { transport } = transportTo(`http://127.0.0.1:${port}`, {
      batchSize: 50,
      maxQueueSize,
      // Enough retries to outlast the outage: what is queued waits for the collector.
      maxRetries: 10_000,
      retryBaseMs: 2,
      retryMaxMs: 10,
      flushIntervalMs: 5,
    });
    const app = await startApp(transport, 40);

    expect(await hammer(app.url, 60, 8)).toBe(60);
    const recorded = 60 * 40;
    const down = transport.stats();
    expect(app.highestQueue()).toBeLessThanOrEqual(maxQueueSize);
    expect(down.queued).toBeLessThanOrEqual(maxQueueSize);
    expect(down.sent).toBe(0);
    expect(down.dropped).toBe(recorded - down.queued);
    expect(down.retries).toBeGreaterThan(0);
    expect(down.lastError).toMatch(/ECONNREFUSED|queue full/);

    const collector = await collectorOn(port);
    await transport.flush();
    const queuedAtRecovery = down.queued;
    const back = transport.stats();
    expect(back.sent).toBe(queuedAtRecovery);
    expect(collector.stored.size).toBe(queuedAtRecovery);

    // The next batch tells the collector how many events were lost during the outage.
    recordMany(tracerFor(transport).startContext({}), 1);
    await transport.flush();
    const final = transport.stats();
    expect(final.sent + final.dropped).toBe(recorded + 1);
    expect(final.queued).toBe(0);
    const reported = collector.batches.reduce((sum, batch) => sum + (batch.dropped ?? 0), 0);
    expect(reported).toBe(final.dropped);
    expect(collector.duplicates).toBe(0);
  });

  it('keeps heap growth bounded by maxQueueSize while the collector is down', async () => {
    const gc = exposedGc();
    const port = await freePort();
    const { transport, ctx } = transportTo(`http://127.0.0.1:${port}`, {
      batchSize: 100,
      maxQueueSize: 1000,
      maxRetries: 10_000,
      retryBaseMs: 5,
      retryMaxMs: 20,
    });
    const value = 'v'.repeat(900);
    gc();
    const before = process.memoryUsage().heapUsed;
    let highest = 0;
    await runInContext(ctx, async () => {
      // 30 000 events of ~1.2 KB each: about 36 MB if nothing were dropped.
      for (let round = 0; round < 30; round++) {
        for (let i = 0; i < 1000; i++) {
          trackStateWrite(`items/${i}`, { value });
          highest = Math.max(highest, transport.stats().queued);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    gc();
    const growth = process.memoryUsage().heapUsed - before;
    expect(highest).toBeLessThanOrEqual(1000);
    expect(transport.stats().dropped).toBeGreaterThanOrEqual(29_000);
    expect(growth).toBeLessThan(12 * 1024 * 1024);
  });

  it('rides out a slow collector: timeouts are retried, each event is stored once', async () => {
    const collector = await collectorOn();
    collector.delayMs = 150;
    const { transport } = transportTo(collector.url, {
      batchSize: 50,
      maxQueueSize: 2000,
      maxRetries: 10_000,
      requestTimeoutMs: 40,
      retryBaseMs: 2,
      retryMaxMs: 10,
      flushIntervalMs: 5,
    });
    const app = await startApp(transport, 40);
    expect(await hammer(app.url, 10, 4)).toBe(10);
    await vi.waitFor(() => expect(transport.stats().retries).toBeGreaterThan(2), { timeout: 5000 });
    expect(transport.stats().lastError).toMatch(/no answer within 40 ms/);
    // Still answering while the transport is retrying against the slow collector.
    expect(await hammer(app.url, 10, 4)).toBe(10);

    collector.delayMs = 0;
    await transport.flush();
    const stats = transport.stats();
    expect(stats).toMatchObject({ queued: 0, sent: 800, dropped: 0 });
    // Requests that timed out had been stored: their retries came back as duplicates, not as
    // new events.
    expect(collector.stored.size).toBe(800);
    expect(collector.duplicates).toBeGreaterThan(0);
  });

  it('retries a 503 with the same event ids', async () => {
    const collector = await collectorOn();
    collector.nextStatuses.push(503);
    const { transport, ctx } = transportTo(collector.url);
    const sent = recordMany(ctx, 25);
    await transport.flush();
    expect(collector.batches).toHaveLength(1);
    expect(collector.batches[0]?.events.map((e) => e.id)).toEqual(sent.map((e) => e.id));
    expect(collector.stored.size).toBe(25);
    expect(transport.stats()).toMatchObject({ sent: 25, retries: 1, dropped: 0 });
  });

  it('counts a 422 as partly delivered and never retries it', async () => {
    const collector = await collectorOn();
    const { transport, ctx } = transportTo(collector.url);
    recordMany(ctx, 3);
    // An empty custom name is invalid per the event schema.
    ctx.record('custom', { name: '' });
    recordMany(ctx, 2, 3);
    await transport.flush();
    expect(collector.batches).toHaveLength(1);
    expect(collector.stored.size).toBe(5);
    expect(transport.stats()).toMatchObject({ sent: 5, rejected: 1, dropped: 1, retries: 0 });
  });

  it('drops a batch refused with 401 (wrong API key) or 400, without retrying', async () => {
    const collector = await collectorOn(undefined, 'the-right-key');
    const { transport, ctx } = transportTo(collector.url, { apiKey: 'a-wrong-key', maxRetries: 5 });
    recordMany(ctx, 4);
    await transport.flush();
    expect(collector.stored.size).toBe(0);
    expect(transport.stats()).toMatchObject({ sent: 0, dropped: 4, retries: 0 });
    expect(transport.stats().lastError).toContain('HTTP 401');

    const open = await collectorOn();
    open.nextStatuses.push(400);
    const second = transportTo(open.url, { maxRetries: 5 });
    recordMany(second.ctx, 3);
    await second.transport.flush();
    expect(open.stored.size).toBe(0);
    expect(second.transport.stats()).toMatchObject({ sent: 0, dropped: 3, retries: 0 });
  });

  it('flushes on shutdown, and starts again for events recorded after it', async () => {
    const collector = await collectorOn();
    const { transport, ctx } = transportTo(collector.url, { flushIntervalMs: 60_000 });
    recordMany(ctx, 30);
    expect(collector.stored.size).toBe(0);
    await transport.shutdown();
    expect(collector.stored.size).toBe(30);
    recordMany(ctx, 1, 30);
    await transport.shutdown();
    expect(collector.stored.size).toBe(31);
  });

  it('gives up at the shutdown time limit when the collector never answers', async () => {
    const collector = await collectorOn();
    collector.delayMs = 60_000;
    const { transport, ctx } = transportTo(collector.url, {
      requestTimeoutMs: 30_000,
      batchSize: 10,
    });
    recordMany(ctx, 25);
    await transport.shutdown({ timeoutMs: 100 });
    expect(transport.stats()).toMatchObject({ queued: 0, sent: 0, dropped: 25 });
    expect(transport.stats().lastError).toContain('shutdown');
  });
});
