// OpenTelemetry's NodeSDK and Raceway in one Node process (spec 2.8), over real HTTP: the test
// calls the two-SDK service without trace headers, it calls a Raceway service through a proxy
// that records the raw request headers, with fetch, node's http.request or axios (alone, and
// with node:http instrumented too). Exactly one traceparent goes out; it names
// OpenTelemetry's client span, which is also Raceway's client span; OpenTelemetry's receiver
// and Raceway's collector see one trace id and parent links that meet.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  allSpans,
  collectorApi,
  rootRequest,
  type Scenario,
  startScenario,
} from '@raceway/scenario-tests/src/fixtures/index.js';
import { expect, it, onTestFinished } from 'vitest';
import { startForeignService } from '../shared/foreign-service.js';

const SERVICE_SCRIPT = fileURLToPath(new URL('./two-sdks-service.cjs', import.meta.url));

interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  name: string;
}

const SERVER = 2;
const CLIENT = 3;

async function listenOn(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function bodyOf(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}

/** An OTLP/HTTP JSON receiver: keeps every span it is sent. */
async function otlpReceiver() {
  const spans: OtlpJsonSpan[] = [];
  const server = createServer(async (request, response) => {
    const body = JSON.parse(await bodyOf(request)) as {
      resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpJsonSpan[] }> }>;
    };
    for (const resource of body.resourceSpans)
      for (const scope of resource.scopeSpans) spans.push(...scope.spans);
    response.setHeader('content-type', 'application/json');
    response.end('{}');
  });
  const url = `${await listenOn(server)}/v1/traces`;
  return { url, spans, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A transparent proxy to `target` that records each request's raw headers. */
async function recordingProxy(target: string) {
  const seen: string[][] = [];
  const server = createServer((request, response) => {
    seen.push(request.rawHeaders);
    const headers = { ...request.headers };
    delete headers.host;
    const forward = httpRequest(new URL(request.url ?? '/', target), { headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    forward.on('error', () => {
      response.statusCode = 502;
      response.end();
    });
    forward.end();
  });
  const url = await listenOn(server);
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The service's client (see two-sdks-service.cjs); `axios+http` has instrumentHttp on too. */
type Client = 'fetch' | 'http' | 'axios' | 'axios+http';

async function startTwoSdks(
  s: Scenario,
  receiverUrl: string,
  racewayFirst: boolean,
  client: Client = 'fetch',
) {
  const both = await startForeignService(
    {
      language: 'Node (OpenTelemetry and Raceway)',
      executable: process.execPath,
      args: [SERVICE_SCRIPT],
      setup: 'pnpm install',
      env: {
        OTLP_RECEIVER_URL: receiverUrl,
        RACEWAY_FIRST: racewayFirst ? '1' : '0',
        CLIENT: client,
      },
    },
    'two-sdks',
    s.collector.url,
  );
  s.defer(() => both.close());
  return both;
}

/** The one traceparent a proxied request carried (the test fails on none or several). */
function onlyTraceparent(raw: string[]): string {
  const values = raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'traceparent');
  expect(values).toHaveLength(1);
  return values[0]!;
}

it.each<Client>(['fetch', 'http', 'axios', 'axios+http'])(
  '%s sends one traceparent, naming a client span both backends know, in one trace',
  async (client) => {
    const s = await startScenario();
    onTestFinished(() => s.close());
    const receiver = await otlpReceiver();
    s.defer(receiver.close);
    const back = await s.service({
      name: 'ts-back',
      framework: 'fastify',
      routes: { '/work': () => ({ done: true }) },
    });
    const proxy = await recordingProxy(back.url);
    s.defer(proxy.close);
    const both = await startTwoSdks(s, receiver.url, false, client);

    // No trace headers: each SDK would start a trace of its own.
    const { traceId, body } = await rootRequest(
      `${both.url}/chain?next=${encodeURIComponent(`${proxy.url}/work`)}`,
    );
    expect(body).toMatchObject({ service: 'two-sdks', downstream: { done: true } });

    // Exactly one traceparent left the process, of the trace the service answered with.
    expect(proxy.seen).toHaveLength(1);
    const [, sentTraceId, sentParentId] = onlyTraceparent(proxy.seen[0]!).split('-');
    expect(sentTraceId).toBe(traceId);

    // OpenTelemetry's side: its server span, and its client span is the one the header names.
    await both.flush();
    const otelSpans = receiver.spans;
    expect(new Set(otelSpans.map((x) => x.traceId))).toEqual(new Set([traceId]));
    const otelServer = otelSpans.find((x) => x.kind === SERVER)!;
    const otelClient = otelSpans.find((x) => x.kind === CLIENT)!;
    expect(otelClient).toMatchObject({ spanId: sentParentId, parentSpanId: otelServer.spanId });

    // Raceway's side: its client span has the same id, child of its server span, and the callee's
    // server span (through the proxy) is its child: one edge, no broken chain.
    const [trace] = await s.settle([traceId], { serverSpans: 2 });
    const spans = allSpans(trace!);
    const racewayServer = spans.find((x) => x.kind === 'server' && x.service === 'two-sdks')!;
    expect(racewayServer.parent_span_id).toBeNull();
    const racewayClient = spans.find((x) => x.kind === 'client' && x.service === 'two-sdks')!;
    expect(racewayClient).toMatchObject({
      span_id: sentParentId,
      parent_span_id: racewayServer.span_id,
    });
    const backServer = spans.find((x) => x.kind === 'server' && x.service === 'ts-back')!;
    expect(backServer.parent_span_id).toBe(sentParentId);

    const api = collectorApi(s.collector.url);
    const edges = (await api.dependencies()).edges.map((e) => [e.from, e.to, e.calls]);
    expect(edges).toContainEqual(['two-sdks', 'ts-back', 1]);
    const diagnostics = await api.traceDiagnostics(traceId);
    expect(diagnostics.diagnostics!.brokenChains).toEqual([]);
  },
);

it('still sends one traceparent when Raceway subscribed to undici first (the wrong order)', async () => {
  const s = await startScenario();
  onTestFinished(() => s.close());
  const receiver = await otlpReceiver();
  s.defer(receiver.close);
  const back = await s.service({
    name: 'ts-back',
    framework: 'fastify',
    routes: { '/work': () => ({ done: true }) },
  });
  const proxy = await recordingProxy(back.url);
  s.defer(proxy.close);
  const both = await startTwoSdks(s, receiver.url, true);

  const { traceId } = await rootRequest(
    `${both.url}/chain?next=${encodeURIComponent(`${proxy.url}/work`)}`,
  );
  // OpenTelemetry's later copy is left out: Raceway's, which names Raceway's client span.
  const [, sentTraceId, sentParentId] = onlyTraceparent(proxy.seen[0]!).split('-');
  expect(sentTraceId).toBe(traceId);
  await both.flush();
  const [trace] = await s.settle([traceId], { serverSpans: 2 });
  const spans = allSpans(trace!);
  const racewayClient = spans.find((x) => x.kind === 'client' && x.service === 'two-sdks')!;
  expect(racewayClient.span_id).toBe(sentParentId);
  const backServer = spans.find((x) => x.kind === 'server' && x.service === 'ts-back')!;
  expect(backServer.parent_span_id).toBe(sentParentId);
  // Still one trace id in OpenTelemetry's backend too.
  expect(new Set(receiver.spans.map((x) => x.traceId))).toEqual(new Set([traceId]));
});
