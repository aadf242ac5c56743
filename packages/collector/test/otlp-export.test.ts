import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StoredEvent } from '../src/event.js';
import { canonicalClock } from '../src/otlp/events-to-spans.js';
import { ExportTraceServiceRequest } from '../src/otlp/proto.js';
import { type Collector, type CollectorOptions, startCollector } from '../src/server.js';
import { ContextRecorder, makeTrace, newTraceId, postBatch } from './fixtures.js';

// The collector's OTLP export against a real OTLP/HTTP receiver on loopback, which decodes
// the protobuf bodies with the OTLP message definitions.

interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Array<{ key: string; value: { stringValue?: string } }>;
  events: Array<{
    name: string;
    attributes: Array<{ key: string; value: { stringValue?: string } }>;
  }>;
  links?: Array<{
    traceId: string;
    spanId: string;
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

/**
 * One request whose handler forks two branches, each in a span of its own, that both write
 * `cart:7`: an intra-trace write-write race between the two branch spans.
 */
function forkedWrites(startUs: number) {
  const traceId = newTraceId();
  const parent = new ContextRecorder('cart', traceId, null, startUs);
  parent.record('request_received', {
    method: 'POST',
    path: '/cart/7',
    route: '/cart/:id',
    incoming: { status: 'absent', reasons: [] },
  });
  const a = new ContextRecorder('cart', traceId, parent.spanId, startUs + 2000);
  const b = new ContextRecorder('cart', traceId, parent.spanId, startUs + 2000);
  parent.record('fork', { child: a.component });
  a.merge(parent.clock);
  parent.record('fork', { child: b.component });
  b.merge(parent.clock);
  a.record('state_write', { resource: 'cart:7', value: { items: 1 } });
  b.record('state_write', { resource: 'cart:7', value: { items: 2 } });
  parent.merge(a.clock);
  parent.record('join', { child: a.component });
  parent.merge(b.clock);
  parent.record('join', { child: b.component });
  parent.record('response_sent', {
    method: 'POST',
    route: '/cart/:id',
    status: 200,
    duration_ms: 9,
  });
  return { events: [...parent.events, ...a.events, ...b.events], a, b };
}

/** Two requests that read stock:42 (same version), then both write it: a lost update. */
function lostUpdate(startUs: number): [StoredEvent[], StoredEvent[]] {
  const request = (offsetUs: number) => {
    const r = new ContextRecorder('inventory', newTraceId(), null, startUs + offsetUs);
    r.record('request_received', {
      method: 'POST',
      path: '/reserve',
      route: '/reserve',
      incoming: { status: 'absent', reasons: [] },
    });
    r.at(startUs + offsetUs + 2000);
    r.record('state_read', { resource: 'stock:42', value: 5, version: 7 });
    r.at(startUs + offsetUs + 22_000);
    r.record('state_write', { resource: 'stock:42', value: 4, version: 8 });
    r.record('response_sent', { method: 'POST', route: '/reserve', status: 200, duration_ms: 25 });
    return r.events;
  };
  return [request(0), request(1000)];
}

/** The races a trace's spans carry: per span id (hex), its `raceway.race` events and links. */
function racesBySpan(spans: DecodedSpan[]) {
  const out = new Map<string, { events: DecodedSpan['events']; links: string[] }>();
  for (const span of spans) {
    const events = span.events.filter((e) => e.name === 'raceway.race');
    if (events.length === 0) continue;
    out.set(hex(span.spanId), {
      events,
      links: (span.links ?? []).map((l) => `${hex(l.traceId)}/${hex(l.spanId)}`),
    });
  }
  return out;
}

let collector: Collector | undefined;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await collector?.close();
  collector = undefined;
  for (const close of closers.splice(0)) await close();
});

async function start(otlpExport: CollectorOptions['otlpExport']) {
  // Analysis runs when a test asks (analyzeNow), not on its own.
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
      analysisWaitMs: 0, // sent once quiet: this test runs no analysis
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

  describe('races', () => {
    const startUs = Date.now() * 1000 - 10_000_000;
    const setUp = async (uiUrl?: string) => {
      const sink = await receiver();
      closers.push(sink.close);
      const c = await start({ endpoint: sink.url, quietMs: 20, ...(uiUrl ? { uiUrl } : {}) });
      const forked = forkedWrites(startUs);
      const [first, second] = lostUpdate(startUs + 5_000_000);
      expect((await postBatch(c.url, { events: [...forked.events, ...first] })).status).toBe(200);
      expect((await postBatch(c.url, { events: second })).status).toBe(200);
      return { sink, c, forked, first, second };
    };
    const write = (events: StoredEvent[]) => events.find((e) => e.kind === 'state_write')!;

    it('waits for the analysis and sends each race on both racing spans, linked to the other side', async () => {
      const { sink, c, forked, first, second } = await setUp('https://raceway.example.com/ui');
      await c.analyzeNow();
      await c.otlpExporter!.flush();

      // No span of its own: every race is on the spans of the events sent.
      expect(sink.spans.filter((s) => s.name === 'raceway.race')).toEqual([]);
      const traceId = forked.events[0]!.trace_id;
      const races = racesBySpan(sink.spans);
      const [a, b] = [write(forked.a.events), write(forked.b.events)];
      expect(racesBySpan(sink.spans.filter((s) => hex(s.traceId) === traceId))).toEqual(
        new Map([
          [a.span_id, { events: [expect.anything()], links: [`${traceId}/${b.span_id}`] }],
          [b.span_id, { events: [expect.anything()], links: [`${traceId}/${a.span_id}`] }],
        ]),
      );
      const onA = races.get(a.span_id)!.events[0]!;
      expect(attribute(onA, 'raceway.race.kind')).toBe('write_write');
      expect(attribute(onA, 'raceway.race.scope')).toBe('trace');
      expect(attribute(onA, 'raceway.race.resource')).toBe('cart:7');
      expect(attribute(onA, 'raceway.race.confidence')).toBe('certain');
      expect(attribute(onA, 'raceway.race.event_ids')).toBe(a.id);
      expect(attribute(onA, 'raceway.race.other.trace_id')).toBe(traceId);
      expect(attribute(onA, 'raceway.race.other.span_id')).toBe(b.span_id);
      expect(attribute(onA, 'raceway.race.explanation')).toMatch(/cart:7/);
      const url = new URL(attribute(onA, 'raceway.race.url')!);
      expect(url.origin + url.pathname).toBe(`https://raceway.example.com/ui/traces/${traceId}`);
      expect(url.searchParams.get('events')!.split(',').sort()).toEqual([a.id, b.id].sort());
      expect(url.searchParams.get('race')).toMatch(/^[0-9a-f]{14}$/);

      // The lost update across the two requests: on each request's span, naming the other.
      for (const [own, other] of [
        [first, second],
        [second, first],
      ] as const) {
        const race = races.get(write(own).span_id);
        expect(race).toBeDefined();
        expect(race!.links).toEqual([`${other[0]!.trace_id}/${write(other).span_id}`]);
        const event = race!.events[0]!;
        expect(attribute(event, 'raceway.race.kind')).toBe('lost_update');
        expect(attribute(event, 'raceway.race.scope')).toBe('cross_trace');
        expect(attribute(event, 'raceway.race.resource')).toBe('stock:42');
        expect(attribute(event, 'raceway.race.outcome')).toBe('lost');
        expect(attribute(event, 'raceway.race.other.trace_id')).toBe(other[0]!.trace_id);
        expect(attribute(event, 'raceway.race.other.span_id')).toBe(write(other).span_id);
        expect(attribute(event, 'raceway.race.event_ids')).toBe(
          own
            .filter((e) => e.kind.startsWith('state_'))
            .map((e) => e.id)
            .join(','),
        );
      }
      expect(c.otlpExporter!.stats()).toMatchObject({ queuedEvents: 0, failedSpans: 0 });
    });

    it('sends races found after their trace left as raceway.race spans under the racing spans', async () => {
      const { sink, c, forked, first, second } = await setUp();
      await c.otlpExporter!.flush(); // sent before any analysis
      const sentBefore = sink.spans.length;
      expect(racesBySpan(sink.spans).size).toBe(0);
      await c.analyzeNow();
      await c.otlpExporter!.flush();

      const raceSpans = sink.spans.slice(sentBefore);
      expect(raceSpans.every((s) => s.name === 'raceway.race')).toBe(true);
      const traceId = forked.events[0]!.trace_id;
      const [a, b] = [write(forked.a.events), write(forked.b.events)];
      const sides = [
        [a, b],
        [b, a],
        [write(first), write(second)],
        [write(second), write(first)],
      ] as const;
      expect(raceSpans).toHaveLength(sides.length);
      for (const [own, other] of sides) {
        const span = raceSpans.find((s) => s.parentSpanId && hex(s.parentSpanId) === own.span_id);
        expect(span, own.span_id).toBeDefined();
        expect(hex(span!.traceId)).toBe(own.trace_id);
        expect(span!.startTimeUnixNano).toBe(span!.endTimeUnixNano);
        expect(span!.links!.map((l) => `${hex(l.traceId)}/${hex(l.spanId)}`)).toEqual([
          `${own.trace_id}/${own.span_id}`,
          `${other.trace_id}/${other.span_id}`,
        ]);
        expect(attribute(span!, 'raceway.race.other.span_id')).toBe(other.span_id);
        expect(attribute(span!.events[0]!, 'raceway.race.kind')).toBe(
          own.trace_id === traceId ? 'write_write' : 'lost_update',
        );
      }
      // Analysed again (nothing new): nothing is sent twice.
      await c.analyzeNow();
      await c.otlpExporter!.flush();
      expect(sink.spans).toHaveLength(sentBefore + sides.length);
      expect(c.otlpExporter!.stats()).toMatchObject({ queuedEvents: 0, droppedRaces: 0 });
    });
  });
});
