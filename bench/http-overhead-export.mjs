// The export part of a traced request's cost, in one process: the two events a server request
// records (request_received, response_sent), recorded on a tracer, queued, encoded, batched and
// POSTed by the real Transport to a discard sink, with and without gzip.
// CPU time of this process (main thread and libuv pool, gzip included; the sink runs in another
// process) per request, rounds interleaved, so
// that both variants see the same machine load; the median of the rounds is reported.
// bench/http-overhead.mjs measures whole requests over the network, with far more noise.
//
//   pnpm --filter @raceway/core build && node bench/http-overhead-export.mjs [--requests 100000] [--rounds 7]
//
// Results: appended to nothing; printed (copied into bench/results/http-overhead.md).
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Tracer } from '@raceway/core';
import { Transport } from '@raceway/core/integration';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '7' },
  },
});
const requests = Number(values.requests);
const rounds = Number(values.rounds);

// The discard sink of http-overhead.mjs, in a process of its own: its CPU is not counted.
const sink = spawn(
  process.execPath,
  [join(dirname(fileURLToPath(import.meta.url)), 'discard-sink.mjs')],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const url = await new Promise((resolve) => {
  let out = '';
  sink.stdout.on('data', (chunk) => {
    out += chunk;
    const match = /listening on (http:\/\/\S+)/.exec(out);
    if (match) resolve(match[1]);
  });
});

/** A transport to the sink, as the SDK's defaults make it (the queue large enough for a run). */
function sinkTransport(compression) {
  return new Transport({
    endpoint: new URL('/v1/events', url),
    apiKey: null,
    batchSize: 200,
    flushIntervalMs: 1000,
    maxQueueSize: 1_000_000,
    maxQueueBytes: 2 ** 31,
    requestTimeoutMs: 10_000,
    compression,
  });
}

/**
 * Records the events of `requests` server requests through `transport`; the CPU µs per
 * request, counted until `finish` (the transport's flush, or nothing) has resolved.
 */
async function cpuPerRequest(transport, finish) {
  const tracer = new Tracer({ serviceName: 'bench', instance: 'bench:1' }, { transport, env: {} });
  const from = process.cpuUsage();
  for (let i = 0; i < requests; i++) {
    const ctx = tracer.startContext({});
    ctx.record('request_received', {
      method: 'GET',
      path: '/',
      incoming: { status: 'absent', reasons: [] },
    });
    ctx.record('response_sent', { method: 'GET', route: '/', status: 200, duration_ms: 0.21 });
    // Let the transport's timers and requests run, as a server's event loop would.
    if (i % 200 === 199) await new Promise((resolve) => setImmediate(resolve));
  }
  await finish();
  const cpu = process.cpuUsage(from);
  return (cpu.user + cpu.system) / requests;
}

/** CPU µs per request to record and deliver the events of `requests` server requests. */
async function run(compression) {
  const transport = sinkTransport(compression);
  const perRequest = await cpuPerRequest(transport, () => transport.flush());
  const stats = transport.stats();
  await transport.shutdown();
  if (stats.sent !== requests * 2) throw new Error(`sent ${stats.sent} of ${requests * 2}`);
  return perRequest;
}

/** The same requests without export: context, ids, clock and events only. */
async function recordOnly() {
  const transport = sinkTransport();
  transport.enqueue = () => {};
  return cpuPerRequest(transport, async () => {});
}

const samples = { record: [], plain: [], gzip: [] };
await run('none'); // warm-up
await run('gzip');
for (let round = 0; round < rounds; round++) {
  samples.record.push(await recordOnly());
  samples.plain.push(await run('none'));
  samples.gzip.push(await run('gzip'));
}
sink.kill('SIGKILL');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const record = median(samples.record);
const plain = median(samples.plain);
const gzip = median(samples.gzip);
console.log(`Command: \`node bench/http-overhead-export.mjs --requests ${requests} --rounds ${rounds}\`

Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; median of ${rounds} interleaved rounds of ${requests.toLocaleString('en-US')} requests (2 events each).

| part of a request (CPU µs/request) | median | rounds |
|---|---|---|
| context + ids + clock + 2 events recorded (no export) | ${record.toFixed(2)} | ${samples.record.map((x) => x.toFixed(1)).join(', ')} |
| recorded and exported, plain JSON (loopback default) | ${plain.toFixed(2)} | ${samples.plain.map((x) => x.toFixed(1)).join(', ')} |
| recorded and exported, gzip (remote default) | ${gzip.toFixed(2)} | ${samples.gzip.map((x) => x.toFixed(1)).join(', ')} |

Export alone: ${(plain - record).toFixed(2)} µs/request as plain JSON, ${(gzip - record).toFixed(2)} µs/request with gzip (gzip adds ${(gzip - plain).toFixed(2)} µs/request, ${(((gzip - plain) / (gzip - record)) * 100).toFixed(0)}% of the gzip'd export).`);
