import { gzipSync } from 'node:zlib';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportTraceServiceResponse, encodeExportRequest } from '../src/otlp/proto.js';
import { type Collector, startCollector } from '../src/server.js';

const KEY = 'otlp-test-key';
/** The exporters' `CompressionAlgorithm.GZIP` (an enum of @opentelemetry/otlp-exporter-base). */
const GZIP = 'gzip' as NonNullable<
  NonNullable<ConstructorParameters<typeof ProtoExporter>[0]>['compression']
>;
type Body = string | Uint8Array;
let collector: Collector;

beforeAll(async () => {
  collector = await startCollector({
    port: 0,
    storage: 'sqlite::memory:',
    apiKeys: [KEY],
    analysisDelayMs: 60_000,
    checkResponses: true,
  });
});
afterAll(() => collector.close());

/** Spans made by the real OpenTelemetry SDK: a server span with a client call and a failing one. */
function recordSpans(service: string): { spans: ReadableSpan[]; traceId: string } {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    // The SDK's default resource names it (telemetry.sdk.*), as NodeTracerProvider's does.
    resource: defaultResource().merge(
      resourceFromAttributes({ 'service.name': service, 'service.instance.id': `${service}-1` }),
    ),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('otlp-test');
  const server = tracer.startSpan('GET /orders/:id', {
    kind: SpanKind.SERVER,
    attributes: {
      'http.request.method': 'GET',
      'url.path': '/orders/42',
      'http.route': '/orders/:id',
      'http.response.status_code': 200,
    },
  });
  const inServer = trace.setSpan(context.active(), server);
  const call = tracer.startSpan(
    'GET',
    {
      kind: SpanKind.CLIENT,
      // Old semantic conventions on this one.
      attributes: {
        'http.method': 'GET',
        'http.url': 'http://inventory:8080/stock/42?fresh=1',
        'net.peer.name': 'inventory',
        'net.peer.port': 8080,
        'http.status_code': 503,
      },
    },
    inServer,
  );
  call.setStatus({ code: SpanStatusCode.ERROR, message: 'inventory answered 503' });
  call.end();
  const failing: Span = tracer.startSpan('compute', { kind: SpanKind.INTERNAL }, inServer);
  failing.recordException(new TypeError('price is undefined'));
  failing.setStatus({ code: SpanStatusCode.ERROR });
  failing.end();
  server.end();
  const spans = memory.getFinishedSpans();
  return { spans, traceId: server.spanContext().traceId };
}

function exportWith(exporter: SpanExporter, spans: ReadableSpan[]) {
  return new Promise<{ code: ExportResultCode; error?: Error }>((resolve) =>
    exporter.export(spans, resolve),
  );
}

const url = () => `${collector.url}/v1/traces`;
const auth = { authorization: `Bearer ${KEY}` };

describe('POST /v1/traces with the OpenTelemetry exporters', () => {
  for (const [name, make] of [
    ['protobuf', (options: object) => new ProtoExporter(options)],
    ['JSON', (options: object) => new JsonExporter(options)],
    ['protobuf, gzip', (options: object) => new ProtoExporter({ ...options, compression: GZIP })],
    ['JSON, gzip', (options: object) => new JsonExporter({ ...options, compression: GZIP })],
  ] as const) {
    it(`stores the spans of an export (${name}) as events of the same trace`, async () => {
      const service = `otel-${name.replace(/\W+/g, '-')}`;
      const { spans, traceId } = recordSpans(service);
      const result = await exportWith(make({ url: url(), headers: auth }), spans);
      expect(result.error).toBeUndefined();
      expect(result.code).toBe(ExportResultCode.SUCCESS);
      // Acknowledged means stored: read straight from storage, no waiting.
      const events = await collector.storage.getTraceEvents(traceId);
      const kinds = events.map((e) => e.kind).sort();
      expect(kinds).toEqual(
        [
          'custom',
          'custom',
          'error',
          'request_received',
          'request_sent',
          'response_received',
          'response_sent',
        ].sort(),
      );
      expect(new Set(events.map((e) => e.service))).toEqual(new Set([service]));
      expect(new Set(events.map((e) => e.instance))).toEqual(new Set([`${service}-1`]));
      const byKind = (kind: string) => events.find((e) => e.kind === kind)!;
      const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
      expect(byKind('request_received')).toMatchObject({
        span_id: server.spanContext().spanId,
        parent_span_id: null,
        data: { method: 'GET', path: '/orders/42', route: '/orders/:id' },
      });
      expect(byKind('response_sent').data).toMatchObject({ status: 200, route: '/orders/:id' });
      expect(byKind('request_sent')).toMatchObject({
        parent_span_id: server.spanContext().spanId,
        data: { method: 'GET', url: 'http://inventory:8080/stock/42', host: 'inventory:8080' },
      });
      expect(byKind('response_received').data).toMatchObject({
        status: 503,
        error: { message: 'inventory answered 503' },
      });
      expect(byKind('error').data).toMatchObject({
        type: 'TypeError',
        message: 'price is undefined',
      });
      // The service's SDK, from the resource's telemetry.sdk.* attributes.
      const services = (await (
        await fetch(`${collector.url}/api/services`, { headers: auth })
      ).json()) as {
        services: Array<{
          service: string;
          sdks: Array<{ name: string; language: string | null }>;
        }>;
      };
      expect(services.services.find((s) => s.service === service)?.sdks).toMatchObject([
        { name: 'opentelemetry', language: 'nodejs' },
      ]);
      // The same spans again: stored once.
      const again = await exportWith(make({ url: url(), headers: auth }), spans);
      expect(again.code).toBe(ExportResultCode.SUCCESS);
      expect(await collector.storage.getTraceEvents(traceId)).toHaveLength(events.length);
    });
  }

  it('fails an export without the key (401) and stores nothing', async () => {
    const { spans, traceId } = recordSpans('otel-no-key');
    const result = await exportWith(new ProtoExporter({ url: url() }), spans);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(await collector.storage.getTraceEvents(traceId)).toEqual([]);
  });
});

/** An OTLP/JSON request with one valid server span, and `extra` spans. */
function jsonRequest(traceId: string, extra: object[] = []) {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otel-json' } }] },
        scopeSpans: [
          {
            scope: { name: 'manual' },
            spans: [
              {
                traceId,
                spanId: '00f067aa0ba902b7',
                name: 'POST /pay',
                kind: 2,
                startTimeUnixNano: String(nowNs - 5_000_000n),
                endTimeUnixNano: String(nowNs),
                attributes: [
                  { key: 'http.method', value: { stringValue: 'POST' } },
                  { key: 'http.target', value: { stringValue: '/pay?x=1' } },
                  { key: 'http.status_code', value: { intValue: '500' } },
                ],
                status: { code: 2, message: 'boom' },
              },
              ...extra,
            ],
          },
        ],
      },
    ],
  };
}

async function post(body: Body, headers: Record<string, string>) {
  const res = await fetch(url(), { method: 'POST', headers: { ...auth, ...headers }, body });
  const type = res.headers.get('content-type') ?? '';
  const payload = type.includes('json')
    ? await res.json()
    : new Uint8Array(await res.arrayBuffer());
  return { status: res.status, type, payload };
}

describe('POST /v1/traces: answers', () => {
  it('stores the valid spans and reports the others in partialSuccess (JSON)', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const bad = {
      traceId,
      spanId: 'zz',
      name: 'bad',
      startTimeUnixNano: '1',
      endTimeUnixNano: '2',
    };
    const answer = await post(JSON.stringify(jsonRequest(traceId, [bad])), {
      'content-type': 'application/json',
    });
    expect(answer.status).toBe(200);
    expect(answer.payload).toMatchObject({ partialSuccess: { rejectedSpans: 1 } });
    expect(
      (answer.payload as { partialSuccess: { errorMessage: string } }).partialSuccess.errorMessage,
    ).toMatch(/spanId/);
    const events = await collector.storage.getTraceEvents(traceId);
    expect(events.map((e) => e.kind).sort()).toEqual(['request_received', 'response_sent']);
    expect(events.find((e) => e.kind === 'response_sent')!.data).toMatchObject({
      status: 500,
      error: { message: 'boom' },
    });
    expect(events.find((e) => e.kind === 'request_received')!.data.path).toBe('/pay');
  });

  it('answers a protobuf ExportTraceServiceResponse, with partialSuccess for a span out of limits', async () => {
    const traceId = 'a3ce929d0e0e47364bf92f3577b34da6';
    const request = jsonRequest(traceId, [
      {
        traceId,
        spanId: '1111111111111111',
        name: 'from the far future',
        kind: 2,
        // A day ahead of the collector's clock: over the limit, as on /v1/events.
        startTimeUnixNano: String(BigInt(Date.now() + 86_400_000) * 1_000_000n),
        endTimeUnixNano: String(BigInt(Date.now() + 86_400_001) * 1_000_000n),
      },
    ]);
    // protobuf ids are bytes: the JSON form's hex, as base64.
    for (const span of request.resourceSpans[0]!.scopeSpans[0]!.spans as Array<
      Record<string, string>
    >) {
      span.traceId = Buffer.from(span.traceId!, 'hex').toString('base64');
      span.spanId = Buffer.from(span.spanId!, 'hex').toString('base64');
    }
    const answer = await post(gzipSync(encodeExportRequest(request)), {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    });
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('application/x-protobuf');
    const response = ExportTraceServiceResponse.toObject(
      ExportTraceServiceResponse.decode(answer.payload as Uint8Array),
      { longs: Number },
    );
    expect(response.partialSuccess.rejectedSpans).toBe(1);
    expect(response.partialSuccess.errorMessage).toMatch(/ahead of the collector's clock/);
    expect(await collector.storage.getTraceEvents(traceId)).toHaveLength(2);
  });

  it.each([
    [
      'bad protobuf',
      'application/x-protobuf',
      Buffer.from([0x0a, 0xff, 0xff, 0xff]),
      {},
      400,
      'invalid_protobuf',
    ],
    ['not JSON', 'application/json', 'nope', {}, 400, 'invalid_json'],
    ['a JSON array', 'application/json', '[]', {}, 400, 'invalid_request'],
    [
      'resourceSpans null',
      'application/json',
      '{"resourceSpans":null}',
      {},
      400,
      'invalid_request',
    ],
    [
      'resourceSpans of nulls',
      'application/json',
      '{"resourceSpans":[null]}',
      {},
      400,
      'invalid_request',
    ],
    [
      'spans not a list',
      'application/json',
      '{"resourceSpans":[{"scopeSpans":[{"spans":7}]}]}',
      {},
      400,
      'invalid_request',
    ],
    [
      'bad gzip',
      'application/x-protobuf',
      'not gzip',
      { 'content-encoding': 'gzip' },
      400,
      'invalid_gzip',
    ],
    [
      'another encoding',
      'application/json',
      '{}',
      { 'content-encoding': 'br' },
      415,
      'unsupported_media_type',
    ],
    ['text/plain', 'text/plain', 'hello', {}, 415, 'unsupported_media_type'],
  ] as const)('answers %s with a clear %i', async (_name, type, body, headers, status, error) => {
    const answer = await post(body as Body, { 'content-type': type, ...headers });
    expect(answer.status).toBe(status);
    expect(answer.payload).toMatchObject({ error });
  });

  it('refuses a body over the limit (413) and a request without key (401)', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024, 0x20);
    const tooLarge = await post(big, { 'content-type': 'application/x-protobuf' });
    expect(tooLarge.status).toBe(413);
    const res = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers an empty request with an empty success', async () => {
    const answer = await post('{}', { 'content-type': 'application/json' });
    expect(answer).toMatchObject({ status: 200, payload: {} });
  });
});
