// Real servers on 127.0.0.1, port 0: a collector (in-memory SQLite), and a callee traced by
// core's server lifecycle that answers with the trace headers it received.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Collector, startCollector } from '@raceway/collector';
import { type RacewayOptions, Tracer } from '@raceway/core';
import { createServerLifecycle } from '@raceway/core/integration';

/** How many copies of each trace header a request carried, and the traceparent itself. */
export interface Received {
  counts: Record<string, number>;
  traceparent: string | null;
}

const TRACE_HEADERS = ['x-raceway-trace-id', 'x-raceway-vc', 'traceparent', 'tracestate'];

/** The trace headers a request carried. */
export function receivedTraceHeaders(req: http.IncomingMessage): Received {
  const counts: Record<string, number> = Object.fromEntries(TRACE_HEADERS.map((h) => [h, 0]));
  let traceparent: string | null = null;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (name in counts) counts[name]! += 1;
    if (name === 'traceparent') traceparent = req.rawHeaders[i + 1]!;
  }
  return { counts, traceparent };
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl for this run. */
export function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'raceway-http-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A service traced by core's server lifecycle (as a framework adapter does): `respond` runs in
 * the request's execution context, and the response carries the service's clock back. With
 * `tls`, over https.
 */
export async function startTracedServer(
  options: RacewayOptions,
  respond: http.RequestListener,
  tls?: { key: string; cert: string },
): Promise<RunningServer> {
  const lifecycle = createServerLifecycle(options);
  const handler: http.RequestListener = (req, res) => {
    const span = lifecycle.start({ request: req, response: res });
    if (span === undefined) respond(req, res);
    else span.run(() => respond(req, res));
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A traced service that answers every request with JSON describing the trace headers it received. */
export function startCallee(
  options: RacewayOptions,
  tls?: { key: string; cert: string },
): Promise<RunningServer> {
  return startTracedServer(
    options,
    (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(receivedTraceHeaders(req)));
    },
    tls,
  );
}

/** A collector, and the few query API answers the tests read. */
export interface TestCollector {
  collector: Collector;
  /** Flushes the tracers, then waits until the trace holds `serverSpans` complete server spans. */
  settle(traceId: string, tracers: RacewayOptions[], serverSpans: number): Promise<TraceAnswer>;
  dependencies(): Promise<{ edges: Array<{ from: string; to: string; calls: number }> }>;
  close(): Promise<void>;
}

export interface SpanAnswer {
  span_id: string;
  parent_span_id: string | null;
  parent_missing: boolean;
  service: string;
  kind: 'server' | 'client' | 'internal';
  complete: boolean;
  host: string | null;
  events: Array<{ kind: string; clock: Record<string, number>; data: Record<string, unknown> }>;
  children: SpanAnswer[];
}
export interface TraceAnswer {
  spans: SpanAnswer[];
}

/** Every span of a trace answer, depth first. */
export function allSpans(trace: TraceAnswer): SpanAnswer[] {
  const out: SpanAnswer[] = [];
  const visit = (span: SpanAnswer) => {
    out.push(span);
    span.children.forEach(visit);
  };
  trace.spans.forEach(visit);
  return out;
}

export async function startTestCollector(): Promise<TestCollector> {
  // Analysis only when asked: results never depend on the background timer.
  const collector = await startCollector({
    port: 0,
    storage: 'sqlite::memory:',
    analysisDelayMs: 60_000,
  });
  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${collector.url}${path}`);
    return { status: response.status, body: (await response.json()) as T };
  };
  return {
    collector,
    async settle(traceId, tracers, serverSpans) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        await Promise.all(tracers.map((o) => Tracer.fromOptions(o).flush()));
        const { status, body } = await get<TraceAnswer>(`/api/traces/${traceId}`);
        if (status === 200) {
          const spans = allSpans(body);
          const servers = spans.filter((s) => s.kind === 'server').length;
          if (servers >= serverSpans && spans.every((s) => s.complete)) {
            const run = await fetch(`${collector.url}/api/analysis/run`, { method: 'POST' });
            await run.text();
            return body;
          }
        }
        if (Date.now() > deadline) {
          throw new Error(`trace ${traceId} incomplete: ${JSON.stringify(body).slice(0, 500)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async dependencies() {
      return (
        await get<{ edges: Array<{ from: string; to: string; calls: number }> }>(
          '/api/dependencies',
        )
      ).body;
    },
    close: () => collector.close(),
  };
}

let unique = 0;
/** Options of a service reporting to the collector; flushed only when the test says so. */
export function serviceOptions(collector: TestCollector, name: string): RacewayOptions {
  unique += 1;
  return {
    serviceName: `${name}-${process.pid}-${unique}`,
    serverUrl: collector.collector.url,
    instance: `${name}-host`,
    flushIntervalMs: 60_000,
  };
}
