import { describe, expect, it } from 'vitest';
import { mergeDiagnostics, traceDiagnostics } from './diagnostics.js';
import type { Event } from './event.js';
import { buildSpanTree } from './spans.js';
import { checkoutFanOut } from './test-support/scenarios.js';
import { TraceSimulator } from './test-support/trace-simulator.js';

const diagnose = (events: Event[]) => traceDiagnostics(events, buildSpanTree(events));

function callsPayments(options: { answered?: 'lost-events' } = {}) {
  const sim = new TraceSimulator();
  const order = sim.service('order');
  const payments = sim.service('payments');
  const root = sim.request(order, { method: 'POST', route: '/orders' });
  sim.at(1);
  const call = options.answered
    ? root.call(payments, { method: 'POST', path: '/charge' })
    : root.call('payments.example.com:443', { method: 'POST', path: '/charge' });
  const callee = options.answered ? call.serve() : null;
  sim.at(30);
  callee?.respond();
  call.receive({ status: 200 });
  root.respond();
  // With lost events, the callee answered (its clock came back) but nothing of it arrived.
  return callee ? sim.events.filter((e) => e.service !== 'payments') : sim.events;
}

describe('traceDiagnostics', () => {
  it('reports nothing for a healthy trace, and ranks services by their own time', () => {
    const d = diagnose(checkoutFanOut().events);
    expect(d.brokenChains).toEqual([]);
    expect(d.clockSkew).toEqual([]);
    expect(d.errors).toEqual([]);
    // Five server spans and the four client calls between them.
    expect(d.summary.spans).toBe(9);
    expect(d.summary.services).toEqual(['gateway', 'inventory', 'order', 'pricing', 'tax']);
    expect(d.summary.slowestServices.map((s) => [s.service, s.selfMs, s.totalMs])).toEqual([
      ['tax', 38, 38],
      ['order', 28, 88],
      ['inventory', 28, 28],
      ['pricing', 18, 58],
      ['gateway', 10, 100],
    ]);
  });

  it('reports a call to an uninstrumented callee as a broken chain', () => {
    const d = diagnose(callsPayments());
    expect(d.brokenChains).toHaveLength(1);
    expect(d.brokenChains[0]).toMatchObject({
      kind: 'callee_missing',
      service: 'order',
      host: 'payments.example.com:443',
      calleeInstrumented: false,
      count: 1,
    });
    expect(d.brokenChains[0]?.explanation).toBe(
      'order called payments.example.com:443 (POST http://payments.example.com:443/charge) but no service reported handling it: the callee is not instrumented, or the trace headers did not reach it',
    );
  });

  it("names propagateTo when the caller's SDK withheld the trace headers from the host", () => {
    const events = callsPayments().map((e) =>
      e.kind === 'request_sent' ? { ...e, data: { ...e.data, headers_withheld: true } } : e,
    );
    const [chain] = diagnose(events).brokenChains;
    expect(chain).toMatchObject({ kind: 'callee_missing', headersWithheld: true });
    expect(chain?.explanation).toBe(
      "order called payments.example.com:443 (POST http://payments.example.com:443/charge) without trace headers: the host is outside order's propagation allow-list, so the callee could not join this trace. Add payments.example.com:443 to propagateTo (or RACEWAY_PROPAGATE_TO) in order",
    );
    // Without the mark, the diagnostic cannot tell.
    expect(diagnose(callsPayments()).brokenChains[0]).not.toHaveProperty('headersWithheld');
  });

  it('tells an instrumented callee whose events were lost by the clock its answer carried', () => {
    const d = diagnose(callsPayments({ answered: 'lost-events' }));
    expect(d.brokenChains.map((b) => [b.kind, b.host, b.calleeInstrumented])).toEqual([
      ['callee_missing', 'payments:8080', true],
    ]);
  });

  it('reports a server span whose caller is unknown and a rejected or degraded context', () => {
    const sim = new TraceSimulator();
    const inventory = sim.service('inventory');
    sim.request(inventory, { parentSpanId: 'a1b2c3d4e5f60718', route: '/stock' }).respond();
    sim
      .request(inventory, { incoming: { status: 'rejected', reasons: ['traceparent_invalid'] } })
      .respond();
    sim
      .request(inventory, {
        parentSpanId: null,
        incoming: { status: 'degraded', reasons: ['trace_id_mismatch'] },
      })
      .respond();
    const d = diagnose(sim.events);
    expect(d.brokenChains.map((b) => [b.kind, b.reasons])).toEqual([
      ['parent_unknown', undefined],
      ['context_rejected', ['traceparent_invalid']],
      ['context_degraded', ['trace_id_mismatch']],
    ]);
    expect(d.brokenChains[0]?.explanation).toContain('called from span a1b2c3d4e5f60718');
    expect(d.brokenChains[2]?.explanation).toContain('traceparent named another trace');
  });

  it('names a service that joined by the trace id alone, without the clock (manual propagation)', () => {
    // The caller copied X-Raceway-Trace-Id only: the callee joins the trace id with a clock of
    // its own, and, without traceparent, no parent either.
    const sim = new TraceSimulator();
    const order = sim.service('order');
    const payments = sim.service('payments');
    const root = sim.request(order, { route: '/orders' });
    const call = root.call(payments, { path: '/charge' });
    const joined = sim.request(payments, {
      route: '/charge',
      parentSpanId: null,
      incoming: { status: 'accepted', reasons: [] },
    });
    joined.respond();
    call.receive();
    root.respond();
    const d = diagnose(sim.events);
    const missing = d.brokenChains.filter((b) => b.kind === 'clock_missing');
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ service: 'payments', count: 1 });
    expect(missing[0]?.explanation).toBe(
      'payments (GET /charge) joined this trace from X-Raceway-Trace-Id without X-Raceway-VC or traceparent, so it shows as a second root: nothing orders what its caller did before the call with what payments did, and races between them are reported that did not happen. In the caller, set every header the SDK returns for the call (getTraceHeaders() in Node, get_trace_headers() in Python, GetTraceHeaders in Go, get_trace_headers_for in Rust), not the trace id alone, or use an instrumented client',
    );

    // With traceparent but still no clock: the span has its parent, the clock is still missing.
    const sim2 = new TraceSimulator();
    const root2 = sim2.request(sim2.service('order'));
    const call2 = root2.call(sim2.service('payments'));
    sim2
      .request(sim2.service('payments'), {
        parentSpanId: call2.spanId,
        incoming: { status: 'accepted', reasons: [] },
      })
      .respond();
    call2.receive();
    root2.respond();
    // (The simulated caller merged nothing back either: response_not_merged, next test.)
    const withParent = diagnose(sim2.events).brokenChains.filter((b) => b.kind === 'clock_missing');
    expect(withParent).toHaveLength(1);
    expect(withParent[0]?.explanation).not.toContain('second root');
  });

  it('names a call whose response clock the caller never merged', () => {
    const build = () => {
      const sim = new TraceSimulator();
      const order = sim.service('order');
      const payments = sim.service('payments');
      const root = sim.request(order, { route: '/orders' });
      const call = root.call(payments, { path: '/charge' });
      sim.at(5);
      call.serve({ route: '/charge' }).respond();
      sim.at(10);
      const received = call.receive();
      root.respond();
      return { events: sim.events, received };
    };
    // Ended without the response's headers (mergeResponseHeaders(undefined, ...)).
    const { events, received } = build();
    const unmerged = events.map((e) =>
      e === received ? { ...e, data: { ...e.data, remote_clock: false } } : e,
    );
    const d = diagnose(unmerged);
    expect(d.brokenChains.map((b) => [b.kind, b.service, b.spanId])).toEqual([
      ['response_not_merged', 'order', received.span_id],
    ]);
    expect(d.brokenChains[0]?.explanation).toBe(
      "order called payments (GET http://payments:8080/charge) and payments answered with its clock, but order did not merge it: what payments did looks concurrent with what order did after the call. Fix: pass the response's headers to mergeResponseHeaders (merge_response_headers in Python, MergeResponseHeaders in Go, end_manual_call in Rust) after a manual call, or use an instrumented client; a proxy that drops X-Raceway-VC from responses does the same",
    );

    // Never ended at all (get_trace_headers() and nothing after), though the caller finished.
    const neverEnded = build().events.filter((e) => e.kind !== 'response_received');
    const [chain] = diagnose(neverEnded).brokenChains;
    expect(chain).toMatchObject({ kind: 'response_not_merged', service: 'order' });
    expect(chain?.explanation).toContain('the call was never ended');
    // The caller still running: nothing to say yet.
    const inFlight = neverEnded.filter((e) => e.kind !== 'response_sent' || e.service !== 'order');
    expect(diagnose(inFlight).brokenChains).toEqual([]);
    // Merged (remote_clock: true), or an SDK that does not say: nothing.
    expect(diagnose(build().events).brokenChains).toEqual([]);
    const unsaid = build();
    const { remote_clock: _omitted, ...withoutField } = unsaid.received.data;
    expect(
      diagnose(unsaid.events.map((e) => (e === unsaid.received ? { ...e, data: withoutField } : e)))
        .brokenChains,
    ).toEqual([]);
  });

  it('estimates the offset of a skewed host from the four timestamps of its calls', () => {
    const d = diagnose(checkoutFanOut({ taxSkewMs: -200 }).events);
    expect(d.clockSkew).toHaveLength(1);
    expect(d.clockSkew[0]).toMatchObject({
      callerService: 'pricing',
      calleeService: 'tax',
      calleeInstance: 'tax-1',
      offsetMs: -200,
      roundTripMs: 2,
      samples: 1,
      violations: 1,
      maxViolationMs: 199,
    });
    expect(d.clockSkew[0]?.explanation).toBe(
      'tax-1 (tax) runs about 200 ms behind pricing-1 (pricing), estimated from 1 call; 1 of them contradict happens-before by up to 199 ms (received before sent, or answered after the answer arrived)',
    );
    // Within the tolerance: not reported.
    expect(diagnose(checkoutFanOut({ taxSkewMs: 3 }).events).clockSkew).toEqual([]);
  });

  it('finds where an error started and how far it travelled', () => {
    const sim = new TraceSimulator();
    const [gateway, order, tax] = ['gateway', 'order', 'tax'].map((n) => sim.service(n)) as [
      ReturnType<typeof sim.service>,
      ReturnType<typeof sim.service>,
      ReturnType<typeof sim.service>,
    ];
    const root = sim.request(gateway);
    const toOrder = root.call(order);
    const o = toOrder.serve();
    const toTax = o.call(tax);
    const t = toTax.serve();
    t.error('TimeoutError', 'rates service timed out');
    t.respond({ status: 504 });
    toTax.receive({ status: 504 });
    o.respond({ status: 502 });
    toOrder.receive({ status: 502 });
    root.respond({ status: 502 });
    const d = diagnose(sim.events);
    expect(d.errors).toHaveLength(1);
    expect(d.errors[0]).toMatchObject({
      origin: {
        service: 'tax',
        kind: 'server',
        status: 504,
        error: { type: 'TimeoutError', message: 'rates service timed out' },
      },
      path: ['tax', 'order', 'gateway'],
      handledBy: null,
      reachedRoot: true,
    });
    expect(d.errors[0]?.explanation).toBe(
      'the error started in tax (TimeoutError: rates service timed out) and travelled up through order -> gateway; the request failed with it',
    );
  });

  it('names the service that handled an error, and an uninstrumented origin', () => {
    const sim = new TraceSimulator();
    const api = sim.service('api');
    const root = sim.request(api);
    const call = root.call('payments.example.com:443');
    call.receive({ status: 503 });
    root.respond({ status: 200 });
    const d = diagnose(sim.events);
    expect(
      d.errors.map((e) => [e.origin.service, e.origin.uninstrumented, e.path, e.handledBy]),
    ).toEqual([['payments.example.com:443', true, ['payments.example.com:443'], 'api']]);
  });

  it('merges the diagnostics of many traces into counted findings', () => {
    const merged = mergeDiagnostics([
      diagnose(callsPayments()),
      diagnose(callsPayments()),
      diagnose(checkoutFanOut({ taxSkewMs: -200 }).events),
      diagnose(checkoutFanOut({ taxSkewMs: -190 }).events),
    ]);
    expect(merged.brokenChains.map((b) => [b.kind, b.host, b.count])).toEqual([
      ['callee_missing', 'payments.example.com:443', 2],
    ]);
    expect(merged.clockSkew.map((s) => [s.calleeInstance, s.samples, s.violations])).toEqual([
      ['tax-1', 2, 2],
    ]);
    expect(merged.summary.traces).toBe(4);
    expect(merged.summary.slowestServices[0]).toMatchObject({
      service: 'tax',
      spans: 2,
      selfMs: 76,
    });
  });
});
