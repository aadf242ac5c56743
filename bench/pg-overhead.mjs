// Per-query CPU that @raceway/pg adds to pg (node-postgres), against bare pg and against
// OpenTelemetry's @opentelemetry/instrumentation-pg, all measured in the same run on a real
// PostgreSQL: a throwaway cluster (initdb + pg_ctl, fsync off) started with the collector tests'
// helpers (packages/collector/test/pg-cluster.ts, hence tsx) and stopped at the end.
//
// Each variant runs in a child process of its own (pg-overhead-client.cjs), started fresh for
// every round: N iterations of a SELECT and an UPDATE, sequential on one connection, after a
// warm-up; CPU µs per query is the child's process.cpuUsage delta / queries. Neither tracer
// exports (Raceway's transport and OpenTelemetry's span processor count and discard), so the
// figures are what recording a query costs. Rounds rotate the order of the variants; each
// figure is the median over the rounds.
//
// Also the collector's side: statementAccesses (packages/collector/src/analysis/sql), what the
// analysis runs on every db_query event, on the same statements, cold (first parse of the text)
// vs warm (the parse cache hit), µs per statement.
//
//   pnpm --filter @raceway/core build && pnpm --filter @raceway/pg build &&
//   pnpm --filter @raceway/bench exec node --import tsx pg-overhead.mjs [--iterations 10000] [--warmup 2000] [--rounds 7]
//
// Results: bench/results/pg-overhead.md.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  clearStatementCache,
  statementAccesses,
} from '../packages/collector/src/analysis/sql/statement-accesses.ts';
import { findPgBin, PgCluster } from '../packages/collector/test/pg-cluster.ts';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '10000' },
    warmup: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '7' },
  },
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
const rounds = Number(values.rounds);
const VARIANTS = ['bare', 'raceway', 'otel'];
const SELECT = 'SELECT stock FROM products WHERE id = $1';
const UPDATE = 'UPDATE products SET stock = $1 WHERE id = $2';

for (const pkg of ['@raceway/core', '@raceway/pg']) {
  try {
    require.resolve(pkg);
  } catch {
    console.error(`${pkg} is not built: run pnpm build first`);
    process.exit(1);
  }
}
const bin = findPgBin();
if (!bin) {
  console.error('no PostgreSQL (initdb, pg_ctl) found');
  process.exit(1);
}

/** Runs one variant in a child; resolves with what it printed after `result `. */
function runVariant(variant, url) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(here, 'pg-overhead-client.cjs'), variant, url, String(iterations), String(warmup)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const match = /result (.*)/.exec(out);
      if (code === 0 && match) resolve(JSON.parse(match[1]));
      else reject(new Error(`${variant} exited with ${code}: ${out}`));
    });
  });
}

const loadBefore = loadavg()[0];
const cluster = await PgCluster.create(bin);
const runs = [];
try {
  const setup = new pg.Client({ connectionString: cluster.url });
  await setup.connect();
  await setup.query('CREATE TABLE products (id integer PRIMARY KEY, stock integer NOT NULL)');
  await setup.query('INSERT INTO products SELECT id, 100 FROM generate_series(1, 100) AS id');
  await setup.end();
  for (let round = 0; round < rounds; round++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
    for (const variant of order) {
      const run = { round: round + 1, ...(await runVariant(variant, cluster.url)) };
      runs.push(run);
      console.error(JSON.stringify(run));
    }
  }
} finally {
  cluster.stop('fast');
  cluster.remove();
}
const loadAfter = loadavg()[0];

// ---------------------------------------------------------------- collector: SQL analysis
const digest = (n) => ({ digest: `d${n}` });
const mix = [
  [SELECT, [digest(1)]],
  [UPDATE, [digest(2), digest(1)]],
];
/** µs per statement of `fn` over `reps` passes of the mix; the median of `passes` measurements. */
function usPerStatement(reps, before) {
  const samples = [];
  for (let pass = 0; pass < 7; pass++) {
    let ns = 0;
    for (let r = 0; r < reps; r++) {
      before();
      const start = process.hrtime.bigint();
      for (const [sql, params] of mix) statementAccesses('postgresql', sql, params);
      ns += Number(process.hrtime.bigint() - start);
    }
    samples.push(ns / 1000 / (reps * mix.length));
  }
  return median(samples);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const analysed = mix.map(([sql, params]) => statementAccesses('postgresql', sql, params));
if (analysed.some((a) => a.unkeyed || a.accesses.length === 0)) {
  throw new Error(`the statements must be keyed: ${JSON.stringify(analysed)}`);
}
usPerStatement(200, clearStatementCache); // warm-up: the grammar loaded, the code optimised
const cold = usPerStatement(500, clearStatementCache);
const warm = usPerStatement(100_000, () => {});

// ---------------------------------------------------------------- report
const summary = Object.fromEntries(
  VARIANTS.map((variant) => {
    const mine = runs.filter((r) => r.variant === variant);
    return [
      variant,
      {
        cpu: median(mine.map((r) => r.cpuUsPerQuery)),
        wall: median(mine.map((r) => r.wallUsPerQuery)),
        recorded: median(mine.map((r) => r.recordedPerQuery)),
      },
    ];
  }),
);
const added = (v, key = 'cpu') => summary[v][key] - summary.bare[key];
const version = (pkg) =>
  JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')).version;
const fmt = (n, digits = 1) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const met = added('raceway') < added('otel');
const queries = iterations * 2;

const report = `# pg overhead: per-query CPU added to pg (node-postgres)

Command (from the repository root):

\`\`\`sh
pnpm --filter @raceway/core build && pnpm --filter @raceway/pg build
pnpm --filter @raceway/bench exec node --import tsx pg-overhead.mjs --iterations ${iterations} --warmup ${warmup} --rounds ${rounds}
\`\`\`

Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, pg ${version('pg')},
PostgreSQL from \`${bin}\` (throwaway cluster on 127.0.0.1, fsync off), ${new Date().toISOString().slice(0, 10)};
load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after (shared machine).

Each variant in a child process of its own, started fresh every round (rotating order):
${fmt(warmup, 0)} warm-up iterations, then ${fmt(iterations, 0)} measured iterations of
\`${SELECT}\` and \`${UPDATE}\` (${fmt(queries, 0)} queries), sequential on one connection. CPU is
the client process's \`process.cpuUsage\` (user + system) over the measured queries; PostgreSQL's
own CPU is not counted. Neither tracer exports: Raceway's transport and OpenTelemetry's span
processor count what they are handed and discard it, so the figures are what recording a query
costs in the application. Medians of ${rounds} rounds.

- **bare**: pg ${version('pg')} alone.
- **raceway**: \`instrumentPg(pg)\` (@raceway/pg ${version('@raceway/pg')}), every query in one traced context (\`runInContext(tracer.startContext())\`).
- **otel**: \`NodeTracerProvider\` (@opentelemetry/sdk-trace-node ${version('@opentelemetry/sdk-trace-node')}) and \`PgInstrumentation\` (@opentelemetry/instrumentation-pg ${version('@opentelemetry/instrumentation-pg')}, default options), every query in one active span.

| variant | CPU µs/query | added CPU µs/query | wall µs/query | added wall µs/query | recorded per query |
|---|---|---|---|---|---|
${VARIANTS.map((v) => `| ${v} | ${fmt(summary[v].cpu)} | ${v === 'bare' ? '—' : fmt(added(v))} | ${fmt(summary[v].wall)} | ${v === 'bare' ? '—' : fmt(added(v, 'wall'))} | ${v === 'bare' ? '—' : `${fmt(summary[v].recorded, 2)} ${v === 'otel' ? 'spans' : 'events'}`} |`).join('\n')}

## Collector: SQL analysis per statement

\`statementAccesses('postgresql', …)\` (packages/collector/src/analysis/sql/statement-accesses.ts,
run from the TypeScript sources through tsx), what the analysis runs on every db_query event, on
the same two statements with parameter digests, in this process after the clients. **Cold**: the
parse cache cleared before each pass, so every statement is parsed (node-sql-parser) and its
template built; **warm**: the text found in the cache (the common case: an application runs few
distinct statement texts), only the parameters' digests placed into the rows. Median of 7
measurements.

| | µs/statement |
|---|---|
| cold (first parse) | ${fmt(cold, 2)} |
| warm (cache hit) | ${fmt(warm, 2)} |

## Targets

- Raceway's added CPU per query below OpenTelemetry's: **${met ? 'met' : 'not met'}**
  (${fmt(added('raceway'))} µs vs ${fmt(added('otel'))} µs, ${(added('raceway') / added('otel')).toFixed(2)}×).

## Per run

| round | variant | CPU µs/query | wall µs/query | recorded per query |
|---|---|---|---|---|
${runs.map((r) => `| ${r.round} | ${r.variant} | ${fmt(r.cpuUsPerQuery)} | ${fmt(r.wallUsPerQuery)} | ${fmt(r.recordedPerQuery, 2)} |`).join('\n')}
`;
writeFileSync(join(here, 'results', 'pg-overhead.md'), report);
console.log(report);
