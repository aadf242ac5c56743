import { describe, expect, it } from 'vitest';
import { computeCriticalPath } from './critical-path.js';
import type { Event } from './event.js';
import { buildSpanTree } from './spans.js';
import { TraceSimulator } from './test-support/trace-simulator.js';

describe('buildSpanTree', () => {
  it('pairs server and client events into spans and links callee to call', () => {
    const sim = new TraceSimulator();
    const order = sim.service('order');
    const inventory = sim.service('inventory');
    const root = sim.request(order, { method: 'POST', route: '/orders' });
    sim.at(1);
    const call = root.call(inventory, { method: 'PUT', path: '/stock/42' });
    const handler = call.serve({ route: '/stock/:id' });
    sim.at(9);
    handler.respond();
    call.receive();
    sim.at(10);
    root.respond({ status: 201 });
    const { root: top, spans } = buildSpanTree(sim.events);
    expect(spans).toHaveLength(3);
    expect(top?.name).toBe('POST /orders');
    expect(top?.status).toBe(201);
    const [client] = top!.children;
    expect(client).toMatchObject({
      kind: 'client',
      host: 'inventory:8080',
      remoteClock: true,
      service: 'order',
    });
    expect(client?.name).toBe('PUT http://inventory:8080/stock/42');
    expect(client?.children.map((s) => [s.kind, s.service, s.name])).toEqual([
      ['server', 'inventory', 'PUT /stock/:id'],
    ]);
  });

  it('makes an internal span of a context that only made calls, such as a job', () => {
    const sim = new TraceSimulator();
    const inventory = sim.service('inventory');
    const job = sim.request(sim.service('nightly-job'));
    // Only the job's calls are kept: it has no request_received or response_sent.
    const call = job.call(inventory);
    sim.at(5);
    call.serve().respond();
    call.receive();
    const events = sim.events.filter(
      (e) => e.kind !== 'request_received' || e.service !== 'nightly-job',
    );
    const tree = buildSpanTree(events);
    expect(tree.root).toMatchObject({
      kind: 'internal',
      service: 'nightly-job',
      parentSpanId: null,
      startUs: sim.startUs,
      endUs: sim.startUs + 5000,
    });
    expect(tree.roots).toHaveLength(1);
    expect(computeCriticalPath(events)?.totalMs).toBe(5);
  });

  it("takes a span's parent from its start event, whatever came before it", () => {
    const sim = new TraceSimulator();
    sim.request(sim.service('order'));
    const base = sim.events[0]!;
    const event = (kind: Event['kind'], spanId: string, parent: string | null, ms: number) => ({
      ...base,
      id: `${spanId}-${kind}`,
      kind,
      span_id: spanId,
      parent_span_id: parent,
      ts_us: sim.startUs + ms * 1000,
    });
    // The first event of span b follows an event of span a and names it as parent; b's start
    // (the request call x caused) names x.
    const tree = buildSpanTree([
      event('request_received', 'a', null, 0),
      event('custom', 'b', 'a', 1),
      event('request_sent', 'x', 'a', 2),
      event('request_received', 'b', 'x', 3),
    ]);
    const parentOf = (id: string) => tree.spans.find((s) => s.spanId === id)?.parent?.spanId;
    expect(parentOf('b')).toBe('x');
    expect(parentOf('x')).toBe('a');
  });

  it('ends an unanswered span at its last event, and cuts parent cycles', () => {
    const sim = new TraceSimulator();
    const svc = sim.service('order');
    const root = sim.request(svc);
    sim.at(7);
    root.write('x');
    const tree = buildSpanTree(sim.events);
    expect(tree.root).toMatchObject({ complete: false, endUs: sim.startUs + 7000 });

    const event = (spanId: string, parent: string): Event => ({
      ...sim.events[0]!,
      id: `${spanId}${spanId}`,
      span_id: spanId,
      parent_span_id: parent,
    });
    const cyclic = buildSpanTree([
      event('aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb'),
      event('bbbbbbbbbbbbbbbb', 'aaaaaaaaaaaaaaaa'),
    ]);
    expect(cyclic.roots).toHaveLength(1);
    expect(cyclic.spans).toHaveLength(2);
    expect(cyclic.root?.children).toHaveLength(1);
  });
});
