// Load generator for bench/ingest.mjs, run in its own process so that it does not share an
// event loop with the collector. Pre-generates unique, realistic, gzip'd batches (so the
// measured phase only sends bytes), then keeps `connections` requests in flight for
// `seconds`, and prints one JSON line with what it measured.
//
//   node ingest-load.mjs '{"url":"http://127.0.0.1:8080","seconds":15,"connections":8,"batch":300,"maxEventsPerSec":150000}'

import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';

const config = JSON.parse(process.argv[2]);
const { url, seconds, connections, batch } = config;

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

function trace(out) {
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

// Enough unique batches for the whole run at the rate cap; ids are never reused, so every
// acknowledged event is a new one (no duplicate shortcut in the collector).
const wanted = Math.ceil((config.maxEventsPerSec * seconds) / batch);
const bodies = [];
let rawBytes = 0;
let gzBytes = 0;
const genStart = performance.now();
for (let i = 0; i < wanted; i++) {
  const events = [];
  while (events.length < batch) trace(events);
  const json = JSON.stringify({
    sdk: { name: 'bench', version: '1' },
    events: events.slice(0, batch),
  });
  const gz = gzipSync(json);
  rawBytes += json.length;
  gzBytes += gz.length;
  bodies.push(gz);
}
const generationMs = performance.now() - genStart;
process.stderr.write(
  `generated ${bodies.length} batches in ${(generationMs / 1000).toFixed(1)} s\n`,
);

const dispatcher = new Agent({ connections, pipelining: 1, keepAliveTimeout: 30_000 });
const latencies = [];
let acked = 0;
let failures = 0;
let next = 0;
let exhausted = false;
const cpuStart = process.cpuUsage();
const start = performance.now();
const deadline = start + seconds * 1000;

async function connection() {
  while (performance.now() < deadline) {
    if (next >= bodies.length) {
      exhausted = true;
      return;
    }
    const body = bodies[next++];
    const t0 = performance.now();
    try {
      const res = await request(`${url}/v1/events`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body,
      });
      const answer = await res.body.json();
      if (res.statusCode === 200) {
        acked += answer.accepted;
        latencies.push(performance.now() - t0);
      } else {
        failures++;
      }
    } catch {
      failures++;
    }
  }
}

await Promise.all(Array.from({ length: connections }, connection));
const elapsed = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpuStart);
await dispatcher.close();
latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
process.stdout.write(
  `${JSON.stringify({
    events: acked,
    seconds: elapsed,
    eventsPerSec: acked / elapsed,
    batches: latencies.length,
    failures,
    exhausted,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    maxMs: latencies[latencies.length - 1] ?? 0,
    loadCpuPercent: (cpu.user + cpu.system) / 1e4 / elapsed,
    avgEventBytes: rawBytes / (bodies.length * batch),
    avgBatchGzipBytes: gzBytes / bodies.length,
  })}\n`,
);
