// Ingestion throughput of the collector, per storage backend, against a baseline measured in
// the same run: a bare HTTP sink that only gunzips and parses the same batches (the ceiling
// of HTTP + gzip + JSON on this machine, with no validation and no storage).
//
// The collector (`raceway serve`, built) runs in one child process, the load generator
// (ingest-load.mjs) in another. Acknowledgements are durable: SQLite with WAL and
// synchronous=FULL; PostgreSQL with fsync and synchronous_commit on.
//
//   pnpm build && node bench/ingest.mjs [--seconds 15] [--connections 8] [--batch 300] [--backends sink,sqlite,postgres]
//
// PostgreSQL: RACEWAY_BENCH_PG_URL, else a throwaway cluster from /usr/lib/postgresql/*/bin.
// Results: bench/results/ingest.md.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { builtCollectorCli } from './collector-cli.mjs';
import { startPostgres } from './pg-server.mjs';
import { cpuSeconds, treeCpuSeconds } from './proc-cpu.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    connections: { type: 'string', default: '8' },
    batch: { type: 'string', default: '300' },
    backends: { type: 'string', default: 'sink,sqlite,postgres' },
    // Extra node flags for the server processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    'server-node-args': { type: 'string', default: '' },
    // The machine is shared: several runs of each collector backend show the spread.
    repeat: { type: 'string', default: '1' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const batch = Number(values.batch);
const repeat = Number(values.repeat);
const backends = values.backends
  .split(',')
  .flatMap((b) => (b === 'sink' ? [b] : Array.from({ length: repeat }, () => b)));

const cli = builtCollectorCli();

const work = mkdtempSync(join(tmpdir(), 'raceway-bench-ingest-'));

/** Starts a child that prints `listening on <url>` and resolves with it. */
function startServer(command, args, env = {}) {
  const nodeArgs = values['server-node-args'].split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, command, ...args], {
    cwd: work,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve({ child, url: match[1] });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

/** Peak resident memory of a process (VmHWM), in MiB. */
function peakRssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

/** Runs the load generator; it pre-generates enough batches for `maxEventsPerSec`. */
function runLoad(url, maxEventsPerSec) {
  const config = { url, seconds, connections, batch, maxEventsPerSec };
  const out = execFileSync(
    process.execPath,
    [join(here, 'ingest-load.mjs'), JSON.stringify(config)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(out.toString());
}

async function stop(child) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

const results = [];
try {
  for (const backend of backends) {
    let server;
    let pg = null;
    const [database, variant] = backend.split('-');
    if (backend === 'sink') {
      server = await startServer(join(here, 'ingest-sink.mjs'), []);
    } else if (database === 'sqlite' || database === 'postgres') {
      let storage;
      if (database === 'sqlite') {
        // A new file per run: each run starts from an empty database.
        storage = `sqlite:${join(work, `bench-${results.length}.db`)}`;
      } else {
        pg = startPostgres(work);
        if (!pg) {
          console.error(`no PostgreSQL found: skipping ${backend}`);
          continue;
        }
        storage = pg.url;
      }
      if (variant === 'store') {
        server = await startServer(join(here, 'ingest-sink.mjs'), [storage]);
      } else {
        // `-deferred`: the collector with its analysis put off past the run (what ingestion
        // alone takes); otherwise traces are analysed once quiet for 1 s, as by default.
        const delay = variant === 'deferred' ? String(3_600_000) : '1000';
        server = await startServer(cli, [
          'serve',
          '--port',
          '0',
          '--storage',
          storage,
          '--analysis-delay',
          delay,
        ]);
      }
    } else {
      throw new Error(`unknown backend ${backend}`);
    }
    console.error(
      `${backend}: ${server.url}, ${seconds} s, ${connections} connections, ${batch} events per batch`,
    );
    // Other work on the machine competes for the same cores: recorded with the result.
    const loadBefore = loadavg()[0];
    const cpuBefore = cpuSeconds(server.child.pid);
    const pgPid = pg?.postmasterPid() ?? null;
    const databaseCpuBefore = pgPid ? treeCpuSeconds(pgPid) : 0;
    // The sink may run out of batches (it is a ceiling); the collectors must not (the
    // SQLite target is 100,000 events/s).
    const load = runLoad(server.url, backend === 'sink' ? 150_000 : 120_000);
    const rss = peakRssMiB(server.child.pid);
    // The load generator spends its first seconds generating batches: the collector idles then.
    const serverCpu = cpuSeconds(server.child.pid) - cpuBefore;
    const databaseCpu = pgPid ? treeCpuSeconds(pgPid) - databaseCpuBefore : null;
    // How far behind the background analysis is when the load stops, and how long it takes
    // to catch up (a collector whose analysis cannot keep up would fall further behind).
    let analysis = null;
    if (backend !== 'sink' && !backend.endsWith('-store')) {
      const status = await (await fetch(`${server.url}/api/analysis/status`)).json();
      const t0 = performance.now();
      await fetch(`${server.url}/api/analysis/run`, { method: 'POST' });
      analysis = {
        pendingTracesAtEnd: status.pending_traces,
        catchUpSeconds: (performance.now() - t0) / 1000,
      };
    }
    await stop(server.child);
    pg?.stop();
    for (const name of readdirSync(work)) if (name.startsWith('bench-')) rmSync(join(work, name));
    results.push({
      backend,
      ...load,
      peakRssMiB: rss,
      serverCpuUsPerEvent: (serverCpu * 1e6) / load.events,
      databaseCpuUsPerEvent: databaseCpu === null ? null : (databaseCpu * 1e6) / load.events,
      analysis,
      loadAverage: loadBefore,
    });
    console.error(JSON.stringify(results[results.length - 1]));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const sink = results.find((r) => r.backend === 'sink');
// The median SQLite run is the one held against the target.
const sqliteRuns = results
  .filter((r) => r.backend === 'sqlite')
  .sort((a, b) => a.eventsPerSec - b.eventsPerSec);
const sqlite = sqliteRuns[Math.floor((sqliteRuns.length - 1) / 2)];
/**
 * The rate this machine's cores allow the server at its measured CPU per event: every core not
 * used by the load generator, divided by the server's (and its database's) CPU per event.
 */
const ceiling = (r) =>
  ((cpus().length * 100 - r.loadCpuPercent) * 1e4) /
  (r.serverCpuUsPerEvent + (r.databaseCpuUsPerEvent ?? 0));
const name = (r) => {
  if (r.backend === 'sink') {
    return 'baseline: bare HTTP sink (gunzip + JSON.parse, no validation, no storage)';
  }
  const [database, variant] = r.backend.split('-');
  if (variant === 'store') return `floor: the sink + the collector's ${database} storage`;
  if (variant === 'deferred') return `collector, ${database}, analysis deferred`;
  return `collector, ${database}`;
};
const rows = results
  .map((r) =>
    [
      name(r),
      Math.round(r.eventsPerSec).toLocaleString('en-US'),
      sink ? `${((r.eventsPerSec / sink.eventsPerSec) * 100).toFixed(0)} %` : 'n/a',
      r.p50Ms.toFixed(1),
      r.p99Ms.toFixed(1),
      Math.round(r.peakRssMiB),
      r.serverCpuUsPerEvent.toFixed(1),
      r.databaseCpuUsPerEvent === null ? 'n/a' : r.databaseCpuUsPerEvent.toFixed(1),
      `${Math.round(r.loadCpuPercent)} %`,
      Math.round(ceiling(r)).toLocaleString('en-US'),
      r.analysis
        ? `${r.analysis.pendingTracesAtEnd.toLocaleString('en-US')} traces, caught up in ${r.analysis.catchUpSeconds.toFixed(1)} s`
        : 'n/a',
      `${r.failures}${r.exhausted ? ' (load generator ran out of batches)' : ''}`,
      r.loadAverage.toFixed(1),
    ].join(' | '),
  )
  .map((line) => `| ${line} |`);
const first = results[0];
const report = `# Ingestion throughput

Command: \`pnpm build && node bench/ingest.mjs --seconds ${seconds} --connections ${connections} --batch ${batch} --backends ${values.backends} --repeat ${repeat}\`

Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.
The collector and the load generator are separate processes sharing these cores.

Load: ${connections} concurrent keep-alive connections, each sending gzip'd batches of ${batch} events back to back
for ${seconds} s. Events are a realistic mix (request_received/response_sent, request_sent/response_received,
state_read/state_write, lock_acquire/release, custom, error; ~${Math.round(first?.avgEventBytes ?? 0)} bytes of JSON each,
~${Math.round((first?.avgBatchGzipBytes ?? 0) / 1024)} KiB per gzip'd batch), every id new. Acknowledgements are durable: the collector answers 200 only
after the commit (SQLite WAL + synchronous=FULL: fsync per group commit; PostgreSQL: fsync and synchronous_commit on).

| server | events/s sustained | vs baseline | p50 ack ms | p99 ack ms | peak RSS MiB | server CPU µs/event | database CPU µs/event | load generator CPU | CPU ceiling events/s | analysis backlog at end | failed batches | load avg before |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Rows: the bare sink; \`<db>-store\`, the floor of storing: the sink that also stores each batch with
the collector's own storage (\`openStorage(...).insertEvents\`: the events and their indexes, the
trace summaries; no validation, no framework, no analysis; bench/ingest-sink.mjs with a storage);
\`<db>-deferred\`, the collector with its analysis put off past the run (ingestion alone; the
backlog is then analysed by \`POST /api/analysis/run\`); \`<db>\`, the collector as it runs by
default, analysing each trace once quiet for 1 s.

- events/s sustained: events acknowledged (200) divided by the measured time.
- p50/p99 ack ms: from sending a batch to its acknowledgement, i.e. including the commit.
- peak RSS: the collector process's VmHWM (its writer thread included).
- server CPU µs/event: CPU time (user + system, all threads) the server used during the run,
  divided by the events acknowledged; background analysis included.
- database CPU µs/event: the same for the PostgreSQL server (postmaster and every backend).
- load generator CPU: the load generator's CPU time over the run (100 % is one core); it
  shares the machine's cores with the server.
- CPU ceiling events/s: the rate the server could reach at its CPU per event with every core
  the load generator leaves: (cores x 100 % - load generator) / (server + database CPU per
  event). A row far below its ceiling waited on something other than CPU (fsync, locks).
- analysis backlog at end: traces not yet analysed when the load stopped (the scheduler waits
  for a trace to be quiet for 1 s), and how long \`POST /api/analysis/run\` then took.
- load avg before: the machine's 1-minute load average before the run (other work competes
  for the same 2 cores; the figures move with it).

Targets: SQLite >= 100,000 events/s durable and >= 50 % of the sink's rate in the same run; PostgreSQL >= 60,000 events/s${
  sqlite
    ? `. Median SQLite run: ${Math.round(sqlite.eventsPerSec).toLocaleString('en-US')} events/s${sink ? ` (${((sqlite.eventsPerSec / sink.eventsPerSec) * 100).toFixed(0)} % of the sink)` : ''} at a load average of ${sqlite.loadAverage.toFixed(1)}; ${sqliteRuns.length} run${sqliteRuns.length > 1 ? 's' : ''}: ${sqliteRuns.map((r) => Math.round(r.eventsPerSec).toLocaleString('en-US')).join(', ')}.`
    : '.'
}
`;
writeFileSync(join(here, 'results', 'ingest.md'), report);
console.log(report);
