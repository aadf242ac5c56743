// TypeScript and Rust services calling each other over real HTTP, reporting to a real collector:
// one trace across both languages, parent links from each client call to the server span it
// caused, happens-before from the clocks each side propagates, and a lost update between a Rust
// and a TypeScript service found by the collector's analysis.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  allEvents,
  allSpans,
  barrier,
  callService,
  type RaceJson,
  rootRequest,
  type Scenario,
  type SpanEventJson,
  type SpanJson,
  StockTable,
  startScenario,
} from '@raceway/scenario-tests/src/fixtures/index.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type RustService, startRustService } from './rust-service.js';

async function scenario(): Promise<Scenario> {
  const started = await startScenario();
  onTestFinished(() => started.close());
  return started;
}

async function rustService(s: Scenario, name: string): Promise<RustService> {
  const service = await startRustService(name, s.collector.url);
  s.defer(() => service.close());
  return service;
}

/** Settles with the Rust services flushed first (the scenario flushes only TypeScript tracers). */
async function settle(s: Scenario, rust: RustService[], traceId: string, serverSpans: number) {
  await Promise.all(rust.map((g) => g.flush()));
  const [trace] = await s.settle([traceId], { serverSpans });
  return trace!;
}

/** a happens before b: every entry of a is <= b's, and they differ (spec 3.5). */
function happensBefore(a: SpanEventJson, b: SpanEventJson): boolean {
  let less = false;
  for (const [key, value] of Object.entries(a.clock)) {
    const other = b.clock[key] ?? 0;
    if (value > other) return false;
    if (value < other) less = true;
  }
  return less || Object.keys(b.clock).some((key) => !(key in a.clock));
}

function serverSpan(spans: SpanJson[], service: string): SpanJson {
  const found = spans.filter((s) => s.kind === 'server' && s.service === service);
  expect(found, `one server span of ${service}`).toHaveLength(1);
  return found[0]!;
}

function clientSpanOf(spans: SpanJson[], server: SpanJson): SpanJson {
  const parent = spans.find((s) => s.span_id === server.parent_span_id);
  expect(parent, `the client span that caused ${server.service}'s server span`).toBeDefined();
  expect(parent!.kind).toBe('client');
  return parent!;
}

function eventOf(span: SpanJson, kind: string): SpanEventJson {
  const found = span.events.filter((e) => e.kind === kind);
  expect(found, `one ${kind} in ${span.service}'s ${span.kind} span`).toHaveLength(1);
  return found[0]!;
}

describe('TypeScript -> Rust -> TypeScript', () => {
  it('is one trace with parent links and happens-before across both languages', async () => {
    const s = await scenario();
    const back = await s.service({
      name: 'ts-back',
      framework: 'express',
      routes: { '/work': () => ({ done: true }) },
    });
    const rust = await rustService(s, 'rust-middle');
    const front = await s.service({
      name: 'ts-front',
      framework: 'fastify',
      routes: {
        '/front': () =>
          callService('fetch', `${rust.url}/chain?next=${encodeURIComponent(`${back.url}/work`)}`),
      },
    });

    const { traceId, body } = await rootRequest(`${front.url}/front`);
    expect(body).toMatchObject({ service: 'rust-middle', traceId, downstream: { done: true } });
    const trace = await settle(s, [rust], traceId, 3);
    expect([...trace.services].sort()).toEqual(['rust-middle', 'ts-back', 'ts-front']);
    const spans = allSpans(trace);

    // Parent links: front server -> front client call -> Rust server -> Rust client call -> back server.
    const frontServer = serverSpan(spans, 'ts-front');
    const rustServer = serverSpan(spans, 'rust-middle');
    const backServer = serverSpan(spans, 'ts-back');
    const frontCall = clientSpanOf(spans, rustServer);
    const rustCall = clientSpanOf(spans, backServer);
    expect(frontCall.service).toBe('ts-front');
    expect(frontCall.parent_span_id).toBe(frontServer.span_id);
    expect(rustCall.service).toBe('rust-middle');
    expect(rustCall.parent_span_id).toBe(rustServer.span_id);
    expect(frontServer.parent_span_id).toBeNull();

    // Happens-before: each callee's events after its caller's send, before its caller's next event.
    const frontSent = eventOf(frontCall, 'request_sent');
    const frontGot = eventOf(frontCall, 'response_received');
    const rustReceived = eventOf(rustServer, 'request_received');
    const rustSent = eventOf(rustCall, 'request_sent');
    const rustGot = eventOf(rustCall, 'response_received');
    const rustResponded = eventOf(rustServer, 'response_sent');
    const backReceived = eventOf(backServer, 'request_received');
    const backResponded = eventOf(backServer, 'response_sent');
    const chain = [
      frontSent,
      rustReceived,
      rustSent,
      backReceived,
      backResponded,
      rustGot,
      rustResponded,
      frontGot,
    ];
    for (let i = 1; i < chain.length; i++) {
      expect(
        happensBefore(chain[i - 1]!, chain[i]!),
        `${chain[i - 1]!.kind} -> ${chain[i]!.kind}`,
      ).toBe(true);
    }
    expect(rustGot.data.remote_clock).toBe(true);
    expect(frontGot.data.remote_clock).toBe(true);
    // Rust's route template comes from axum's MatchedPath.
    expect(rustResponded.data.route).toBe('/chain');
  });
});

describe('Rust -> TypeScript -> Rust', () => {
  it('is one trace with parent links and happens-before across both languages', async () => {
    const s = await scenario();
    const leaf = await rustService(s, 'rust-leaf');
    const middle = await s.service({
      name: 'ts-middle',
      framework: 'koa',
      routes: { '/relay': (query) => callService('axios', query.next!) },
    });
    const root = await rustService(s, 'rust-root');

    const next = `${middle.url}/relay?next=${encodeURIComponent(`${leaf.url}/chain`)}`;
    const { traceId } = await rootRequest(`${root.url}/chain?next=${encodeURIComponent(next)}`);
    const trace = await settle(s, [root, leaf], traceId, 3);
    expect([...trace.services].sort()).toEqual(['rust-leaf', 'rust-root', 'ts-middle']);
    const spans = allSpans(trace);
    const rootServer = serverSpan(spans, 'rust-root');
    const middleServer = serverSpan(spans, 'ts-middle');
    const leafServer = serverSpan(spans, 'rust-leaf');
    expect(rootServer.parent_span_id).toBeNull();
    expect(clientSpanOf(spans, middleServer).parent_span_id).toBe(rootServer.span_id);
    expect(clientSpanOf(spans, leafServer).parent_span_id).toBe(middleServer.span_id);

    // The leaf's write happens after the root's first write and before the root's read.
    const events = allEvents(trace);
    const rootWrite = events.find((e) => e.service === 'rust-root' && e.kind === 'state_write')!;
    const rootRead = events.find((e) => e.service === 'rust-root' && e.kind === 'state_read')!;
    const leafWrite = events.find((e) => e.service === 'rust-leaf' && e.kind === 'state_write')!;
    expect(happensBefore(rootWrite, leafWrite)).toBe(true);
    expect(happensBefore(leafWrite, rootRead)).toBe(true);
  });
});

/** An HTTP barrier the Rust service waits at between its read and its write. */
async function httpBarrier(
  parties: number,
): Promise<{ url: string; arrive(): Promise<void>; close(): Promise<void> }> {
  const b = barrier(parties);
  const server: Server = createServer((_req, res) => {
    b.arrive().then(
      () => res.end('{}'),
      (error: Error) => {
        res.statusCode = 500;
        res.end(error.message);
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/arrive`,
    arrive: () => b.arrive(),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('a lost update between a Rust and a TypeScript service', () => {
  it('is reported by the collector with both services and the values they saw', async () => {
    const s = await scenario();
    const bothRead = await httpBarrier(2);
    s.defer(() => bothRead.close());
    const stock = new StockTable({ '1': 10 });
    const rust = await rustService(s, 'rust-inventory');
    const ts = await s.service({
      name: 'ts-inventory',
      framework: 'express',
      routes: {
        '/reserve': async () => {
          const quantity = stock.read('1');
          await bothRead.arrive();
          stock.write('1', quantity - 1);
          return { left: quantity - 1 };
        },
      },
    });
    const api = await s.service({
      name: 'api',
      framework: 'express',
      routes: {
        '/checkout': () =>
          Promise.all([
            callService(
              'fetch',
              `${rust.url}/reserve?value=10&barrier=${encodeURIComponent(bothRead.url)}`,
            ),
            callService('axios', `${ts.url}/reserve`),
          ]),
      },
    });

    const { traceId } = await rootRequest(`${api.url}/checkout`);
    await settle(s, [rust], traceId, 3);
    const answer = await s.api.traceRaces(traceId);
    expect(answer.analysis).toBe('done');
    const races = answer.races.filter((r: RaceJson) => r.resource === 'stock:1');
    expect(races).toHaveLength(1);
    const [found] = races as [RaceJson];
    expect([...found.services].sort()).toEqual(['rust-inventory', 'ts-inventory']);
    expect(found.examples[0]).toMatchObject({
      kind: 'lost_update',
      confidence: 'certain',
      evidence: 'clock',
    });
    const accesses = found.examples[0]!.accesses;
    expect(accesses.map((a) => a.value)).toEqual([10, 9, 10, 9]);
    expect(new Set(accesses.map((a) => a.service))).toEqual(
      new Set(['rust-inventory', 'ts-inventory']),
    );
  });
});
