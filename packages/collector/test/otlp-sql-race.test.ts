import { context, SpanKind, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { paramDigest } from '@raceway/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, startCollector } from '../src/server.js';
import { ContextRecorder, getJson, newTraceId, postBatch } from './fixtures.js';

// A lost update between a service instrumented with OpenTelemetry (its database spans, as
// @opentelemetry/instrumentation-pg records them, sent over OTLP) and one instrumented with
// Raceway (db_query events), on the same PostgreSQL row, through the collector's HTTP API.

const stockOf = (id: number) => `products[id=${paramDigest(id)}].stock`;

/** The Raceway side: SELECT stock, then UPDATE it, `readMs` and `writeMs` after `startUs`. */
function racewayRequest(id: number, startUs: number, readMs: number, writeMs: number) {
  const r = new ContextRecorder('order', newTraceId(), null, startUs);
  const query = (statement: string, params: unknown[]) =>
    r.record('db_query', {
      system: 'postgresql',
      statement,
      params: params.map((v) => ({ digest: paramDigest(v) })),
      connection: 'pool#order-1',
      database: 'shop',
      rows: 1,
      duration_ms: 1,
    });
  r.record('request_received', {
    method: 'POST',
    path: '/order',
    route: '/order',
    incoming: { status: 'absent', reasons: [] },
  });
  r.at(startUs + readMs * 1000);
  query('SELECT stock FROM products WHERE id = $1', [id]);
  r.at(startUs + writeMs * 1000);
  query('UPDATE products SET stock = $1 WHERE id = $2', [4, id]);
  r.record('response_sent', { method: 'POST', route: '/order', status: 200, duration_ms: 30 });
  return r.events;
}

/** The OpenTelemetry side, with the real SDK: a server span and its two statements. */
async function otelRequest(
  url: string,
  id: number,
  startMs: number,
  readMs: number,
  writeMs: number,
) {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'inventory' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('sql-race');
  const server = tracer.startSpan('POST /reserve', {
    kind: SpanKind.SERVER,
    startTime: startMs,
    attributes: { 'http.method': 'POST', 'http.target': '/reserve', 'http.route': '/reserve' },
  });
  const inServer = trace.setSpan(context.active(), server);
  const statement = (text: string, values: string[], atMs: number) => {
    const span = tracer.startSpan(
      `pg.query:${text.split(' ')[0]}`,
      {
        kind: SpanKind.CLIENT,
        startTime: atMs,
        // What instrumentation-pg records (old conventions, values with enhancedDatabaseReporting).
        attributes: {
          'db.system': 'postgresql',
          'db.name': 'shop',
          'db.statement': text,
          'db.postgresql.values': values,
          'net.peer.name': '127.0.0.1',
          'net.peer.port': 5432,
        },
      },
      inServer,
    );
    span.end(atMs + 1);
  };
  statement('SELECT stock FROM products WHERE id = $1', [String(id)], startMs + readMs);
  statement('UPDATE products SET stock = $1 WHERE id = $2', ['4', String(id)], startMs + writeMs);
  server.end(startMs + 30);
  const result = await new Promise<{ code: ExportResultCode }>((resolve) =>
    new OTLPTraceExporter({ url: `${url}/v1/traces` }).export(memory.getFinishedSpans(), resolve),
  );
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  return server.spanContext().traceId;
}

describe('a lost update between an OpenTelemetry service and a Raceway one', () => {
  let collector: Collector;
  const startMs = Date.now() - 60_000;
  let otelTrace: string;
  let racewayTrace: string;

  beforeAll(async () => {
    collector = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      analysisDelayMs: 60_000,
    });
    // 42: both read, then both write, while the other's window is open.
    otelTrace = await otelRequest(collector.url, 42, startMs, 2, 22);
    const events = racewayRequest(42, (startMs + 1) * 1000, 2, 22);
    racewayTrace = events[0]!.trace_id;
    expect((await postBatch(collector.url, { events })).status).toBe(200);
    // 43: the Raceway request reads after the OpenTelemetry one wrote.
    await otelRequest(collector.url, 43, startMs + 1000, 2, 5);
    const after = racewayRequest(43, (startMs + 1000 + 10) * 1000, 2, 22);
    expect((await postBatch(collector.url, { events: after })).status).toBe(200);
    const run = await fetch(`${collector.url}/api/analysis/run`, { method: 'POST' });
    expect(await run.json()).toMatchObject({ pending_resources: 0, failures: 0 });
  });
  afterAll(() => collector?.close());

  it('is reported, uncertain: the OpenTelemetry side’s order is inferred, not observed', async () => {
    const { json } = await getJson(
      `${collector.url}/api/races?scope=cross&resource=${encodeURIComponent(stockOf(42))}`,
    );
    expect(json.races).toHaveLength(1);
    const [race] = json.races;
    expect(race).toMatchObject({ kind: 'lost_update', confidence: 'uncertain' });
    expect([...race.trace_ids].sort()).toEqual([otelTrace, racewayTrace].sort());
    expect(race.services.sort()).toEqual(['inventory', 'order']);
    expect(race.explanation).toMatch(/inferred from span structure/);
  });

  it('is not reported when the Raceway request read after the OpenTelemetry one wrote', async () => {
    const { json } = await getJson(
      `${collector.url}/api/races?scope=cross&resource=${encodeURIComponent(stockOf(43))}`,
    );
    expect(json.races).toEqual([]);
  });
});
