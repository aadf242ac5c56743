// Where the collector's ingestion CPU goes, stage by stage, in one process and on one thread
// (no HTTP, no writer thread): the same gzip'd batches as bench/ingest.mjs go through each
// stage of POST /v1/events in turn, and each stage's CPU time per event is compared with the
// bare sink's work (gunzip + JSON.parse) measured in the same run.
//
//   pnpm --filter @raceway/bench exec node --import tsx ingest-breakdown.mjs [--batches 200] [--batch 300] [--rounds 3]
//
// Results: bench/results/ingest-breakdown.md.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { decodeBody } from '../packages/collector/src/ingest/body.ts';
import { checkEventLimits, DEFAULT_EVENT_LIMITS } from '../packages/collector/src/ingest/limits.ts';
import { createValidators } from '../packages/collector/src/ingest/validate.ts';
import { AnalysisScheduler } from '../packages/collector/src/scheduler/analysis-scheduler.ts';
import { defaultEngine } from '../packages/collector/src/scheduler/default-engine.ts';
import { SharedAggregates } from '../packages/collector/src/shared-aggregates.ts';
import { HTTP_KINDS_SQL, migrateSqlite } from '../packages/collector/src/storage/migrations.ts';
import { applyWriterPragmas } from '../packages/collector/src/storage/sqlite-schema.ts';
import { SqliteWriter } from '../packages/collector/src/storage/sqlite-writer.ts';
import { toEventRow } from '../packages/collector/src/storage/trace-delta.ts';
import { trace } from './ingest-events.mjs';

const here = dirname(fileURLToPath(import.meta.url));
// The collector's own better-sqlite3 (not a dependency of the bench package).
const Database = createRequire(join(here, '../packages/collector/package.json'))('better-sqlite3');
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

/** Fresh batches (new ids) for one round. */
function makeBodies() {
  const bodies = [];
  for (let i = 0; i < batchCount; i++) {
    const events = [];
    while (events.length < batchSize) trace(events);
    bodies.push(
      gzipSync(
        JSON.stringify({
          sdk: { name: 'bench', version: '1' },
          events: events.slice(0, batchSize),
        }),
      ),
    );
  }
  return bodies;
}

/** Indexes of events that migrations dropped, by the stage that measures them put back. */
const DROPPED_INDEXES = [
  [
    'SQLite insert with the index by kind that migration 8 dropped',
    `CREATE INDEX events_http_ts ON events (kind, ts_us) WHERE ${HTTP_KINDS_SQL}`,
  ],
  [
    'SQLite insert with the index by resource that migration 10 dropped',
    'CREATE INDEX events_resource ON events (resource, ts_us) WHERE resource IS NOT NULL',
  ],
];

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const validators = createValidators();
const limits = { maxBodyBytes: 5 << 20, maxDecompressedBytes: 50 << 20 };
const work = mkdtempSync(join(tmpdir(), 'raceway-ingest-breakdown-'));
const stages = {};
const add = (name, us) => {
  stages[name] ??= [];
  stages[name].push(us / (batchCount * batchSize));
};

for (let round = 0; round < rounds; round++) {
  const bodies = makeBodies();
  let t = cpuUs();
  const parsed = bodies.map((b) => JSON.parse(gunzipSync(b).toString('utf8')));
  add('sink: gunzip + JSON.parse', cpuUs() - t);

  t = cpuUs();
  const decoded = [];
  for (const b of bodies) decoded.push(await decodeBody(b, 'gzip', limits));
  add('collector: decodeBody (streaming gunzip, depth scan, JSON.parse)', cpuUs() - t);

  t = cpuUs();
  for (const body of decoded) {
    validators.batch(body);
    for (const e of body.events) validators.event(e);
  }
  add('schema validation (ajv, batch + every event)', cpuUs() - t);

  t = cpuUs();
  const now = Date.now();
  for (const body of decoded)
    for (const e of body.events) checkEventLimits(e, DEFAULT_EVENT_LIMITS, now);
  add('limits beyond the schema', cpuUs() - t);

  t = cpuUs();
  const rows = decoded.map((body) => body.events.map((e) => toEventRow(e)));
  add('toEventRow (JSON.stringify of the body, resources)', cpuUs() - t);

  const file = join(work, `round-${round}.db`);
  const db = new Database(file);
  applyWriterPragmas(db);
  migrateSqlite(db, file);
  const writer = new SqliteWriter(db);
  // Group commit as the collector does under load: 4 batches per transaction.
  t = cpuUs();
  const wall = performance.now();
  for (let i = 0; i < rows.length; i += 4) writer.insertBatches(rows.slice(i, i + 4));
  add('SQLite insert (4 batches per commit, synchronous=FULL)', cpuUs() - t);
  add('SQLite insert, wall time (fsync included)', (performance.now() - wall) * 1000);

  // The same rows into the schema with an index a migration dropped put back: what it cost.
  for (const [k, [stage, index]] of DROPPED_INDEXES.entries()) {
    const beforeFile = join(work, `round-${round}-dropped-${k}.db`);
    const before = new Database(beforeFile);
    applyWriterPragmas(before);
    migrateSqlite(before, beforeFile);
    before.exec(index);
    const rowsAgain = decoded.map((body) => body.events.map((e) => toEventRow(e)));
    const beforeWriter = new SqliteWriter(before);
    t = cpuUs();
    for (let i = 0; i < rowsAgain.length; i += 4)
      beforeWriter.insertBatches(rowsAgain.slice(i, i + 4));
    add(stage, cpuUs() - t);
    before.close();
  }

  // What the collector does with a committed batch: the traffic aggregates and the SDK
  // registry (services, dependencies, SDKs), then the analysis scheduler's bookkeeping (dirty
  // traces, the events kept for the analysis, the cross-trace access windows). Neither timer
  // runs: the periodic save of the aggregates and the analysis passes are not ingest work.
  const storage = { kind: 'sqlite' };
  const aggregates = new SharedAggregates({
    storage,
    collectorId: 'bench',
    retentionMs: 86_400_000,
  });
  t = cpuUs();
  for (const body of decoded) {
    aggregates.add(body.events);
    aggregates.noteSdk(body.sdk, body.events);
  }
  add('aggregates (traffic, SDKs) of the stored events', cpuUs() - t);
  const scheduler = new AnalysisScheduler({ storage, engine: defaultEngine, delayMs: 1000 });
  t = cpuUs();
  for (const body of decoded) scheduler.onStored(body.events);
  add('analysis scheduling (onStored: dirty traces, kept events, access windows)', cpuUs() - t);
  db.close();
  void parsed;
}
rmSync(work, { recursive: true, force: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const sink = median(stages['sink: gunzip + JSON.parse']);
const report = `# Ingestion: CPU per event, stage by stage

Command: \`pnpm --filter @raceway/bench exec node --import tsx ingest-breakdown.mjs --batches ${batchCount} --batch ${batchSize} --rounds ${rounds}\`

Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString()}.
${batchCount} gzip'd batches of ${batchSize} events (bench/ingest-events.mjs, new ids every round)
through each stage of \`POST /v1/events\` in one thread, no HTTP; median of ${rounds} rounds. The
sink's work (gunzip + JSON.parse) is the baseline of the same run.

| stage | CPU µs/event | × the sink's work |
|---|---|---|
${Object.entries(stages)
  .map(([name, xs]) => `| ${name} | ${median(xs).toFixed(2)} | ${(median(xs) / sink).toFixed(2)} |`)
  .join('\n')}
`;
writeFileSync(join(here, 'results', 'ingest-breakdown.md'), report);
console.log(report);
