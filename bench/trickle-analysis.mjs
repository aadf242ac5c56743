// A long-lived trace receiving a trickle: what appending a few events costs the collector as
// the trace grows, with incremental analysis (the default) and with full re-analysis
// (`--analysis-mode full`), measured in the same run.
//
//   node bench/trickle-analysis.mjs sizes [sizes=2000,20000,60000] [appends=6]
//     For each size n and mode, one trace gets n events, is analysed, then receives 10 events
//     at a time, each append waiting for its analysis: the time from an append to its analysis
//     being stored, the ingest latency of the appends, and the collector's RSS.
//
//   node bench/trickle-analysis.mjs long [events=150000] [seconds=40] [shape=own-rows]
//     The case of a long trace receiving 10 events every 1.5 s while other traffic goes on (a
//     new 20-event trace every 100 ms): ingest latency p50/p99 of every POST and the RSS, for
//     the other traffic alone (the baseline), then with the long trace under full and under
//     incremental analysis. `shape`: `own-rows` (each request reads and writes rows of its
//     own: few races) or `shared-rows` (requests share 5000 rows: every request races with
//     others, and the analysis stored per append grows with the trace).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtCollectorCli } from './collector-cli.mjs';
import { trace } from './ingest-events.mjs';
import { cpuSeconds } from './proc-cpu.mjs';

const command = process.argv[2] ?? 'sizes';
// RACEWAY_BENCH_COLLECTOR_CLI: another build of the CLI (e.g. an older version's), for a
// before/after on the same machine.
const COLLECTOR_CLI = process.env.RACEWAY_BENCH_COLLECTOR_CLI ?? builtCollectorCli();
const DELAY_MS = command === 'long' ? 1000 : 300;
const MODES = ['full', 'incremental'];

async function startCollector(dir, mode) {
  const child = spawn(
    process.execPath,
    [
      COLLECTOR_CLI,
      'serve',
      '--port',
      '0',
      '--storage',
      `sqlite:${join(dir, 'r.db')}`,
      '--analysis-delay',
      String(DELAY_MS),
      '--analysis-mode',
      mode,
      '--retention',
      '3650d',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`collector exited ${code}`)));
  });
  return { child, url };
}

/** `count` events of one trace, timestamps after `fromUs`. */
function eventsOf(traceId, count, fromUs, shape = 'shared-rows') {
  const out = [];
  while (out.length < count) trace(out);
  return out.slice(0, count).map((e, i) => ({
    ...e,
    trace_id: traceId,
    ts_us: fromUs + (i + 1) * 10,
    // Rows of its own: the resource is named after the request's context.
    ...(shape === 'own-rows' && typeof e.data.resource === 'string'
      ? { data: { ...e.data, resource: `${e.data.resource}@${e.component}` } }
      : {}),
  }));
}

const post = async (url, events) => {
  const start = performance.now();
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  await res.text();
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
  return performance.now() - start;
};
const json = async (url) => (await fetch(url)).json();
/**
 * Bytes a process handed to write(2) and its kin so far (`wchar`, /proc/<pid>/io, every thread):
 * SQLite's WAL and checkpoint writes, and the HTTP answers (which the baseline has too).
 */
const writtenBytes = (pid) =>
  Number(/wchar:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))[1]);
const statusMiB = (pid, field) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) /
  1024;
const rssMiB = (pid) => statusMiB(pid, 'VmRSS');
/** The most RSS the process ever had (VmHWM): the end's RSS depends on when the GC last ran. */
const peakRssMiB = (pid) => statusMiB(pid, 'VmHWM');
const quantile = (list, q) => [...list].sort((a, b) => a - b)[Math.floor(q * (list.length - 1))];
const fmt = (x) => x.toFixed(1);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A collector in `mode` with a trace of `n` events stored and analysed. */
async function withLongTrace(mode, n, shape, run) {
  const dir = mkdtempSync(join(tmpdir(), 'raceway-trickle-'));
  const { child, url } = await startCollector(dir, mode);
  try {
    const traceId = randomBytes(16).toString('hex');
    let ts = (Date.now() - 3_600_000) * 1000;
    for (let sent = 0; sent < n; sent += 1000) {
      const batch = eventsOf(traceId, Math.min(1000, n - sent), ts, shape);
      ts = batch.at(-1).ts_us;
      await post(url, batch);
    }
    if (n > 0) await fetch(`${url}/api/analysis/run`, { method: 'POST' });
    const append = () => {
      const batch = eventsOf(traceId, 10, ts, shape);
      ts = batch.at(-1).ts_us;
      return batch;
    };
    return await run({ url, child, append, traceId });
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function sizes() {
  const list = (process.argv[3] ?? '2000,20000,60000').split(',').map(Number);
  const appends = Number(process.argv[4] ?? 6);
  const rows = [];
  for (const n of list) {
    for (const mode of MODES) {
      await withLongTrace(mode, n, 'shared-rows', async ({ url, child, append }) => {
        const ingestMs = [];
        const analysisMs = [];
        // Nothing else runs meanwhile: what the collector writes and burns is the appends'.
        const writtenAtStart = writtenBytes(child.pid);
        const cpuAtStart = cpuSeconds(child.pid);
        for (let i = 0; i < appends; i++) {
          const before = (await json(`${url}/api/analysis/status`)).traces_analyzed;
          const batch = append();
          const sentAt = performance.now();
          ingestMs.push(await post(url, batch));
          // Analysed once quiet for DELAY_MS: the time beyond it is the analysis of the trace.
          while ((await json(`${url}/api/analysis/status`)).traces_analyzed === before) {
            await sleep(10);
          }
          analysisMs.push(performance.now() - sentAt - DELAY_MS);
        }
        rows.push({
          n,
          mode,
          ingestP50: quantile(ingestMs, 0.5),
          ingestMax: Math.max(...ingestMs),
          analysisP50: quantile(analysisMs, 0.5),
          kbWritten: (writtenBytes(child.pid) - writtenAtStart) / 1024 / appends,
          cpuMs: ((cpuSeconds(child.pid) - cpuAtStart) * 1000) / appends,
          rss: rssMiB(child.pid),
          peakRss: peakRssMiB(child.pid),
        });
        console.log(rows.at(-1));
      });
    }
  }
  const base = rows.find((r) => r.mode === 'full');
  const table = [
    '| events in the trace | analysis | append ingest p50 ms | append ingest max ms | append -> analysed, p50 ms (beyond the delay) | x smallest full | KB written per append | collector CPU ms per append | collector RSS MiB at the end | collector peak RSS MiB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.n} | ${r.mode} | ${fmt(r.ingestP50)} | ${fmt(r.ingestMax)} | ${fmt(r.analysisP50)} | ${fmt(r.analysisP50 / base.analysisP50)} | ${fmt(r.kbWritten)} | ${fmt(r.cpuMs)} | ${fmt(r.rss)} | ${fmt(r.peakRss)} |`,
    ),
  ].join('\n');
  return `## Append -> analysed, by trace size

\`node bench/trickle-analysis.mjs sizes ${list.join(',')} ${appends}\` (SQLite, analysis delay ${DELAY_MS} ms,
${appends} appends of 10 events per size and mode; each append waits for its analysis; requests
share 5000 rows, so the trace's races grow with it; bytes the collector wrote (write calls:
SQLite's WAL and checkpoints, HTTP answers) and CPU it used, over the appends, per append).

${table}
`;
}

async function long() {
  const n = Number(process.argv[3] ?? 150_000);
  const seconds = Number(process.argv[4] ?? 40);
  const shape = process.argv[5] ?? 'own-rows';
  const rows = [];
  for (const mode of ['baseline', ...MODES]) {
    const events = mode === 'baseline' ? 0 : n;
    await withLongTrace(
      mode === 'baseline' ? 'incremental' : mode,
      events,
      shape,
      async ({ url, child, append, traceId }) => {
        const ingestMs = [];
        const trickleMs = [];
        const started = (await json(`${url}/api/analysis/status`)).traces_analyzed;
        const cpuAtStart = cpuSeconds(child.pid);
        const writtenAtStart = writtenBytes(child.pid);
        const until = performance.now() + seconds * 1000;
        let peakRss = rssMiB(child.pid);
        const other = (async () => {
          while (performance.now() < until) {
            const traceId = randomBytes(16).toString('hex');
            const ts = (Date.now() - 1000) * 1000;
            ingestMs.push(await post(url, eventsOf(traceId, 20, ts)));
            await sleep(100);
          }
        })();
        const trickle = (async () => {
          while (mode !== 'baseline' && performance.now() < until) {
            const ms = await post(url, append());
            ingestMs.push(ms);
            trickleMs.push(ms);
            peakRss = Math.max(peakRss, rssMiB(child.pid));
            await sleep(1500);
          }
        })();
        await Promise.all([other, trickle]);
        const cpu = cpuSeconds(child.pid) - cpuAtStart;
        const written = writtenBytes(child.pid) - writtenAtStart;
        const status = await json(`${url}/api/analysis/status`);
        // What the collector stores for the long trace at each of its analyses: its critical
        // path, diagnostics and races, as JSON (the analysis record holds them whole).
        let recordBytes = 0;
        if (mode !== 'baseline') {
          for (const part of ['critical-path', 'diagnostics', 'races']) {
            const res = await fetch(`${url}/api/traces/${traceId}/${part}`);
            recordBytes += (await res.text()).length;
          }
        }
        rows.push({
          mode,
          events,
          posts: ingestMs.length,
          p50: quantile(ingestMs, 0.5),
          p99: quantile(ingestMs, 0.99),
          max: Math.max(...ingestMs),
          trickleP50: trickleMs.length ? quantile(trickleMs, 0.5) : Number.NaN,
          analyses: status.traces_analyzed - started,
          recordKB: recordBytes / 1024,
          cpu,
          written,
          appends: trickleMs.length,
          rss: Math.max(peakRss, rssMiB(child.pid)),
        });
        console.log(rows.at(-1));
      },
    );
  }
  const base = rows[0];
  const table = [
    '| long trace | analysis | ingest POSTs | ingest p50 ms | ingest p99 ms | p99 x baseline | ingest max ms | trickle POST p50 ms | traces analysed | collector peak RSS MiB | collector CPU s | CPU ms per append beyond the baseline | bytes written, MiB | KB written per append beyond the baseline | long trace analysis, KB |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.events === 0 ? 'none (baseline)' : `${r.events} events`} | ${r.mode === 'baseline' ? '-' : r.mode} | ${r.posts} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.p99 / base.p99)} | ${fmt(r.max)} | ${Number.isNaN(r.trickleP50) ? '-' : fmt(r.trickleP50)} | ${r.analyses} | ${fmt(r.rss)} | ${fmt(r.cpu)} | ${r.appends ? fmt(((r.cpu - base.cpu) * 1000) / r.appends) : '-'} | ${fmt(r.written / 2 ** 20)} | ${r.appends ? fmt((r.written - base.written) / 1024 / r.appends) : '-'} | ${r.events === 0 ? '-' : fmt(r.recordKB)} |`,
    ),
  ].join('\n');
  return `## A long trace receiving 10 events every 1.5 s (${shape})

\`node bench/trickle-analysis.mjs long ${n} ${seconds} ${shape}\` (SQLite, analysis delay ${DELAY_MS} ms,
${seconds} s of traffic: a new 20-event trace every 100 ms, and 10 events to the long trace every
1.5 s, so the long trace is analysed after every append; latencies of every ingest POST;
collector CPU over the traffic, and beyond the baseline's per append; the bytes the collector
wrote (write calls: SQLite's WAL and checkpoints, HTTP answers) over the traffic, and beyond the
baseline's per append; the size of the long trace's critical path, diagnostics and races as the
API serves them at the end).

${table}
`;
}

const md = command === 'long' ? await long() : await sizes();
const file = new URL(
  `./results/trickle-analysis${command === 'long' ? `-long-${process.argv[5] ?? 'own-rows'}` : ''}.md`,
  import.meta.url,
);
writeFileSync(file, `# Trickle into a long-lived trace\n\n${md}`);
console.log(md);
