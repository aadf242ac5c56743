// Request overhead of @raceway/express on a hello-world Express app, against the bare app and
// against OpenTelemetry (Node tracer + http and express instrumentations, BatchSpanProcessor,
// OTLP/HTTP exporter), all measured in the same run with autocannon on 127.0.0.1.
//
// Each variant runs in a child process of its own (http-overhead-app.cjs), started fresh for
// every round; both instrumented variants export to one discard sink (discard-sink.mjs) in
// another process. Rounds rotate the order of the variants, so that no variant always runs
// first or last. Every run is bounded: warm-up + measured seconds per variant and round.
//
// The warm-up is long on purpose: V8 keeps optimizing the hot code for the first 100,000
// requests or so (about 150 optimizations in a variant's first 5 s, a few per 5 s after 15 s),
// on background threads whose CPU counts in the app's time. Measured right after a short
// warm-up, that one-time cost inflates the variants that run more code; a server pays it once.
//
//   pnpm build && node bench/http-overhead.mjs [--seconds 10] [--rounds 2] [--warmup 15] [--connections 32]
//
// Results: bench/results/http-overhead.md.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '15' },
    connections: { type: 'string', default: '32' },
    // Where the report goes ('-': stdout only).
    out: { type: 'string', default: '' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
const VARIANTS = [
  'bare',
  'context-only',
  'ctx-unsampled-floor',
  'raceway-unsampled',
  'raceway',
  'raceway-sampled',
  'minimal',
  'otel',
];

for (const pkg of ['@raceway/core', '@raceway/express']) {
  try {
    require.resolve(pkg);
  } catch {
    console.error(`${pkg} is not built: run pnpm build first`);
    process.exit(1);
  }
}

/** Starts a child that prints `listening on <url>`; resolves with the child and the url. */
function start(file, args) {
  const child = spawn(process.execPath, [join(here, file), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  const listening = new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearInterval(poll);
        resolve(match[1]);
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`${file} exited with ${code}: ${out}`));
    });
  });
  /** Stops the child and returns what it printed after `stats `. */
  const stop = () =>
    new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.removeAllListeners('exit');
      child.once('exit', () => {
        clearTimeout(timer);
        const match = /stats (.*)/.exec(out);
        resolve(match ? JSON.parse(match[1]) : null);
      });
      child.kill('SIGTERM');
    });
  // The app counts CPU per request from this signal on (the measured run, not the warm-up).
  const markMeasured = () => child.kill('SIGUSR2');
  return listening.then((url) => ({ url, stop, markMeasured }));
}

function load(url, duration) {
  return autocannon({ url, connections, pipelining: 1, duration });
}

const loadBefore = loadavg()[0];
const sink = await start('discard-sink.mjs', []);
const runs = [];
for (let round = 0; round < rounds; round++) {
  const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
  for (const variant of order) {
    const app = await start('http-overhead-app.cjs', [variant, sink.url]);
    await load(app.url, warmup);
    app.markMeasured();
    const result = await load(app.url, seconds);
    const exported = await app.stop();
    const run = {
      round: round + 1,
      variant,
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      cpu: exported?.cpuUsPerRequest ?? Number.NaN,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
      exported,
    };
    runs.push(run);
    console.error(JSON.stringify(run));
  }
}
const sinkStats = await sink.stop();
const loadAfter = loadavg()[0];

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const summary = Object.fromEntries(
  VARIANTS.map((variant) => {
    const mine = runs.filter((r) => r.variant === variant);
    return [
      variant,
      {
        rps: mean(mine.map((r) => r.rps)),
        p99: mean(mine.map((r) => r.p99)),
        cpu: mean(mine.map((r) => r.cpu)),
        sent: mine.reduce((n, r) => n + (r.exported?.sent ?? 0), 0),
        batches: mine.reduce((n, r) => n + (r.exported?.batchesSent ?? 0), 0),
        dropped: mine.reduce((n, r) => n + (r.exported?.dropped ?? 0), 0),
      },
    ];
  }),
);
const bare = summary.bare;
const ratio = (v) => summary[v].rps / bare.rps;
const overhead = (v) => 1 - ratio(v);
const cpuOverhead = (v) => summary[v].cpu / bare.cpu - 1;
const version = (pkg) =>
  JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')).version;
const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (n) => `${(n * 100).toFixed(1)}%`;
const points = (n) => `${(n * 100).toFixed(1)} points`;
const COMPARED = ['raceway', 'raceway-sampled', 'minimal'];
const exportNote = (v) =>
  v === 'minimal'
    ? 'not counted (a lower bound, no delivery guarantees)'
    : `${fmt(summary[v].sent)} events sent in ${fmt(summary[v].batches)} requests, ${fmt(summary[v].dropped)} dropped${summary[v].dropped > 0 ? ' (queue full)' : ''}`;

const report = `# HTTP overhead: @raceway/express vs bare Express vs OpenTelemetry

Command: \`pnpm build && node bench/http-overhead.mjs --seconds ${seconds} --rounds ${rounds} --warmup ${warmup} --connections ${connections}\`

Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)};
load average ${loadBefore.toFixed(1)} when the run started, ${loadAfter.toFixed(1)} when it ended.
The app, the load generator (autocannon, in the parent process) and the export sink are separate
processes sharing these cores, and the machine is shared with other work: throughput moves
from run to run, CPU time per request much less.

App: Express ${version('express')}, \`GET /\` answering \`hello world\`; a fresh process per variant
and round. Load: autocannon, ${connections} keep-alive connections, no pipelining, ${warmup} s warm-up
(V8 optimizes the hot code for about the first 15 s; its compiler's CPU counts in the app's)
then ${seconds} s measured, ${rounds} rounds in rotating order; figures are the mean of the rounds.
CPU per request is the app process's user + system time (all threads: gzip and GC included)
over the measured run, divided by the requests it served.

- **bare**: the app alone.
- **raceway**: \`app.use(racewayMiddleware({ serviceName, serverUrl }))\` with the default transport
  settings (batches of 200, up to 3 in flight). Two events per request (request_received,
  response_sent), JSON batches POSTed to a sink process on loopback that reads and discards
  them (to a collector on loopback the transport does not compress; to any other host it gzips).
- **raceway-sampled**: the same with \`sampleRate: 0.1\`: one new trace in ten is recorded; the
  others still get a context and propagate their (unsampled) trace context.
- **raceway-unsampled**: the same with \`sampleRate: 0\`: what a request costs that is never
  sampled (a context, ids, the incoming headers read, the trace id on the response).
- **context-only**: an AsyncLocalStorage context per request (\`storage.run(ctx, next)\`), nothing
  else: what propagating a context through async code costs on this Node version.
- **ctx-unsampled-floor**: context-only plus what no implementation of the contract can skip for
  a request it does not sample: a pass over the raw headers for trace headers, a trace id and a
  span id, the trace id on the response (spec 5.4).
- **minimal**: not a tracer but a lower bound (\`bench/minimal-tracer.cjs\`): only the work no
  implementation of the contract can skip (an AsyncLocalStorage context per request, the two
  response headers, two events of the contract's shape exported as gzip'd JSON), with none of
  what a real SDK does besides (incoming headers, random ids, bounded queue, retries).
- **otel**: \`@opentelemetry/sdk-trace-node\` ${version('@opentelemetry/sdk-trace-node')} with
  \`instrumentation-http\` ${version('@opentelemetry/instrumentation-http')} and
  \`instrumentation-express\` ${version('@opentelemetry/instrumentation-express')}, BatchSpanProcessor
  (default settings), \`exporter-trace-otlp-http\` ${version('@opentelemetry/exporter-trace-otlp-http')} (JSON) to the same sink.

| variant | requests/s | p99 latency ms | CPU µs/request | throughput vs bare | throughput overhead | CPU overhead |
|---|---|---|---|---|---|---|
${VARIANTS.map((v) => `| ${v} | ${fmt(summary[v].rps)} | ${fmt(summary[v].p99, 1)} | ${fmt(summary[v].cpu, 1)} | ${pct(ratio(v))} | ${v === 'bare' ? 'n/a' : pct(overhead(v))} | ${v === 'bare' ? 'n/a' : pct(cpuOverhead(v))} |`).join('\n')}

Targets: at full recording >= 90% of context-only's throughput (measured:
${pct(summary.raceway.rps / summary['context-only'].rps)}); at \`sampleRate: 0.1\` within 3 points of
context-only (measured: ${points(ratio('context-only') - ratio('raceway-sampled'))} below it). A request
that is not sampled: ${points(ratio('context-only') - ratio('raceway-unsampled'))} below context-only,
against ${points(ratio('context-only') - ratio('ctx-unsampled-floor'))} for the floor of such a request.

| variant | throughput vs bare | overhead vs OpenTelemetry's (throughput) | overhead vs OpenTelemetry's (CPU) | export |
|---|---|---|---|---|
${COMPARED.map((v) => `| ${v} | ${pct(ratio(v))} | ${(overhead(v) / overhead('otel')).toFixed(2)}× | ${(cpuOverhead(v) / cpuOverhead('otel')).toFixed(2)}× | ${exportNote(v)} |`).join('\n')}

How much of it the contract itself costs: **minimal** keeps ${pct(ratio('minimal'))} of bare
throughput, so an implementation of the contract on this machine and Node version loses at
least ${pct(overhead('minimal'))}; Raceway's own share beyond that lower bound is
${pct(ratio('minimal') - ratio('raceway'))} of bare throughput. Per request Raceway starts an
execution context (ids, a clock, the incoming headers checked), records two events, puts the
trace id and the clock of the moment the headers are written on the response, and the transport
encodes the events in groups of 50 while they are fresh, then gzips and POSTs them (batches of
200, up to 2000 under a backlog, so the default settings deliver every event; the export column
says whether any event was dropped).

The app process is CPU-bound here, so its throughput falls as 1 / (1 + CPU overhead): keeping
90% of bare throughput allows at most 11% more CPU per request, while the lower bound alone
adds ${pct(cpuOverhead('minimal'))}, of which the AsyncLocalStorage context alone is
${pct(cpuOverhead('context-only'))} on Node ${process.version} (**context-only**); the rest is the two
events: building them, JSON, gzip and the POST. By CPU, the
fairer measure of what each tracer costs, Raceway's overhead is
${(cpuOverhead('raceway') / cpuOverhead('otel')).toFixed(2)}× OpenTelemetry's.

Per run:

| round | variant | requests/s | p50 ms | p99 ms | CPU µs/request | non-2xx | errors |
|---|---|---|---|---|---|---|---|
${runs.map((r) => `| ${r.round} | ${r.variant} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.cpu, 1)} | ${r.non2xx} | ${r.errors} |`).join('\n')}

The sink received ${Object.entries(sinkStats ?? {})
  .map(
    ([path, st]) =>
      `${fmt(st.requests)} requests (${fmt(st.bytes / 1048576, 1)} MiB) on \`${path}\``,
  )
  .join(', ')}.
`;
const out = values.out === '' ? join(here, 'results', 'http-overhead.md') : values.out;
if (out !== '-') writeFileSync(out, report);
console.log(report);
