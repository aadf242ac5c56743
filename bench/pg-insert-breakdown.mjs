// Where PostgreSQL ingestion CPU goes: the same batches as bench/ingest.mjs stored with the
// collector's own `PostgresStorage.insertEvents` (one transaction per batch, as POST /v1/events
// does), on one connection, one batch after another, into a throwaway server. Each variant
// takes one part of the per-event work away (an index, a summary table) from a fresh schema, so
// the difference from the full schema, in the same run, is what that part costs; the database's
// CPU (postmaster and every backend) and the collector's are reported apart.
//
//   pnpm --filter @raceway/bench exec node --import tsx pg-insert-breakdown.mjs [--batches 200] [--batch 300] [--rounds 3]
//
// Results: bench/results/pg-insert-breakdown.md.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PostgresStorage } from '../packages/collector/src/storage/postgres.ts';
import { trace } from './ingest-events.mjs';
import { startPostgres } from './pg-server.mjs';
import { treeCpuSeconds } from './proc-cpu.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '200' },
    batch: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
  },
});
const batchCount = Number(values.batches);
const batchSize = Number(values.batch);
const rounds = Number(values.rounds);

/**
 * What each variant removes (or, for the indexes migrations 8 and 10 dropped, adds back) after
 * migrating, with the SQL that does it. Each runs on a
 * database of its own, so no variant sees another's rows.
 */
const VARIANTS = [
  { name: 'full schema (as the collector runs)', sql: [] },
  {
    name: 'with the index on (kind, ts_us) that migration 8 dropped',
    sql: ['CREATE INDEX events_kind_ts ON events (kind, ts_us)'],
  },
  {
    name: 'with the index on (resource, ts_us) that migration 10 dropped',
    sql: ['CREATE INDEX events_resource ON events (resource, ts_us) WHERE resource IS NOT NULL'],
  },
  {
    name: 'floor: events table with its primary key only, no summaries',
    sql: [],
    eventsOnly: true,
  },
];

/** Fresh batches (new ids) for one variant and round. */
function makeBatches() {
  const batches = [];
  for (let i = 0; i < batchCount; i++) {
    const events = [];
    while (events.length < batchSize) trace(events);
    batches.push(events.slice(0, batchSize));
  }
  return batches;
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const work = mkdtempSync(join(tmpdir(), 'raceway-pg-breakdown-'));
const server = startPostgres(work);
if (!server) {
  console.error('no PostgreSQL found (/usr/lib/postgresql/*/bin or RACEWAY_BENCH_PG_URL)');
  process.exit(1);
}
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();
const results = new Map(VARIANTS.map((v) => [v.name, { db: [], collector: [] }]));
const loadBefore = loadavg()[0];
try {
  for (let round = 0; round < rounds; round++) {
    for (const [i, variant] of VARIANTS.entries()) {
      const database = `breakdown_${round}_${i}`;
      await admin.query(`CREATE DATABASE ${database}`);
      const url = server.url.replace(/\/postgres$/, `/${database}`);
      const storage = new PostgresStorage(url, { maxConnections: 1 });
      await storage.init();
      const direct = new pg.Client({ connectionString: url });
      await direct.connect();
      for (const sql of variant.sql) await direct.query(sql);
      const batches = makeBatches();
      // One batch first: connection, plans and caches warm.
      await storage.insertEvents(batches[0]);
      const dbBefore = treeCpuSeconds(server.postmasterPid());
      const t = cpuUs();
      for (const batch of batches.slice(1)) {
        if (variant.eventsOnly) {
          await direct.query(
            `INSERT INTO events (id, trace_id, span_id, parent_span_id, service, kind, ts_us, resource, body)
             SELECT e->>'id', e->>'trace_id', e->>'span_id', e->>'parent_span_id', e->>'service',
               e->>'kind', (e->>'ts_us')::bigint, NULL, e
             FROM jsonb_array_elements($1::jsonb) AS e ON CONFLICT DO NOTHING`,
            [JSON.stringify(batch)],
          );
        } else {
          await storage.insertEvents(batch);
        }
      }
      const events = (batches.length - 1) * batchSize;
      const collectorUs = cpuUs() - t;
      const dbUs = (treeCpuSeconds(server.postmasterPid()) - dbBefore) * 1e6;
      const r = results.get(variant.name);
      r.db.push(dbUs / events);
      r.collector.push(collectorUs / events);
      await direct.end();
      await storage.close();
      await admin.query(`DROP DATABASE ${database}`);
      console.error(
        `round ${round + 1} ${variant.name}: database ${(dbUs / events).toFixed(2)} µs/event, collector ${(collectorUs / events).toFixed(2)}`,
      );
    }
  }
} finally {
  await admin.end();
  server.stop();
  rmSync(work, { recursive: true, force: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const full = results.get(VARIANTS[0].name);
const fullDb = median(full.db);
const rows = VARIANTS.map((v) => {
  const r = results.get(v.name);
  const db = median(r.db);
  return `| ${v.name} | ${db.toFixed(2)} | ${v === VARIANTS[0] ? 'n/a' : (fullDb - db).toFixed(2)} | ${median(r.collector).toFixed(2)} |`;
});
const report = `# PostgreSQL ingestion: where the database's CPU goes per event

Command: \`pnpm --filter @raceway/bench exec node --import tsx pg-insert-breakdown.mjs --batches ${batchCount} --batch ${batchSize} --rounds ${rounds}\`

Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadBefore.toFixed(1)} before the run.

The batches of bench/ingest.mjs (${batchSize} events each, every id new), stored by
\`PostgresStorage.insertEvents\` one transaction at a time on one connection (fsync and
synchronous_commit on), ${batchCount - 1} batches per variant and round after one to warm up, ${rounds}
rounds, medians. Each variant is a fresh database migrated by the collector, then stripped of
one part: the difference from the full schema is that part's cost. CPU is the database
server's (postmaster and every backend, WAL writer and checkpointer included) and, apart, the
collector process's (node-postgres encoding, building the summaries, JSON).

| variant | database CPU µs/event | saved vs full | collector CPU µs/event |
|---|---:|---:|---:|
${rows.join('\n')}
`;
writeFileSync(join(here, 'results', 'pg-insert-breakdown.md'), report);
console.log(report);
