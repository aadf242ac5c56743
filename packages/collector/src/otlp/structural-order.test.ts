import { describe, expect, it } from 'vitest';
import { analyzeTrace } from '../analysis/analyze-trace.js';
import type { Event } from '../analysis/event.js';
import { inferStructuralOrder } from '../analysis/inferred-order.js';
import { TraceSimulator } from '../analysis/test-support/trace-simulator.js';
import type { Attributes, OtlpSpan } from './read-request.js';
import { spanToEvents } from './span-events.js';

/** An OpenTelemetry span as the OTLP reader returns it, `ms` after the simulation start. */
function otelSpan(
  sim: TraceSimulator,
  fields: {
    spanId: string;
    parentSpanId: string | null;
    kind: number;
    name: string;
    fromMs: number;
    toMs: number;
    attributes?: Attributes;
    service?: string;
  },
): OtlpSpan {
  const ns = (ms: number) => BigInt(sim.startUs) * 1000n + BigInt(Math.round(ms * 1e6));
  return {
    traceId: sim.traceId,
    spanId: fields.spanId,
    parentSpanId: fields.parentSpanId,
    name: fields.name,
    kind: fields.kind,
    startTimeUnixNano: ns(fields.fromMs),
    endTimeUnixNano: ns(fields.toMs),
    attributes: fields.attributes ?? {},
    events: [],
    statusCode: 0,
    statusMessage: '',
    resource: { 'service.name': fields.service ?? 'inventory' },
    scope: 'test',
  };
}

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;

/**
 * shop (Raceway) reads and writes products 42, then calls inventory (OpenTelemetry), whose
 * database spans read and write the same row, then reads it again; audit (Raceway, another
 * request of the trace) writes the row while inventory runs.
 */
function mixedTrace(options: { auditWrites?: boolean } = {}) {
  const sim = new TraceSimulator();
  const shop = sim.service('shop');
  const audit = sim.service('audit');
  const root = sim.at(0).request(shop, { route: 'POST /checkout' });
  sim.at(1);
  root.query('SELECT stock FROM products WHERE id = $1', { params: [42], system: 'postgresql' });
  sim.at(2);
  root.query('UPDATE products SET stock = $1 WHERE id = $2', {
    params: [4, 42],
    system: 'postgresql',
  });
  sim.at(3);
  const call = root.call('inventory:8080', { method: 'POST', path: '/reserve' });
  const server = 'a1a1a1a1a1a1a1a1';
  const spans = [
    otelSpan(sim, {
      spanId: server,
      parentSpanId: call.spanId,
      kind: SERVER,
      name: 'POST /reserve',
      fromMs: 4,
      toMs: 10,
      attributes: {
        'http.request.method': 'POST',
        'url.path': '/reserve',
        'http.route': '/reserve',
      },
    }),
    otelSpan(sim, {
      spanId: 'b2b2b2b2b2b2b2b2',
      parentSpanId: server,
      kind: INTERNAL,
      name: 'reserve',
      fromMs: 4.5,
      toMs: 9,
    }),
    otelSpan(sim, {
      spanId: 'c3c3c3c3c3c3c3c3',
      parentSpanId: 'b2b2b2b2b2b2b2b2',
      kind: CLIENT,
      name: 'pg.query:SELECT',
      fromMs: 5,
      toMs: 6,
      attributes: {
        'db.system': 'postgresql',
        'db.statement': 'SELECT stock FROM products WHERE id = 42',
      },
    }),
    otelSpan(sim, {
      spanId: 'd4d4d4d4d4d4d4d4',
      parentSpanId: 'b2b2b2b2b2b2b2b2',
      kind: CLIENT,
      name: 'pg.query:UPDATE',
      fromMs: 7,
      toMs: 8,
      attributes: {
        'db.system.name': 'postgresql',
        'db.query.text': 'UPDATE products SET stock = 3 WHERE id = 42',
      },
    }),
  ];
  if (options.auditWrites) {
    const other = sim.at(6.5).request(audit, { route: 'POST /audit' });
    other.query('UPDATE products SET stock = $1 WHERE id = $2', {
      params: [0, 42],
      system: 'postgresql',
    });
    other.respond();
  }
  sim.at(11);
  call.receive({ status: 200 });
  sim.at(12);
  root.query('SELECT stock FROM products WHERE id = $1', { params: [42], system: 'postgresql' });
  root.respond();
  const events: Event[] = [...sim.events, ...spans.flatMap((span) => spanToEvents(span))];
  return { events, server };
}

describe('happens-before inferred from OpenTelemetry span structure', () => {
  it('orders a Raceway caller before and after an OpenTelemetry callee: no race between them', () => {
    const { events } = mixedTrace();
    const analysis = analyzeTrace(events);
    expect(analysis.races).toEqual([]);
    // Without the inferred order, the caller's statements and the callee's look concurrent.
    const rawAnalysis = analyzeTrace(
      events.map((e) =>
        e.component.startsWith('otel:')
          ? { ...e, component: 'inventory#00000001', clock: { 'inventory#00000001': 1 } }
          : e,
      ),
    );
    expect(rawAnalysis.races.length).toBeGreaterThan(0);
  });

  it('reports a race between an OpenTelemetry service and a concurrent Raceway one as uncertain', () => {
    const { events } = mixedTrace({ auditWrites: true });
    const races = analyzeTrace(events).races;
    const withInventory = races.filter((r) => r.sides.some((s) => s.service === 'inventory'));
    expect(withInventory.length).toBeGreaterThan(0);
    for (const race of withInventory) {
      expect(race.confidence).toBe('uncertain');
      expect(race.resource).toMatch(/^products\[id=/);
      expect(race.examples[0]!.explanation).toMatch(/inferred from span structure/);
    }
    // The callee's statements ran in its server span, route and all.
    expect(withInventory[0]!.sides).toContainEqual({
      service: 'inventory',
      route: 'POST /reserve',
    });
    // Raceway against Raceway stays certain where the clocks say so.
    const auditShop = races.filter(
      (r) =>
        r.sides.every((s) => s.service !== 'inventory') &&
        r.sides.some((s) => s.service === 'audit'),
    );
    expect(auditShop.some((r) => r.confidence === 'certain')).toBe(true);
  });

  it('puts the OpenTelemetry server span on the critical path and on the call edge', () => {
    const { events, server } = mixedTrace();
    const analysis = analyzeTrace(events);
    const path = analysis.criticalPath!;
    expect(path.segments.map((s) => s.service)).toContain('inventory');
    expect(path.segments.find((s) => s.spanId === server)?.kind).toBe('server');
    expect(analysis.diagnostics.brokenChains).toEqual([]);
  });

  it('runs overlapping local children in contexts of their own, sequential ones in their parent’s', () => {
    const sim = new TraceSimulator();
    const parent = 'e5e5e5e5e5e5e5e5';
    const db = (spanId: string, fromMs: number, toMs: number, statement: string) =>
      otelSpan(sim, {
        spanId,
        parentSpanId: parent,
        kind: CLIENT,
        name: 'query',
        fromMs,
        toMs,
        attributes: { 'db.system': 'postgresql', 'db.statement': statement },
      });
    const spans = [
      otelSpan(sim, {
        spanId: parent,
        parentSpanId: null,
        kind: SERVER,
        name: 'GET /x',
        fromMs: 0,
        toMs: 20,
      }),
      db('1111111111111111', 1, 2, 'SELECT stock FROM products WHERE id = 7'),
      // These two overlap (Promise.all): each in its own context, so they race.
      db('2222222222222222', 3, 6, 'UPDATE products SET stock = 1 WHERE id = 7'),
      db('3333333333333333', 4, 7, 'UPDATE products SET stock = 2 WHERE id = 7'),
      db('4444444444444444', 8, 9, 'SELECT stock FROM products WHERE id = 7'),
    ];
    const events = inferStructuralOrder(spans.flatMap((s) => spanToEvents(s)));
    const ofSpan = (id: string) =>
      events.find(
        (e) =>
          e.kind === 'db_query' &&
          e.id === spanToEvents(spans.find((s) => s.spanId === id)!)[0]!.id,
      )!;
    const [first, a, b, last] = [
      '1111111111111111',
      '2222222222222222',
      '3333333333333333',
      '4444444444444444',
    ].map(ofSpan) as [Event, Event, Event, Event];
    expect(events.every((e) => e.clock_inferred === true)).toBe(true);
    expect(a.component).not.toBe(b.component);
    expect(first.component).toBe(last.component);
    const before = (x: Event, y: Event) =>
      (x.clock[x.component] ?? 0) <= (y.clock[x.component] ?? 0);
    expect(before(first, a) && before(first, b)).toBe(true);
    expect(before(a, last) && before(b, last)).toBe(true);
    expect(before(a, b) || before(b, a)).toBe(false);
    const races = analyzeTrace(spans.flatMap((s) => spanToEvents(s))).races;
    expect(races.map((r) => [r.kind, r.confidence])).toEqual([['write_write', 'uncertain']]);
  });

  it('orders an OpenTelemetry caller around the Raceway server it calls', () => {
    // gateway (OpenTelemetry) writes products 9, calls stock (Raceway), which reads and writes
    // it, then gateway reads it again: every access is ordered, none races.
    const sim = new TraceSimulator();
    const stock = sim.service('stock');
    const server = 'f6f6f6f6f6f6f6f6';
    const call = 'a7a7a7a7a7a7a7a7';
    const db = (spanId: string, fromMs: number, statement: string) =>
      otelSpan(sim, {
        spanId,
        parentSpanId: server,
        kind: CLIENT,
        name: 'query',
        fromMs,
        toMs: fromMs + 1,
        service: 'gateway',
        attributes: { 'db.system': 'postgresql', 'db.statement': statement },
      });
    const spans = [
      otelSpan(sim, {
        spanId: server,
        parentSpanId: null,
        kind: SERVER,
        name: 'POST /buy',
        fromMs: 0,
        toMs: 30,
        service: 'gateway',
        attributes: { 'http.method': 'POST', 'http.target': '/buy' },
      }),
      db('1212121212121212', 1, 'UPDATE products SET stock = 5 WHERE id = 9'),
      otelSpan(sim, {
        spanId: call,
        parentSpanId: server,
        kind: CLIENT,
        name: 'POST',
        fromMs: 5,
        toMs: 20,
        service: 'gateway',
        attributes: { 'http.method': 'POST', 'http.url': 'http://stock:8080/take' },
      }),
      db('1313131313131313', 25, 'SELECT stock FROM products WHERE id = 9'),
    ];
    const handler = sim.at(8).request(stock, { route: 'POST /take', parentSpanId: call });
    sim.at(9);
    handler.query('SELECT stock FROM products WHERE id = $1', {
      params: [9],
      system: 'postgresql',
    });
    sim.at(10);
    handler.query('UPDATE products SET stock = $1 WHERE id = $2', {
      params: [4, 9],
      system: 'postgresql',
    });
    sim.at(11);
    handler.respond();
    const events = [...sim.events, ...spans.flatMap((span) => spanToEvents(span))];
    expect(analyzeTrace(events).races).toEqual([]);
    // The stock service's clocks alone know nothing of gateway: without the inference its
    // statements race with gateway's.
    const unordered = events.map((e) =>
      e.component.startsWith('otel:')
        ? { ...e, component: 'gateway#00000001', clock: { 'gateway#00000001': 1 } }
        : e,
    );
    expect(analyzeTrace(unordered).races.length).toBeGreaterThan(0);
  });

  it('leaves a trace without OpenTelemetry events as it is', () => {
    const { events } = mixedTrace();
    const raceway = events.filter((e) => !e.component.startsWith('otel:'));
    expect(inferStructuralOrder(raceway)).toBe(raceway);
  });
});
