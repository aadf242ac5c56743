// The events of bench/ingest-load.mjs and bench/ingest-breakdown.mjs: realistic traces of
// the mix an SDK sends (HTTP in and out, state reads and writes, locks, custom, errors), every
// id new.
import { randomBytes } from 'node:crypto';

const hex = (n) => randomBytes(n).toString('hex');
const SERVICES = ['frontend', 'cart', 'inventory', 'billing', 'shipping'];
const ROUTES = ['/checkout/:id', '/cart/:id', '/stock/:sku', '/invoice', '/ship/:id'];

/** The events one request causes in one service: the mix an SDK really sends. */
function requestEvents(out, service, traceId, parent, tsUs) {
  const span = hex(8);
  const component = `${service}#${hex(4)}`;
  let tick = 0;
  const clock = parent?.clock ? { ...parent.clock } : {};
  const push = (kind, data, spanId = span, parentId = parent?.span ?? null) => {
    clock[component] = ++tick;
    tsUs += 150 + Math.floor(Math.random() * 400);
    out.push({
      id: hex(16),
      trace_id: traceId,
      span_id: spanId,
      parent_span_id: parentId,
      service,
      instance: `${service}-${tick % 3}`,
      component,
      ts_us: tsUs,
      kind,
      clock: { ...clock },
      data,
    });
  };
  const route = ROUTES[SERVICES.indexOf(service)];
  push('request_received', {
    method: 'POST',
    path: route.replace(/:\w+/, String(Math.floor(Math.random() * 1000))),
    route,
    incoming: { status: parent ? 'accepted' : 'absent', reasons: [] },
  });
  const resource = `stock:sku-${Math.floor(Math.random() * 5000)}`;
  push('state_read', { resource, value: Math.floor(Math.random() * 20), version: tick });
  const locked = Math.random() < 0.3;
  if (locked) push('lock_acquire', { lock: resource });
  push('state_write', { resource, value: Math.floor(Math.random() * 20), version: tick + 1 });
  if (locked) push('lock_release', { lock: resource });
  if (Math.random() < 0.1) push('custom', { name: 'cache.miss', attributes: { key: resource } });
  const failed = Math.random() < 0.05;
  if (failed)
    push('error', {
      type: 'Error',
      message: 'upstream timeout',
      stack: 'Error: upstream timeout\n    at handler (app.js:10:5)',
    });
  return { span, component, clock, push, tsUs: () => tsUs, failed, route };
}

/** Appends the events of one trace (a request fanning out to 1-3 services) to `out`. */
export function trace(out) {
  const traceId = hex(16);
  let ts = Date.now() * 1000;
  const root = requestEvents(out, 'frontend', traceId, null, ts);
  for (const callee of SERVICES.slice(1, 2 + Math.floor(Math.random() * 3))) {
    const clientSpan = hex(8);
    const host = `${callee}:8080`;
    root.push(
      'request_sent',
      { method: 'POST', url: `http://${host}/x`, host },
      clientSpan,
      root.span,
    );
    const child = requestEvents(
      out,
      callee,
      traceId,
      { span: clientSpan, clock: root.clock },
      root.tsUs(),
    );
    child.push('response_sent', {
      method: 'POST',
      route: child.route,
      status: child.failed ? 503 : 200,
      duration_ms: 3.2,
    });
    Object.assign(root.clock, child.clock);
    root.push(
      'response_received',
      {
        method: 'POST',
        url: `http://${host}/x`,
        host,
        status: child.failed ? 503 : 200,
        duration_ms: 4.1,
        remote_clock: true,
      },
      clientSpan,
      root.span,
    );
    ts = child.tsUs();
  }
  root.push('response_sent', { method: 'GET', route: root.route, status: 200, duration_ms: 12.5 });
}
