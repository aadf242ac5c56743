import { randomBytes } from 'node:crypto';

// A big trace as a real system makes them, for the UI's tests and bench/ui-open.mjs: built as
// an SDK would record it and sent through the collector's real ingest.

const hex = (bytes) => randomBytes(bytes).toString('hex');
// With the frontend, 19 services: as many as the system the UI was first tried on.
export const SERVICES = [
  'api',
  'auth',
  'inventory',
  'order',
  'payment',
  'shipping',
  'pricing',
  'catalog',
  'search',
  'cart',
  'user',
  'notification',
  'email',
  'fraud',
  'tax',
  'recommendation',
  'review',
  'ledger',
];

/**
 * A trace as a real system makes them, scaled: a frontend request that calls `fanOut` services
 * one after another; each of those reads a resource and calls `leaves` further services, which
 * read and write one. Every service runs a pool of two execution contexts (worker threads,
 * event-loop turns) that take requests in turn, so the vector clocks stay within the wire's 64
 * entries (spec 3.4) however many spans the trace has, as an SDK's do: a context per request
 * would give the frontend a clock entry per callee and the collector's ingest refuses a clock
 * of more than 64 entries.
 */
export function makeTrace(fanOut, leaves, startUs = Date.now() * 1000 - 60_000_000) {
  const traceId = hex(16);
  const events = [];
  let ts = startUs;
  const clocks = new Map();
  const context = (service, n) => {
    const component = `${service}#w${n % 2}`;
    if (!clocks.has(component)) clocks.set(component, {});
    return { component, clock: clocks.get(component) };
  };
  const merge = (into, from) => {
    for (const [key, value] of Object.entries(from)) into[key] = Math.max(into[key] ?? 0, value);
  };
  const record = (ctx, span, kind, data) => {
    ctx.clock[ctx.component] = (ctx.clock[ctx.component] ?? 0) + 1;
    ts += 50;
    events.push({
      id: hex(16),
      trace_id: traceId,
      instance: `${span.service}-1`,
      component: ctx.component,
      ts_us: ts,
      clock: { ...ctx.clock },
      ...span,
      kind,
      data,
    });
  };
  /** `caller` (in span `parent`) calls `service`, whose server span runs `body`. */
  const call = (caller, parent, service, n, route, body) => {
    const client = { span_id: hex(8), parent_span_id: parent.span_id, service: parent.service };
    const url = `http://${service}:8080${route}`;
    const host = `${service}:8080`;
    record(caller, client, 'request_sent', { method: 'POST', url, host });
    const callee = context(service, n);
    merge(callee.clock, caller.clock);
    const server = { span_id: hex(8), parent_span_id: client.span_id, service };
    const incoming = { status: 'accepted', reasons: [] };
    record(callee, server, 'request_received', { method: 'POST', path: route, route, incoming });
    body(callee, server);
    record(callee, server, 'response_sent', { method: 'POST', route, status: 200, duration_ms: 1 });
    merge(caller.clock, callee.clock);
    const reply = { method: 'POST', url, host, status: 200, duration_ms: 1 };
    record(caller, client, 'response_received', reply);
  };

  const root = context('frontend', 0);
  const rootSpan = { span_id: hex(8), parent_span_id: null, service: 'frontend' };
  const incoming = { status: 'absent', reasons: [] };
  const checkout = { method: 'POST', path: '/checkout', route: '/checkout', incoming };
  record(root, rootSpan, 'request_received', checkout);
  let n = 0;
  for (let i = 0; i < fanOut; i += 1) {
    const service = SERVICES[i % SERVICES.length];
    call(root, rootSpan, service, n++, `/${service}/work`, (ctx, span) => {
      record(ctx, span, 'state_read', { resource: `${service}:config`, value: i });
      for (let k = 0; k < leaves; k += 1) {
        const leaf = SERVICES[(i + k + 1) % SERVICES.length];
        call(ctx, span, leaf, n++, `/${leaf}/items/:id`, (leafCtx, leafSpan) => {
          const resource = `${leaf}:item:${(i * leaves + k) % 97}`;
          record(leafCtx, leafSpan, 'state_read', { resource, value: k });
          record(leafCtx, leafSpan, 'state_write', { resource, value: k + 1 });
        });
      }
    });
  }
  const done = {
    method: 'POST',
    route: '/checkout',
    status: 201,
    duration_ms: (ts - events[0].ts_us) / 1000,
  };
  record(root, rootSpan, 'response_sent', done);
  return { traceId, events, spans: 1 + 2 * fanOut * (1 + leaves) };
}
