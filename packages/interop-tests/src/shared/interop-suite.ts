// The cross-language suite every SDK runs against the TypeScript one, over real HTTP and a real
// collector: one trace across both languages, parent links from each client call to the server
// span it caused, happens-before from the clocks each side propagates (the callee's events
// after the caller's send and before the caller's next event), and a lost update between the
// two languages found by the collector's analysis.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  allEvents,
  allSpans,
  barrier,
  callService,
  type Race,
  rootRequest,
  type Scenario,
  type Span,
  type SpanEvent,
  StockTable,
  startScenario,
} from '@raceway/scenario-tests/src/fixtures/index.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ForeignService } from './foreign-service.js';

export interface InteropSubject {
  /** The language, in test names: `Go`. */
  language: string;
  /** The prefix of its services' names: `go` gives `go-middle`, `go-inventory`, ... */
  prefix: string;
  /** Where its route template comes from, in a comment of the failure message. */
  routeSource: string;
  /** Starts one of its services as `name`, reporting to `collectorUrl`, with `env` added. */
  start(name: string, collectorUrl: string, env?: Record<string, string>): Promise<ForeignService>;
}

/** Runs the suite once for `subject`. */
export function describeInterop(subject: InteropSubject): void {
  const { language, prefix } = subject;
  const named = (role: string) => `${prefix}-${role}`;

  async function scenario(): Promise<Scenario> {
    const started = await startScenario();
    onTestFinished(() => started.close());
    return started;
  }

  async function foreign(
    s: Scenario,
    role: string,
    env?: Record<string, string>,
  ): Promise<ForeignService> {
    const service = await subject.start(named(role), s.collector.url, env);
    s.defer(() => service.close());
    return service;
  }

  /** Settles with the foreign services flushed first (the scenario flushes only TypeScript tracers). */
  async function settle(s: Scenario, services: ForeignService[], traceId: string, spans: number) {
    await Promise.all(services.map((service) => service.flush()));
    const [trace] = await s.settle([traceId], { serverSpans: spans });
    return trace!;
  }

  describe(`TypeScript -> ${language} -> TypeScript`, () => {
    it('is one trace with parent links and happens-before across both languages', async () => {
      const s = await scenario();
      const back = await s.service({
        name: 'ts-back',
        framework: 'express',
        routes: { '/work': () => ({ done: true }) },
      });
      const middle = await foreign(s, 'middle');
      const front = await s.service({
        name: 'ts-front',
        framework: 'fastify',
        routes: {
          '/front': () =>
            callService(
              'fetch',
              `${middle.url}/chain?next=${encodeURIComponent(`${back.url}/work`)}`,
            ),
        },
      });

      const { traceId, body } = await rootRequest(`${front.url}/front`);
      expect(body).toMatchObject({ service: middle.name, traceId, downstream: { done: true } });
      const trace = await settle(s, [middle], traceId, 3);
      expect([...trace.services].sort()).toEqual([middle.name, 'ts-back', 'ts-front'].sort());
      const spans = allSpans(trace);

      // Parent links: front server -> front call -> foreign server -> foreign call -> back server.
      const frontServer = serverSpan(spans, 'ts-front');
      const middleServer = serverSpan(spans, middle.name);
      const backServer = serverSpan(spans, 'ts-back');
      const frontCall = clientSpanOf(spans, middleServer);
      const middleCall = clientSpanOf(spans, backServer);
      expect(frontCall.service).toBe('ts-front');
      expect(frontCall.parent_span_id).toBe(frontServer.span_id);
      expect(middleCall.service).toBe(middle.name);
      expect(middleCall.parent_span_id).toBe(middleServer.span_id);
      expect(frontServer.parent_span_id).toBeNull();

      const middleGot = eventOf(middleCall, 'response_received');
      const frontGot = eventOf(frontCall, 'response_received');
      const middleResponded = eventOf(middleServer, 'response_sent');
      expectChain([
        eventOf(frontCall, 'request_sent'),
        eventOf(middleServer, 'request_received'),
        eventOf(middleCall, 'request_sent'),
        eventOf(backServer, 'request_received'),
        eventOf(backServer, 'response_sent'),
        middleGot,
        middleResponded,
        frontGot,
      ]);
      // What the middle service reads after its call is ordered after what the callee did.
      const middleRead = allEvents(trace).find(
        (e) => e.service === middle.name && e.kind === 'state_read',
      )!;
      expect(happensBefore(eventOf(backServer, 'response_sent'), middleRead)).toBe(true);
      expect(middleGot.data.remote_clock).toBe(true);
      expect(frontGot.data.remote_clock).toBe(true);
      expect(middleResponded.data.route, `the route template from ${subject.routeSource}`).toBe(
        '/chain',
      );
    });
  });

  describe(`${language} -> TypeScript -> ${language}`, () => {
    it('is one trace with parent links and happens-before across both languages', async () => {
      const s = await scenario();
      const leaf = await foreign(s, 'leaf');
      const middle = await s.service({
        name: 'ts-middle',
        framework: 'koa',
        routes: { '/relay': (query) => callService('axios', query.next!) },
      });
      const root = await foreign(s, 'root');

      const next = `${middle.url}/relay?next=${encodeURIComponent(`${leaf.url}/chain`)}`;
      const { traceId } = await rootRequest(`${root.url}/chain?next=${encodeURIComponent(next)}`);
      const trace = await settle(s, [root, leaf], traceId, 3);
      expect([...trace.services].sort()).toEqual([leaf.name, root.name, 'ts-middle'].sort());
      const spans = allSpans(trace);
      const rootServer = serverSpan(spans, root.name);
      const middleServer = serverSpan(spans, 'ts-middle');
      const leafServer = serverSpan(spans, leaf.name);
      expect(rootServer.parent_span_id).toBeNull();
      expect(clientSpanOf(spans, middleServer).parent_span_id).toBe(rootServer.span_id);
      expect(clientSpanOf(spans, leafServer).parent_span_id).toBe(middleServer.span_id);

      // The leaf's write happens after the root's write and before the root's read.
      const events = allEvents(trace);
      const find = (service: string, kind: string) =>
        events.find((e) => e.service === service && e.kind === kind)!;
      const leafWrite = find(leaf.name, 'state_write');
      expect(happensBefore(find(root.name, 'state_write'), leafWrite)).toBe(true);
      expect(happensBefore(leafWrite, find(root.name, 'state_read'))).toBe(true);
      expectChain([
        eventOf(clientSpanOf(spans, middleServer), 'request_sent'),
        eventOf(middleServer, 'request_received'),
        eventOf(leafServer, 'request_received'),
        eventOf(leafServer, 'response_sent'),
        eventOf(middleServer, 'response_sent'),
        eventOf(clientSpanOf(spans, middleServer), 'response_received'),
      ]);
    });
  });

  describe(`${language}: the SDK's lock`, () => {
    it('lets ten concurrent increments lose nothing, and the collector reports no race', async () => {
      const s = await scenario();
      const counter = await foreign(s, 'counter');
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => rootRequest(`${counter.url}/increment`)),
      );
      const values = answers.map((a) => (a.body as { value: number }).value).sort((a, b) => a - b);
      expect(values).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const traceIds = answers.map((a) => a.traceId);
      expect(new Set(traceIds).size).toBe(10);
      await counter.flush();
      await s.settle(traceIds, { serverSpans: 1 });
      const events = (await Promise.all(traceIds.map((id) => s.api.trace(id)))).flatMap(allEvents);
      expect(events.filter((e) => e.kind === 'lock_acquire')).toHaveLength(10);
      expect(events.filter((e) => e.kind === 'state_write')).toHaveLength(10);
      const races = (await s.api.races('resource=counter')).races;
      expect(races, 'accesses under a common lock are no race').toEqual([]);
    });
  });

  describe(`${language}: SIGTERM right after a request`, () => {
    it("loses none of the request's events: the service flushes as its README shows", async () => {
      const s = await scenario();
      // A flush interval of a minute: only the shutdown can send the events in time.
      const service = await foreign(s, 'stopping', { INTEROP_FLUSH_INTERVAL_MS: '60000' });
      const { traceId } = await rootRequest(`${service.url}/chain`);
      await service.close(); // SIGTERM, then waits for the exit
      const [trace] = await s.settle([traceId], { serverSpans: 1 });
      const kinds = allEvents(trace!).map((e) => e.kind);
      expect(kinds).toEqual(
        expect.arrayContaining(['request_received', 'state_write', 'state_read', 'response_sent']),
      );
    });
  });

  describe(`a lost update between a ${language} and a TypeScript service`, () => {
    it('is reported by the collector with both services and the values they saw', async () => {
      const s = await scenario();
      const bothRead = await httpBarrier(2);
      s.defer(() => bothRead.close());
      const stock = new StockTable({ '1': 10 });
      const inventory = await foreign(s, 'inventory');
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
                `${inventory.url}/reserve?value=10&barrier=${encodeURIComponent(bothRead.url)}`,
              ),
              callService('axios', `${ts.url}/reserve`),
            ]),
        },
      });

      const { traceId } = await rootRequest(`${api.url}/checkout`);
      await settle(s, [inventory], traceId, 3);
      const answer = await s.api.traceRaces(traceId);
      expect(answer.analysis).toBe('done');
      const races = answer.races.filter((r: Race) => r.resource === 'stock:1');
      expect(races).toHaveLength(1);
      const [found] = races as [Race];
      expect([...found.services].sort()).toEqual([inventory.name, 'ts-inventory'].sort());
      expect(found.examples[0]).toMatchObject({
        kind: 'lost_update',
        confidence: 'certain',
        evidence: 'clock',
      });
      const accesses = found.examples[0]!.accesses;
      expect(accesses.map((a) => a.value)).toEqual([10, 9, 10, 9]);
      expect(new Set(accesses.map((a) => a.service))).toEqual(
        new Set([inventory.name, 'ts-inventory']),
      );
    });
  });
}

/** a happens before b: every entry of a is <= b's, and they differ (spec 3.5). */
function happensBefore(a: SpanEvent, b: SpanEvent): boolean {
  let less = false;
  for (const [key, value] of Object.entries(a.clock)) {
    const other = b.clock[key] ?? 0;
    if (value > other) return false;
    if (value < other) less = true;
  }
  return less || Object.keys(b.clock).some((key) => !(key in a.clock));
}

function expectChain(chain: SpanEvent[]): void {
  for (let i = 1; i < chain.length; i++) {
    expect(
      happensBefore(chain[i - 1]!, chain[i]!),
      `${chain[i - 1]!.kind} -> ${chain[i]!.kind}`,
    ).toBe(true);
  }
}

function serverSpan(spans: Span[], service: string): Span {
  const found = spans.filter((s) => s.kind === 'server' && s.service === service);
  expect(found, `one server span of ${service}`).toHaveLength(1);
  return found[0]!;
}

function clientSpanOf(spans: Span[], server: Span): Span {
  const parent = spans.find((s) => s.span_id === server.parent_span_id);
  expect(parent, `the client span that caused ${server.service}'s server span`).toBeDefined();
  expect(parent!.kind).toBe('client');
  return parent!;
}

function eventOf(span: Span, kind: string): SpanEvent {
  const found = span.events.filter((e) => e.kind === kind);
  expect(found, `one ${kind} in ${span.service}'s ${span.kind} span`).toHaveLength(1);
  return found[0]!;
}

/** An HTTP barrier the foreign service waits at between its read and its write. */
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
