// A long-lived trace receiving a trickle: what one append of 10 events costs the collector as
// the trace grows. For each size n, one trace gets n events, is analysed, then receives 10
// events at a time after each quiet gap; measured: the ingest latency of the appends, the
// time from an append to its analysis being stored, and the collector's RSS. The same run
// measures a small trace as the baseline: the ratio says whether an append costs O(n).
//
//   node bench/trickle-analysis.mjs [sizes=2000,20000,100000] [appends=8]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtCollectorCli } from './collector-cli.mjs';
import { trace } from './ingest-events.mjs';

const sizes = (process.argv[2] ?? '2000,20000,100000').split(',').map(Number);
const appends = Number(process.argv[3] ?? 8);
const DELAY_MS = 300;

async function startCollector(dir) {
  const child = spawn(
    process.execPath,
    [
      builtCollectorCli(),
      'serve',
      '--port',
      '0',
      '--storage',
      `sqlite:${join(dir, 'r.db')}`,
      '--analysis-delay',
      String(DELAY_MS),
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
function eventsOf(traceId, count, fromUs) {
  const out = [];
  while (out.length < count) trace(out);
  return out
    .slice(0, count)
    .map((e, i) => ({ ...e, trace_id: traceId, ts_us: fromUs + (i + 1) * 10 }));
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
const rssMiB = (pid) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const quantile = (list, q) => [...list].sort((a, b) => a - b)[Math.floor(q * (list.length - 1))];

const rows = [];
for (const n of sizes) {
  const dir = mkdtempSync(join(tmpdir(), 'raceway-trickle-'));
  const { child, url } = await startCollector(dir);
  try {
    const traceId = randomBytes(16).toString('hex');
    let ts = (Date.now() - 3_600_000) * 1000;
    for (let sent = 0; sent < n; sent += 1000) {
      const batch = eventsOf(traceId, Math.min(1000, n - sent), ts);
      ts = batch.at(-1).ts_us;
      await post(url, batch);
    }
    await fetch(`${url}/api/analysis/run`, { method: 'POST' });
    const ingestMs = [];
    const analysisMs = [];
    for (let i = 0; i < appends; i++) {
      const before = (await json(`${url}/api/analysis/status`)).traces_analyzed;
      const batch = eventsOf(traceId, 10, ts);
      ts = batch.at(-1).ts_us;
      const sentAt = performance.now();
      ingestMs.push(await post(url, batch));
      // Analysed once quiet for DELAY_MS: the time beyond it is the analysis of the trace.
      while ((await json(`${url}/api/analysis/status`)).traces_analyzed === before) {
        await new Promise((r) => setTimeout(r, 10));
      }
      analysisMs.push(performance.now() - sentAt - DELAY_MS);
    }
    rows.push({
      n,
      ingestP50: quantile(ingestMs, 0.5),
      ingestMax: Math.max(...ingestMs),
      analysisP50: quantile(analysisMs, 0.5),
      rss: rssMiB(child.pid),
    });
    console.log(rows.at(-1));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const base = rows[0];
const fmt = (x) => x.toFixed(1);
const table = [
  '| events in the trace | append ingest p50 ms | append ingest max ms | append -> analysed, p50 ms (beyond the delay) | x baseline | collector RSS MiB |',
  '|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.n} | ${fmt(r.ingestP50)} | ${fmt(r.ingestMax)} | ${fmt(r.analysisP50)} | ${fmt(r.analysisP50 / base.analysisP50)} | ${fmt(r.rss)} |`,
  ),
].join('\n');
const md = `# Trickle into a long-lived trace

\`node bench/trickle-analysis.mjs ${sizes.join(',')} ${appends}\` (SQLite, analysis delay ${DELAY_MS} ms,
${appends} appends of 10 events per size; each append waits for its analysis).

${table}

An append of 10 events re-reads and re-analyses the whole trace: its cost grows with the
trace's size, not with the 10 events.
`;
writeFileSync(new URL('./results/trickle-analysis.md', import.meta.url), md);
console.log(md);
