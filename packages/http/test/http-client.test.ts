// node:http and node:https clients (directly, got, node-fetch 2) traced through instrumentHttp,
// calling a traced service on loopback and reporting to a real collector.
import http from 'node:http';
import https from 'node:https';
import {
  type ExecutionContext,
  getTraceHeaders,
  type RacewayOptions,
  runInContext,
  Tracer,
} from '@raceway/core';
import { wrapFetch } from '@raceway/fetch';
import got from 'got';
import nodeFetch from 'node-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrumentHttp, RacewayHttpsAgent, uninstrumentHttp } from '../src/index.js';
import {
  allSpans,
  type Received,
  type RunningServer,
  selfSignedCertificate,
  serviceOptions,
  startCallee,
  startTestCollector,
  type TestCollector,
} from './fixtures.js';

const ONE_OF_EACH = { 'x-raceway-trace-id': 1, 'x-raceway-vc': 1, traceparent: 1, tracestate: 0 };
const NONE = { 'x-raceway-trace-id': 0, 'x-raceway-vc': 0, traceparent: 0, tracestate: 0 };

let collector: TestCollector;
let tls: { key: string; cert: string };
let plainCallee: RunningServer;
let tlsCallee: RunningServer;
let callerOptions: RacewayOptions;
let calleeOptions: RacewayOptions;

beforeAll(async () => {
  collector = await startTestCollector();
  tls = selfSignedCertificate();
  callerOptions = serviceOptions(collector, 'caller');
  calleeOptions = serviceOptions(collector, 'callee');
  plainCallee = await startCallee(calleeOptions);
  tlsCallee = await startCallee(calleeOptions, tls);
  instrumentHttp();
});

afterAll(async () => {
  uninstrumentHttp();
  await plainCallee?.close();
  await tlsCallee?.close();
  await Tracer.fromOptions(callerOptions).shutdown();
  await Tracer.fromOptions(calleeOptions).shutdown();
  await collector?.close();
});

/** One GET with node's own client: the JSON body and the status. */
function nodeGet(url: string, options: https.RequestOptions = {}): Promise<Received> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(url, options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve(JSON.parse(body) as Received));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

type Client = 'http.request' | 'https.request' | 'got' | 'got over https' | 'node-fetch 2';

const CLIENTS: Record<Client, () => Promise<Received>> = {
  'http.request': () => nodeGet(`${plainCallee.url}/items/1`),
  'https.request': () => nodeGet(`${tlsCallee.url}/items/1`, { ca: tls.cert }),
  got: () => got(`${plainCallee.url}/items/1`).json<Received>(),
  'got over https': () =>
    got(`${tlsCallee.url}/items/1`, { https: { certificateAuthority: tls.cert } }).json<Received>(),
  'node-fetch 2': async () =>
    (await nodeFetch(`${plainCallee.url}/items/1`)).json() as Promise<Received>,
};

/** Runs `fn` in a fresh context of the caller service (as a traced request handler would). */
function inCaller<T>(fn: () => Promise<T>): Promise<{ ctx: ExecutionContext; result: T }> {
  const ctx = Tracer.fromOptions(callerOptions).startContext({});
  return runInContext(ctx, async () => ({ ctx, result: await fn() }));
}

describe.each(Object.keys(CLIENTS) as Client[])('%s', (client) => {
  it('sends the trace headers once, links the callee to the call and merges its clock', async () => {
    const { ctx, result } = await inCaller(CLIENTS[client]);
    expect(result.counts).toEqual(ONE_OF_EACH);

    const trace = await collector.settle(ctx.traceId, [callerOptions, calleeOptions], 1);
    const spans = allSpans(trace);
    const call = spans.find((s) => s.kind === 'client' && s.service === callerOptions.serviceName);
    const server = spans.find(
      (s) => s.kind === 'server' && s.service === calleeOptions.serviceName,
    );
    expect(call).toBeDefined();
    expect(server).toBeDefined();
    // The callee joined the trace as a child of the call's span, the span the header named.
    expect(server!.parent_span_id).toBe(call!.span_id);
    expect(server!.parent_missing).toBe(false);
    expect(result.traceparent).toContain(call!.span_id);
    const received = call!.events.find((e) => e.kind === 'response_received');
    expect(received?.data).toMatchObject({ status: 200, remote_clock: true });
    // The callee's clock came back: the caller's next step is ordered after what it did.
    expect(Object.keys(received!.clock)).toContainEqual(
      expect.stringMatching(new RegExp(`^${calleeOptions.serviceName}#`)),
    );

    const { edges } = await collector.dependencies();
    expect(edges).toContainEqual(
      expect.objectContaining({ from: callerOptions.serviceName, to: calleeOptions.serviceName }),
    );
  });
});

it('leaves calls made outside any context untouched', async () => {
  expect((await CLIENTS['http.request']()).counts).toEqual(NONE);
  expect((await CLIENTS.got()).counts).toEqual(NONE);
});

it('node-fetch 2 wrapped with wrapFetch is traced once, by the wrapper', async () => {
  const fetchWrapped = wrapFetch(nodeFetch);
  const { ctx, result } = await inCaller(
    async () => (await fetchWrapped(`${plainCallee.url}/items/2`)).json() as Promise<Received>,
  );
  expect(result.counts).toEqual(ONE_OF_EACH);
  const trace = await collector.settle(ctx.traceId, [callerOptions, calleeOptions], 1);
  const calls = allSpans(trace).filter((s) => s.kind === 'client');
  expect(calls).toHaveLength(1);
  expect(result.traceparent).toContain(calls[0]!.span_id);
});

it('a manual call (getTraceHeaders) through http.request keeps its own headers and one span', async () => {
  const { ctx, result } = await inCaller(async () => {
    const url = `${plainCallee.url}/items/3`;
    const headers = getTraceHeaders({ url, method: 'GET' });
    const answer = await nodeGet(url, { headers });
    return { headers, answer };
  });
  expect(result.answer.counts).toEqual(ONE_OF_EACH);
  expect(result.answer.traceparent).toBe(result.headers.traceparent);
  const sent = await eventsOf(ctx.traceId, 'request_sent');
  expect(sent).toHaveLength(1);
});

it("a client's own agent is traced when it is a RacewayHttpsAgent (node-fetch 2 over https)", async () => {
  const agent = new RacewayHttpsAgent({ ca: tls.cert });
  try {
    const { ctx, result } = await inCaller(
      async () =>
        (await nodeFetch(`${tlsCallee.url}/items/4`, { agent })).json() as Promise<Received>,
    );
    expect(result.counts).toEqual(ONE_OF_EACH);
    const trace = await collector.settle(ctx.traceId, [callerOptions, calleeOptions], 1);
    const call = allSpans(trace).find((s) => s.kind === 'client');
    expect(call?.events.find((e) => e.kind === 'response_received')?.data).toMatchObject({
      status: 200,
      remote_clock: true,
    });
  } finally {
    agent.destroy();
  }
});

it('records a refused connection as the call ending in an error', async () => {
  const gone = await startCallee(serviceOptions(collector, 'gone'));
  const url = `${gone.url}/items/5`;
  await gone.close();
  const { ctx } = await inCaller(async () => {
    await expect(nodeGet(url)).rejects.toThrow(/ECONNREFUSED/);
  });
  const [received] = await eventsOf(ctx.traceId, 'response_received', 1);
  expect(received!.data.status).toBeUndefined();
  expect(String((received!.data.error as { message?: string }).message)).toMatch(/ECONNREFUSED/);
});

it("the tracer's own requests to the collector are never traced, even flushed from a context", async () => {
  const { ctx } = await inCaller(async () => {
    await nodeGet(`${plainCallee.url}/items/6`);
    // A flush started inside a request handler: the POST to the collector goes out from here.
    await Tracer.fromOptions(callerOptions).flush();
    await nodeGet(`${plainCallee.url}/items/7`);
    await Tracer.fromOptions(callerOptions).flush();
  });
  const sent = await eventsOf(ctx.traceId, 'request_sent', 2);
  expect(sent.map((e) => new URL(String(e.data.url)).pathname).sort()).toEqual([
    '/items/6',
    '/items/7',
  ]);
});

it('uninstrumentHttp puts the default agents back and stops tracing', async () => {
  const before = http.globalAgent;
  uninstrumentHttp();
  try {
    expect(http.globalAgent).not.toBe(before);
    const { result } = await inCaller(CLIENTS['http.request']);
    expect(result.counts).toEqual(NONE);
  } finally {
    instrumentHttp();
  }
});

/** The caller's events of one kind in a trace, once at least `atLeast` are stored. */
async function eventsOf(traceId: string, kind: string, atLeast = 1) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await Tracer.fromOptions(callerOptions).flush();
    const response = await fetch(`${collector.collector.url}/api/traces/${traceId}`);
    if (response.status === 200) {
      const trace = (await response.json()) as Parameters<typeof allSpans>[0];
      const events = allSpans(trace)
        .filter((s) => s.service === callerOptions.serviceName)
        .flatMap((s) => s.events)
        .filter((e) => e.kind === kind);
      if (events.length >= atLeast) return events;
    } else {
      await response.text();
    }
    if (Date.now() > deadline) throw new Error(`no ${kind} in trace ${traceId}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
