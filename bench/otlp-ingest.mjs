// Ingestion rate of OTLP/HTTP (`POST /v1/traces`, protobuf and JSON) against Raceway's own
// `POST /v1/events` for the same spans, measured in the same run on the same collector.
//
// The spans are made by the OpenTelemetry SDK (server spans with HTTP attributes) and
// serialised by @opentelemetry/otlp-transformer, the exporters' own serialisers; the Raceway
// batches hold the events the collector stores for those spans (request_received and
// response_sent per span), so each side stores the same number of events. The collector
// (`raceway serve`, built, SQLite) runs in a child process; rounds alternate the endpoints.
// A second collector, forwarding what it stores to an OTLP endpoint where nothing listens
// (`--otlp-export`), takes the same /v1/events batches in the same rounds: a dead export
// endpoint must not slow ingestion.
//
//   pnpm build && node bench/otlp-ingest.mjs [--requests 120] [--spans 256] [--connections 4] [--rounds 3]
//
// Results: bench/results/otlp-ingest.md.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { SpanKind } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { builtCollectorCli } from './collector-cli.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '120' },
    spans: { type: 'string', default: '256' },
    connections: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
  },
});
const requests = Number(values.requests);
const spansPerRequest = Number(values.spans);
const connections = Number(values.connections);
const rounds = Number(values.rounds);

/** One request's worth of finished server spans, each in a trace of its own. */
function makeSpans() {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench-otel' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('bench');
  for (let i = 0; i < spansPerRequest; i++) {
    const span = tracer.startSpan('GET /items/:id', {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'GET',
        'url.path': `/items/${i}`,
        'http.route': '/items/:id',
        'http.response.status_code': 200,
      },
    });
    span.end();
  }
  return memory.getFinishedSpans();
}

const us = (hr) => Math.round(hr[0] * 1e6 + hr[1] / 1e3);

/** The Raceway events the collector stores for these spans. */
function racewayBatch(spans) {
  const events = [];
  for (const span of spans) {
    const { traceId, spanId } = span.spanContext();
    const component = `bench-raceway#${spanId.slice(0, 8)}`;
    const base = {
      trace_id: traceId,
      span_id: spanId,
      parent_span_id: null,
      service: 'bench-raceway',
      instance: 'bench-1',
      component,
    };
    events.push(
      {
        ...base,
        id: randomBytes(16).toString('hex'),
        ts_us: us(span.startTime),
        kind: 'request_received',
        clock: { [component]: 1 },
        data: {
          method: 'GET',
          path: span.attributes['url.path'],
          route: '/items/:id',
          incoming: { status: 'absent', reasons: [] },
        },
      },
      {
        ...base,
        id: randomBytes(16).toString('hex'),
        ts_us: us(span.endTime),
        kind: 'response_sent',
        clock: { [component]: 2 },
        data: { method: 'GET', route: '/items/:id', status: 200, duration_ms: 0.1 },
      },
    );
  }
  return gzipSync(JSON.stringify({ events }));
}

const bodies = { events: [], protobuf: [], json: [], deadExport: [] };
for (let i = 0; i < requests * rounds; i++) {
  const spans = makeSpans();
  bodies.events.push(racewayBatch(spans));
  bodies.deadExport.push(racewayBatch(makeSpans()));
  // Fresh spans for each OTLP encoding: every request stores new events, as on /v1/events.
  bodies.protobuf.push(gzipSync(ProtobufTraceSerializer.serializeRequest(makeSpans())));
  bodies.json.push(gzipSync(JsonTraceSerializer.serializeRequest(makeSpans())));
}
const endpoints = {
  events: { path: '/v1/events', type: 'application/json' },
  protobuf: { path: '/v1/traces', type: 'application/x-protobuf' },
  json: { path: '/v1/traces', type: 'application/json' },
  deadExport: { path: '/v1/events', type: 'application/json', collector: 'exporting' },
};

/** A loopback port nothing listens on: taken, then let go. */
async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}
const deadEndpoint = `http://127.0.0.1:${await closedPort()}/v1/traces`;

const work = mkdtempSync(join(tmpdir(), 'raceway-bench-otlp-'));

/** Starts a built collector on SQLite in `work`; resolves with the child and its URL. */
async function startCollector(name, extraArgs = []) {
  const child = spawn(
    process.execPath,
    [
      builtCollectorCli(),
      'serve',
      '--port',
      '0',
      '--storage',
      `sqlite:${join(work, `${name}.db`)}`,
      '--analysis-delay',
      '600000',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`collector exited with ${code}: ${out}`)));
  });
  return { child, url };
}
const collectors = {
  plain: await startCollector('bench'),
  exporting: await startCollector('bench-export', ['--otlp-export', deadEndpoint]),
};

/** Posts `requests` bodies of one kind over `connections` concurrent loops; spans per second. */
async function run(kind, round) {
  const { path, type, collector = 'plain' } = endpoints[kind];
  const { url } = collectors[collector];
  const list = bodies[kind].slice(round * requests, (round + 1) * requests);
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < list.length) {
        const body = list[next++];
        const res = await fetch(`${url}${path}`, {
          method: 'POST',
          headers: { 'content-type': type, 'content-encoding': 'gzip' },
          body,
        });
        const text = await res.text();
        if (res.status !== 200 || text.includes('partialSuccess')) {
          throw new Error(`${kind}: ${res.status} ${text.slice(0, 300)}`);
        }
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (list.length * spansPerRequest) / seconds;
}

const KINDS = ['events', 'protobuf', 'json', 'deadExport'];
const rates = { events: [], protobuf: [], json: [], deadExport: [] };
try {
  for (let round = 0; round < rounds; round++) {
    for (const kind of KINDS) rates[kind].push(await run(kind, round));
  }
} finally {
  for (const { child } of Object.values(collectors)) {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  rmSync(work, { recursive: true, force: true });
}
const LABELS = {
  events: 'POST /v1/events (JSON)',
  protobuf: 'POST /v1/traces (protobuf)',
  json: 'POST /v1/traces (json)',
  deadExport: 'POST /v1/events (JSON), OTLP export to a dead endpoint',
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const base = median(rates.events);
const lines = [
  '# OTLP ingest against /v1/events',
  '',
  `Command: \`node bench/otlp-ingest.mjs --requests ${requests} --spans ${spansPerRequest} --connections ${connections} --rounds ${rounds}\``,
  `(collector built, SQLite, gzip bodies, ${cpus().length} CPUs, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}).`,
  '',
  'The same kind of span (an OpenTelemetry SDK server span with HTTP attributes) sent as OTLP',
  '(protobuf or JSON, serialised by @opentelemetry/otlp-transformer) and as the two Raceway events',
  'the collector stores for it; each side stores 2 events per span. Rates in spans per second',
  '(median of the rounds; each round sends every kind in turn). The last row is a second',
  'collector, the same but for `--otlp-export` to a loopback port where nothing listens: its',
  'exporter keeps failing (and retrying) while it ingests; every request was answered 200.',
  '',
  '| endpoint | spans/s per round | median | ratio to /v1/events |',
  '|---|---|---|---|',
  ...KINDS.map(
    (kind) =>
      `| ${LABELS[kind]} | ${rates[kind].map(fmt).join(', ')} | ${fmt(median(rates[kind]))} | ${(median(rates[kind]) / base).toFixed(2)} |`,
  ),
  '',
];
const report = lines.join('\n');
writeFileSync(join(here, 'results', 'otlp-ingest.md'), report);
process.stdout.write(report);
