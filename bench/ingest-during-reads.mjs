// Reads that must not stall ingestion: the collector (`raceway serve`, built, SQLite) holds one
// trace of 100,000 events; 8 clients read it concurrently, page after page, over and over,
// while one client posts a small batch every 25 ms and times each answer. The baseline is the
// same posting with no reader, in the same run. Also timed: the aggregate reads
// (`/api/services`, `/api/dependencies`) under the same posting. The poster runs on a worker
// thread of its own: its timings are the collector's answers, not the stalls of the readers'
// work (receiving and parsing pages) on the main thread's event loop.
//
//   pnpm build && node bench/ingest-during-reads.mjs [--events 100000] [--readers 8] [--seconds 10]
//
// Results: bench/results/ingest-during-reads.md.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { builtCollectorCli } from './collector-cli.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    readers: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
    out: { type: 'string', default: 'results/ingest-during-reads.md' },
  },
});
const EVENTS = Number(values.events);
const READERS = Number(values.readers);
const SECONDS = Number(values.seconds);

const cli = builtCollectorCli();

const hex = (bytes) => randomBytes(bytes).toString('hex');

/**
 * One trace of about `n` events: a root request calling a backend over and over; each call is
 * a client span, a server span reading and writing a stock row, in order (one clock per side).
 */
function bigTrace(n) {
  const traceId = hex(16);
  const rootSpan = hex(8);
  const start = Date.now() * 1000 - 60_000_000;
  const events = [];
  let ts = start;
  const fe = { component: `frontend#${hex(4)}`, tick: 0 };
  const be = { component: `inventory#${hex(4)}`, tick: 0 };
  const ev = (ctx, service, span, parent, kind, data, merge) => {
    ctx.tick++;
    const clock = { [ctx.component]: ctx.tick, ...(merge ?? {}) };
    events.push({
      id: hex(16),
      trace_id: traceId,
      span_id: span,
      parent_span_id: parent,
      service,
      instance: `${service}-1`,
      component: ctx.component,
      ts_us: ts++,
      kind,
      clock,
      data,
    });
  };
  ev(fe, 'frontend', rootSpan, null, 'request_received', {
    method: 'GET',
    path: '/batch',
    route: '/batch',
    incoming: { status: 'absent', reasons: [] },
  });
  while (events.length < n - 1) {
    const client = hex(8);
    const server = hex(8);
    const url = 'http://inventory:8080/reserve';
    ev(fe, 'frontend', client, rootSpan, 'request_sent', {
      method: 'POST',
      url,
      host: 'inventory:8080',
    });
    const sent = { [fe.component]: fe.tick };
    ev(
      be,
      'inventory',
      server,
      client,
      'request_received',
      {
        method: 'POST',
        path: '/reserve',
        route: '/reserve',
        incoming: { status: 'accepted', reasons: [] },
      },
      sent,
    );
    ev(be, 'inventory', server, client, 'state_read', { resource: 'stock:1', value: 3 }, sent);
    ev(be, 'inventory', server, client, 'state_write', { resource: 'stock:1', value: 2 }, sent);
    ev(
      be,
      'inventory',
      server,
      client,
      'response_sent',
      {
        method: 'POST',
        route: '/reserve',
        status: 200,
        duration_ms: 1.5,
      },
      sent,
    );
    ev(
      fe,
      'frontend',
      client,
      rootSpan,
      'response_received',
      {
        method: 'POST',
        url,
        host: 'inventory:8080',
        status: 200,
        duration_ms: 2,
        remote_clock: true,
      },
      { [be.component]: be.tick },
    );
  }
  ev(fe, 'frontend', rootSpan, null, 'response_sent', {
    method: 'GET',
    route: '/batch',
    status: 200,
    duration_ms: 100,
  });
  return events;
}

/** A small valid batch of a fresh trace (what an SDK sends every few milliseconds). */
function smallBatch() {
  return bigTrace(20);
}

async function startCollector(dbPath) {
  const child = spawn(
    process.execPath,
    [cli, 'serve', '--port', '0', '--storage', `sqlite:${dbPath}`, '--analysis-delay', '3600000'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`collector exited (${code})`)));
  });
  return { child, url };
}

async function post(url, events) {
  const t = performance.now();
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
  return performance.now() - t;
}

/**
 * Posts a small batch every 25 ms for `seconds`, on a worker thread; the latency of each answer.
 *
 * @returns {Promise<number[]>}
 */
function postLoopOffThread(url, seconds) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { url, seconds } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** Posts a small batch every 25 ms until `until()`; the latency of each answer. */
async function postLoop(url, until) {
  const latencies = [];
  while (!until()) {
    const started = performance.now();
    latencies.push(await post(url, smallBatch()));
    const wait = 25 - (performance.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return latencies;
}

/** Reads the whole trace, page after page; the number of bytes and the slowest page. */
async function readTrace(url, traceId) {
  let cursor = null;
  let bytes = 0;
  let pages = 0;
  let slowest = 0;
  do {
    const t = performance.now();
    const res = await fetch(`${url}/api/traces/${traceId}${cursor ? `?cursor=${cursor}` : ''}`);
    const text = await res.text();
    slowest = Math.max(slowest, performance.now() - t);
    if (res.status !== 200) throw new Error(`read answered ${res.status}`);
    bytes += text.length;
    pages++;
    cursor = JSON.parse(text).next_cursor;
  } while (cursor);
  return { bytes, pages, slowest };
}

async function rssMiB(url) {
  const health = await (await fetch(`${url}/healthz`)).json();
  return health.memory_mib.rss;
}

const summary = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
};

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'raceway-bench-reads-'));
  const { child, url } = await startCollector(join(work, 'reads.db'));
  try {
    const trace = bigTrace(EVENTS);
    for (let i = 0; i < trace.length; i += 5000) await post(url, trace.slice(i, i + 5000));
    const traceId = trace[0].trace_id;
    const rssLoaded = await rssMiB(url);
    console.error(`${trace.length} events stored; collector RSS ${rssLoaded} MiB`);

    // Baseline: posting alone.
    const idle = summary(await postLoopOffThread(url, SECONDS));
    console.error(`idle ingest p50 ${idle.p50.toFixed(1)} ms, max ${idle.max.toFixed(1)} ms`);

    // Readers: 8 clients each reading the whole trace over and over; RSS sampled meanwhile.
    const stop = performance.now() + SECONDS * 1000;
    const done = () => performance.now() > stop;
    let peakRss = rssLoaded;
    const sampler = setInterval(() => {
      rssMiB(url).then(
        (rss) => {
          peakRss = Math.max(peakRss, rss);
        },
        () => {},
      );
    }, 100);
    const reads = [];
    const readers = Array.from({ length: READERS }, async () => {
      while (!done()) reads.push(await readTrace(url, traceId));
    });
    const [busy] = await Promise.all([postLoopOffThread(url, SECONDS), ...readers]);
    clearInterval(sampler);
    const during = summary(busy);
    const slowestPage = Math.max(...reads.map((r) => r.slowest));
    console.error(
      `during reads ingest p50 ${during.p50.toFixed(1)} ms, max ${during.max.toFixed(1)} ms; ${reads.length} full reads, peak RSS ${peakRss} MiB`,
    );

    // The aggregate reads under the same posting.
    const aggregate = {};
    for (const path of ['/api/services', '/api/dependencies']) {
      const until = performance.now() + 3000;
      const times = [];
      const reader = (async () => {
        while (performance.now() < until) {
          const t = performance.now();
          const res = await fetch(`${url}${path}?from=0`);
          await res.arrayBuffer();
          times.push(performance.now() - t);
        }
      })();
      const [posts] = await Promise.all([postLoopOffThread(url, 3), reader]);
      aggregate[path] = { read: summary(times), ingest: summary(posts) };
      console.error(
        `${path}: read p50 ${aggregate[path].read.p50.toFixed(1)} ms; ingest max ${aggregate[path].ingest.max.toFixed(1)} ms`,
      );
    }

    const lines = [
      '# Ingestion during heavy reads',
      '',
      'Command (from the repository root, after `pnpm build`):',
      '',
      '```sh',
      `node bench/ingest-during-reads.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
      '```',
      '',
      `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, shared with other work (load average ${loadavg()[0].toFixed(1)} at the end); node ${process.version}, ${new Date().toISOString().slice(0, 10)}. The collector (\`raceway serve\`, SQLite, durable acknowledgements) runs in its own process.`,
      '',
      `One trace of ${trace.length.toLocaleString('en-US')} events is stored. ${READERS} clients read it concurrently, each`,
      'page after page (`GET /api/traces/:id`, 1,000 events a page, `next_cursor`), over and over;',
      'meanwhile one client, on a thread of its own, posts a batch of 20 events every 25 ms and',
      'times each answer. The baseline is the same posting with no reader, in the same run.',
      '',
      '| | ingest answers | p50 ms | p99 ms | max ms |',
      '|---|---:|---:|---:|---:|',
      `| baseline: no reader | ${idle.n} | ${idle.p50.toFixed(1)} | ${idle.p99.toFixed(1)} | ${idle.max.toFixed(1)} |`,
      `| ${READERS} concurrent readers of the whole trace | ${during.n} | ${during.p50.toFixed(1)} | ${during.p99.toFixed(1)} | ${during.max.toFixed(1)} |`,
      ...Object.entries(aggregate).map(
        ([path, a]) =>
          `| \`${path}\` read back to back (read p50 ${a.read.p50.toFixed(1)} ms, max ${a.read.max.toFixed(1)} ms) | ${a.ingest.n} | ${a.ingest.p50.toFixed(1)} | ${a.ingest.p99.toFixed(1)} | ${a.ingest.max.toFixed(1)} |`,
      ),
      '',
      `Reads: ${reads.length} full reads of the trace (${reads[0]?.pages ?? 0} pages, ${((reads[0]?.bytes ?? 0) / 1048576).toFixed(1)} MiB of JSON each), slowest page ${slowestPage.toFixed(0)} ms.`,
      `Collector RSS: ${rssLoaded} MiB with the trace stored, at most ${peakRss} MiB during the ${READERS} concurrent reads (sampled every 100 ms).`,
      '',
      '## Targets',
      '',
      `- An ingest POST during the heaviest read answered within 100 ms: max ${during.max.toFixed(1)} ms during the trace reads, ${during.max < 100 ? 'met' : 'NOT met'}.`,
      `- ${READERS} concurrent reads of a ${trace.length.toLocaleString('en-US')}-event trace under 512 MiB of collector RSS: ${peakRss} MiB, ${peakRss < 512 ? 'met' : 'NOT met'}.`,
    ];
    if (values.out !== '-') writeFileSync(join(here, values.out), `${lines.join('\n')}\n`);
    console.log(lines.join('\n'));
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(work, { recursive: true, force: true });
  }
}

if (isMainThread) {
  await main();
} else {
  const { url, seconds } = workerData;
  const until = performance.now() + seconds * 1000;
  parentPort.postMessage(await postLoop(url, () => performance.now() > until));
}
