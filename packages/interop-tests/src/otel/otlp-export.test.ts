// The collector's OTLP export, read by OpenTelemetry's own generated protobuf code
// (opentelemetry-proto, in a Python receiver: ../python/otlp_receiver.py), independent of the
// collector's encoder: a real trace of two Raceway services arrives whole, every span with its
// clock attributes and every stored event as a span event with its vector clock; a lost update
// between two requests arrives as `raceway.race` events on both server spans, linked.
import { fileURLToPath } from 'node:url';
import { startCollector } from '@raceway/collector';
import { Tracer } from '@raceway/core';
import {
  barrier,
  callService,
  rootRequest,
  StockTable,
  startService,
} from '@raceway/scenario-tests/src/fixtures/index.js';
import { expect, it, onTestFinished } from 'vitest';
import { startForeignService } from '../shared/foreign-service.js';

/** The Python SDK's virtualenv, made by `sdks/python/scripts/test.sh`. */
const PYTHON = fileURLToPath(new URL('../../../../sdks/python/.venv/bin/python', import.meta.url));
const RECEIVER_SCRIPT = fileURLToPath(new URL('../python/otlp_receiver.py', import.meta.url));

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  kind: number;
  service: string | null;
  attributes: Record<string, string>;
  events: Array<{ name: string; attributes: Record<string, string> }>;
  links: Array<{ traceId: string; spanId: string; attributes: Record<string, string> }>;
}

/** The Python receiver, decoding with opentelemetry-proto. */
async function startReceiver() {
  const receiver = await startForeignService(
    {
      language: 'Python (opentelemetry-proto)',
      executable: PYTHON,
      args: [RECEIVER_SCRIPT],
      setup: 'bash sdks/python/scripts/test.sh',
      env: { PYTHONUNBUFFERED: '1' },
    },
    'otlp-receiver',
    'http://127.0.0.1:9', // it sends nothing
  );
  onTestFinished(() => receiver.close());
  return receiver;
}

it('delivers every span of a trace, decoded by opentelemetry-proto, with its clocks', async () => {
  const receiver = await startReceiver();
  const collector = await startCollector({
    port: 0,
    storage: 'sqlite::memory:',
    analysisDelayMs: 60_000,
    otlpExport: { endpoint: `${receiver.url}/v1/traces`, quietMs: 20 },
  });
  onTestFinished(() => collector.close());
  const back = await startService({
    name: 'export-back',
    framework: 'fastify',
    serverUrl: collector.url,
    routes: { '/work': () => ({ done: true }) },
  });
  onTestFinished(() => back.close());
  const front = await startService({
    name: 'export-front',
    framework: 'express',
    serverUrl: collector.url,
    routes: { '/front': () => callService('fetch', `${back.url}/work`) },
  });
  onTestFinished(() => front.close());

  const { traceId } = await rootRequest(`${front.url}/front`);
  // Acknowledged means stored, and handed to the exporter.
  await Tracer.fromOptions(front.options).flush();
  await Tracer.fromOptions(back.options).flush();
  await collector.otlpExporter!.flush();
  const stored = await collector.storage.getTraceEvents(traceId);
  expect(new Set(stored.map((e) => e.service))).toEqual(new Set(['export-front', 'export-back']));

  const spans = (await (await fetch(`${receiver.url}/spans`)).json()) as ReceivedSpan[];
  expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
  expect(spans.map((s) => s.spanId).sort()).toEqual(
    [...new Set(stored.map((e) => e.span_id))].sort(),
  );
  const byId = new Map(stored.map((e) => [e.id, e]));
  const exported = spans.flatMap((span) =>
    span.events.map((event) => ({
      span,
      event,
      stored: byId.get(event.attributes['raceway.event_id']!),
    })),
  );
  expect(exported).toHaveLength(stored.length);
  for (const { span, event, stored: original } of exported) {
    expect(original, event.name).toBeDefined();
    expect(original!.span_id).toBe(span.spanId);
    expect(JSON.parse(event.attributes['raceway.clock']!)).toEqual(original!.clock);
  }
  for (const span of spans) {
    expect(JSON.parse(span.attributes['raceway.clock.start']!)).toBeTypeOf('object');
    expect(JSON.parse(span.attributes['raceway.clock.end']!)).toBeTypeOf('object');
  }
  // Server spans (kind 2) of both services; the back's parent is the front's client span (3).
  const server = (service: string) => spans.find((s) => s.kind === 2 && s.service === service)!;
  const call = spans.find((s) => s.spanId === server('export-back').parentSpanId)!;
  expect(call).toMatchObject({ kind: 3, parentSpanId: server('export-front').spanId });
});

it('delivers a lost update between two requests as raceway.race events on both spans, linked', async () => {
  const receiver = await startReceiver();
  const collector = await startCollector({
    port: 0,
    storage: 'sqlite::memory:',
    analysisDelayMs: 60_000,
    otlpExport: { endpoint: `${receiver.url}/v1/traces`, quietMs: 20 },
  });
  onTestFinished(() => collector.close());
  const stock = new StockTable({ '1': 5 });
  const bothRead = barrier(2);
  const service = await startService({
    name: 'export-stock',
    framework: 'express',
    serverUrl: collector.url,
    routes: {
      '/reserve': async () => {
        const quantity = stock.read('1');
        await bothRead.arrive();
        stock.write('1', quantity - 1);
        return { quantity: quantity - 1 };
      },
    },
  });
  onTestFinished(() => service.close());

  const [first, second] = await Promise.all([
    rootRequest(`${service.url}/reserve`),
    rootRequest(`${service.url}/reserve`),
  ]);
  expect(stock.quantity('1')).toBe(4); // one decrement was lost
  await Tracer.fromOptions(service.options).flush();
  // Analysed before the traces leave: their races go out on their spans.
  await collector.analyzeNow();
  await collector.otlpExporter!.flush();

  const spans = (await (await fetch(`${receiver.url}/spans`)).json()) as ReceivedSpan[];
  const racing = (traceId: string) =>
    spans.find((s) => s.traceId === traceId && s.events.some((e) => e.name === 'raceway.race'))!;
  for (const [own, other] of [
    [first.traceId, second.traceId],
    [second.traceId, first.traceId],
  ] as const) {
    const span = racing(own);
    expect(span, own).toBeDefined();
    const otherSpan = racing(other);
    const race = span.events.find((e) => e.name === 'raceway.race')!.attributes;
    expect(race).toMatchObject({
      'raceway.race.kind': 'lost_update',
      'raceway.race.scope': 'cross_trace',
      'raceway.race.resource': 'stock:1',
      'raceway.race.outcome': 'lost',
      'raceway.race.other.trace_id': other,
      'raceway.race.other.span_id': otherSpan.spanId,
    });
    expect(span.links).toEqual([
      {
        traceId: other,
        spanId: otherSpan.spanId,
        attributes: {
          'raceway.race.id': race['raceway.race.id'],
          'raceway.race.kind': 'lost_update',
        },
      },
    ]);
  }
});
