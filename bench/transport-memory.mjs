// Heap held by a backlog of queued events: the transport's queue (events encoded as JSON text as
// they are recorded) against the same events held as plain event objects, the form a queue of
// objects keeps, measured in the same run. The collector is unreachable (a closed port on
// loopback) and the flush interval long, so everything stays queued.
//
//   pnpm --filter @raceway/core build && node --expose-gc bench/transport-memory.mjs [--events 50000]
//
// Results: bench/results/transport-memory.md.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Tracer } from '@raceway/core';
import { Transport } from '@raceway/core/integration';

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(1);
}
const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { events: { type: 'string', default: '50000' } } });
const count = Number(values.events);

/** JavaScript heap plus the memory of Buffers (compressed groups live there, off the heap). */
function heapUsed() {
  globalThis.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** Records `count` events (two per request, as a server does) into `transport`. */
function record(transport, events = count) {
  const tracer = new Tracer(
    { serviceName: 'bench', serverUrl: 'http://127.0.0.1:9' },
    { transport, env: {} },
  );
  for (let i = 0; i < events / 2; i++) {
    const ctx = tracer.startContext({});
    const incoming = { status: 'absent', reasons: [] };
    ctx.record('request_received', { method: 'GET', path: `/orders/${i}`, incoming });
    ctx.record('response_sent', {
      method: 'GET',
      route: '/orders/:id',
      status: 200,
      duration_ms: 1.234,
    });
  }
}

// Warm-up, so that neither measurement includes compiling the code it runs.
record({ enqueue: (event) => event.toJSON() }, 20_000);

let before = heapUsed();
const objects = [];
record({ enqueue: (event) => objects.push(event.toJSON()) });
const asObjects = (heapUsed() - before) / objects.length;

before = heapUsed();
const transport = new Transport({
  endpoint: new URL('http://127.0.0.1:9/v1/events'),
  apiKey: null,
  batchSize: 200,
  flushIntervalMs: 600_000,
  maxQueueSize: count,
  maxRetries: 0,
  requestTimeoutMs: 1000,
});
record(transport);
const queued = transport.stats().queued;
const asText = (heapUsed() - before) / queued;

const report = `# Transport memory: heap per queued event

Command: \`pnpm --filter @raceway/core build && node --expose-gc bench/transport-memory.mjs --events ${count}\`

Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. ${count.toLocaleString('en-US')} events (two per request, as a
server records them), heap used plus Buffer memory after a full GC, divided by the events held.

| held as | bytes of heap per event |
|---|---|
| plain event objects (baseline, same run) | ${asObjects.toFixed(0)} |
| the transport's queue (JSON text, encoded in groups of 50 as recorded) | ${asText.toFixed(0)} (${queued.toLocaleString('en-US')} queued) |
| ratio | ${(asText / asObjects).toFixed(2)} |
`;
writeFileSync(join(here, 'results', 'transport-memory.md'), report);
console.log(report);
process.exit(0);
