// Several collectors on one PostgreSQL: durable ingest rate of one, two and three collectors
// in the same run (one against the others), the load spread round robin over them, and where
// the CPU went (each collector, every PostgreSQL process, the load generator), so that the
// limit shows: the collectors or the database.
//
// Two layouts: `shared` (every process on every core) and `pinned` (PostgreSQL on the last
// core, collectors and load generator on the others, with taskset), which keeps the
// database's CPU apart from the collectors' on a small machine.
//
//   pnpm --filter @raceway/collector build && node bench/scale-out.mjs [--seconds 10] [--connections 16] [--batch 300] [--rounds 2] [--layouts shared,pinned]
//
// Results: bench/results/scale-out.md.

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { builtCollectorCli } from './collector-cli.mjs';
import { startPostgres } from './pg-server.mjs';
import {
  cpuSeconds,
  runQueueWaitSeconds,
  treeCpuSeconds,
  treeRunQueueWaitSeconds,
} from './proc-cpu.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    batch: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '2' },
    layouts: { type: 'string', default: 'shared,pinned' },
    collectors: { type: 'string', default: '1,2,3' },
    // Batches the load generator makes ahead (rate × seconds); it says when it ran out.
    'max-rate': { type: 'string', default: '20000' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const layouts = values.layouts.split(',');
const counts = values.collectors.split(',').map(Number);
const cores = cpus().length;
const work = mkdtempSync(join(tmpdir(), 'raceway-bench-scale-'));

/**
 * A copy of the built collector for the whole run (a build elsewhere may empty dist/ while it
 * runs), resolving its dependencies from the package's node_modules.
 */
function snapshotCli() {
  const built = builtCollectorCli();
  const copy = join(work, 'collector');
  cpSync(dirname(built), join(copy, 'dist'), { recursive: true });
  symlinkSync(join(dirname(built), '..', 'node_modules'), join(copy, 'node_modules'));
  return join(copy, 'dist', 'cli.js');
}
const cli = snapshotCli();

/** taskset's core list for a layout's part, or null (no pinning). */
function coresOf(layout, part) {
  if (layout !== 'pinned' || cores < 2) return null;
  return part === 'database' ? String(cores - 1) : `0-${cores - 2}`;
}

/** `node <args>`, pinned to `cpuList` when given (taskset execs: the pid is node's). */
function nodeCommand(cpuList, args) {
  return cpuList
    ? ['taskset', ['-c', cpuList, process.execPath, ...args]]
    : [process.execPath, args];
}

/** Starts a collector; resolves with its child process and URL once it listens. */
function startCollector(storage, cpuList) {
  const [cmd, args] = nodeCommand(cpuList, [
    cli,
    'serve',
    '--port',
    '0',
    '--storage',
    storage,
    '--analysis-delay',
    '1000',
  ]);
  const child = spawn(cmd, args, { cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve({ child, url: match[1] });
    });
    child.on('exit', (code) => reject(new Error(`collector exited with ${code}: ${out}`)));
  });
}

async function stop(child) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** A new database on the server, so that each configuration starts from empty tables. */
async function createDatabase(adminUrl, name) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The server's WAL flushes (fsyncs) and the time spent in them (ms), and the database's
 * commits, so far: each commit waits for a flush, which several commits may share.
 */
async function walStats(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT wal_sync::float8 AS syncs, wal_sync_time::float8 AS sync_ms,
         (SELECT xact_commit::float8 FROM pg_stat_database WHERE datname = current_database()) AS commits
       FROM pg_stat_wal`,
    );
    return rows[0];
  } finally {
    await client.end();
  }
}

/** Runs the load generator over `urls` (round robin); resolves with what it measured. */
function runLoad(urls, cpuList) {
  const config = { urls, seconds, connections, batch, maxEventsPerSec: Number(values['max-rate']) };
  const [cmd, args] = nodeCommand(cpuList, [join(here, 'ingest-load.mjs'), JSON.stringify(config)]);
  const out = execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(out.toString());
}

const sum = (list) => list.reduce((a, b) => a + b, 0);

const results = [];
let databases = 0;
try {
  const servers = new Map();
  for (const layout of layouts) {
    const server = startPostgres(work, {
      cpus: coresOf(layout, 'database') ?? undefined,
      // pg_stat_wal's wal_sync_time: how long commits wait for the disk.
      settings: ['track_wal_io_timing=on'],
    });
    if (!server) throw new Error('no PostgreSQL found (/usr/lib/postgresql/*/bin)');
    servers.set(layout, server);
  }
  try {
    // Rounds interleave the configurations: the machine's other work spreads over all of them.
    for (let round = 1; round <= rounds; round++) {
      for (const layout of layouts) {
        const server = servers.get(layout);
        for (const n of counts) {
          const url = await createDatabase(server.url, `bench_${++databases}`);
          const appCores = coresOf(layout, 'collectors');
          const collectors = [];
          // One after the other: the first migrates the new database.
          for (let i = 0; i < n; i++) collectors.push(await startCollector(url, appCores));
          const loadBefore = loadavg()[0];
          const pgPid = server.postmasterPid();
          const before = {
            collectors: collectors.map((c) => cpuSeconds(c.child.pid)),
            collectorsWait: collectors.map((c) => runQueueWaitSeconds(c.child.pid)),
            database: treeCpuSeconds(pgPid),
            databaseWait: treeRunQueueWaitSeconds(pgPid),
            wal: await walStats(url),
          };
          console.error(`${layout}, ${n} collector(s), round ${round}...`);
          const load = runLoad(
            collectors.map((c) => c.url),
            appCores,
          );
          const collectorCpu = collectors.map(
            (c, i) => cpuSeconds(c.child.pid) - before.collectors[i],
          );
          const databaseCpu = treeCpuSeconds(pgPid) - before.database;
          const collectorWait = sum(
            collectors.map((c, i) => runQueueWaitSeconds(c.child.pid) - before.collectorsWait[i]),
          );
          const databaseWait = treeRunQueueWaitSeconds(pgPid) - before.databaseWait;
          const wal = await walStats(url);
          for (const c of collectors) await stop(c.child);
          const result = {
            layout,
            collectors: n,
            round,
            ...load,
            collectorCpuSeconds: collectorCpu,
            databaseCpuSeconds: databaseCpu,
            collectorWaitSeconds: collectorWait,
            databaseWaitSeconds: databaseWait,
            walSyncs: wal.syncs - before.wal.syncs,
            walSyncMs: wal.sync_ms - before.wal.sync_ms,
            commits: wal.commits - before.wal.commits,
            loadAverage: loadBefore,
          };
          results.push(result);
          console.error(JSON.stringify(result));
        }
      }
    }
  } finally {
    for (const server of servers.values()) server.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
/** What one run measured, derived: per event, per second of the measured run. */
const derive = (r) => ({
  collectorUs: (sum(r.collectorCpuSeconds) * 1e6) / r.events,
  databaseUs: (r.databaseCpuSeconds * 1e6) / r.events,
  collectorCores: sum(r.collectorCpuSeconds) / r.seconds,
  databaseCores: r.databaseCpuSeconds / r.seconds,
  collectorWaitCores: r.collectorWaitSeconds / r.seconds,
  databaseWaitCores: r.databaseWaitSeconds / r.seconds,
  commitsPerSec: r.commits / r.seconds,
  syncsPerSec: r.walSyncs / r.seconds,
  syncMs: r.walSyncs ? r.walSyncMs / r.walSyncs : 0,
  syncShare: r.walSyncMs / 1000 / r.seconds,
});

const rows = results.map((r) => {
  const d = derive(r);
  return `| ${[
    r.layout,
    r.collectors,
    r.round,
    fmt(r.eventsPerSec),
    fmt(r.p50Ms, 1),
    fmt(r.p99Ms, 1),
    fmt(d.collectorUs, 1),
    fmt(d.databaseUs, 1),
    `${fmt(d.collectorCores, 2)} (${r.collectorCpuSeconds.map((c) => fmt(c / r.seconds, 2)).join(' + ')})`,
    fmt(d.databaseCores, 2),
    fmt(r.loadCpuPercent / 100, 2),
    fmt(d.collectorWaitCores, 2),
    fmt(d.databaseWaitCores, 2),
    fmt(d.commitsPerSec),
    fmt(d.syncsPerSec),
    fmt(d.syncMs, 2),
    `${r.failures}${r.exhausted ? ' (ran out of batches)' : ''}`,
    fmt(r.loadAverage, 1),
  ].join(' | ')} |`;
});

// Per configuration: the median over rounds, against one collector of the same layout.
const summary = [];
for (const layout of layouts) {
  const of = (n) => results.filter((r) => r.layout === layout && r.collectors === n);
  const base = median(of(counts[0]).map((r) => r.eventsPerSec));
  for (const n of counts) {
    const runs = of(n);
    const m = (key) => median(runs.map((r) => derive(r)[key]));
    const rate = median(runs.map((r) => r.eventsPerSec));
    summary.push(
      `| ${[
        layout,
        n,
        fmt(rate),
        `${fmt((rate / base) * 100)} %`,
        fmt(m('collectorUs'), 1),
        fmt(m('databaseUs'), 1),
        fmt(m('collectorCores'), 2),
        fmt(m('databaseCores'), 2),
        fmt(m('collectorWaitCores'), 2),
        fmt(m('databaseWaitCores'), 2),
        `${fmt(m('syncsPerSec'))} × ${fmt(m('syncMs'), 2)} ms`,
        fmt(1e6 / m('databaseUs')),
      ].join(' | ')} |`,
    );
  }
}

const command = `node bench/scale-out.mjs --seconds ${seconds} --connections ${connections} --batch ${batch} --rounds ${rounds} --layouts ${values.layouts} --collectors ${values.collectors} --max-rate ${values['max-rate']}`;
const report = `# Scale-out: one, two and three collectors on one PostgreSQL

Command: \`pnpm --filter @raceway/collector build && ${command}\`

Machine: ${cores} × ${cpus()[0]?.model.trim()}, Node ${process.version}, PostgreSQL on the same
machine, ${new Date().toISOString().slice(0, 10)}. Every process of the run (collectors,
PostgreSQL, load generator) shares these cores with whatever else the machine runs (load
average in the last column of every run).

Load: one load generator process (bench/ingest-load.mjs), ${connections} keep-alive connections
sending gzip'd batches of ${batch} events back to back for ${seconds} s, each batch to the next
collector in turn (round robin); every id new. Acknowledgements are durable (PostgreSQL with
fsync and synchronous_commit on; a collector answers after COMMIT). Each configuration ingests
into a new, empty database of the same server; the collectors analyse as they do in
production (analysis delay 1 s).

Layouts: **shared**: no pinning. **pinned**: PostgreSQL (postmaster and every backend) on
core ${cores - 1}, collectors and load generator on ${cores > 2 ? `cores 0-${cores - 2}` : 'core 0'} (taskset).

## Summary (median of ${rounds} round${rounds > 1 ? 's' : ''})

| layout | collectors | events/s | vs 1 collector | collectors CPU µs/event | PostgreSQL CPU µs/event | collectors' cores busy | PostgreSQL's cores busy | collectors' threads waiting for a core | PostgreSQL's threads waiting for a core | WAL flushes/s × mean flush | events/s per PostgreSQL core (10^6 / its µs/event) |
|---|---|---|---|---|---|---|---|---|---|---|---|
${summary.join('\n')}

## Every run

| layout | collectors | round | events/s | p50 ack ms | p99 ack ms | collectors CPU µs/event | PostgreSQL CPU µs/event | collectors' cores busy (each) | PostgreSQL's cores busy | load generator's cores busy | collectors' threads waiting for a core | PostgreSQL's threads waiting for a core | commits/s | WAL flushes/s | mean flush ms | failed batches | load avg before |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

- CPU µs/event: CPU time (user + system, every thread) over the measured run divided by the
  events acknowledged; PostgreSQL's is the postmaster's and every backend's and helper's
  (WAL writer, checkpointer...), exited ones included.
- cores busy: CPU seconds over wall seconds of the measured run (1.00: one core all the time).
- threads waiting for a core: time the processes' threads were runnable but not running
  (/proc/<pid>/task/*/schedstat), over wall seconds: CPU they wanted and did not get.
- WAL flushes: \`pg_stat_wal\` (wal_sync, wal_sync_time with track_wal_io_timing): the fsyncs
  commits wait for, server-wide.
`;
writeFileSync(join(here, 'results', 'scale-out.md'), report);
console.log(report);
