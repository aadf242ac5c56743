import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import { canonicalClock } from '../src/otlp/events-to-spans.js';
import { ExportTraceServiceRequest } from '../src/otlp/proto.js';
import { type Collector, type CollectorOptions, startCollector } from '../src/server.js';
import { makeTrace, postBatch } from './fixtures.js';

// The collector's OTLP export against a real OTLP/HTTP receiver on loopback, which decodes
// the protobuf bodies with the OTLP message definitions.

interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: { stringValue?: string } }>;
  events: Array<{
    name: string;
    attributes: Array<{ key: string; value: { stringValue?: string } }>;
  }>;
}

/**
 * A receiver whose answers the test scripts: each request takes the next status (200 when none
 * left). On `port`, or an ephemeral one.
 */
async function receiver(statuses: number[] = [], port = 0) {
  const spans: DecodedSpan[] = [];
  let requests = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests++;
      const status = statuses.shift() ?? 200;
      if (status === 200) {
        expect(request.headers['content-type']).toBe('application/x-protobuf');
        const raw = Buffer.concat(chunks);
        const body = request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const decoded = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), {
          longs: String,
          bytes: String,
          enums: Number,
        }) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: DecodedSpan[] }> }> };
        for (const rs of decoded.resourceSpans)
          for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      response.statusCode = status;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  return {
    url,
    spans,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const hex = (base64: string) => Buffer.from(base64, 'base64').toString('hex');
const attribute = (
  owner: { attributes: Array<{ key: string; value: { stringValue?: string } }> },
  key: string,
) => owner.attributes.find((a) => a.key === key)?.value.stringValue;

let collector: Collector | undefined;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await collector?.close();
  collector = undefined;
  for (const close of closers.splice(0)) await close();
});

async function start(otlpExport: CollectorOptions['otlpExport']) {
  collector = await startCollector({
    port: 0,
    storage: 'sqlite::memory:',
    analysisDelayMs: 60_000,
    otlpExport,
  });
  return collector;
}

describe('OTLP export', () => {
  it('sends every span of a trace with its events and vector clocks', async () => {
    const sink = await receiver();
    closers.push(sink.close);
    const c = await start({ endpoint: sink.url, quietMs: 20 });
    const events = makeTrace({ uninstrumentedHost: 'payments:9000' });
    expect((await postBatch(c.url, { events })).status).toBe(200);
    await c.otlpExporter!.flush();

    const spanIds = new Set(events.map((e) => e.span_id));
    expect(new Set(sink.spans.map((s) => hex(s.spanId)))).toEqual(spanIds);
    expect(new Set(sink.spans.map((s) => hex(s.traceId)))).toEqual(new Set([events[0]!.trace_id]));
    const byId = new Map(events.map((e) => [e.id, e] as [string, StoredEvent]));
    let seen = 0;
    for (const span of sink.spans) {
      expect(attribute(span, 'raceway.clock.start')).toMatch(/^\{.+\}$/);
      for (const event of span.events) {
        const stored = byId.get(attribute(event, 'raceway.event_id')!)!;
        expect(stored.span_id).toBe(hex(span.spanId));
        expect(attribute(event, 'raceway.clock')).toBe(canonicalClock(stored.clock));
        seen++;
      }
    }
    expect(seen).toBe(events.length);
    const server = sink.spans.find((s) => s.kind === 2 && s.name === 'GET /checkout/:id')!;
    const call = sink.spans.find(
      (s) => s.kind === 3 && s.parentSpanId && hex(s.parentSpanId) === hex(server.spanId),
    );
    expect(call).toBeDefined();
    expect(c.otlpExporter!.stats()).toMatchObject({
      exportedSpans: spanIds.size,
      failedSpans: 0,
      queuedEvents: 0,
    });
  });

  it('retries a failing endpoint and delivers once', async () => {
    const sink = await receiver([503, 429]);
    closers.push(sink.close);
    const c = await start({ endpoint: sink.url, quietMs: 20, retryBaseMs: 5, retryCapMs: 20 });
    const events = makeTrace();
    expect((await postBatch(c.url, { events })).status).toBe(200);
    await c.otlpExporter!.flush();
    expect(sink.requests()).toBe(3);
    expect(new Set(sink.spans.map((s) => hex(s.spanId))).size).toBe(sink.spans.length);
    expect(sink.spans.length).toBe(new Set(events.map((e) => e.span_id)).size);
    expect(c.otlpExporter!.stats()).toMatchObject({ retries: 2, failedSpans: 0 });
  });

  it('with a dead endpoint, stores and acknowledges everything, and holds a bounded queue', async () => {
    const sink = await receiver();
    await sink.close(); // nothing listens there any more
    const c = await start({
      endpoint: sink.url,
      quietMs: 60_000,
      maxQueuedEvents: 50,
      maxAttempts: 2,
      retryBaseMs: 1,
      retryCapMs: 2,
    });
    const traces = Array.from({ length: 20 }, () => makeTrace());
    for (const events of traces) expect((await postBatch(c.url, { events })).status).toBe(200);
    for (const events of traces) {
      expect(await c.storage.getTraceEvents(events[0]!.trace_id)).toHaveLength(events.length);
    }
    const stats = c.otlpExporter!.stats();
    expect(stats.queuedEvents).toBeLessThanOrEqual(50);
    expect(stats.droppedEvents).toBe(traces.flat().length - stats.queuedEvents);
    await c.otlpExporter!.flush();
    expect(c.otlpExporter!.stats()).toMatchObject({ exportedSpans: 0, queuedEvents: 0 });
    expect(c.otlpExporter!.stats().failedSpans).toBeGreaterThan(0);
  });

  it('with the endpoint down, stores everything at once and delivers it when a receiver comes up there', async () => {
    const gone = await receiver();
    await gone.close(); // nothing listens on its port now
    const c = await start({
      endpoint: gone.url,
      quietMs: 20,
      maxAttempts: 1_000_000, // retried until the endpoint answers
      retryBaseMs: 5,
      retryCapMs: 50,
    });
    const traces = Array.from({ length: 20 }, () => makeTrace());
    for (const events of traces) expect((await postBatch(c.url, { events })).status).toBe(200);
    for (const events of traces) {
      expect(await c.storage.getTraceEvents(events[0]!.trace_id)).toHaveLength(events.length);
    }
    // The endpoint has refused a request by now, and ingest went on regardless.
    await vi.waitFor(() => expect(c.otlpExporter!.stats().retries).toBeGreaterThan(0), {
      timeout: 30_000,
      interval: 10,
    });
    expect(c.otlpExporter!.stats().exportedSpans).toBe(0);

    const sink = await receiver([], Number(new URL(gone.url).port));
    closers.push(sink.close);
    await c.otlpExporter!.flush();
    const spanIds = new Set(traces.flat().map((e) => e.span_id));
    expect(new Set(sink.spans.map((s) => hex(s.spanId)))).toEqual(spanIds);
    expect(sink.spans).toHaveLength(spanIds.size);
    expect(c.otlpExporter!.stats()).toMatchObject({
      exportedSpans: spanIds.size,
      failedSpans: 0,
      droppedEvents: 0,
      queuedEvents: 0,
    });
  });

  it('leaves out the spans that came in over OTLP (their SDK exports them itself)', async () => {
    const sink = await receiver();
    closers.push(sink.close);
    const c = await start({ endpoint: sink.url, quietMs: 20 });
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const res = await fetch(`${c.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId,
                    spanId: '10f067aa0ba902b7',
                    name: 'GET /',
                    kind: 2,
                    startTimeUnixNano: String(nowNs - 1000n),
                    endTimeUnixNano: String(nowNs),
                  },
                ],
              },
            ],
          },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const events = makeTrace({ traceId });
    expect((await postBatch(c.url, { events })).status).toBe(200);
    await c.otlpExporter!.flush();
    expect(sink.spans.map((s) => hex(s.spanId))).not.toContain('10f067aa0ba902b7');
    expect(sink.spans.length).toBe(new Set(events.map((e) => e.span_id)).size);
  });
});
