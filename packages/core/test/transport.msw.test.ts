import http from 'node:http';
import { HttpResponse, http as mswHttp } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getCurrentContext, runInContext } from '../src/context/async-context.js';
import type { EventBatch } from '../src/transport/batch.js';
import { decodeBody, recordMany, transportUnderTest } from './helpers/events.js';
import { schemaErrors, validateBatch, validateEvent } from './helpers/schemas.js';

// msw intercepts node:http in this process: no socket is opened, the handlers answer.
const COLLECTOR = 'http://collector.test:8080';
const ENDPOINT = `${COLLECTOR}/v1/events`;
const server = setupServer();

interface Received {
  headers: Headers;
  raw: Buffer;
  batch: EventBatch;
}

function collect(answers: Array<() => Response> = []): Received[] {
  const received: Received[] = [];
  server.use(
    mswHttp.post(ENDPOINT, async ({ request }) => {
      const raw = Buffer.from(await request.arrayBuffer());
      received.push({ headers: request.headers, raw, batch: decodeBody(raw) });
      const answer = answers.shift();
      return answer ? answer() : HttpResponse.json({ accepted: 1, duplicates: 0 });
    }),
  );
  return received;
}

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

describe('Transport (msw)', () => {
  it('sends gzip JSON batches of at most batchSize, valid against the batch schema', async () => {
    const received = collect();
    const { transport, ctx } = transportUnderTest(COLLECTOR);
    const sent = recordMany(ctx, 450);
    await transport.flush();

    // Up to 3 batches in flight: they may arrive in any order.
    expect(received.map((r) => r.batch.events.length).sort((a, b) => b - a)).toEqual([
      200, 200, 50,
    ]);
    for (const { headers, batch } of received) {
      expect(headers.get('content-type')).toBe('application/json');
      expect(headers.get('content-encoding')).toBe('gzip');
      expect(headers.get('authorization')).toBe('Bearer test-key');
      expect(headers.get('user-agent')).toMatch(/^raceway-node\//);
      expect(validateBatch(batch), schemaErrors(validateBatch)).toBe(true);
      expect(batch.sdk).toMatchObject({ name: '@raceway/core', language: 'javascript' });
      expect(batch.dropped).toBe(0);
      for (const event of batch.events)
        expect(validateEvent(event), schemaErrors(validateEvent)).toBe(true);
    }
    expect(received.flatMap((r) => r.batch.events.map((e) => e.id)).sort()).toEqual(
      sent.map((e) => e.id).sort(),
    );
    expect(transport.stats()).toMatchObject({ queued: 0, sent: 450, dropped: 0, batchesSent: 3 });
    await transport.shutdown();
  });

  it('sends larger batches to work off a backlog, then returns to batchSize', async () => {
    const received = collect();
    const { transport, ctx } = transportUnderTest(COLLECTOR);
    const sent = recordMany(ctx, 4500);
    await transport.flush();

    // 4500 queued is a backlog (at least 4 batches of 200): 2000 per request until it is gone.
    // Batches are taken oldest first; with several in flight they may arrive in another order.
    expect(received.map((r) => r.batch.events.length).sort((a, b) => b - a)).toEqual([
      2000, 2000, 200, 200, 100,
    ]);
    expect(received.flatMap((r) => r.batch.events.map((e) => e.id)).sort()).toEqual(
      sent.map((e) => e.id).sort(),
    );
    expect(transport.stats()).toMatchObject({ queued: 0, sent: 4500, dropped: 0 });
    await transport.shutdown();
  });

  it('leaves out an event JSON cannot represent, counts it, and sends the rest', async () => {
    const received = collect();
    const { transport, ctx } = transportUnderTest(COLLECTOR, { batchSize: 10 });
    const before = recordMany(ctx, 4);
    // The recorder snapshots application values; a broken event can still reach a transport
    // that is fed directly.
    const broken = { ...before[0], id: 'f'.repeat(32), data: { name: 'x', attributes: { n: 1n } } };
    transport.enqueue(broken as never);
    const after = recordMany(ctx, 5, 10);
    await transport.flush();

    const ids = received.flatMap((r) => r.batch.events.map((e) => e.id));
    expect(ids).toEqual([...before, ...after].map((e) => e.id));
    expect(transport.stats()).toMatchObject({ queued: 0, sent: 9, dropped: 1 });
    expect(transport.stats().lastError).toMatch(/^encoding failed: .*BigInt/);
    // The drop is reported to the collector once, with a batch sent after it.
    expect(received.map((r) => r.batch.dropped)).toContain(1);
    expect(received.reduce((sum, r) => sum + (r.batch.dropped ?? 0), 0)).toBe(1);
    await transport.shutdown();
  });

  it('sends on the flush interval without being asked', async () => {
    const arrived = new Promise<EventBatch>((resolve) => {
      server.use(
        mswHttp.post(ENDPOINT, async ({ request }) => {
          resolve(decodeBody(Buffer.from(await request.arrayBuffer())));
          return HttpResponse.json({ accepted: 3, duplicates: 0 });
        }),
      );
    });
    const { transport, ctx } = transportUnderTest(COLLECTOR, { flushIntervalMs: 10 });
    recordMany(ctx, 3);
    expect((await arrived).events).toHaveLength(3);
    await transport.shutdown();
  });

  it('keeps at most maxConcurrentRequests requests in flight', async () => {
    let inFlight = 0;
    let most = 0;
    let requests = 0;
    server.use(
      mswHttp.post(ENDPOINT, async () => {
        requests++;
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        return HttpResponse.json({ accepted: 100, duplicates: 0 });
      }),
    );
    const { transport, ctx } = transportUnderTest(COLLECTOR, {
      batchSize: 100,
      maxConcurrentRequests: 2,
    });
    recordMany(ctx, 350);
    await transport.flush();
    expect(requests).toBe(4);
    expect(most).toBe(2);
    expect(transport.stats()).toMatchObject({ queued: 0, sent: 350, dropped: 0 });
    await transport.shutdown();
  });

  it('retries network errors, 408, 429 and 5xx with the same bytes', async () => {
    const received = collect([
      () => new HttpResponse('down', { status: 503 }),
      () => new HttpResponse(null, { status: 429, headers: { 'retry-after': '0' } }),
      () => new HttpResponse(null, { status: 408 }),
      () => HttpResponse.error(),
    ]);
    const { transport, ctx } = transportUnderTest(COLLECTOR, { maxRetries: 5 });
    recordMany(ctx, 20);
    await transport.flush();
    expect(received).toHaveLength(5);
    for (const attempt of received)
      expect(attempt.raw.equals(received[0]?.raw as Buffer)).toBe(true);
    expect(transport.stats()).toMatchObject({ sent: 20, dropped: 0, retries: 4, batchesSent: 1 });
    await transport.shutdown();
  });

  it('gives up after maxRetries and reports the drop in the next batch', async () => {
    const received = collect([
      () => new HttpResponse(null, { status: 500 }),
      () => new HttpResponse(null, { status: 500 }),
      () => new HttpResponse(null, { status: 500 }),
    ]);
    const { transport, ctx } = transportUnderTest(COLLECTOR, { maxRetries: 2 });
    recordMany(ctx, 7);
    await transport.flush();
    expect(received).toHaveLength(3);
    expect(transport.stats()).toMatchObject({ sent: 0, dropped: 7, retries: 2 });
    expect(transport.stats().lastError).toContain('HTTP 500');

    recordMany(ctx, 1);
    await transport.flush();
    expect(received).toHaveLength(4);
    expect(received[3]?.batch.dropped).toBe(7);
    expect(transport.stats()).toMatchObject({ sent: 1, dropped: 7 });
    await transport.shutdown();
  });

  it('counts the events a 422 rejected, never retries, and reports them', async () => {
    const received = collect([
      () =>
        HttpResponse.json(
          {
            accepted: 3,
            duplicates: 0,
            rejected: [
              { index: 1, id: null, errors: ['bad'] },
              { index: 4, id: null, errors: ['bad'] },
            ],
          },
          { status: 422 },
        ),
    ]);
    const { transport, ctx } = transportUnderTest(COLLECTOR);
    recordMany(ctx, 5);
    await transport.flush();
    expect(received).toHaveLength(1);
    expect(transport.stats()).toMatchObject({
      sent: 3,
      rejected: 2,
      dropped: 2,
      retries: 0,
      batchesSent: 1,
    });

    recordMany(ctx, 1);
    await transport.flush();
    expect(received[1]?.batch.dropped).toBe(2);
    await transport.shutdown();
  });

  it.each([400, 401, 413, 415])('drops a batch answered %i without retrying', async (status) => {
    const received = collect([() => HttpResponse.json({ error: 'no' }, { status })]);
    const { transport, ctx } = transportUnderTest(COLLECTOR, { maxRetries: 5 });
    recordMany(ctx, 4);
    await transport.flush();
    expect(received).toHaveLength(1);
    expect(transport.stats()).toMatchObject({ sent: 0, dropped: 4, retries: 0 });
    expect(transport.stats().lastError).toContain(`HTTP ${status}`);
    await transport.shutdown();
  });

  it('sends outside the execution context that recorded the events', async () => {
    const seen: unknown[] = [];
    server.use(
      mswHttp.post(ENDPOINT, () => {
        seen.push(getCurrentContext());
        return HttpResponse.json({ accepted: 1, duplicates: 0 });
      }),
      mswHttp.get(`${COLLECTOR}/control`, () => {
        seen.push(getCurrentContext());
        return HttpResponse.text('ok');
      }),
    );
    const { transport, ctx } = transportUnderTest(COLLECTOR);
    // Control: a request the application makes inside the context does carry it to the
    // handler, so the check below can fail.
    await runInContext(
      ctx,
      () =>
        new Promise<void>((resolve, reject) => {
          http
            .get(`${COLLECTOR}/control`, (res) => res.resume().on('end', resolve))
            .on('error', reject);
        }),
    );
    expect(seen).toEqual([ctx]);
    await runInContext(ctx, async () => {
      recordMany(ctx, 2);
      await transport.flush();
    });
    expect(seen).toEqual([ctx, undefined]);
    await transport.shutdown();
  });

  it('never rejects when the collector cannot be reached', async () => {
    server.use(mswHttp.post(ENDPOINT, () => HttpResponse.error()));
    const { transport, ctx } = transportUnderTest(COLLECTOR, { maxRetries: 1 });
    recordMany(ctx, 3);
    await expect(transport.flush()).resolves.toBeUndefined();
    expect(transport.stats()).toMatchObject({ dropped: 3, retries: 1 });
    expect(transport.stats().lastError).toContain('collector unreachable');
    await expect(transport.shutdown()).resolves.toBeUndefined();
  });
});
