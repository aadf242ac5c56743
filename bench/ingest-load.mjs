// Load generator for bench/ingest.mjs, run in its own process so that it does not share an
// event loop with the collector. Pre-generates unique, realistic, gzip'd batches (so the
// measured phase only sends bytes), then keeps `connections` requests in flight for
// `seconds`, and prints one JSON line with what it measured.
//
//   node ingest-load.mjs '{"url":"http://127.0.0.1:8080","seconds":15,"connections":8,"batch":300,"maxEventsPerSec":150000}'
//
// `urls` (instead of `url`): several collectors, each batch sent to the next one in turn
// (round robin, as a load balancer would).

import { gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { trace } from './ingest-events.mjs';

const config = JSON.parse(process.argv[2]);
const { seconds, connections, batch } = config;
const urls = config.urls ?? [config.url];

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
    const url = urls[next % urls.length];
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
